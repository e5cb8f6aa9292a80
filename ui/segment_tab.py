"""The Segment tab: segment an upload or a flower test image (overlay, legend, mask, IoU), fine-tune the
three modes live, and show what fine-tuning costs. All ML lives in ``segmenter``."""
import html
from dataclasses import asdict

import gradio as gr
import pandas as pd
from PIL import Image

from pixelwise.perpixel import Scores, Snapshot
from pixelwise.checkpoints import CheckpointError
from pixelwise.errors import DataUnavailable
from pixelwise import limits
from pixelwise.images import DISPLAY_LONG_SIDE, ImageError, load_rgb
from pixelwise.limits import OutOfRange, bounded
from segmenter.data import image_path, list_ids, make_split
from segmenter.inference import iou_against_truth, legend, load_segmenter, mask_image, overlay
from segmenter.inference import segment as segment_rgb  # "segment" is this tab's endpoint
from segmenter.models import MODES, VOC_MODELS, WeightsUnavailable
from segmenter.trainer import BatchLoss, EpochResult, FineTuneConfig, FineTuneResult, fine_tune_iter
from pixelwise.zerogpu import INFERENCE_S, TRAINING_S, gpu
from ui.common import (api_endpoint, example_files, inference_device, named_outputs, shown_as_jpeg, take_home_path,
                       upload_name, uploaded_image)
from ui.cost_section import build_cost_section
from ui.inspector import INSPECT_CLASS, build_inspector

FLOWER_MODEL = "Flower DeepLabV3 (MobileNetV2, fine-tuned here)"
MODEL_CHOICES = [FLOWER_MODEL, *VOC_MODELS]
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


def pick_test_image(name: str) -> dict:
    nothing = {"photo": None, "test_id": None}
    if not name:
        return nothing
    image_id = int(name.split("_")[1])
    path = image_path(image_id)
    if not path.is_file():
        gr.Warning(f"{path} is missing: the flower data lives in ../shared/data/flowers17")
        return nothing
    return {"photo": load_rgb(path), "test_id": image_id}  # an array: Gradio will not serve files from outside the repo


@gpu(INFERENCE_S)  # ZeroGPU Spaces lend the GPU per call; a no-op elsewhere
def run_segment(path, test_id, model_name, opacity) -> dict:
    """-> overlay, mask, legend HTML, IoU text, and the state for re-blending."""
    empty = {"overlay": None, "mask": None, "legend": "", "iou": "", "last_result": None, "inspection": None}
    if not path:
        gr.Warning("Upload a photo or pick a flower test image first.")
        return empty
    try:
        opacity = bounded(opacity, "Overlay opacity", limits.OPACITY, whole=False)
        rgb = load_rgb(path, upload_name(path), DISPLAY_LONG_SIDE)  # larger photos are segmented as shown
        model, kind = load_model(model_name)
        result = segment_rgb(model, rgb, kind)
    except (ImageError, OutOfRange) as error:
        gr.Warning(str(error))
        return {**empty, "iou": f"**Could not use this file:** {error}"}
    except WeightsUnavailable as error:
        gr.Warning(str(error))
        return {**empty, "iou": f"**{model_name} is not available offline.** {error}"}
    except CheckpointError as error:
        gr.Warning(f"Flower checkpoint unusable: {error}")
        return empty
    iou_text = "IoU against the truth is shown for flower test images only."
    iou = iou_against_truth(result.labels, int(test_id)) if test_id is not None and kind == "flower" else None
    if iou is not None:
        iou_text = f"**Flower IoU vs truth (image_{int(test_id):04d}): {iou:.3f}** (uncertain band ignored)"
    return {"overlay": overlay(rgb, result, opacity), "mask": mask_image(result), "legend": legend_html(legend(result)),
            "iou": iou_text, "last_result": (rgb, result), "inspection": segment_snapshot(model_name, rgb, result)}


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

    Args:
        image: the photo.
        test_image_id: (the page's own; leave empty) id of a flower test image, for its IoU.
        model: "Flower DeepLabV3 (MobileNetV2, fine-tuned here)" or a VOC-21 model's name.
        opacity: opacity of the mask over the photo in the overlay (0 to 1).

    Returns:
        The overlay, the coloured mask, and the label mask: a PNG holding one class id per pixel
        (0 background, 1 flower; VOC ids for the VOC models).
    """
    view = run_segment(image, test_image_id, model, opacity)
    if view.get("overlay") is None:
        raise gr.Error(view.get("iou") or "Nothing to segment: upload a photo or pick a flower test image.")
    return view["overlay"], view["mask"], label_mask_file(view["last_result"][1]), view


def segment_example(image: str, model: str, opacity: float):
    """An example's answer, cached: everything the page shows but the state for re-blending."""
    overlay, mask, label_mask, view = segment(image, None, model, opacity)
    return overlay, mask, label_mask, view["legend"], view["iou"]


def show_segmentation(view: dict | None) -> dict:
    """The legend, the IoU and the state for re-blending, for the page."""
    return {name: (view or {}).get(name) for name in ("legend", "iou", "last_result", "inspection")}


EXAMPLES = [("flower.jpg", "Flower"), ("china_temple.jpg", "Temple (no flower)"),
            ("chelsea_cat.jpg", "Cat (no flower)"), ("coffee.jpg", "Coffee (no flower)")]


def reblend(state, opacity):
    if state is None:
        return gr.skip()
    rgb, result = state
    return overlay(rgb, result, opacity)


def curve_updates(losses, epochs_rows, status: str) -> dict:
    return {"loss_plot": pd.DataFrame(losses, columns=["step", "loss", "mode"]),
            # placeholders first within an epoch: a NaN between two points would break the line
            "iou_plot": pd.DataFrame(sorted(epochs_rows, key=lambda row: (row[0], row[1] == row[1])),
                                     columns=["epoch", "val IoU", "mode"]),
            "status": status}


def finetune_configs(modes, epochs, train_images) -> list[FineTuneConfig]:
    """One config per chosen mode, in MODES order; OutOfRange for numbers outside the tab's bounds."""
    epochs = bounded(epochs, "Epochs", limits.FINE_TUNE_EPOCHS)
    train_images = bounded(train_images, "Training images", limits.FINE_TUNE_IMAGES)
    return [FineTuneConfig(mode=mode, epochs=int(epochs), train_limit=int(train_images), val_limit=24, batch_size=8,
                           device=inference_device()) for mode in MODES if mode in (modes or [])]


@gpu(TRAINING_S)
def run_finetune(modes, epochs, train_images):
    """Generator: streams loss per step and val IoU per epoch for each chosen mode."""
    if not modes:
        gr.Warning("Choose at least one mode.")
        return
    try:
        configs = finetune_configs(modes, epochs, train_images)
    except OutOfRange as error:
        gr.Warning(str(error))
        yield {"status": f"**{error}**"}
        return
    # One empty (NaN) row per chosen mode, so the chart's first draw already knows every mode's colour:
    # Gradio's plot keeps the colour domain of its first draw and would not draw modes arriving later.
    losses = [(0, float("nan"), config.mode) for config in configs]
    epochs_rows = [(0, float("nan"), config.mode) for config in configs]
    status = ""
    for config in configs:
        mode = config.mode
        status = f"{mode}: caching frozen features and measuring the untrained model…"
        yield curve_updates(losses, epochs_rows, status)
        try:
            for event in fine_tune_iter(config):
                if isinstance(event, BatchLoss):
                    losses.append((global_step(event), event.loss, mode))
                    status = f"{mode}: epoch {event.epoch}, step {event.step}/{event.steps_per_epoch}, loss {event.loss:.3f}"
                elif isinstance(event, EpochResult):
                    epochs_rows.append((event.epoch, event.val_iou, mode))
                    status = (f"{mode}: epoch {event.epoch} val IoU {event.val_iou:.3f}, "
                              f"pixel acc {event.val_pixel_acc:.3f} ({event.seconds:.0f} s)")
                elif isinstance(event, FineTuneResult):
                    epochs_rows.insert(0, (0, event.initial["iou"], mode))
                    status = (f"{mode}: done; untrained val IoU {event.initial['iou']:.3f} → best "
                              f"{max(r.val_iou for r in event.history) if event.history else float('nan'):.3f}")
                yield curve_updates(losses, epochs_rows, status)
        except (DataUnavailable, WeightsUnavailable) as error:
            gr.Warning(str(error))
            yield {"status": f"Cannot fine-tune: {error}"}
            return


def global_step(event: BatchLoss) -> int:
    return (event.epoch - 1) * event.steps_per_epoch + event.step


@gpu(TRAINING_S)
def fine_tune(modes: list[str], epochs: int = 2, train_images: int = 32) -> dict:
    """Fine-tune the flower DeepLabV3 in each mode on the first training images (validation on 24 val images),
    as the Segment tab's "Fine-tune" section does; the shipped model is not changed.

    Args:
        modes: any of "last" (the final 1x1 conv), "head" (the DeepLabV3 head) and "full" (every layer).
        epochs: epochs per mode (1 to 5).
        train_images: training images used (16 to 128).

    Returns:
        A dict {"runs": one per mode, in that order}, each run a dict: "mode", "initial_val_iou" (before
        training), "best_epoch", "best_val_iou", "epochs" (per epoch: "epoch", "train_loss", "val_loss",
        "val_iou", "val_pixel_acc", "seconds") and "losses" (per optimiser step: "step", "loss").
    """
    if not modes:
        raise gr.Error("Choose at least one mode: last, head or full.")
    try:
        configs = finetune_configs(modes, epochs, train_images)
    except OutOfRange as error:
        raise gr.Error(str(error)) from None
    runs = []
    for config in configs:
        losses = []
        try:
            for event in fine_tune_iter(config):
                if isinstance(event, BatchLoss):
                    losses.append({"step": global_step(event), "loss": event.loss})
        except (DataUnavailable, WeightsUnavailable) as error:
            raise gr.Error(f"Cannot fine-tune: {error}") from None
        history = [asdict(epoch) for epoch in event.history]  # the last event is the FineTuneResult
        runs.append({"mode": config.mode, "initial_val_iou": event.initial["iou"], "best_epoch": event.best_epoch,
                     "best_val_iou": max((row["val_iou"] for row in history), default=None), "epochs": history,
                     "losses": losses})
    return {"runs": runs}


def build_segment_tab():
    gr.Markdown("Segment a photo with DeepLabV3: the flower-vs-background model fine-tuned here on Oxford 17 "
                "Flowers, or torchvision's COCO-trained 21-class VOC models when their weights are on this machine.")
    with gr.Row():
        with gr.Column():
            photo = uploaded_image(label="Photo (any size or format)", elem_id="segment-photo", height=320)
            test_pick = gr.Dropdown(test_choices(), value=None, label="…or a flower test image", elem_id="segment-test-pick")
            model_name = gr.Radio(MODEL_CHOICES, value=FLOWER_MODEL, label="Model")
            opacity = gr.Slider(0, 1, value=0.5, step=0.05, label="Overlay opacity")
            go = gr.Button("Segment", variant="primary", elem_id="segment-run")
        with gr.Column():
            overlaid = shown_as_jpeg(gr.Image(label="Overlay", interactive=False, elem_id="segment-overlay", height=320,
                                              elem_classes=INSPECT_CLASS))
            legend_box = gr.HTML(elem_id="segment-legend")
            iou_box = gr.Markdown(elem_id="segment-iou")
            mask = gr.Image(label="Mask alone", interactive=False, elem_id="segment-mask", height=240,
                            elem_classes=INSPECT_CLASS)
            label_mask = gr.File(label="Label mask (PNG, one class id per pixel)", elem_id="segment-label-mask",
                                 height=60)
    test_id, last_result, inspection, view = gr.State(None), gr.State(None), gr.State(None), gr.State(None)
    inspector = build_inspector(inspection, elem_id="inspector-segment")
    picked = {"photo": photo, "test_id": test_id}
    private = dict(api_visibility="private", show_progress="hidden")
    test_pick.change(named_outputs(pick_test_image, picked), test_pick, list(picked.values()), **private)
    gr.on([photo.upload, photo.clear], lambda: None, None, test_id, **private)  # an upload is no test image: no IoU
    shown = {"legend": legend_box, "iou": iou_box, "last_result": last_result, "inspection": inspection}
    show = dict(fn=named_outputs(show_segmentation, shown), inputs=view, outputs=list(shown.values()), **private)
    done = go.click(segment, [photo, test_id, model_name, opacity], [overlaid, mask, label_mask, view],
                    api_name="segment", concurrency_limit=2).then(**show)
    inspector.watch([overlaid, mask])
    inspector.redraw_after([done])
    opacity.release(reblend, [last_result, opacity], overlaid, **private)
    with gr.Row():
        examples = gr.Examples([[path, FLOWER_MODEL, 0.5] for path in example_files([name for name, _ in EXAMPLES])],
                               [photo, model_name, opacity], [overlaid, mask, label_mask, legend_box, iou_box],
                               segment_example, cache_examples=True, cache_mode="lazy",
                               example_labels=[label for _, label in EXAMPLES], api_visibility="private",
                               label="Examples: one click (sources and licences: examples/README.md)")
        examples.cache_event.then(lambda: (None, None, None), None, [test_id, last_result, inspection], **private)

    with gr.Accordion("Fine-tune: last layer vs head vs full", open=False):
        gr.Markdown("\n".join(f"- **{m}**: {MODE_HELP[m]}" for m in MODES)
                    + "\n\nA quick run on the first training images (validation on 24 val images); the shipped "
                      "model was trained with `python -m segmenter.train` (see docs/segmentation.md).")
        with gr.Row():
            modes = gr.CheckboxGroup(list(MODES), value=list(MODES), label="Modes")
            epochs = gr.Slider(1, 5, value=2, step=1, label="Epochs")
            train_images = gr.Slider(16, 128, value=32, step=8, label="Training images")
        with gr.Row():
            start = gr.Button("Start fine-tuning", variant="primary", elem_id="segment-ft-start")
            stop = gr.Button("Stop", elem_id="segment-ft-stop")
        ft_status = gr.Markdown(elem_id="segment-ft-status")
        with gr.Row():
            loss_plot = gr.LinePlot(x="step", y="loss", color="mode", color_map=MODE_COLOURS, title="Training loss per step")
            iou_plot = gr.LinePlot(x="epoch", y="val IoU", color="mode", color_map=MODE_COLOURS,
                                   title="Val flower IoU per epoch (0 = untrained)")
        # Shares the one "training" slot with Train live and the affine experiment: one CPU-heavy job at a time.
        curves_out = {"loss_plot": loss_plot, "iou_plot": iou_plot, "status": ft_status}
        training = dict(concurrency_limit=1, concurrency_id="training")
        run = start.click(named_outputs(run_finetune, curves_out), [modes, epochs, train_images],
                          list(curves_out.values()), api_visibility="private", **training)
        api_endpoint(fine_tune, [modes, epochs, train_images], "fine_tune", **training)  # plain values for scripts
        stop.click(lambda: "Stopped.", None, ft_status, cancels=[run], api_visibility="private")

    build_cost_section()
