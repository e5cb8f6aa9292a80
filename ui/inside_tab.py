"""Tab "Inside the models": per-layer weights, outputs and connections of the live CNN/UNet with
their closed forms, the two write-ups' formulas checked, and the affine-input experiment.

All counting lives in inside.anatomy / inside.formulas and the experiment in inside.affine;
this module only lays out components and formats their answers.
"""
import base64
import html
import io
import json
from typing import Callable

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image

from colorizer import CIFAR10_CLASSES, load_category
from runs.catalog import find_checkpoint, list_checkpoints, load_checkpoint_cached
from colorizer.models import HANDOUT_ARCHS
from inside.affine import AffineConfig, parse_pairs, result_records, run_from_checkpoint
from inside.formulas import AFFINE_CLAIMS, SCALING_CLAIMS, layer_records, total_records, writeup_records
from inside.layers import DEFAULT_CHANNELS, blocks, layer_pictures
from pixelwise.checkpoints import CheckpointError
from pixelwise.errors import DataUnavailable
from pixelwise.images import ImageError, load_rgb
from pixelwise.settings import cifar_root
from pixelwise.zerogpu import heavy_request, quick_request
from pixelwise import limits
from pixelwise.limits import OutOfRange, bounded
from ui.common import (api_endpoint, checked_by_handler, cifar_data_root, inference_device, named_outputs, notice,
                       notice_box, refusal, uploaded_image)
from ui.page_jobs import HEAVY, heavy_job, job_done, job_for, waiting_notes

DEFAULTS = {"arch": "cnn", "nf": 32, "nc": 24, "kernel": 3, "side": 32}
LAYER_COLUMNS = ["layer", "type", "output shape", "outputs", "outputs formula", "weights", "weights formula",
                 "buffers", "connections", "connections formula", "match"]
WRITEUP_COLUMNS = ["write-up", "term", "verdict", "theirs", "true", "off by", "why", "their value", "measured",
                   "quantity", "k"]
AFFINE_COLUMNS = ["a", "b", "(i) eval mode: changed", "(i) acc", "(ii) batch stats: changed", "(ii) acc",
                  "(iii) fine-tuned: changed", "(iii) acc"]
RIGHT, WRONG = "✓ right", "✗ wrong"  # plain symbols: emoji fonts are often missing
EXPLAINER = """
Counts come from **forward hooks on the live PyTorch module** (one image of side S, one row per leaf
module); the formulas are sympy expressions written once in `inside/formulas.py`.
*weights* = learnable numbers (conv kernels **and biases**, BatchNorm γ and β); *buffers* = BatchNorm
running mean and variance (not learned); *outputs* = elements of the layer's output for one image;
*connections* = multiply-accumulates of a convolution, H_out·W_out·k²·C_in·C_out (bias additions not
counted), 0 for other layers. The UNet's skip concatenations are not modules: they add no row, only a
larger C_in to the convolution that reads them. k is odd only: the models pad by k//2, which keeps
H×W only for odd k.
"""


SIZE_LIMITS = {"NF (filters)": (1, 128), "NC (colours)": (2, 64), "k (kernel side, odd)": (1, 9),
               "S (image side, multiple of 4)": (4, 256)}  # the sliders' bounds, also for typed numbers


def checked_sizes(*values) -> list[int]:
    """NF, NC, k, S as whole numbers within the sliders' bounds; OutOfRange in plain words otherwise."""
    return [bounded(value, name, bounds) for value, (name, bounds) in zip(values, SIZE_LIMITS.items())]


def inside_view(arch: str, nf: float, nc: float, kernel: float, side: float) -> dict:
    """Everything the counting half of the tab shows, for one setting; ValueError in plain words for a
    setting the formulas do not cover (an even k, S not a multiple of 4, a number out of bounds)."""
    nf, nc, kernel, side = checked_sizes(nf, nc, kernel, side)
    layers = layer_records(arch, nf, nc, kernel, side)
    totals = total_records(arch, nf, nc, kernel, side)
    lines = [f"### Totals of the {arch.upper()} at NF={nf}, NC={nc}, k={kernel}, S={side}",
             "| quantity | closed form | formula value | measured | measured at 2S | 2S / S |",
             "|---|---|---|---|---|---|"]
    for row in totals:
        lines.append(f"| {row['quantity']} | {row['formula']} | {row['formula value']:,} | {row['measured']:,} "
                     f"| {row['measured at 2S']:,} | ×{row['ratio 2S / S']} |")
    mismatches = [row["layer"] for row in layers if row["match"] != "yes"]
    lines.append("\nEvery layer's measured counts equal its formula." if not mismatches
                 else f"\n**Measured counts differ from the formula in: {', '.join(mismatches)}**")
    lines.append("\n" + "\n".join(f"$${row['quantity']} = {row['latex']}$$" for row in totals))
    chart = pd.DataFrame({"layer": [row["layer"] for row in layers],
                          "connections": [row["connections"] for row in layers]})
    return {"totals": "\n".join(lines), "layers": pd.DataFrame(layers)[LAYER_COLUMNS], "chart": chart}


def layer_counts(arch: str = "cnn", nf: float = 32, nc: float = 24, kernel: float = 3, side: float = 32):
    """Per-layer weights, outputs and connections of the handout's CNN or UNet, measured with forward hooks
    on the live PyTorch module, with their closed forms.

    Result: the totals with their closed forms (Markdown), one row per layer (a table), and the connections per
    layer (a bar chart's data).

    Args:
        arch: "cnn" or "unet".
        nf: NF, the number of filters of the first layer (1 to 128).
        nc: NC, the number of colour classes (2 to 64).
        kernel: k, the kernel side (odd, 1 to 9).
        side: S, the image side (a multiple of 4, 4 to 256).
    """
    try:
        view = inside_view(arch, nf, nc, kernel, side)
    except ValueError as error:
        raise refusal(str(error)) from None
    return view["totals"], view["layers"], view["chart"]


def counts_on_page(arch: str, nf: float, nc: float, kernel: float, side: float) -> dict:
    """The page's counts, and the notice cleared: a setting the formulas do not cover gives only its notice
    and keeps the tables of the last valid one (their heading names it)."""
    try:
        return {**inside_view(arch, nf, nc, kernel, side), "notice": ""}
    except ValueError as error:
        return {"notice": notice(f"{error}. The tables still show the last valid setting.")}


def writeups_on_page(nf: float, nc: float, kernel: float) -> dict:
    """The page's write-up check; for a setting it cannot check it keeps the last one (counts_on_page,
    which runs on the same change, says why: one notice, not two)."""
    try:
        return writeup_view(nf, nc, kernel)
    except ValueError:
        return {"writeup_summary": gr.skip()}


def writeup_view(nf: float, nc: float, kernel: float) -> dict:
    """The two write-ups' layer-count formulas checked term by term against the closed forms and the live CNN.

    Result: a summary (Markdown: how many terms are right, the claims about doubling S and about a·x + b inputs)
    and a table with one row per transcribed term and its verdict.

    Args:
        nf: NF, the number of filters of the first layer (1 to 128).
        nc: NC, the number of colour classes (2 to 64).
        kernel: k, the kernel side (odd, 1 to 9).
    """
    nf, nc, kernel, _ = checked_sizes(nf, nc, kernel, 32)
    records = writeup_records(nf, nc, kernel)
    for record in records:
        record["verdict"] = RIGHT if record["verdict"] == "right" else WRONG
    table = pd.DataFrame(records)[WRITEUP_COLUMNS]
    right = sum(record["verdict"].endswith("right") for record in records)
    lines = [f"**{right} of {len(records)} transcribed terms are right** (write-ups' own assumptions: S = 32; "
             "Liang also k = 3). 'measured' is the live CNN's count for the same layers.",
             "\n**When S doubles** (each claim checked on the closed forms, whose ×4 the table above measures):"]
    for claim in SCALING_CLAIMS:
        verdict = RIGHT if claim.right else WRONG
        lines.append(f"- {claim.writeup.split(' (')[0]}: {claim.quantity} ×{claim.factor} — {verdict} "
                     f"(closed form gives ×{claim.measured_factor()})")
    lines.append("\n**The affine question** — tested by the experiment below, not by algebra:")
    lines += [f"- {writeup.split(' (')[0]}, {question}: “{quote}”" for writeup, question, quote in AFFINE_CLAIMS]
    return {"writeup_summary": "\n".join(lines), "writeups": table}


def checkpoint_choices() -> list[tuple[str, str]]:
    """(label, name) of the handout models' checkpoints: shipped ones and those saved in Train live."""
    found, _ = list_checkpoints()
    return [(info.label, info.name) for info in found if info.arch in HANDOUT_ARCHS]


class Refused(ValueError):
    """An input the tab cannot use, in plain words: a page notice, or the API's gr.Error."""


def affine_request(checkpoint: str | None, pairs_text: str, steps, test_images, train_images) -> tuple:
    """(AffineConfig, test images, training images) from the inputs, or Refused in plain words for what the
    experiment cannot use or for more work than one call may ask (pixelwise.limits: AFFINE_*)."""
    if not checkpoint:
        raise Refused("No checkpoint chosen: train one in 'Train live' or put cnn.pt / unet.pt in checkpoints/.")
    try:
        pairs = parse_pairs(pairs_text)
    except ValueError as error:
        raise Refused(f"The (a, b) pairs: {error}") from None
    try:
        bounded(len(pairs), "The number of (a, b) pairs", limits.AFFINE_PAIRS)
        steps = bounded(steps, "Fine-tuning steps", limits.AFFINE_STEPS)
        test_images = bounded(test_images, "Test images", limits.AFFINE_TEST_IMAGES)
        train_images = bounded(train_images, "Training images", limits.AFFINE_TRAIN_IMAGES)
    except OutOfRange as error:  # NaN or infinite from an API caller too
        raise Refused(str(error)) from None
    return AffineConfig(pairs, finetune_steps=steps, device=inference_device()), test_images, train_images


def affine_job(config: AffineConfig, test_images: int, request: gr.Request | None, api: bool = False):
    """The experiment as a job of the scheduler's (ui.page_jobs): its page closing or its client going ends it
    within one batch; its estimate from the pace measured here (500 pairs of 200 images and 100 steps: 17 s)."""
    what = f"affine experiment ({len(config.pairs)} pairs, {config.finetune_steps} fine-tuning steps)"
    return job_for(what, request, "affine", len(config.pairs) * (test_images + config.finetune_steps), 1.2e-4, api)


def affine_result(checkpoint: str, job, config: AffineConfig, test_images: int, train_images: int,
                  progress: gr.Progress):
    """inside.affine's experiment on a listed checkpoint (by name), in ``job``'s turn."""
    progress(0, desc="loading images")

    def on_progress(done: float, message: str) -> None:
        job.done = done
        progress(done, desc=message)

    try:
        return run_from_checkpoint(find_checkpoint(checkpoint), cifar_data_root(), config, train_limit=train_images,
                                   test_limit=test_images, on_progress=on_progress, should_stop=job.should_stop)
    except (CheckpointError, DataUnavailable) as error:
        raise Refused(str(error)) from None


@heavy_request  # fine-tunes for (iii): ZeroGPU lends the GPU per call, a no-op elsewhere
def run_affine(checkpoint: str | None, pairs_text: str, steps: float, test_images: float, train_images: float,
               request: gr.Request = None, progress=gr.Progress()):
    """The page's run: its place in line while it waits, then the summary and the table, and the notice
    cleared; a refused input gives only its notice and keeps the last table."""
    try:
        config, test_images, train_images = affine_request(checkpoint, pairs_text, steps, test_images, train_images)
    except Refused as error:
        yield {"affine_notice": notice(error), "affine_waiting": ""}
        return
    job = affine_job(config, test_images, request)
    try:
        for note in waiting_notes(job):
            yield {"affine_waiting": note}
        yield {"affine_waiting": ""}
        if job.started is None:  # the page closed while it waited
            return
        try:
            result = affine_result(checkpoint, job, config, test_images, train_images, progress)
        except Refused as error:
            yield {"affine_notice": notice(error)}
            return
    finally:
        job_done(job)
    summary = (f"Reference (a=1, b=0): pixel accuracy {100 * result.acc_reference_eval:.1f}% in eval mode, "
               f"{100 * result.acc_reference_batch:.1f}% with batch statistics; {result.test_images} test and "
               f"{result.train_images} training images, {int(steps)} fine-tuning steps. 'changed' = share of "
               "test pixels whose colour class differs from the same mode's prediction on the untransformed "
               "input ((iii): from the original model's). Row a=1, b=0 is the control.")
    yield {"affine_summary": summary, "affine_table": pd.DataFrame(result_records(result))[AFFINE_COLUMNS],
           "affine_notice": ""}


@heavy_request
def affine_experiment(checkpoint: str, pairs: str = "1,0 2,0 0.5,0.25 1,0.5 -1,1", steps: int = 100,
                      test_images: int = 200, train_images: int = 5000, request: gr.Request = None,
                      progress=gr.Progress()) -> dict:
    """Do the colourizations change when the input grey x becomes a·x + b? Runs the experiment of
    ``python -m inside.affine`` on a checkpoint of the handout models. It waits its turn among the app's heavy
    jobs (its place is reported as progress) and stops if the caller goes away.

    Result: a dict: "checkpoint", "test_images", "train_images", "finetune_steps", "reference_acc_eval" and
    "reference_acc_batch" (pixel accuracy on untransformed input, eval mode / batch statistics), and "rows",
    one per pair: "a", "b", "changed_eval", "acc_eval" ((i) eval mode), "changed_batch", "acc_batch" ((ii)
    batch statistics), "changed_finetuned", "acc_finetuned" ((iii), None when skipped); shares from 0 to 1.

    Args:
        checkpoint: a handout model's checkpoint by name, as listed (e.g. "unet.pt", "cnn.pt").
        pairs: the (a, b) pairs, "a,b" separated by spaces, e.g. "1,0 2,0 -1,1" (at most 12 pairs).
        steps: fine-tuning steps for (iii) (0 to 1000; 0 skips it).
        test_images: CIFAR-10 test images of the checkpoint's category (10 to 1000).
        train_images: training images for fine-tuning (100 to 5000).
    """
    try:
        config, test_images, train_images = affine_request(checkpoint, pairs, steps, test_images, train_images)
        with heavy_job(affine_job(config, test_images, request, api=True), lambda note: progress(0, desc=note)) as job:
            if job.started is None:
                raise Refused("Stopped before its turn came: the caller went away.")
            result = affine_result(checkpoint, job, config, test_images, train_images, progress)
    except Refused as error:
        raise refusal(str(error)) from None
    return {"checkpoint": checkpoint, "test_images": result.test_images, "train_images": result.train_images,
            "finetune_steps": config.finetune_steps, "reference_acc_eval": result.acc_reference_eval,
            "reference_acc_batch": result.acc_reference_batch, "rows": result.as_dict()["rows"]}


IMAGE_SOURCES = ("CIFAR-10 test image", "my upload")
LAYER_COLUMNS_SHOWN = ["step", "name", "kind", "shape", "weights", "connections", "what"]


def layer_checkpoint_choices() -> tuple[list[tuple[str, str]], str | None]:
    """(label, name) of every colourizer checkpoint, and the one to start with (the shipped UNet)."""
    found, _ = list_checkpoints()
    choices = [(info.label, info.name) for info in found]
    names = [name for _, name in choices]
    return choices, "unet.pt" if "unet.pt" in names else (names[0] if names else None)


@quick_request
def layer_outputs(checkpoint: str | None, source: str, category: str, index: float, upload: str | None = None,
                  all_channels: bool = False) -> dict:
    """Every layer's output of a colourizer checkpoint (by name) for one image, in the order they run.

    Result: a plain line per block (Markdown), a channel grid per step (the 8 most active channels, or all) as
    (picture, caption) pairs, the caption giving its shape, weights and connections (the anatomy table's numbers,
    from the same forward hooks), and the steps as a table.

    Args:
        checkpoint: a colourizer checkpoint by name, as listed (e.g. "unet.pt").
        source: "CIFAR-10 test image" (category and index are used) or "my upload" (upload is used).
        category: a CIFAR-10 class, e.g. "horse".
        index: which test image of the category (0 to 999).
        upload: an image (over MCP a data: URL, "data:image/png;base64,...", or a public https URL), for source "my upload".
        all_channels: every channel of each step instead of the 8 most active.
    """
    if not checkpoint:
        raise refusal("No checkpoint chosen: train one in 'Train live' or put cnn.pt / unet.pt in checkpoints/.")
    try:
        model, _ = load_checkpoint_cached(find_checkpoint(checkpoint), inference_device())
        if source == IMAGE_SOURCES[1]:
            if not upload:
                raise refusal("Upload an image first, or choose a CIFAR-10 test image.")
            rgb, what = load_rgb(upload), "your upload"
        else:
            images = load_category(category, cifar_root(), "test")
            index = int(index) % len(images)
            rgb, what = images[index].numpy(), f"CIFAR-10 test {category} #{index}"
    except (CheckpointError, DataUnavailable, ImageError) as error:
        raise refusal(str(error))
    pictures = layer_pictures(model, rgb, None if all_channels else DEFAULT_CHANNELS)
    height, width = pictures[0].step.output.shape[-2:]
    lines = [f"**{len(pictures)} steps** of {type(model).__name__} on {what} ({width}×{height} input); "
             "each picture shows a step's channels, each scaled to its own range (dark = low, yellow = high). "
             "The blocks:"]
    lines += [f"{n}. **{name}**: {line}" for n, (name, line) in enumerate(blocks(pictures, model.config.num_colours), 1)]
    records = [{"step": n, **picture.as_dict()} for n, picture in enumerate(pictures, 1)]
    table = pd.DataFrame(records).assign(shape=lambda frame: frame["shape"].map(lambda s: "×".join(map(str, s))))
    return {"layer_gallery": [(picture.picture, f"{n}. {picture.caption()}") for n, picture in enumerate(pictures, 1)],
            "layer_blocks": "\n".join(lines), "layer_table": table[LAYER_COLUMNS_SHOWN]}


# The layer pictures flow with the page in as many columns as fit, each with its whole caption (a gallery
# cut captions to one line and showed 6 of 23 steps in a scrolling box); pixels stay crisp when scaled.
LAYER_GRID_CSS = """
.pw-layers { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px 10px; }
.pw-layers figure { margin: 0; min-width: 0; }
.pw-layers img { display: block; width: 100%; height: auto; image-rendering: pixelated; }
.pw-layers figcaption { font-size: 12px; line-height: 1.35; margin-top: 4px; overflow-wrap: anywhere; }
.pw-layers-title { font-weight: 600; margin: 0 0 6px 0; }
"""


# The totals table is Markdown: its number columns must not break mid-number at 800 px (the closed forms wrap).
TABLE_CSS = "#inside-totals td:not(:nth-child(2)), #inside-totals th:not(:nth-child(2)) { white-space: nowrap; }"
PAGE_STYLE_JS = f"""
if (!document.getElementById('pw-inside-css')) {{
  const style = document.createElement('style');
  style.id = 'pw-inside-css';
  style.textContent = {json.dumps(TABLE_CSS)};
  document.head.appendChild(style);
}}
"""


def png_data_url(picture: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def layer_grid_html(gallery: list[tuple[np.ndarray, str]]) -> str:
    """(picture, caption) per step -> figures in a grid; the caption's name and kind first, in bold."""
    figures = []
    for picture, caption in gallery:
        head, _, rest = caption.partition(" · ")
        kind, _, rest = rest.partition(" · ")
        details = html.escape(rest).replace(" · ", "\u00a0· ")  # a line may end with "·", never start with it
        figures.append(f'<figure><img src="{png_data_url(picture)}" alt="{html.escape(caption)}"><figcaption>'
                       f"<b>{html.escape(head)} · {html.escape(kind)}</b><br>{details}</figcaption></figure>")
    title = '<p class="pw-layers-title">Each step&#39;s output, in order</p>'
    return f'{title}<div class="pw-layers">{"".join(figures)}</div>'


def refreshed_checkpoints(current: str | None):
    choices = checkpoint_choices()
    paths = [path for _, path in choices]
    return gr.update(choices=choices, value=current if current in paths else (paths[-1] if paths else None))


def _counting_section() -> tuple[list, dict]:
    """The five architecture controls and what the hooks count for them: totals, per-layer table, chart."""
    with gr.Row():
        controls = [gr.Radio(["cnn", "unet"], value=DEFAULTS["arch"], label="Model")]
        for (label, (low, high)), key, step in zip(SIZE_LIMITS.items(), ("nf", "nc", "kernel", "side"), (1, 1, 2, 4)):
            controls.append(checked_by_handler(gr.Slider(low, high, value=DEFAULTS[key], step=step, label=label)))
    first = inside_view(*DEFAULTS.values())
    counts = {
        "notice": notice_box("inside-notice"),  # why a setting was refused, right under the controls
        "totals": gr.Markdown(first["totals"], elem_id="inside-totals"),
        "layers": gr.Dataframe(first["layers"], label="Per layer: measured counts and their formulas",
                               interactive=False, elem_id="inside-layers", max_height=620),
        "chart": gr.BarPlot(first["chart"], x="layer", y="connections", sort=list(first["chart"]["layer"]),
                            title="Connections (multiply-accumulates) per layer", x_label_angle=-45, height=360,
                            elem_id="inside-chart"),
    }
    return controls, counts


def _layers_section() -> tuple[dict, dict]:
    """Every layer's output for one image: checkpoint, image source and channels in; gallery and table out."""
    gr.Markdown("### Every layer's output for one image\n"
                "The same forward hooks that count the table above also keep each layer's output: pick a "
                "checkpoint and an image to watch it flow through the network. For the UNet the skip "
                "concatenations are steps of their own.")
    with gr.Row():
        choices, default = layer_checkpoint_choices()
        controls = {"checkpoint": gr.Dropdown(choices, value=default, label="Checkpoint",
                                              elem_id="inside-layer-checkpoint", scale=3),
                    "image_source": gr.Radio(list(IMAGE_SOURCES), value=IMAGE_SOURCES[0], label="Image"),
                    "category": gr.Dropdown(list(CIFAR10_CLASSES), value="horse", label="Category"),
                    "index": gr.Number(0, precision=0, minimum=0, label="Test image number")}
    with gr.Row():
        # 180 px: at 140 its label, two lines at 800 px, covered the drop text
        controls["upload"] = uploaded_image(label="…or your upload (shrunk to 64 px)", height=180, scale=1)
        with gr.Column(scale=2):
            controls["all_channels"] = gr.Checkbox(
                False, label=f"All channels (default: the {DEFAULT_CHANNELS} most active)")
            controls["show"] = gr.Button("Show every layer", variant="primary", elem_id="inside-layers-run")
    layers_view = {
        "notice": notice_box("inside-layers-notice"),
        "layer_blocks": gr.Markdown(elem_id="inside-layer-blocks"),
        "layer_grid": gr.HTML(css_template=LAYER_GRID_CSS, elem_id="inside-layer-gallery"),
        "layer_table": gr.Dataframe(label="The steps (numbers from the same hooks as the table above)",
                                    interactive=False, max_height=400, elem_id="inside-layer-table"),
    }
    return controls, layers_view


def _writeup_section() -> dict:
    """The two Part A write-ups, term by term, for the chosen NF, NC and k."""
    gr.Markdown("### The two write-ups, term by term (Part A CNN)")
    first = writeup_view(DEFAULTS["nf"], DEFAULTS["nc"], DEFAULTS["kernel"])
    return {
        "writeup_summary": gr.Markdown(first["writeup_summary"], elem_id="inside-writeup-summary"),
        # Wide enough that numbers and verdicts never wrap (at 800 px the table scrolls sideways); "why" wraps.
        "writeups": gr.Dataframe(first["writeups"], interactive=False, wrap=True, max_height=500,
                                 column_widths=[80, 210, 100, 190, 190, 120, 340, 110, 110, 120, 50],
                                 elem_id="inside-writeups"),
    }


def _affine_section() -> tuple[dict, dict]:
    """The affine question: a checkpoint, (a, b) pairs and run sizes in; a summary and a table out."""
    gr.Markdown("### The affine question: inputs a·x + b\n"
                "(i) BatchNorm in eval mode (running statistics), (ii) BatchNorm recomputing each test batch's "
                "statistics, (iii) the model fine-tuned on the transformed training images with the one trainer. "
                "The defaults take a few minutes on 2 CPU cores; the numbers in docs/inside.md (300 steps, all 1,000 "
                "test images) come from `python -m inside.affine`.")
    with gr.Row():
        choices = checkpoint_choices()
        controls = {"checkpoint": gr.Dropdown(choices, value=choices[-1][1] if choices else None,
                                              label="Trained checkpoint", allow_custom_value=False, scale=3),
                    "refresh": gr.Button("↻ checkpoints", scale=0, min_width=120),
                    "pairs": gr.Textbox("1,0 2,0 0.5,0.25 1,0.5 -1,1",
                                        label="(a, b) pairs: 'a,b' separated by spaces")}
    with gr.Row():
        # Defaults sized for a few minutes on 2 CPU cores; docs/inside.md's table uses 300 steps and all
        # 1,000 test images (python -m inside.affine), about 20 minutes there.
        controls["steps"] = checked_by_handler(gr.Slider(0, 1000, value=100, step=10,
                                                         label="fine-tuning steps (0 skips (iii))"))
        controls["test_images"] = checked_by_handler(gr.Slider(10, 1000, value=200, step=10, label="test images"))
        controls["train_images"] = checked_by_handler(gr.Slider(100, 5000, value=5000, step=100,
                                                                label="training images for fine-tuning"))
    controls["run"] = gr.Button("Run the affine experiment", variant="primary", elem_id="inside-affine-run")
    affine = {
        "affine_notice": notice_box("inside-affine-notice"),
        "affine_waiting": gr.Markdown(elem_id="inside-affine-waiting"),
        "affine_summary": gr.Markdown(elem_id="inside-affine-summary"),
        "affine_table": gr.Dataframe(pd.DataFrame(columns=AFFINE_COLUMNS), interactive=False,
                                     label="Share of pixels whose class changed, and pixel accuracy",
                                     elem_id="inside-affine-table"),
    }
    return controls, affine


def _wire_counting(counting_inputs: list, counts: dict, writeup: dict) -> None:
    """Counts follow all five controls, the write-ups NF, NC and k; typed numbers act as slider moves. The
    page's events refuse a setting with one notice; the public endpoints are hidden buttons', for scripts."""
    _, nf, nc, kernel, _ = counting_inputs
    quick = dict(trigger_mode="always_last", show_progress="minimal", api_visibility="private")
    gr.on([control.change for control in counting_inputs], named_outputs(counts_on_page, counts), counting_inputs,
          list(counts.values()), **quick)
    gr.on([control.change for control in (nf, nc, kernel)], named_outputs(writeups_on_page, writeup), [nf, nc, kernel],
          list(writeup.values()), **quick)
    tables = [counts[name] for name in ("totals", "layers", "chart")]  # the API answers refusals with gr.Error
    gr.Button(visible=False).click(layer_counts, counting_inputs, tables, api_name="layer_counts")
    gr.Button(visible=False).click(named_outputs(writeup_view, writeup, "writeup_terms"), [nf, nc, kernel],
                                   list(writeup.values()), api_name="writeup_terms")


def layers_on_page(*inputs) -> dict:
    """The page's Show every layer, the pictures in a grid with their whole captions, and the notice cleared;
    what cannot be shown gives only its notice and keeps the last pictures."""
    try:
        view = layer_outputs(*inputs)
    except gr.Error as error:
        return {"notice": notice(error.message)}
    return {"layer_blocks": view["layer_blocks"], "layer_grid": layer_grid_html(view["layer_gallery"]),
            "layer_table": view["layer_table"], "notice": ""}


# what every page shows as it opens, drawn once per process: about a quarter of a page open's CPU went on drawing
# these same 23 pictures again for each visitor (benchmarks/page_open). Text, HTML and a table, never changed
# after: safe to share.
_FIRST_LAYERS: dict = {}


def layers_of_first_image(*inputs) -> dict:
    """Every layer's output for the controls' first image (test horse #0), as the page opens: the pictures were
    blank until Show every layer was pressed. Where they cannot be drawn (no CIFAR-10 here), nothing: no notice,
    as nobody asked yet. The same controls and checkpoint file give the answer kept from the last page."""
    key = _first_layers_key(inputs)
    if key is not None and key in _FIRST_LAYERS:
        return _FIRST_LAYERS[key]
    answer = layers_on_page(*inputs)
    if answer.get("notice"):
        return {}
    if key is not None:
        _FIRST_LAYERS.clear()  # one answer kept: the page's defaults
        _FIRST_LAYERS[key] = answer
    return answer


def _first_layers_key(inputs) -> tuple | None:
    """The controls and the checkpoint file's identity (path, size, time), or None for an upload or a checkpoint
    that cannot be found (drawn afresh, never kept)."""
    checkpoint, source, category, index, upload, all_channels = inputs
    if upload or source != IMAGE_SOURCES[0] or not checkpoint:
        return None
    try:
        path = find_checkpoint(checkpoint)
        stat = path.stat()
    except (CheckpointError, OSError, TypeError, ValueError):
        return None
    return str(path), stat.st_size, stat.st_mtime_ns, str(category), str(index), bool(all_channels)


def _wire_layers_and_affine(layer: dict, layers_view: dict, aff: dict, affine: dict) -> Callable:
    """The affine checkpoint list refreshes; an upload selects itself as the image; the two runs (the
    affine one says first what it waits for, and a closed page stops it: ui.page_jobs). Returns
    show_example_on(trigger), which shows every layer for the first test image on ``trigger``."""
    aff["refresh"].click(refreshed_checkpoints, aff["checkpoint"], aff["checkpoint"], queue=False,
                         api_visibility="private")
    layer["upload"].upload(lambda: IMAGE_SOURCES[1], None, layer["image_source"], queue=False, api_visibility="private")
    layer_inputs = [layer[name] for name in ("checkpoint", "image_source", "category", "index", "upload", "all_channels")]
    layer["show"].click(named_outputs(layers_on_page, layers_view), layer_inputs, list(layers_view.values()),
                        api_visibility="private")
    api_view = {"layer_blocks": layers_view["layer_blocks"], "layer_gallery": gr.Gallery(visible=False, format="png"),
                "layer_table": layers_view["layer_table"]}  # the API's pictures: (picture, caption) pairs
    gr.Button(visible=False).click(named_outputs(layer_outputs, api_view), layer_inputs, list(api_view.values()),
                                   api_name="layer_outputs")
    affine_inputs = [aff[name] for name in ("checkpoint", "pairs", "steps", "test_images", "train_images")]
    aff["run"].click(named_outputs(run_affine, affine), affine_inputs, list(affine.values()), api_visibility="private",
                     show_progress_on=[affine["affine_table"]], **HEAVY)
    api_endpoint(affine_experiment, affine_inputs, "affine_experiment", **HEAVY)  # plain values for scripts
    return lambda trigger: trigger(named_outputs(layers_of_first_image, layers_view), layer_inputs,
                                   list(layers_view.values()), api_visibility="private", show_progress="hidden")


def build_inside_tab() -> Callable:
    """The tab; returns show_example_on(trigger) (app.py: demo.load shows every layer for the first test image)."""
    with gr.Column(elem_id="inside-tab"):  # one root, so tests and CSS can scope to this tab
        gr.HTML("", js_on_load=PAGE_STYLE_JS, container=False, padding=False)
        gr.Markdown("## Inside the models\n" + EXPLAINER)
        counting_inputs, counts = _counting_section()
        layer, layers_view = _layers_section()
        writeup = _writeup_section()
        aff, affine = _affine_section()
    _wire_counting(counting_inputs, counts, writeup)
    show_example_on = _wire_layers_and_affine(layer, layers_view, aff, affine)
    return show_example_on
