"""The Segment tab's "Cost of fine-tuning" section: memory and time of one training step against n, the
number of layers trained (the last n parameterised blocks), for the flower DeepLabV3 or the handout's
colourization UNet, measured on demand; beside the plots, the closed forms and where the write-up's
answers to (d) and (e) hold, computed by pixelwise.layercost_report from the rows just measured."""
import html
from dataclasses import asdict

import gradio as gr
import pandas as pd

from colorizer.cost import iter_unet_layer_costs
from pixelwise import limits
from pixelwise.layercost_report import report_markdown, rows_markdown, step_seconds
from pixelwise.limits import bounded
from pixelwise.zerogpu import heavy_request
from segmenter.cost import iter_flower_layer_costs
from ui.common import api_endpoint, checked_by_handler, inference_device, named_outputs, refusal
from ui.page_jobs import HEAVY, heavy_job, job_done, job_for, waiting_notes

COST_MODELS = {"Flower DeepLabV3 (21 blocks)": iter_flower_layer_costs,
               "Colourization UNet (the handout's, 6 blocks)": iter_unet_layer_costs}
SIZE_CHOICES = {"64² and 128² (seconds)": (64, 128), "128² and 256²": (128, 256), "256² and 512² (minutes)": (256, 512)}
MEMORY_COLOURS = {"weights (all)": "#bab0ac", "gradients": "#e45756", "AdamW state": "#f58518",
                  "activations": "#4c78a8"}
TIME_COLOURS = {"forward": "#4c78a8", "backward": "#e45756", "optimizer step": "#54a24b"}
N_ORDER = [str(n) for n in range(1, 100)]  # n is drawn as a category, in this order
# seconds of a whole measurement per image of its batch before this process has measured one (the development
# CPU, the smallest sizes): the first waiting note's estimate
GUESS_S_PER_IMAGE = dict(zip(SIZE_CHOICES, (8.0, 30.0, 120.0)))
MIB = 2**20


def memory_frame(rows, size: int) -> pd.DataFrame:
    parts = [(str(r.n), part, value / MIB) for r in rows if r.size == size
             for part, value in (("weights (all)", r.param_bytes), ("gradients", r.grad_bytes),
                                 ("AdamW state", r.optimizer_bytes), ("activations", r.activation_bytes))]
    return pd.DataFrame(parts, columns=["n", "part", "MiB"])


def time_frame(rows, size: int) -> pd.DataFrame:
    parts = [(str(r.n), part, value) for r in rows if r.size == size
             for part, value in (("forward", r.forward_s), ("backward", r.backward_s), ("optimizer step", r.optimizer_s))]
    return pd.DataFrame(parts, columns=["n", "part", "seconds"])


def peak_frame(rows) -> pd.DataFrame:
    return pd.DataFrame([(str(r.n), f"{r.size}²", r.peak_bytes / MIB) for r in rows], columns=["n", "image", "MiB"])


def cost_job(model: str, sizes: str, batch, request: gr.Request | None, api: bool = False):
    """The measurement as a job of the scheduler's: alone (its timings share the cores with no other heavy
    job), stopped at the next row when its page closes or its client goes; gr.Error for choices it lacks."""
    if model not in COST_MODELS or sizes not in SIZE_CHOICES:
        raise refusal(f"Choose a model ({', '.join(COST_MODELS)}) and sizes ({', '.join(SIZE_CHOICES)}).")
    batch = bounded(batch, "Batch size", limits.COST_BATCH)  # NaN, 1e9: refused before anything is built
    job = job_for(f"measurement of fine-tuning costs ({model.split(' (')[0]})", request, f"cost {model} {sizes}",
                  batch, GUESS_S_PER_IMAGE[sizes], api)
    job.exclusive = True
    return job


def measure_rows(model: str, sizes: str, job, progress) -> list:
    """The rows for the radio choices in ``job``'s turn, reporting each one to ``progress``; fewer when the
    job is stopped (the loop stops at the next row)."""
    chosen, rows = SIZE_CHOICES[sizes], []
    progress(0, desc="building the model")
    for row in COST_MODELS[model](chosen, batch=int(job.units), repeats=2, device=inference_device()):
        rows.append(row)
        job.done = len(rows) / (len(chosen) * row.blocks)
        progress(job.done, desc=f"{row.size}², n = {row.n}: step {step_seconds(row):.2f} s")
        if job.should_stop():
            break
    return rows


def page_values(rows, batch: int) -> dict:
    """The plots, the rows table and the closed forms of measured rows (two sizes), for the page."""
    small, big = min(r.size for r in rows), max(r.size for r in rows)
    return {"memory_small": gr.BarPlot(memory_frame(rows, small), title=f"Memory of one step, {small}² ×{batch}"),
            "memory_big": gr.BarPlot(memory_frame(rows, big), title=f"Memory of one step, {big}² ×{batch}"),
            "time_small": gr.BarPlot(time_frame(rows, small), title=f"Time of one step, {small}² ×{batch}"),
            "time_big": gr.BarPlot(time_frame(rows, big), title=f"Time of one step, {big}² ×{batch}"),
            "peak": peak_frame(rows), "report": report_markdown(rows), "table": rows_markdown(rows)}


@heavy_request  # ZeroGPU lends the GPU per call, a no-op elsewhere
def run_cost(model: str, sizes: str, batch, request: gr.Request = None, progress=gr.Progress()):
    """The page's Measure: its place in line while it waits, then the plots and tables."""
    job, rows = cost_job(model, sizes, batch, request), []
    try:
        for note in waiting_notes(job):
            yield {"waiting": note}
        yield {"waiting": ""}
        if job.started is not None:  # not when the page closed while it waited
            rows = measure_rows(model, sizes, job, progress)
    finally:
        job_done(job)
    if rows:  # none when the page closed before the first row
        yield page_values(rows, int(job.units))


@heavy_request
def fine_tune_cost(model: str = next(iter(COST_MODELS)), sizes: str = next(iter(SIZE_CHOICES)), batch: int = 2,
                   request: gr.Request = None, progress=gr.Progress()) -> dict:
    """Measure one fine-tuning step with the last n layers trained, for every n, at two image sizes.

    Result: {"rows": one per (size, n): n, first_trained, size, batch, trainable_params, param_bytes, grad_bytes,
    optimizer_bytes, activation_bytes, peak_bytes, forward_s, backward_s, optimizer_s, ...; "report": the closed
    forms and the write-up's (d) and (e) checked against the rows, in Markdown}.

    Args:
        model: "Flower DeepLabV3 (21 blocks)" or "Colourization UNet (the handout's, 6 blocks)".
        sizes: the two image sizes, one of the page's choices (e.g. "64² and 128² (seconds)").
        batch: images per step (2 to 8).
    """
    with heavy_job(cost_job(model, sizes, batch, request, api=True), lambda note: progress(0, desc=note)) as job:
        if job.started is None:
            raise refusal("Stopped before its turn came: the caller went away.")
        rows = measure_rows(model, sizes, job, progress)
    return {"rows": [asdict(row) for row in rows], "report": report_markdown(rows)}


def memory_plot(elem_id: str) -> gr.BarPlot:
    return gr.BarPlot(x="n", y="MiB", color="part", color_map=MEMORY_COLOURS, sort=N_ORDER, x_title="n (last blocks trained)",
                      elem_id=elem_id, height=260)


def time_plot(elem_id: str) -> gr.BarPlot:
    return gr.BarPlot(x="n", y="seconds", color="part", color_map=TIME_COLOURS, sort=N_ORDER,
                      x_title="n (last blocks trained)", elem_id=elem_id, height=260)


# The bar plots' own legends are one row that Vega cuts where the plot ends: at 1400 px the memory legend lost
# "activations", its fourth item. Each pair of plots gets one legend of its own above it, which wraps; the plots'
# legends are hidden (app.py's PAGE_CSS).
LEGEND_CSS = """
.pw-legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 13px; }
.pw-legend span { display: inline-flex; align-items: center; gap: 5px; }
.pw-legend i { width: 13px; height: 13px; border-radius: 2px; display: inline-block; }
"""


def legend_html(colours: dict[str, str]) -> str:
    """One wrapping legend: a colour square and its name per part."""
    items = "".join(f'<span><i style="background:{colour}"></i>{html.escape(name)}</span>' for name, colour in colours.items())
    return f'<div class="pw-legend">{items}</div>'


def cost_outputs() -> dict:
    """The plots beside the closed forms, and the rows table: {name: component} as page_values names them."""
    with gr.Row():
        with gr.Column(scale=3):
            gr.HTML(legend_html(MEMORY_COLOURS), css_template=LEGEND_CSS, elem_id="segment-cost-memory-legend")
            with gr.Row():
                memory_small, memory_big = memory_plot("segment-cost-memory-small"), memory_plot("segment-cost-memory-big")
            gr.HTML(legend_html(TIME_COLOURS), css_template=LEGEND_CSS, elem_id="segment-cost-time-legend")
            with gr.Row():
                time_small, time_big = time_plot("segment-cost-time-small"), time_plot("segment-cost-time-big")
            peak = gr.LinePlot(x="n", y="MiB", color="image", sort=N_ORDER, title="Step peak above what is held between steps",
                               x_title="n (last blocks trained)", elem_id="segment-cost-peak", height=220)
        with gr.Column(scale=2):
            report = gr.Markdown(elem_id="segment-cost-report")
    with gr.Accordion("The measured rows", open=False):
        table = gr.Markdown(elem_id="segment-cost-table")
    return {"memory_small": memory_small, "memory_big": memory_big, "time_small": time_small,
            "time_big": time_big, "peak": peak, "report": report, "table": table}


def build_cost_section() -> None:
    with gr.Accordion("Cost of fine-tuning against the number of layers trained", open=False):
        gr.Markdown("One training step (forward + cross-entropy, backward, AdamW; float32, random weights and images) "
                    "with the **last n layers** trained, a layer being one of the model's parameterised blocks counted "
                    "from the output backwards (the DeepLabV3: classifier, 3×3 conv, ASPP, then MobileNetV2's "
                    "features 17 … 0; n = 1, 3, 21 are the fine-tune modes last, head, full). Memory: every weight, "
                    "the trained ones' gradients and AdamW state, the activations autograd keeps for backward; the "
                    "step's peak as torch's allocator reports it. Times: medians of 2 steps, on this machine as loaded.")
        with gr.Row():
            model = gr.Radio(list(COST_MODELS), value=next(iter(COST_MODELS)), label="Model")
            sizes = gr.Radio(list(SIZE_CHOICES), value=next(iter(SIZE_CHOICES)), label="Image sizes")
            batch = checked_by_handler(gr.Slider(2, 8, value=2, step=2, label="Batch size"))  # NaN, inf: its refusal
        measure = gr.Button("Measure", elem_id="segment-cost-run")
        waiting = gr.Markdown(elem_id="segment-cost-waiting")
        shown = cost_outputs()
        measure.click(named_outputs(run_cost, {**shown, "waiting": waiting}), [model, sizes, batch],
                      [*shown.values(), waiting], api_visibility="private", show_progress_on=list(shown.values()), **HEAVY)
        api_endpoint(fine_tune_cost, [model, sizes, batch], "fine_tune_cost", **HEAVY)
