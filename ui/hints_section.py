"""The Colourize tab's hints (Zhang et al., SIGGRAPH 2017): click a pixel of the hint model's picture (or drag a
stroke across it), pick one of the model's own suggested colours (or any colour), and the picture is colourized
again with that hint.
Hints are kept in the upload's own pixel coordinates, in a hidden JSON input of the public colourize endpoint,
so a decoding, temperature or working-size change keeps them; a new upload clears them. Undo reverses the
last change (add, remove or clear). No ML here: colorizer.hints suggests the colours and draws the markers."""
import dataclasses
import html
from dataclasses import dataclass, field

import gradio as gr
import numpy as np
from PIL import Image

from colorizer import hints as hint_model, selection
from colorizer.inference import prepare_photo
from pixelwise.images import ImageError
from pixelwise.perpixel import UNCERTAINTY_KINDS, OutsideImage, Snapshot, report
from pixelwise.pictures import uncertainty_maps
from pixelwise.settings import downloads_max_age_s
from runs.catalog import load_colourizer
from ui.api_types import hints_input
from ui.inspector import CHART_CSS
from ui.common import inference_device, upload_name

SLOT = "beyond"  # the column whose model takes hints
REACH_CHOICES = ("point", "object", "larger")
# how a person picks what the next hint steers: a click on the Beyond picture, or a stroke dragged across a copy
# of it (Gradio's own drawing component, shown only in that mode)
PICK_CHOICES = (("Click a point", "click"), ("Draw a stroke", "draw"))
NO_TARGET = ("Click a pixel of the **Beyond the handout** picture (with a hint model chosen) to steer its colour, "
             "or choose *Draw a stroke* and drag across the picture. "
             "Reach: *point* a small patch, *object* the region the click lands on, *larger* past weaker edges.")
DRAW_LABEL = "Drag across the picture to draw a stroke"
BRUSH = {"colors": ["#ffff00"], "color_mode": "fixed"}  # one colour, no palette: the stroke's colour is picked after
BRUSH_FRACTION = 40  # the brush is the picture's long side / 40 wide


@dataclass
class HintControls:
    hints: gr.JSON  # [{"x", "y", "colour", "reach"} or {"stroke", "colour", "reach"}, ...] in the upload's pixels
    history: gr.State  # earlier hint lists, for undo
    target: gr.State  # {"x", "y", "shown"[, "stroke"]}: the pixel (or the stroke's points) the next hint goes to
    message: gr.Markdown
    suggestions: gr.Radio
    reach: gr.Radio  # how far the next hint reaches: point, object, larger
    pick: gr.Radio  # how the next target is picked: "click" (a point) or "draw" (a stroke, on ``draw``)
    draw: gr.ImageEditor  # the Beyond picture to drag a stroke across (seen in "draw" mode only)
    painted: gr.State  # the drawing layer's painted pixels as last read: a new stroke is what was added since
    region: gr.Image  # the region the click (or stroke) selects: a see-through layer laid over the Beyond picture
    style: gr.HTML
    picker: gr.ColorPicker
    add: gr.Button
    remove: gr.Dropdown
    undo: gr.Button
    clear: gr.Button
    before: gr.State  # the result before the last hint change, to compare with
    changed: gr.State  # whether the last hint event changed the hints (no change: nothing is redrawn)
    photo: gr.State  # the clicked photo, decoded once per session for every later click (ClickedPhoto)
    comparison: gr.HTML | None = None  # the clicked pixel's distribution before and after (build_hint_comparison)
    entropy: gr.Image | None = None  # the hint model's entropy map before and after


# The picker's popup opens inside its block: the block clipped it (overflow: auto) where the popup is wider
# than the block, and at the page's right edge half of it was cut off. Its column is wide enough for it.
# "Pick what to steer" on one line with its two choices: its label above them pushed the suggestions below the
# window's bottom at 1400 x 1000 (after a click). The message is kept off the grey band's left edge, which its
# text touched.
PANEL_CSS = """
#hint-picker { overflow: visible !important; }
#hint-picker .color-picker { scroll-margin: 8px; }
#hint-panel .pw-hint-row { align-items: flex-start; }
#hint-pick { display: flex; flex-wrap: wrap; align-items: center; column-gap: 16px; }
#hint-pick > [data-testid=block-info] { margin-bottom: 0; }
#hint-message { padding: 4px 12px; }
"""
# The picker's popup opens below its swatch: where that is past the window's bottom edge, the page scrolls it into
# view (installed once per page with app.py's other script), 8 px clear of the edge (scroll-margin above: flush
# with it, a fractional layout left it 0.2 px past).
PICKER_JS = """() => {
  document.addEventListener('click', (event) => {
    if (!event.target.closest || !event.target.closest('#hint-picker .dialog-button')) return;
    requestAnimationFrame(() => requestAnimationFrame(() => {
      const popup = document.querySelector('#hint-picker .color-picker');
      if (popup) popup.scrollIntoView({block: 'nearest'});
    }));
  }, true);
}"""
# What the next hint reaches, on the picture the person clicks: the region's see-through layer (show_region) laid
# exactly over the Beyond picture, inside the frame Gradio draws it in, letting clicks through to it (the click's
# coordinates are read from the picture itself). A <div> with the layer as its background, not a second <img>: the
# page's and the tests' "#colourize-beyond img" stays the picture. Gradio draws the picture "scale-down" in its
# frame (shrunk to fit, never enlarged); the layer, made at the picture's own size, is drawn the same way: "contain"
# where the picture is larger than the frame, its own size where not, checked again whenever the frame's size
# changes. Run on each change of the region (a click, a stroke, a reach; none: a hint added, a new photo) and of
# the Beyond picture (Gradio may draw its frame anew).
REGION_OVERLAY_CSS = """
#colourize-beyond .image-frame { position: relative; }
#colourize-beyond .pw-region-overlay { position: absolute; inset: 0; pointer-events: none;
  background-repeat: no-repeat; background-position: center; background-size: contain; }
"""
REGION_OVERLAY_JS = """(region) => {
  const frame = document.querySelector('#colourize-beyond .image-frame');
  let layer = document.querySelector('#colourize-beyond .pw-region-overlay');
  const url = region && region.url;
  if (!url || !frame) { if (layer) layer.remove(); return []; }
  if (!layer || layer.parentElement !== frame) {
    if (layer) layer.remove();
    layer = document.createElement('div');
    layer.className = 'pw-region-overlay';
    layer.setAttribute('aria-hidden', 'true');
    frame.appendChild(layer);
    const fit = () => {
      const picture = frame.querySelector('img');
      if (!picture || !picture.naturalWidth) return;
      const fits = picture.naturalWidth <= frame.clientWidth && picture.naturalHeight <= frame.clientHeight;
      layer.style.backgroundSize = fits ? 'auto' : 'contain';
    };
    new ResizeObserver(fit).observe(frame);
    layer.fit = fit;
  }
  if (layer.dataset.src !== url) {
    layer.dataset.src = url;
    layer.style.backgroundImage = `url("${url}")`;
  }
  layer.fit();
  return [];
}"""
PICKER_WIDTH = 270  # px: the popup's gradient, hue slider and Hex/RGB/HSL row need about 240


def _picking() -> tuple[gr.Radio, gr.ImageEditor, gr.Radio]:
    """How to pick (first, above the suggestions: above the reach, or beside the message, it pushed the picker
    below the window's bottom at 1400 x 1000), the drawing copy (draw mode only) and the suggestions beside it."""
    with gr.Column(scale=3, min_width=300):
        pick = gr.Radio(PICK_CHOICES, value="click", label="Pick what to steer", elem_id="hint-pick")
        with gr.Row(elem_classes="pw-hint-row"):
            # only a brush: no upload, crop, layers or eraser (a new stroke replaces the last: none needed)
            draw = gr.ImageEditor(None, label=DRAW_LABEL, elem_id="hint-draw", visible=False, scale=2,
                                  min_width=240, height=260, sources=(), transforms=(), layers=False,
                                  eraser=False, buttons=[], brush=gr.Brush(**BRUSH), format="png")
            suggestions = gr.Radio([], label="The model's suggested colours here (probability mass): one click "
                                             "adds it", elem_id="hint-suggestions", scale=3, min_width=300)
    return pick, draw, suggestions


def build_hint_controls() -> HintControls:
    """The steering panel, placed right under the pictures: what the click selected, how to pick (a click, or a
    stroke dragged across a drawing copy of the Beyond picture), the suggestions, reach, picker and the hint list,
    seen together with the Beyond picture (no scrolling between picking and seeing)."""
    with gr.Group(elem_id="hint-panel"):
        gr.HTML(f"<style>{PANEL_CSS}{REGION_OVERLAY_CSS}</style>", padding=False)
        message = gr.Markdown(NO_TARGET, elem_id="hint-message")
        style = gr.HTML("", elem_id="hint-style", padding=False)
        with gr.Row(elem_classes="pw-hint-row"):
            pick, draw, suggestions = _picking()
            with gr.Column(scale=1, min_width=PICKER_WIDTH):
                # what each reach means: in docs/hints.md and the message after a click (an info line here pushed
                # the picker below the window's bottom at 1400 x 1000)
                reach = gr.Radio(list(REACH_CHOICES), value="object", label="Reach of the next hint",
                                 elem_id="hint-reach")
                picker = gr.ColorPicker("#cc3333", label="Or any colour", elem_id="hint-picker")
                add = gr.Button("Add this colour", size="sm", elem_id="hint-add")
        with gr.Row(elem_classes="pw-hint-row"):
            # a hint's own text as its value, and stale values taken: after a removal the page may still send the
            # old one (positions shift; "Value: 4 is not in the list of choices")
            remove = gr.Dropdown([], label="Remove one hint", value=None, elem_id="hint-remove", scale=2,
                                 allow_custom_value=True)
            # narrow enough to stay beside the list at 800 px (Gradio's default 160 px wrapped the second under an
            # empty block), and side by side: stacked, the second fell below the window at 1400 x 1000
            undo = gr.Button("Undo", size="sm", elem_id="hint-undo", scale=1, min_width=80)
            clear = gr.Button("Clear all hints", size="sm", elem_id="hint-clear", scale=1, min_width=80)
        hints = hints_input(gr.JSON([], visible=False, label="hints"))
        # not seen itself: REGION_OVERLAY_JS lays its picture over the Beyond picture (kept in the page, not
        # visible=False, so that its value reaches the page)
        region = gr.Image(None, label="What the next hint reaches", interactive=False, format="png",
                          image_mode="RGBA", visible="hidden", elem_id="hint-region")
    # the picture before the last change, and the clicked photo: kept an hour after their last change, like the
    # view they belong to
    before = gr.State(None, time_to_live=downloads_max_age_s())
    photo = gr.State(None, time_to_live=downloads_max_age_s())
    return HintControls(hints=hints, history=gr.State([]), target=gr.State(None), message=message,
                        suggestions=suggestions, reach=reach, pick=pick, draw=draw, painted=gr.State(None),
                        region=region, style=style, picker=picker, add=add, remove=remove, undo=undo, clear=clear,
                        before=before, changed=gr.State(False), photo=photo)


def build_hint_comparison(controls: HintControls) -> None:
    """What the last hint changed (the clicked pixel's distribution and the entropy map, before and after), below
    the inspector: it is read after the steering, not during."""
    with gr.Accordion("What the last hint changed", open=True, elem_id="hint-controls"):
        # one under the other: side by side they overlapped at 800 px
        controls.comparison = gr.HTML("", elem_id="hint-comparison", padding=True, css_template=CHART_CSS)
        controls.entropy = gr.Image(label="Entropy of the hint model: before | after the last hint", format="png",
                                    interactive=False, height=200, elem_id="hint-entropy")


# ---------------------------------------------------------------- handlers (plain values in, updates out)

@dataclass
class ClickedPhoto:
    """The photo a person clicks on, decoded once (at the shown size, as the colourization decoded it) and kept
    in their session's state: later clicks read it instead of decoding the upload again. One per session, at
    most DISPLAY_LONG_SIDE on its long side (12 MB), replaced by the next photo, gone with the session's state.
    What every click reads is kept with it: the picture as a PIL image (the suggestions read it), and per hint
    model and working size the region's costs (selection.selected_region's cache: one model run per photo)."""
    path: str
    shown: tuple[int, int]
    prepared: object  # colorizer.inference.PreparedPhoto
    image: Image.Image | None = None  # prepared.rgb as a PIL image (made once, on the way in)
    regions: dict = field(default_factory=dict)  # (checkpoint name, model, working size) -> selected_region's cache

    def __post_init__(self):
        if self.image is None:
            self.image = Image.fromarray(self.prepared.rgb)

    def region_cache(self, name: str, model, work: tuple[int, int]) -> dict:
        """The region cache of one hint model (by name; the model object too: a rewritten file loads anew) at one
        working size; a few kept (a person trying working sizes), the oldest dropped."""
        key = (name, id(model), tuple(work))
        if key not in self.regions and len(self.regions) >= KEPT_REGION_CACHES:
            self.regions.pop(next(iter(self.regions)))
        return self.regions.setdefault(key, {})


KEPT_REGION_CACHES = 4


def clicked_photo(kept: ClickedPhoto | None, path: str, shown: tuple[int, int]) -> ClickedPhoto:
    """``kept`` when it is this photo at this size, else the upload decoded (ImageError, OSError if it cannot be)."""
    if kept is not None and kept.path == str(path) and tuple(kept.shown) == tuple(shown):
        return kept
    return ClickedPhoto(str(path), tuple(shown), prepare_photo(path, max(shown), name=upload_name(path)))


def _upload_pixel(photo: ClickedPhoto, x: float, y: float) -> tuple[int, int]:
    """A point of the shown picture -> (x, y) in the upload's own pixels (decoded and turned as colourize turns it)."""
    width, height = photo.prepared.full_size
    return min(width - 1, int(x * width / photo.shown[0])), min(height - 1, int(y * height / photo.shown[1]))


def _shown_point(photo: ClickedPhoto, x: int, y: int) -> list[float]:
    """An upload pixel's centre on the shown picture (where the pixel inspector reads it)."""
    width, height = photo.prepared.full_size
    return [(x + 0.5) * photo.shown[0] / width, (y + 0.5) * photo.shown[1] / height]


def _hint_model_here(snapshot, upload_path: str | None, beyond: str | None, kept) -> tuple:
    """(the hint model's scores, the photo decoded once, None), or (None, None, why not in plain words)."""
    scores = snapshot.models.get(SLOT) if snapshot is not None else None
    if scores is None or not upload_path or not beyond:
        return None, None, "Hints work on uploads: colourize one first, then click its Beyond picture."
    try:
        if not load_colourizer(beyond, inference_device()).takes_hints:
            return None, None, (f"**{html.escape(beyond)}** takes no hints: choose a hint model (e.g. "
                                "colour_hints.pt) in the Beyond column.")
        return scores, clicked_photo(kept, upload_path, snapshot.shown), None
    except (ImageError, OSError, ValueError) as error:
        return None, None, str(error)


NOTHING_PICKED = {"target": None, "suggestions": gr.update(choices=[], value=None), "style": "", "region": None}


def _steering_answer(photo: ClickedPhoto, snapshot, beyond: str, target: dict, at: tuple[int, int], where: str,
                     reach: str) -> dict:
    """A new hint target's answer: the hint model's suggested colours at upload pixel ``at`` (the modes of its
    distribution there, at the patch's own lightness, each sent as its exact Lab colour) and the region the next
    hint reaches."""
    scores = snapshot.models[SLOT]
    colourizer = load_colourizer(beyond, inference_device())
    found = hint_model.click_suggestions(scores.logits, colourizer.model.ab_centres, photo.image, at,
                                         photo.prepared.full_size)
    choices = [(f"{100 * s.mass:.0f}%  {s.hex}", s.value) for s in found]
    css = "\n".join(f"#hint-suggestions label:nth-of-type({n}) {{ border-left: 22px solid {s.hex}; }}"
                    for n, s in enumerate(found, 1))
    answer = {"target": target, "photo": photo, "suggestions": gr.update(choices=choices, value=None),
              "message": f"{where}: what its hint reaches is outlined on the Beyond picture; pick a suggested colour, "
                         "or any colour and **Add**.",
              "style": f"<style>{css}</style>", "picker": found[0].hex if found else gr.update()}
    return answer | show_region(photo, snapshot, beyond, target, reach)


def pick_pixel(snapshot, upload_path: str | None, beyond: str | None, event: gr.SelectData, kept=None,
               reach: str = "object") -> dict:
    """A click on a picture: the hint target there, the region the next hint reaches, outlined, and the hint
    model's suggested colours. ``kept``: this session's ClickedPhoto (the upload decoded once), answered back as
    "photo"."""
    scores, photo, why = _hint_model_here(snapshot, upload_path, beyond, kept)
    if why:
        return NOTHING_PICKED | {"message": why}
    try:
        x, y = (float(value) for value in event.index[:2])
        snapshot.locate(x, y, scores)  # refuses a click outside the picture
    except (OutsideImage, ValueError, TypeError) as error:
        return NOTHING_PICKED | {"message": str(error)}
    up_x, up_y = _upload_pixel(photo, x, y)
    target = {"x": up_x, "y": up_y, "shown": [x, y]}
    return _steering_answer(photo, snapshot, beyond, target, (up_x, up_y), f"Pixel ({up_x}, {up_y}) of the upload",
                            reach)


def pick_stroke(snapshot, upload_path: str | None, beyond: str | None, drawing: dict | None, painted, kept=None,
                reach: str = "object") -> dict:
    """A stroke dragged across the drawing copy of the picture (``drawing``: gr.ImageEditor's value, its layer
    at the shown picture's size): the stroke's points in the upload's pixels (colorizer.selection.drawn_stroke,
    only what was painted since ``painted``) as the hint target, its region and the suggested colours at its
    middle. Answers "painted": the layer's painted pixels now."""
    layers = (drawing or {}).get("layers") or []
    if not layers or layers[0] is None:
        return {"message": "Nothing drawn: drag across the picture to draw a stroke."}
    now = np.asarray(layers[0])[..., -1] > 0
    scores, photo, why = _hint_model_here(snapshot, upload_path, beyond, kept)
    if why:
        return NOTHING_PICKED | {"message": why, "painted": now}
    try:
        points = selection.drawn_stroke(layers[0], photo.prepared.full_size, painted)
    except selection.NothingDrawn as error:
        return {"message": str(error), "painted": now}
    middle = points[len(points) // 2]
    target = {"x": points[0][0], "y": points[0][1], "shown": _shown_point(photo, *middle), "stroke": points}
    (x0, y0), (x1, y1) = points[0], points[-1]
    where = f"A stroke of {len(points)} points from ({x0}, {y0}) to ({x1}, {y1})"
    return _steering_answer(photo, snapshot, beyond, target, tuple(middle), where, reach) | {"painted": now}


def drawing_copy(pick: str, beyond_picture) -> dict:
    """The drawing copy in "draw" mode: the Beyond picture as it now is, nothing painted yet; hidden otherwise.
    ``beyond_picture``: its file as the page sends it ({"path", ...}, not decoded: this runs on every redraw,
    mostly in click mode, where a 2000 px JPEG would be decoded for nothing), a path, or None."""
    if pick != "draw":
        return {"draw": gr.update(visible=False), "painted": None}
    path = beyond_picture.get("path") if isinstance(beyond_picture, dict) else beyond_picture
    if not path:
        return {"draw": gr.update(visible=True, value=None, label="Colourize a photo first, then draw on it"),
                "painted": None}
    with Image.open(path) as picture:  # its header only
        long_side = max(picture.size)
    # a thin brush, as wide on any picture as seen: "auto" painted a band ~60 px wide on a 384 px picture
    width = max(2, round(long_side / BRUSH_FRACTION))
    return {"draw": gr.update(visible=True, label=DRAW_LABEL, brush=gr.Brush(default_size=width, **BRUSH),
                              value={"background": str(path), "layers": [], "composite": None}),
            "painted": None}


def show_region(photo: ClickedPhoto | None, snapshot, beyond: str | None, target: dict | None, reach: str) -> dict:
    """The region the next hint at ``target`` reaches at ``reach``, as a see-through layer for the Beyond picture
    at its shown size (colorizer.selection.outline_overlay), or nothing."""
    scores = snapshot.models.get(SLOT) if snapshot is not None else None
    if photo is None or not target or scores is None or not beyond or reach not in REACH_CHOICES:
        return {"region": None}
    points = [tuple(point) for point in target.get("stroke") or [(target["x"], target["y"])]]
    model = load_colourizer(beyond, inference_device()).model
    cache = photo.region_cache(beyond, model, (scores.logits.shape[-1], scores.logits.shape[-2]))
    mask = selection.selected_region(model, photo.prepared, scores.logits, points, reach, cache)
    return {"region": selection.outline_overlay(mask, points, photo.prepared.full_size, tuple(snapshot.shown))}


# a change of the hints redraws the picture: the region's outline laid over it goes (a new click draws it again)
HINTS_CHANGED = {"changed": True, "region": None}


def _label(number: int, hint: dict) -> str:
    if "stroke" in hint:
        (x0, y0), (x1, y1) = hint["stroke"][0], hint["stroke"][-1]
        where = f"stroke ({x0}, {y0})–({x1}, {y1})"
    else:
        where = f"({hint['x']}, {hint['y']})"
    return f"{number}: {where} {hint['colour']} {hint.get('reach', 'point')}"


def _listed(hints: list[dict]) -> dict:
    return gr.update(choices=[_label(n, h) for n, h in enumerate(hints, 1)], value=None)


def add_hint(hints: list | None, history: list | None, target: dict | None, colour: str | None,
             reach: str = "object") -> dict:
    """One more hint at the target pixel, or along the target's stroke (a hint already there is replaced);
    nothing (and a word why) without a target or a colour."""
    if not target or not colour:
        return {"message": NO_TARGET, "changed": False}
    try:
        rgb = hint_model.parse_colour(colour)
    except hint_model.HintError as error:
        return {"message": str(error), "changed": False}
    text = colour if hint_model.parse_lab(colour) else "#{:02x}{:02x}{:02x}".format(*rgb)
    place = {"stroke": target["stroke"]} if target.get("stroke") else {"x": target["x"], "y": target["y"]}
    hint = place | {"colour": text, "reach": reach if reach in REACH_CHOICES else "object"}
    old = list(hints or [])
    at = lambda h: h.get("stroke") or (h["x"], h["y"])  # noqa: E731  (where a hint lies)
    same = [n for n, h in enumerate(old) if at(h) == at(hint)]
    new = [h for n, h in enumerate(old) if n not in same] + [hint]
    if len(new) > hint_model.MAX_HINTS:
        return {"message": f"At most {hint_model.MAX_HINTS} hints.", "changed": False}
    kind = "stroke" if "stroke" in hint else "pixel"
    replaced = f" (it replaces hint {same[0] + 1}, on the same {kind})" if same else ""
    return {"hints": new, "history": list(history or []) + [old], "remove": _listed(new), **HINTS_CHANGED,
            "message": f"{len(new)} hint{'s' if len(new) > 1 else ''}{replaced}: click another pixel (or draw "
                       "another stroke) to add more."}


def remove_hint(hints: list | None, history: list | None, which: str | None) -> dict:
    """The hint the dropdown names removed; a stale or empty choice changes nothing and says so."""
    labels = [_label(n, h) for n, h in enumerate(hints or [], 1)]
    if not which or which not in labels:
        return {"message": "Choose a hint in the list to remove it." if hints else "No hints to remove.",
                "remove": _listed(hints or []), "changed": False}
    index = labels.index(which)
    new = [h for n, h in enumerate(hints) if n != index]
    return {"hints": new, "history": list(history or []) + [list(hints)], "remove": _listed(new), **HINTS_CHANGED,
            "message": f"Removed hint {index + 1}; {len(new)} left."}


def clear_hints(hints: list | None, history: list | None) -> dict:
    if not hints:
        return {"message": NO_TARGET, "changed": False}
    return {"hints": [], "history": list(history or []) + [list(hints)], "remove": _listed([]), **HINTS_CHANGED,
            "message": "No hints: the model colourizes on its own."}


def undo_hint(hints: list | None, history: list | None) -> dict:
    if not history:
        return {"message": "Nothing to undo.", "changed": False}
    previous = history[-1]
    return {"hints": previous, "history": history[:-1], "remove": _listed(previous), **HINTS_CHANGED,
            "message": f"Undone: {len(previous)} hint{'s' if len(previous) != 1 else ''} now."}


def forget_hints() -> dict:
    """A new upload: its pixels are not the old one's."""
    return {"hints": [], "history": [], "target": None, "remove": _listed([]), "message": NO_TARGET,
            "suggestions": gr.update(choices=[], value=None), "style": "", "region": None, "photo": None}


def compare(before, after, target: dict | None, chart) -> dict:
    """The hint model's distribution at the target pixel and its entropy map, before and after the last change.
    ``chart``: ui.inspector's drawing of one model's distribution (passed in: this module draws no charts)."""
    old, new = (snapshot.models.get(SLOT) if snapshot is not None else None for snapshot in (before, after))
    if old is None or new is None:
        return {"comparison": "", "entropy": None}
    pair = {"before": dataclasses.replace(old, label="before"), "after": dataclasses.replace(new, label="after")}
    entropy = uncertainty_maps(Snapshot(pair, shown=after.shown), UNCERTAINTY_KINDS[0], long_side=240)
    if not target:
        return {"comparison": "", "entropy": entropy}
    x, y = target["shown"]
    parts = []
    for scores, title in ((old, "Before the last hint change"), (new, "After")):
        _, column, row = after.locate(x, y, scores)
        parts.append(f"<div><b>{title}</b>{chart(report(SLOT, scores, 0, column, row))}</div>")
    return {"comparison": f'<div class="pw-chart" style="display:flex;flex-wrap:wrap;gap:16px">{"".join(parts)}</div>',
            "entropy": entropy}
