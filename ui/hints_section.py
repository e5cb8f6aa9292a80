"""The Colourize tab's hints (Zhang et al., SIGGRAPH 2017): click a pixel of the hint model's picture, pick one
of the model's own suggested colours (or any colour), and the picture is colourized again with that hint.
Hints are kept in the upload's own pixel coordinates, in a hidden JSON input of the public colourize endpoint,
so a decoding, temperature or working-size change keeps them; a new upload clears them. Undo reverses the
last change (add, remove or clear). No ML here: colorizer.hints suggests the colours and draws the markers."""
import dataclasses
import html
from dataclasses import dataclass

import gradio as gr

from colorizer import hints as hint_model
from pixelwise.images import ImageError, open_image
from pixelwise.perpixel import UNCERTAINTY_KINDS, OutsideImage, Snapshot, report
from pixelwise.pictures import uncertainty_maps
from pixelwise.settings import downloads_max_age_s
from runs.catalog import load_colourizer
from ui.api_types import hints_input
from ui.inspector import CHART_CSS
from ui.common import inference_device

SLOT = "beyond"  # the column whose model takes hints
REACH_CHOICES = ("point", "object", "larger")
NO_TARGET = "Click a pixel of the **Beyond the handout** picture (with a hint model chosen) to steer its colour."


@dataclass
class HintControls:
    hints: gr.JSON  # [{"x", "y", "colour", "reach"}, ...] in the upload's pixel coordinates: an input of colourize
    history: gr.State  # earlier hint lists, for undo
    target: gr.State  # {"x", "y"}: the pixel the next hint goes to
    message: gr.Markdown
    suggestions: gr.Radio
    reach: gr.Radio  # how far the next hint reaches: point, object, larger
    style: gr.HTML
    picker: gr.ColorPicker
    add: gr.Button
    remove: gr.Dropdown
    undo: gr.Button
    clear: gr.Button
    before: gr.State  # the result before the last hint change, to compare with
    comparison: gr.HTML  # the clicked pixel's distribution before and after
    entropy: gr.Image  # the hint model's entropy map before and after
    changed: gr.State  # whether the last hint event changed the hints (no change: nothing is redrawn)


def build_hint_controls() -> HintControls:
    with gr.Accordion("Steer the colour: hints (click the Beyond picture)", open=True, elem_id="hint-controls"):
        message = gr.Markdown(NO_TARGET, elem_id="hint-message")
        style = gr.HTML("", elem_id="hint-style", padding=False)
        with gr.Row():
            suggestions = gr.Radio([], label="The model's suggested colours here (probability mass)",
                                   elem_id="hint-suggestions", scale=3)
            with gr.Column(scale=1, min_width=160):
                reach = gr.Radio(list(REACH_CHOICES), value="object", label="Reach of the next hint",
                                 info="point: a small patch (it may tint the whole photo); object: the region the "
                                      "click lands on, nothing outside it; larger: past weaker edges",
                                 elem_id="hint-reach")
                picker = gr.ColorPicker("#cc3333", label="Or any colour", elem_id="hint-picker")
                add = gr.Button("Add this colour", size="sm", elem_id="hint-add")
        with gr.Row():
            # a hint's own text as its value, and stale values taken: after a removal the page may still send the
            # old one (positions shift; "Value: 4 is not in the list of choices")
            remove = gr.Dropdown([], label="Remove one hint", value=None, elem_id="hint-remove", scale=2,
                                 allow_custom_value=True)
            undo = gr.Button("Undo", size="sm", elem_id="hint-undo")
            clear = gr.Button("Clear all hints", size="sm", elem_id="hint-clear")
        # one under the other: side by side they overlapped at 800 px
        comparison = gr.HTML("", elem_id="hint-comparison", padding=True, css_template=CHART_CSS)
        entropy = gr.Image(label="Entropy of the hint model: before | after the last hint", format="png",
                           interactive=False, height=200, elem_id="hint-entropy")
        hints = hints_input(gr.JSON([], visible=False, label="hints"))
    # the picture before the last change: kept an hour after its last change, like the view it compares with
    before = gr.State(None, time_to_live=downloads_max_age_s())
    return HintControls(hints, gr.State([]), gr.State(None), message, suggestions, reach, style, picker, add, remove,
                        undo, clear, before, comparison, entropy, gr.State(False))


# ---------------------------------------------------------------- handlers (plain values in, updates out)

def _upload_pixel(path: str, x: float, y: float, shown: tuple[int, int]):
    """A point of the shown picture -> (x, y) in the upload's own pixels (decoded and turned as colourize
    turns it), the upload as decoded at the shown size (the suggestions' lightness) and its full size."""
    image = open_image(path, max_side=max(shown))
    width, height = image.full_size
    up_x, up_y = min(width - 1, int(x * width / shown[0])), min(height - 1, int(y * height / shown[1]))
    return up_x, up_y, image.convert("RGB"), (width, height)


def pick_pixel(snapshot, upload_path: str | None, beyond: str | None, event: gr.SelectData) -> dict:
    """A click on a picture: the hint target there, and the hint model's suggested colours for it (the modes of
    its distribution there, at the clicked patch's own lightness, each sent as its exact Lab colour)."""
    nothing = {"target": None, "suggestions": gr.update(choices=[], value=None), "style": ""}
    scores = snapshot.models.get(SLOT) if snapshot is not None else None
    if scores is None or not upload_path or not beyond:
        return {**nothing, "message": "Hints work on uploads: colourize one first, then click its Beyond picture."}
    try:
        colourizer = load_colourizer(beyond, inference_device())
        if not colourizer.takes_hints:
            return {**nothing, "message": f"**{html.escape(beyond)}** takes no hints: choose a hint model "
                                          "(e.g. colour_hints.pt) in the Beyond column."}
        x, y = (float(value) for value in event.index[:2])
        snapshot.locate(x, y, scores)  # refuses a click outside the picture
        up_x, up_y, image, full_size = _upload_pixel(upload_path, x, y, snapshot.shown)
    except (OutsideImage, ImageError, OSError, ValueError, TypeError) as error:
        return {**nothing, "message": str(error)}
    found = hint_model.click_suggestions(scores.logits, colourizer.model.ab_centres, image, (up_x, up_y), full_size)
    choices = [(f"{100 * s.mass:.0f}%  {s.hex}", s.value) for s in found]
    css = "\n".join(f"#hint-suggestions label:nth-of-type({n}) {{ border-left: 22px solid {s.hex}; }}"
                    for n, s in enumerate(found, 1))
    return {"target": {"x": up_x, "y": up_y, "shown": [x, y]},
            "message": f"Pixel ({up_x}, {up_y}) of the upload: pick a suggested colour, or any colour and **Add**.",
            "suggestions": gr.update(choices=choices, value=None), "style": f"<style>{css}</style>",
            "picker": found[0].hex if found else gr.update()}


def _label(number: int, hint: dict) -> str:
    return f"{number}: ({hint['x']}, {hint['y']}) {hint['colour']} {hint.get('reach', 'point')}"


def _listed(hints: list[dict]) -> dict:
    return gr.update(choices=[_label(n, h) for n, h in enumerate(hints, 1)], value=None)


def add_hint(hints: list | None, history: list | None, target: dict | None, colour: str | None,
             reach: str = "object") -> dict:
    """One more hint at the target pixel (a hint already there is replaced); nothing (and a word why) without
    a target or a colour."""
    if not target or not colour:
        return {"message": NO_TARGET, "changed": False}
    try:
        rgb = hint_model.parse_colour(colour)
    except hint_model.HintError as error:
        return {"message": str(error), "changed": False}
    text = colour if hint_model.parse_lab(colour) else "#{:02x}{:02x}{:02x}".format(*rgb)
    hint = {"x": target["x"], "y": target["y"], "colour": text, "reach": reach if reach in REACH_CHOICES else "object"}
    old = list(hints or [])
    same = [n for n, h in enumerate(old) if (h["x"], h["y"]) == (hint["x"], hint["y"])]
    new = [h for n, h in enumerate(old) if n not in same] + [hint]
    if len(new) > hint_model.MAX_HINTS:
        return {"message": f"At most {hint_model.MAX_HINTS} hints.", "changed": False}
    replaced = f" (it replaces hint {same[0] + 1}, on the same pixel)" if same else ""
    return {"hints": new, "history": list(history or []) + [old], "remove": _listed(new), "changed": True,
            "message": f"{len(new)} hint{'s' if len(new) > 1 else ''}{replaced}: click another pixel to add more."}


def remove_hint(hints: list | None, history: list | None, which: str | None) -> dict:
    """The hint the dropdown names removed; a stale or empty choice changes nothing and says so."""
    labels = [_label(n, h) for n, h in enumerate(hints or [], 1)]
    if not which or which not in labels:
        return {"message": "Choose a hint in the list to remove it." if hints else "No hints to remove.",
                "remove": _listed(hints or []), "changed": False}
    index = labels.index(which)
    new = [h for n, h in enumerate(hints) if n != index]
    return {"hints": new, "history": list(history or []) + [list(hints)], "remove": _listed(new), "changed": True,
            "message": f"Removed hint {index + 1}; {len(new)} left."}


def clear_hints(hints: list | None, history: list | None) -> dict:
    if not hints:
        return {"message": NO_TARGET, "changed": False}
    return {"hints": [], "history": list(history or []) + [list(hints)], "remove": _listed([]), "changed": True,
            "message": "No hints: the model colourizes on its own."}


def undo_hint(hints: list | None, history: list | None) -> dict:
    if not history:
        return {"message": "Nothing to undo.", "changed": False}
    previous = history[-1]
    return {"hints": previous, "history": history[:-1], "remove": _listed(previous), "changed": True,
            "message": f"Undone: {len(previous)} hint{'s' if len(previous) != 1 else ''} now."}


def forget_hints() -> dict:
    """A new upload: its pixels are not the old one's."""
    return {"hints": [], "history": [], "target": None, "remove": _listed([]), "message": NO_TARGET,
            "suggestions": gr.update(choices=[], value=None), "style": ""}


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
