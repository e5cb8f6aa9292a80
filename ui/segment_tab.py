"""The Segment tab: segment an upload or a flower test image (overlay, legend, mask, IoU), fine-tune the
three modes live, and show what fine-tuning costs. All ML lives in ``segmenter``."""
import html
from dataclasses import asdict, dataclass
from typing import Callable

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image

from pixelwise.perpixel import Scores, Snapshot
from pixelwise.checkpoints import CheckpointError
from pixelwise.errors import DataUnavailable
from pixelwise import limits
from pixelwise.images import DISPLAY_LONG_SIDE, ImageError, load_rgb
from pixelwise.limits import OutOfRange, bounded
from segmenter.data import image_path, list_ids, make_split
from segmenter.inference import Segmentation, iou_against_truth, legend, load_segmenter, mask_image, overlay
from segmenter.inference import segment as segment_rgb  # "segment" is this tab's endpoint
from segmenter.models import MODES, VOC_MODELS, WeightsUnavailable, offline_message, voc_model_available
from segmenter.trainer import BatchLoss, EpochResult, FineTuneConfig, FineTuneResult, fine_tune_iter
from pixelwise.settings import downloads_max_age_s
from pixelwise.zerogpu import heavy_request, quick_request
from ui.common import (api_endpoint, checked_by_handler, example_buttons, example_path,
                       inference_device, named_outputs, notice, notice_box, plain, refusal, shown_as_jpeg,
                       take_home_path, upload_name, uploaded_image)
from ui.cost_section import build_cost_section
from ui.inspector import INSPECT_CLASS, build_inspector
from ui.page_jobs import HEAVY, heavy_job, job_done, job_for, stop_page_jobs, waiting_notes

FLOWER_MODEL = "Flower DeepLabV3 (MobileNetV2, fine-tuned here)"
MODE_COLOURS = {"last": "#e45756", "head": "#4c78a8", "full": "#54a24b"}  # fixed: all series show as they stream in
MODE_HELP = {
    "last": "only the final 1×1 classifier conv (514 weights) trains; here the ASPP head before it is "
            "randomly initialised (no COCO head offline), so `last` learns a linear read-out of random ASPP features",
    "head": "the whole DeepLabHead (ASPP + 3×3 conv + classifier) trains on frozen ImageNet MobileNetV2 features",
    "full": "every weight trains (backbone BatchNorm statistics stay at their ImageNet values)",
}


def load_model(name: str):
    """(model, kind) for a choice of the Model radio."""
    kind = "flower" if name == FLOWER_MODEL else "voc"
    return load_segmenter("flower" if kind == "flower" else name, inference_device()), kind


def model_choices() -> tuple[list[str], list[str]]:
    """(the models that can run on this server, offered; the VOC models whose weights are neither here nor
    downloadable, only named): offered, they answered every choice with "not on this server" and switched back."""
    offline = [name for name in VOC_MODELS if not voc_model_available(name)]
    return [FLOWER_MODEL, *(name for name in VOC_MODELS if name not in offline)], offline


def offline_models_note(offline: list[str]) -> str:
    if not offline:
        return ""
    return ("Needs the internet once, so not offered on this offline server (the COCO-trained weights are downloaded "
            f"on first use): {', '.join(name.split(' (')[0] for name in offline)}.")


def test_choices() -> list[str]:
    try:
        return [f"image_{i:04d}" for i in make_split(list_ids())["test"]]
    except DataUnavailable:
        return []


def legend_html(entries) -> str:
    items = "".join(
        f'<span style="display:inline-flex;align-items:center;margin-right:14px">'
        f'<span style="width:14px;height:14px;background:{colour};border:1px solid #555;margin-right:5px"></span>'
        f"{html.escape(name)} ({share:.0%})</span>" for name, colour, share in entries)
    return f'<div class="segment-legend">{items}</div>'


class Refused(ValueError):
    """A photo or setting the tab cannot use; the message is in plain words."""


@dataclass
class SegmentShown:
    """What a page keeps of its last segmentation, no more than redrawing and clicking need: the photo at
    its shown size (at most DISPLAY_LONG_SIDE), the labels, the model's logits at its working size (small),
    and the words that describe it."""
    rgb: np.ndarray
    result: Segmentation
    source: str  # "chelsea_cat.jpg (451×300)" or "flower test image image_0042"
    model: str
    iou: str
    snapshot: Snapshot

    def caption(self, opacity: float) -> str:
        return (f"Showing **{self.source}** segmented by {self.model.split(' (')[0]}; overlay opacity "
                f"{float(opacity):.2f} (0 = photo only, 1 = mask only). {self.iou}")


def segment_test_image(name: str, model_name, opacity, shown: SegmentShown | None = None) -> dict:
    """A flower test image, picked: shown as the photo and segmented with its IoU in one step (in two, a missing
    file's notice would be cleared by segmenting the old photo again)."""
    if not name:
        return {"overlay": gr.skip()}
    image_id = int(name.split("_")[1])
    path = image_path(image_id)
    if not path.is_file():
        return {"notice": notice(f"{name} is missing: the flower data is not installed on this server.")}
    answer = segment_on_page(str(path), image_id, model_name, opacity, shown)
    if "shown" in answer:  # the photo as an array: Gradio will not serve files from outside the repo
        answer["photo"] = answer["shown"].rgb
    return answer


def segment_example(index, model_name, opacity, shown: SegmentShown | None = None) -> dict:
    """An example button: its photo in the upload box (a plain value: the box keeps its own file handling,
    ui.common.example_buttons), segmented as an upload is."""
    path = example_path(EXAMPLES, index)
    return {"photo": path} | segment_on_page(path, None, model_name, opacity, shown)


def _segmentation(path, model_name):
    """(photo at its shown size, "flower" or "voc", Segmentation), or Refused in plain words."""
    try:
        rgb = load_rgb(path, upload_name(path), DISPLAY_LONG_SIDE)  # larger photos are segmented as shown
        model, kind = load_model(model_name)
        return rgb, kind, segment_rgb(model, rgb, kind)
    except ImageError as error:
        raise Refused(f"Could not use this file: {error}") from None
    except WeightsUnavailable:
        raise Refused(offline_message(model_name)) from None
    except CheckpointError:
        raise Refused("The flower model's checkpoint on this server cannot be read; "
                      "the VOC models may still work.") from None


@quick_request  # ZeroGPU Spaces lend the GPU per call (a no-op elsewhere); trainings yield to it
def run_segment(path, test_id, model_name, opacity) -> dict:
    """-> overlay, mask, legend HTML, caption, and the SegmentShown to keep; Refused in plain words."""
    if not path:
        raise Refused("Upload a photo or pick a flower test image first.")
    try:
        opacity = bounded(opacity, "Overlay opacity", limits.OPACITY, whole=False)
    except OutOfRange as error:
        raise Refused(str(error)) from None
    rgb, kind, result = _segmentation(path, model_name)
    iou_text = "IoU against the truth is shown for flower test images only."
    iou = iou_against_truth(result.labels, int(test_id)) if test_id is not None and kind == "flower" else None
    if iou is not None:
        iou_text = f"**Flower IoU vs truth (image_{int(test_id):04d}): {iou:.3f}** (uncertain band ignored)."
    source = f"flower test image image_{int(test_id):04d}" if test_id is not None else \
        f"{upload_name(path)} ({rgb.shape[1]}×{rgb.shape[0]})"
    shown = SegmentShown(rgb, result, source, model_name, iou_text, segment_snapshot(model_name, rgb, result))
    return {"overlay": overlay(rgb, result, opacity), "mask": mask_image(result), "legend": legend_html(legend(result)),
            "caption": shown.caption(opacity), "shown": shown, "inspection": shown.snapshot}


def segment_snapshot(model_name: str, rgb, result) -> Snapshot:
    """What a click on the overlay or the mask reads: the model's class logits at its working size."""
    scores = Scores(model_name.split(" (")[0], result.logits, result.palette, names=result.class_names)
    return Snapshot({"segmenter": scores}, shown=rgb.shape[1::-1], source=f"{rgb.shape[1]}×{rgb.shape[0]} photo")


def label_mask_file(result) -> str:
    """The class ids as a one-channel PNG (0 = background, 1 = flower; VOC ids for the VOC models)."""
    path = take_home_path("label_mask.png")
    Image.fromarray(result.labels.astype("uint8"), mode="L").save(path)
    return str(path)


def segment(image: str, test_image_id: int | None = None, model: str = FLOWER_MODEL, opacity: float = 0.5):
    """Segment a photo (any size or mode) with DeepLabV3: flower vs background, or the 21 VOC classes.

    Result: three pictures, the overlay, the coloured mask, and the label mask: a PNG holding one class id per
    pixel (0 background, 1 flower; VOC ids for the VOC models).

    Args:
        image: the photo (over MCP a data: URL, "data:image/png;base64,...", or a public https URL).
        test_image_id: (the page's own; leave empty) id of a flower test image, for its IoU.
        model: "Flower DeepLabV3 (MobileNetV2, fine-tuned here)" or a VOC-21 model's name.
        opacity: opacity of the mask over the photo in the overlay (0 to 1).
    """
    try:
        view = run_segment(image, test_image_id, model, opacity)
    except Refused as error:
        raise refusal(str(error)) from None
    return view["overlay"], view["mask"], label_mask_file(view["shown"].result)  # nothing kept: an API call has no page


def segment_on_page(photo, test_id, model_name, opacity, shown: SegmentShown | None = None) -> dict:
    """The page's segmentation (an upload, an example, another model): everything shown at once, and the
    notice cleared. A refused photo or model gives only its notice and puts back the model of the last result,
    which stays on screen. (Not its photo: an output value replaces the upload widget's own preprocessing for
    the session, see ui.common.uploaded_image.)"""
    if not photo:
        return {"overlay": gr.skip()}
    try:
        view = run_segment(photo, test_id, model_name, opacity)
    except Refused as error:
        return {"notice": notice(error), "model_name": shown.model if shown is not None else gr.skip()}
    del view["inspection"]  # the inspector reads it from the kept SegmentShown
    return {**view, "label_mask": label_mask_file(view["shown"].result), "test_id": test_id, "notice": ""}


def redraw(shown: SegmentShown | None, opacity) -> dict:
    """The kept result again at another opacity (a slider move or a typed number): no model runs. An opacity
    out of range gives only its notice."""
    if shown is None:
        return {"overlay": gr.skip()}
    try:
        opacity = bounded(opacity, "Overlay opacity", limits.OPACITY, whole=False)
    except OutOfRange as error:
        return {"notice": notice(error)}
    return {"overlay": overlay(shown.rgb, shown.result, opacity), "caption": shown.caption(opacity), "notice": ""}


EXAMPLES = [("flower.jpg", "Flower"), ("china_temple.jpg", "Temple (no flower)"),
            ("chelsea_cat.jpg", "Cat (no flower)"), ("coffee.jpg", "Coffee (no flower)")]


IOU_AXIS = "val IoU (%)"


def iou_percent(iou: float) -> float:
    """An IoU as the chart draws it and the status line says it: a percentage to one decimal, so the two always
    agree (the status rounded 4.6e-05 to 0.000 while the chart drew the raw value)."""
    return round(100 * iou, 1)


def segment_first_example(opacity) -> dict:
    """The first example (a flower) segmented by the flower model as the page opens: its panels were blank until
    an example was clicked. Where the flower model cannot run here, nothing (no notice: nobody asked yet)."""
    path = example_path(EXAMPLES, 0)
    answer = segment_on_page(path, None, FLOWER_MODEL, opacity)
    return {"overlay": gr.skip()} if answer.get("notice") else {"photo": path, **answer}


def curve_updates(losses, epochs_rows, status: str) -> dict:
    return {"loss_plot": pd.DataFrame(losses, columns=["step", "loss", "mode"]),
            # placeholders first within an epoch: a NaN between two points would break the line
            "iou_plot": pd.DataFrame([(epoch, iou_percent(iou), mode) for epoch, iou, mode in
                                      sorted(epochs_rows, key=lambda row: (row[0], row[1] == row[1]))],
                                     columns=["epoch", IOU_AXIS, "mode"]),
            "status": status}


def finetune_configs(modes, epochs, train_images) -> list[FineTuneConfig]:
    """One config per chosen mode, in MODES order; OutOfRange for numbers outside the tab's bounds."""
    epochs = bounded(epochs, "Epochs", limits.FINE_TUNE_EPOCHS)
    train_images = bounded(train_images, "Training images", limits.FINE_TUNE_IMAGES)
    return [FineTuneConfig(mode=mode, epochs=int(epochs), train_limit=int(train_images), val_limit=24, batch_size=8,
                           device=inference_device()) for mode in MODES if mode in (modes or [])]


GUESS_S_PER_IMAGE_EPOCH = 0.5  # a fine-tune's seconds per training image and epoch and mode, before one is measured


def finetune_job(configs: list[FineTuneConfig], request: gr.Request | None, api: bool = False):
    """The fine-tunes as one job of the scheduler's: its page closing or its client going ends it within a batch."""
    units = sum(config.epochs * config.train_limit for config in configs)
    return job_for(f"segmenter fine-tuning ({', '.join(config.mode for config in configs)})", request, "fine-tune",
                   units, GUESS_S_PER_IMAGE_EPOCH, api)


def _finetune_events(config: FineTuneConfig, job, losses: list, epochs_rows: list, part: tuple[int, int]):
    """One mode's fine-tuning (``part``: its index and the number of modes) as page updates: the curves so
    far and a status line, after every event; the job's share done follows the steps."""
    mode, (index, parts) = config.mode, part
    yield curve_updates(losses, epochs_rows, f"{mode}: caching frozen features and measuring the untrained model…")
    for event in fine_tune_iter(config, should_stop=job.should_stop):
        if isinstance(event, BatchLoss):
            job.done = (index + global_step(event) / (config.epochs * event.steps_per_epoch)) / parts
            losses.append((global_step(event), event.loss, mode))
            status = f"{mode}: epoch {event.epoch}, step {event.step}/{event.steps_per_epoch}, loss {event.loss:.3f}"
        elif isinstance(event, EpochResult):
            epochs_rows.append((event.epoch, event.val_iou, mode))
            status = (f"{mode}: epoch {event.epoch} val IoU {iou_percent(event.val_iou)}%, "
                      f"pixel acc {event.val_pixel_acc:.3f} ({event.seconds:.0f} s)")
        elif isinstance(event, FineTuneResult):
            epochs_rows.insert(0, (0, event.initial["iou"], mode))
            best = max((r.val_iou for r in event.history), default=float("nan"))
            status = (f"{mode}: {'stopped' if event.stopped else 'done'}; untrained val IoU "
                      f"{iou_percent(event.initial['iou'])}% → best {iou_percent(best)}%")
        yield curve_updates(losses, epochs_rows, status)


@heavy_request
def run_finetune(modes, epochs, train_images, request: gr.Request = None):
    """Generator: streams loss per step and val IoU per epoch for each chosen mode; Stop or closing the page
    ends it within one batch (the stop flag of ui.page_jobs)."""
    try:
        configs = finetune_configs(modes, epochs, train_images)
        if not configs:
            raise OutOfRange("Choose at least one mode: last, head or full.")
    except OutOfRange as error:
        yield {"status": plain(error)}  # the status line is this section's notice: no toast
        return
    # One empty (NaN) row per chosen mode, so the chart's first draw already knows every mode's colour:
    # Gradio's plot keeps the colour domain of its first draw and would not draw modes arriving later.
    losses = [(0, float("nan"), config.mode) for config in configs]
    epochs_rows = [(0, float("nan"), config.mode) for config in configs]
    job = finetune_job(configs, request)
    try:
        for note in waiting_notes(job):
            yield {"status": note}
        if job.started is None:  # stopped while it waited
            return
        for index, config in enumerate(configs):
            try:
                yield from _finetune_events(config, job, losses, epochs_rows, (index, len(configs)))
            except (DataUnavailable, WeightsUnavailable) as error:
                yield {"status": "Cannot fine-tune: " + plain(error)}
                return
            if job.should_stop():
                return
    finally:
        job_done(job)


def global_step(event: BatchLoss) -> int:
    return (event.epoch - 1) * event.steps_per_epoch + event.step


@heavy_request
def fine_tune(modes: list[str], epochs: int = 2, train_images: int = 32, request: gr.Request = None,
              progress=gr.Progress()) -> dict:
    """Fine-tune the flower DeepLabV3 in each mode on the first training images (validation on 24 val images),
    as the Segment tab's "Fine-tune" section does; the shipped model is not changed.

    Result: a dict {"runs": one per mode, in that order}, each run a dict: "mode", "initial_val_iou" (before
    training), "best_epoch", "best_val_iou", "epochs" (per epoch: "epoch", "train_loss", "val_loss",
    "val_iou", "val_pixel_acc", "seconds") and "losses" (per optimiser step: "step", "loss").

    Args:
        modes: any of "last" (the final 1x1 conv), "head" (the DeepLabV3 head) and "full" (every layer).
        epochs: epochs per mode (1 to 5).
        train_images: training images used (16 to 128).
    """
    if not modes:
        raise refusal("Choose at least one mode: last, head or full.")
    try:
        configs = finetune_configs(modes, epochs, train_images)
    except OutOfRange as error:
        raise refusal(str(error)) from None
    runs = []
    with heavy_job(finetune_job(configs, request, api=True), lambda note: progress(0, desc=note)) as job:
        for config in configs:
            if job.started is None or job.stopped():
                raise refusal("Stopped: the caller went away.")
            runs.append(_api_run(config, job))
    return {"runs": runs}


def _api_run(config: FineTuneConfig, job) -> dict:
    """One mode's fine-tune for the API, in ``job``'s turn: plain values."""
    losses = []
    try:
        for event in fine_tune_iter(config, should_stop=job.should_stop):
            if isinstance(event, BatchLoss):
                losses.append({"step": global_step(event), "loss": event.loss})
    except (DataUnavailable, WeightsUnavailable) as error:
        raise refusal(f"Cannot fine-tune: {error}") from None
    history = [asdict(epoch) for epoch in event.history]  # the last event is the FineTuneResult
    return {"mode": config.mode, "initial_val_iou": event.initial["iou"], "best_epoch": event.best_epoch,
            "best_val_iou": max((row["val_iou"] for row in history), default=None), "epochs": history,
            "losses": losses}


PRIVATE = dict(api_visibility="private", show_progress="hidden")  # steps that follow a public endpoint


def _photo_inputs() -> dict:
    """The photo with the examples right under it (seen before the photo is scrolled past), a flower test
    image, the model and the overlay opacity; each acts at once, so the tab has no Segment button."""
    ins = {"photo": uploaded_image(label="Photo (any size or format): it is segmented as soon as it arrives",
                                   elem_id="segment-photo", height=300)}
    with gr.Column(elem_id="segment-examples"):
        ins["examples"] = example_buttons(EXAMPLES, "segment-example-buttons")
    ins["test_pick"] = gr.Dropdown(test_choices(), value=None, label="…or a flower test image (with its IoU)",
                                   elem_id="segment-test-pick")
    runnable, offline = model_choices()
    ins["model_name"] = gr.Radio(runnable, value=FLOWER_MODEL, label="Model", elem_id="segment-model",
                                 info=offline_models_note(offline) or None)
    ins["opacity"] = checked_by_handler(gr.Slider(0, 1, value=0.5, step=0.05, label="Overlay opacity",
                                                  elem_id="segment-opacity"))
    return ins


def _result_outputs() -> dict:
    """The notice (why a photo or number was refused), the overlay, legend, caption, the mask alone and the
    label mask file."""
    return {"notice": notice_box("segment-notice"),
            "overlay": shown_as_jpeg(gr.Image(label="Overlay", interactive=False, elem_id="segment-overlay",
                                              height=300, elem_classes=INSPECT_CLASS)),
            "legend": gr.HTML(elem_id="segment-legend"),
            "caption": gr.Markdown(elem_id="segment-iou"),
            "mask": gr.Image(label="Mask alone", interactive=False, elem_id="segment-mask", height=220,
                             elem_classes=INSPECT_CLASS),
            "label_mask": gr.File(label="Label mask (PNG, one class id per pixel)", elem_id="segment-label-mask",
                                  height=60)}


def _wire_segment(ins: dict, outs: dict, states: dict, inspector) -> Callable:
    """An upload, an example, a test image or another model segments at once; the opacity redraws the kept
    result. The public endpoint ``segment`` is a hidden button's, for scripts. Returns show_example_on(trigger)."""
    photo, test_id, shown = ins["photo"], states["test_id"], states["shown"]
    page = {**outs, "shown": shown, "test_id": test_id, "model_name": ins["model_name"]}
    common = dict(concurrency_limit=2, api_visibility="private", show_progress_on=[outs["overlay"], outs["mask"]])
    run = dict(fn=named_outputs(segment_on_page, page), outputs=list(page.values()), **common)
    as_shown = [photo, test_id, ins["model_name"], ins["opacity"], shown]
    new_photo = [photo, gr.State(None), *as_shown[2:]]  # an upload or an example is no test image: no IoU
    picked = {**page, "photo": photo}  # an example or a test image is shown as the photo too
    events = [photo.upload(inputs=new_photo, **run), ins["model_name"].input(inputs=as_shown, **run),
              ins["examples"].click(named_outputs(segment_example, picked), [ins["examples"], *as_shown[2:]],
                                    list(picked.values()), **common)]
    events.append(ins["test_pick"].input(named_outputs(segment_test_image, picked), [ins["test_pick"], *as_shown[2:]],
                                         list(picked.values()), **common))
    shown_now = {"overlay": outs["overlay"], "caption": outs["caption"], "notice": outs["notice"]}
    gr.on([ins["opacity"].input, ins["opacity"].release], named_outputs(redraw, shown_now), [shown, ins["opacity"]],
          list(shown_now.values()), trigger_mode="always_last", **PRIVATE)
    gr.Button(visible=False).click(segment, [photo, test_id, ins["model_name"], ins["opacity"]],
                                   [outs["overlay"], outs["mask"], outs["label_mask"]], api_name="segment",
                                   concurrency_limit=2)
    inspector.watch([outs["overlay"], outs["mask"]])
    inspector.redraw_after(events)
    first = dict(fn=named_outputs(segment_first_example, picked), inputs=[ins["opacity"]],
                 outputs=list(picked.values()), **common)
    return lambda trigger: inspector.redraw_after([trigger(**first)])


def _fine_tune_section() -> None:
    """Fine-tune last layer vs head vs full on a few images, with live loss and IoU curves."""
    gr.Markdown("\n".join(f"- **{m}**: {MODE_HELP[m]}" for m in MODES)
                + "\n\nA quick run on the first training images (validation on 24 val images); the shipped "
                  "model was trained with `python -m segmenter.train` (see docs/segmentation.md).")
    with gr.Row():
        modes = gr.CheckboxGroup(list(MODES), value=list(MODES), label="Modes")
        epochs = checked_by_handler(gr.Slider(1, 5, value=2, step=1, label="Epochs"))
        train_images = checked_by_handler(gr.Slider(16, 128, value=32, step=8, label="Training images"))
    with gr.Row():
        start = gr.Button("Start fine-tuning", variant="primary", elem_id="segment-ft-start")
        stop = gr.Button("Stop", elem_id="segment-ft-stop")
    ft_status = gr.Markdown(elem_id="segment-ft-status")
    with gr.Row():
        loss_plot = gr.LinePlot(x="step", y="loss", color="mode", color_map=MODE_COLOURS, title="Training loss per step")
        # IoU in percent on a fixed 0-100 axis: tick labels of two or three digits, which the plot's left margin
        # holds (fractions of a varying domain were cut: "592" for 0.692)
        iou_plot = gr.LinePlot(x="epoch", y=IOU_AXIS, color="mode", color_map=MODE_COLOURS, y_lim=[0, 100],
                               title="Val flower IoU per epoch, % (0 = untrained)")
    curves_out = {"loss_plot": loss_plot, "iou_plot": iou_plot, "status": ft_status}
    run = start.click(named_outputs(run_finetune, curves_out), [modes, epochs, train_images], list(curves_out.values()),
                      api_visibility="private", show_progress_on=[loss_plot, iou_plot], **HEAVY)
    api_endpoint(fine_tune, [modes, epochs, train_images], "fine_tune", **HEAVY)  # plain values for scripts
    stop.click(stop_fine_tuning, None, ft_status, cancels=[run], api_visibility="private")


def stop_fine_tuning(request: gr.Request) -> str:
    stop_page_jobs(request, "fine-tune")  # ends within one batch, also if Gradio's cancel comes between two
    return "Stopped."


def build_segment_tab() -> Callable:
    """The tab; returns show_example_on(trigger), which segments the first example on ``trigger`` (app.py: demo.load)."""
    gr.Markdown("Segment a photo with DeepLabV3: the flower-vs-background model fine-tuned here on Oxford 17 "
                "Flowers, or torchvision's COCO-trained 21-class VOC models when their weights are on this machine. "
                "Click any pixel of the overlay or the mask to see the model's probabilities there.")
    # kept for an hour after their last change, like the files they point at: a client that never closes its
    # session (gradio_client sends no unload) does not hold a photo's arrays for the life of the process
    states = {name: gr.State(None, time_to_live=downloads_max_age_s()) for name in ("test_id", "shown")}
    with gr.Row():
        with gr.Column():
            ins = _photo_inputs()
        with gr.Column():
            outs = _result_outputs()
    inspector = build_inspector(states["shown"], elem_id="inspector-segment", read=kept_snapshot)
    show_example_on = _wire_segment(ins, outs, states, inspector)
    with gr.Accordion("Fine-tune: last layer vs head vs full", open=False):
        _fine_tune_section()
    build_cost_section()
    return show_example_on


def kept_snapshot(shown: SegmentShown | None) -> Snapshot | None:
    return shown.snapshot if shown is not None else None
