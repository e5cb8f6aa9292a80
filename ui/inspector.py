"""The pixel inspector, shared by the tabs: click any pixel of any output picture and see, per model,
the predicted probability of every class (bars in the classes' own colours, top 10 and "rest"), the
chosen class, the entropy in bits and the true class; a small cross marks the pixel on every picture
of the tab. Also the uncertainty maps. Only the wiring: the numbers come from pixelwise.perpixel, the
pictures from pixelwise.pictures; a click only reads the logits kept in the session's gr.State, nothing is
recomputed.
"""
import html
from dataclasses import dataclass
from typing import Callable

import gradio as gr
import numpy as np

from colorizer.inspector import strip_scores
from pixelwise import limits
from pixelwise.limits import OutOfRange, bounded
from pixelwise.perpixel import UNCERTAINTY_KINDS, Grid, OutsideImage, PixelReport, Snapshot
from pixelwise.pictures import STRIP_FACTOR, STRIP_GAP, uncertainty_maps
from pixelwise.zerogpu import quick_request
from ui.common import uploaded_image

INSPECT_CLASS = "pw-inspect"  # give an output picture this class and the crosses appear on it too

# Installed once per page by the first inspector: on a click on any picture with INSPECT_CLASS, draw a
# cross at the same relative point of every such picture in the same tab (pictures use object-fit:
# contain, so the drawn picture may be smaller than its element). A picture that changes loses its cross.
CROSS_JS = """
if (!window.pixelwiseCrosses) {
  window.pixelwiseCrosses = true;
  const drawn = (img) => {
    const box = img.getBoundingClientRect();
    const scale = Math.min(box.width / img.naturalWidth, box.height / img.naturalHeight);
    const w = img.naturalWidth * scale, h = img.naturalHeight * scale;
    return {box, w, h, left: (box.width - w) / 2, top: (box.height - h) / 2};
  };
  document.addEventListener('click', (event) => {
    const img = event.target.closest && event.target.closest('.pw-inspect img');
    if (!img || !img.naturalWidth) return;
    const d = drawn(img);
    const fx = (event.clientX - d.box.left - d.left) / d.w, fy = (event.clientY - d.box.top - d.top) / d.h;
    if (fx < 0 || fx > 1 || fy < 0 || fy > 1) return;
    const scope = img.closest('[role=tabpanel]') || document;
    scope.querySelectorAll('.pw-inspect img').forEach((other) => {
      if (!other.naturalWidth) return;
      const parent = other.parentElement;
      if (getComputedStyle(parent).position === 'static') parent.style.position = 'relative';
      let cross = parent.querySelector(':scope > .pw-cross');
      if (!cross) {
        cross = document.createElement('div');
        cross.className = 'pw-cross';
        cross.style.cssText = 'position:absolute;width:0;height:0;pointer-events:none;z-index:10';
        cross.innerHTML = '<svg width="17" height="17" style="position:absolute;left:-8.5px;top:-8.5px">' +
          '<path d="M0 8.5H6M11 8.5H17M8.5 0V6M8.5 11V17" stroke="#fff" stroke-width="3.5"/>' +
          '<path d="M0 8.5H6M11 8.5H17M8.5 0V6M8.5 11V17" stroke="#e0006c" stroke-width="1.6"/></svg>';
        parent.appendChild(cross);
      }
      const o = drawn(other), p = parent.getBoundingClientRect();
      cross.style.left = (o.box.left - p.left + o.left + fx * o.w) + 'px';
      cross.style.top = (o.box.top - p.top + o.top + fy * o.h) + 'px';
    });
  }, true);
  document.addEventListener('load', (event) => {  // a new picture: its old cross no longer applies
    const img = event.target;
    if (img.matches && img.matches('.pw-inspect img')) {
      const cross = img.parentElement.querySelector(':scope > .pw-cross');
      if (cross) cross.remove();
    }
  }, true);
}
"""

CHART_CSS = """
.pw-chart { font-size: 13px; line-height: 1.25; }
.pw-chart .pw-model { margin: 0 0 12px 0; }
.pw-chart .pw-head { margin-bottom: 4px; }
.pw-chart .pw-row { display: flex; align-items: center; gap: 6px; height: 17px; }
.pw-chart .pw-name { width: 84px; text-align: right; white-space: nowrap; overflow: hidden; }
.pw-chart .pw-track { flex: 1; background: #f1f1f1; height: 13px; position: relative; }
.pw-chart .pw-bar { height: 13px; border: 1px solid #666; box-sizing: border-box; min-width: 1px; }
.pw-chart .pw-p { width: 52px; font-variant-numeric: tabular-nums; }
.pw-chart .pw-mark { min-width: 96px; font-size: 11px; white-space: nowrap; }
.pw-chart .pw-swatch { display: inline-block; width: 12px; height: 12px; border: 1px solid #555; vertical-align: -2px; }
.pw-chart .pw-message { color: var(--error-text-color); }  /* the theme's: dark red, light pink in dark mode */
.pw-chart .pw-hint { color: var(--body-text-color); }
"""

HINT = "Click any pixel of any picture above to see each model's probabilities there."


def swatch(colour: str) -> str:
    return f'<span class="pw-swatch" style="background:{colour}"></span>'


def _bar_row(name: str, p: float, colour: str, mark: str = "") -> str:
    return (f'<div class="pw-row"><span class="pw-name">{html.escape(name)}</span>'
            f'<span class="pw-track"><div class="pw-bar" style="width:{100 * p:.2f}%;background:{colour}"></div></span>'
            f'<span class="pw-p">{100 * p:.1f}%</span><span class="pw-mark">{mark}</span></div>')


def true_words(report: PixelReport) -> str:
    """The true class as a newcomer reads it: "true colour (palette class 13)" for a colourizer (its classes
    are colours numbered in its palette), "true class (flower)" for a segmenter (its classes have names)."""
    if report.class_names:
        return f"true class ({html.escape(report.name(report.truth))})"
    return f"true colour (palette class {report.truth})"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def model_chart(report: PixelReport) -> str:
    """One model's bars: the top 10 classes, sorted, in their own colours; the rest summed in grey."""
    top, rest, rest_count = report.top()
    chosen = report.chosen
    head = (f'<div class="pw-head"><b>{html.escape(report.label)}</b> chose {swatch(report.hex(chosen))} '
            f"{html.escape(report.name(chosen))} (p = {report.probabilities[chosen]:.2f}) · entropy "
            f"<b>{report.entropy_bits:.2f} bits</b> (of at most {np.log2(len(report.probabilities)):.2f})")
    if report.truth is not None:
        rank = int((report.probabilities > report.probabilities[report.truth]).sum()) + 1
        head += (f" · {true_words(report)} {swatch(report.hex(report.truth))} (p = "
                 f"{report.probabilities[report.truth]:.2f}, {ordinal(rank)} most likely)")
    rows = []
    for index, p in top:
        marks = ["chosen"] * (index == chosen) + ([f"◀ {true_words(report)}"] if index == report.truth else [])
        rows.append(_bar_row(report.name(index), p, report.hex(index), " ".join(marks)))
    if rest_count:
        rows.append(_bar_row(f"rest ({rest_count})", rest, "#bdbdbd"))
        shown = {index for index, _ in top}
        if report.truth is not None and report.truth not in shown:
            rows.append(_bar_row(report.name(report.truth), float(report.probabilities[report.truth]),
                                 report.hex(report.truth), f"◀ {true_words(report)}"))
    return f'<div class="pw-model">{head}</div>{"".join(rows)}</div>'


def chart_html(reports: list[PixelReport], snapshot: Snapshot) -> str:
    first = reports[0]
    width, height = snapshot.models[first.model].size
    where = f"image {first.image + 1} of " if snapshot.grid else ""
    title = (f"<p>Pixel ({first.x}, {first.y}) of the {width}×{height} input the models saw ({where}"
             f"{html.escape(snapshot.source or 'the last result')}):</p>")
    return f'<div class="pw-chart">{title}{"".join(model_chart(report) for report in reports)}</div>'


def message_html(text: str, kind: str = "message") -> str:
    """A line in the chart's place: a ``message`` (why there is no chart) or the ``hint`` of what to do."""
    return f'<div class="pw-chart"><p class="pw-{kind}">{html.escape(text)}</p></div>'


def on_select(snapshot: Snapshot | None, event: gr.SelectData) -> str:
    """A click on a picture: the chart for that pixel, or a plain message (gap, outside, nothing yet)."""
    if snapshot is None:
        return message_html("Nothing to inspect yet: produce a result first, then click on it.")
    x, y = event.index if isinstance(event.index, (list, tuple)) else (None, None)
    if x is None:
        return message_html("Click on a pixel of the picture.")
    try:
        return chart_html(snapshot.inspect(float(x), float(y)), snapshot)
    except OutsideImage as error:
        return message_html(str(error))


def inspect_pixel_json(snapshot: Snapshot | None, x: float, y: float, top: int | None = None) -> dict:
    """The API's answer: per model, every class's probability at picture pixel (x, y), or an error."""
    try:
        x, y = (bounded(value, name, limits.PIXEL_COORDINATE, whole=False) for value, name in ((x, "x"), (y, "y")))
        top = bounded(top or 0, "top", limits.INSPECT_TOP)
    except OutOfRange as error:  # NaN, infinite, text: said in the answer as any other refusal
        return {"error": str(error)}
    if snapshot is None:
        return {"error": "Nothing to inspect: colourize an image first (in this session) or pass an image."}
    try:
        reports = snapshot.inspect(x, y)
    except OutsideImage as error:
        return {"error": str(error)}
    return {"picture_size": list(snapshot.grid.cell if snapshot.grid else snapshot.shown),
            "models": [report.as_dict(top or None) for report in reports]}


def uncertainty_view(snapshot: Snapshot | None, kind: str):
    """Every model's uncertainty map side by side (pixelwise.pictures.uncertainty_maps)."""
    return uncertainty_maps(snapshot, kind)


def _identity(value):
    return value


@dataclass
class Inspector:
    """The components of one tab's inspector; ``watch`` makes pictures clickable. ``read`` turns the
    state's value into a Snapshot (the Colourize and Segment tabs keep a Snapshot itself)."""
    state: gr.State
    chart: gr.HTML
    kind: gr.Radio | None = None
    uncertainty: gr.Image | None = None
    read: Callable = _identity

    def watch(self, pictures: list[gr.Image]) -> None:
        """A click on any of these pictures answers in the chart (no queue: it is a lookup)."""
        def clicked(value, event: gr.SelectData) -> str:
            return on_select(self.read(value), event)

        for picture in pictures:
            picture.select(clicked, self.state, self.chart, queue=False, show_progress="hidden",
                           api_visibility="private")

    def view(self, value, kind: str):
        return uncertainty_view(self.read(value), kind)

    def redraw_after(self, events: list) -> None:
        """Redraw the uncertainty maps, and clear the chart, after each event that makes a new result."""
        for event in events:
            event.then(lambda: message_html(HINT, "hint"), None, self.chart, queue=False, show_progress="hidden",
                       api_visibility="private")
            if self.uncertainty is not None:
                event.then(self.view, [self.state, self.kind], self.uncertainty, show_progress="hidden",
                           api_visibility="private")


def build_inspector(state: gr.State, uncertainty: bool = True, elem_id: str = "inspector",
                    read: Callable = _identity) -> Inspector:
    """The chart (and the uncertainty maps, with their kind) under the pictures of a tab."""
    gr.HTML("", js_on_load=CROSS_JS, elem_classes="pw-cross-js")  # installs the crosses once per page
    with gr.Row(elem_id=elem_id):
        # min_width: side by side only where both fit; narrower, the maps go under the chart (at 800 px the
        # squeezed chart showed one word per line)
        with gr.Column(min_width=300):
            chart = gr.HTML(message_html(HINT, "hint"), css_template=CHART_CSS, elem_id=f"{elem_id}-chart",
                            min_height=60, padding=True)
        if not uncertainty:
            return Inspector(state, chart, read=read)
        with gr.Column(min_width=300):
            kind = gr.Radio(list(UNCERTAINTY_KINDS), value=UNCERTAINTY_KINDS[0], elem_id=f"{elem_id}-kind",
                            label="Where each model is unsure (bright = unsure)")
            picture = gr.Image(label="Uncertainty map", format="png", interactive=False, show_label=False,
                               elem_id=f"{elem_id}-uncertainty", height=260)
    inspector = Inspector(state, chart, kind, picture, read)
    kind.change(inspector.view, [state, kind], picture, show_progress="hidden", api_visibility="private")
    return inspector


# ---------------------------------------------------------------- Train live's strips

def record_strip(session, event) -> None:
    """Keep the final model's logits on a batch size's strip images (a runs.events.Finished, whose samples
    are the final model's (grey, truth, prediction)) in its TrainSession."""
    if event.logits is None or not event.samples:
        return
    epoch = event.result.final.epoch if event.result.final else 0
    session.strip_scores[event.batch_size] = strip_scores(f"bs {event.batch_size} · epoch {epoch:g}", event.samples,
                                                          event.logits, event.palette)


def strip_snapshot(session) -> Snapshot | None:
    """The strips as one clickable result: every batch size's model at the same validation pixel.
    Each strip is pixelwise.pictures.image_grid of rows (grey, truth, prediction), one row per image."""
    if session is None or not session.strip_scores:
        return None
    scores = {f"bs {bs}": s for bs, s in sorted(session.strip_scores.items())}
    first = next(iter(scores.values()))
    (width, height), count = first.size, first.logits.shape[0]
    cell = (width * STRIP_FACTOR, height * STRIP_FACTOR)
    return Snapshot(scores, shown=cell, grid=Grid(count, 3, cell, STRIP_GAP), source="validation images")


def add_inspect_api(state: gr.State, snapshot_of: Callable[[str], Snapshot] | None = None) -> None:
    """The public endpoint ``inspect_pixel``: (image file or nothing for the session's last result, x, y)
    -> JSON with every model's class probabilities at that pixel. Hidden components carry its inputs; the
    image comes as an upload does to the tabs (ui.common.uploaded_image: pixelwise.images decodes it, with its
    limits and plain messages), and a model run with it asks for the GPU on ZeroGPU as the tabs' handlers do."""
    @quick_request
    def inspect_pixel(snapshot: Snapshot | None, image: str | None, x: float, y: float, top: float | None):
        """Per-model class distribution at pixel (x, y) of the shown picture (full-resolution for uploads,
        8x enlarged for CIFAR-10 test images).

        Result: {"picture_size", "models": [{"label", "x", "y", "chosen", "entropy_bits", "true", "classes":
        [{"class", "name", "colour", "p"}], "rest"}]} or {"error": ...}.

        Args:
            snapshot: (kept by the client session) the last colourization's per-pixel classes.
            image: a photo to colourize first with the default checkpoints (over MCP a data: URL, "data:image/png;base64,...", or a public https URL); leave empty to inspect this session's last colourization.
            x: the pixel's column in the picture, 0 at the left.
            y: the pixel's row in the picture, 0 at the top.
            top: classes listed per model, most probable first (0 = all).
        """
        if image and snapshot_of is not None:
            try:
                snapshot = snapshot_of(image)
            except ValueError as error:  # ImageError and the like: say what is wrong
                return {"error": str(error)}, snapshot
        return inspect_pixel_json(snapshot, x, y, top), snapshot

    with gr.Row(visible=False):
        image = uploaded_image(label="image (optional)")
        x, y = gr.Number(0, label="x"), gr.Number(0, label="y")
        top = gr.Number(0, label="top classes per model (0 = all)")
        answer = gr.JSON(label="distribution per model")
        run = gr.Button("inspect")
    run.click(inspect_pixel, [state, image, x, y, top], [answer, state], api_name="inspect_pixel")
