"""Tab "Colourize": an upload or a CIFAR-10 test image, through the CNN and the UNet, side by side."""
import functools
import os
import random
from dataclasses import dataclass, field

import gradio as gr
import numpy as np

from colorizer import (ARCH_NAMES, CIFAR10_CLASSES, classes_to_rgb, colourize_photo, grey_of, grey_to_rgb,
                       load_category, pixel_accuracy, predict_classes)
from colorizer.catalog import fetch_missing_checkpoints, list_checkpoints, load_checkpoint_cached
from pixelwise.checkpoints import CheckpointError
from pixelwise.errors import DataUnavailable
from pixelwise.images import ImageError, has_colour, load_rgb
from pixelwise.settings import checkpoint_dir, cifar_root, hf_repo, trained_dir
from pixelwise.zerogpu import INFERENCE_S, gpu
from ui.common import cifar_notice, enlarge, inference_device, named_outputs, uploaded_image

TEST_IMAGE_ZOOM = 8  # 32 x 32 test images are shown 256 x 256, pixels kept crisp


# ---------------------------------------------------------------- checkpoints

@functools.lru_cache(maxsize=4)
def _hub_notes(repo: str, folder: str) -> tuple[str, ...]:
    # Once per process: a fetch (or a failed one) is not repeated on every refresh.
    return tuple(fetch_missing_checkpoints(repo, folder))


def checkpoint_choices_by_arch() -> tuple[dict[str, list[tuple[str, str]]], list[str]]:
    """Dropdown choices per arch, {arch: [(label, path)]}, and notes to show (hub fetches, unreadable files)."""
    notes = []
    repo = hf_repo()
    if repo:
        notes += _hub_notes(repo, str(checkpoint_dir()))
    infos, problems = list_checkpoints(checkpoint_dir(), trained_dir())
    notes += [f"Skipped {problem}" for problem in problems]
    choices = {arch: [(info.label, str(info.path)) for info in infos if info.arch == arch] for arch in ARCH_NAMES}
    for arch, name in ARCH_NAMES.items():
        if not choices[arch]:
            notes.append(f"No {name} checkpoint in {checkpoint_dir()}: train one in the Train live tab "
                         f"or run `python -m colorizer.train --model {arch} --out checkpoints/{arch}.pt`.")
    return choices, notes


def default_choice(arch: str, choices: list[tuple[str, str]], current: str | None = None) -> str | None:
    """Keep the current pick if it still exists, else the shipped checkpoints/<arch>.pt, else the first."""
    paths = [path for _, path in choices]
    shipped = str(checkpoint_dir() / f"{arch}.pt")
    for candidate in (current, shipped):
        if candidate in paths:
            return candidate
    return paths[0] if paths else None


def refresh_checkpoints(cnn_current: str | None = None, unet_current: str | None = None) -> dict:
    choices, notes = checkpoint_choices_by_arch()
    return {"cnn_checkpoint": gr.update(choices=choices["cnn"], value=default_choice("cnn", choices["cnn"], cnn_current)),
            "unet_checkpoint": gr.update(choices=choices["unet"],
                                         value=default_choice("unet", choices["unet"], unet_current)),
            "checkpoint_notes": "\n".join(f"- {note}" for note in notes)}


# ---------------------------------------------------------------- the work

@dataclass
class Panel:
    label: str
    image: np.ndarray | None


@dataclass
class Panels:
    """What the tab shows: grey input, one panel per model, the original when it had colour."""
    grey: np.ndarray
    models: dict[str, Panel] = field(default_factory=dict)  # "cnn" / "unet" -> panel
    original: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)


def _loaded_models(checkpoints: dict[str, str | None], panels: Panels):
    """Yield (arch, path, model, palette) for each chosen checkpoint; one that cannot be loaded gets an
    'unavailable' panel and a note instead, so the other model still runs."""
    for arch, path in checkpoints.items():
        try:
            if not path:
                raise CheckpointError(f"no {ARCH_NAMES[arch]} checkpoint chosen")
            model, palette = load_checkpoint_cached(path, inference_device())
        except CheckpointError as error:
            panels.models[arch] = Panel(f"{ARCH_NAMES[arch]}: unavailable", None)
            panels.notes.append(str(error))
            continue
        yield arch, path, model, palette


def colourize_upload_panels(image_path: str, checkpoints: dict[str, str | None], class_map: bool = False,
                            work_size: int = 96) -> Panels:
    """Full-resolution colourization of an uploaded file; raises ImageError for unusable files."""
    rgb = load_rgb(image_path)
    height, width = rgb.shape[:2]
    panels = Panels(grey=grey_to_rgb(grey_of(rgb)),
                    original=rgb if has_colour(rgb) else None)
    for arch, path, model, palette in _loaded_models(checkpoints, panels):
        result = colourize_photo(model, palette, rgb, long_side=int(work_size))
        kind = "class map" if class_map else "colour"
        panels.models[arch] = Panel(f"{ARCH_NAMES[arch]} ({os.path.basename(path)}) · {kind}, {width}×{height}",
                                    result.class_map if class_map else result.colour)
        panels.notes.append(f"{ARCH_NAMES[arch]} ran at {result.work_size[0]}×{result.work_size[1]}; "
                            f"its colours were put on the original {width}×{height} luminance.")
    if panels.original is None:
        panels.notes.append("The upload has no colour, so there is no original to compare with.")
    return panels


def test_images(category: str) -> np.ndarray:
    """N x 32 x 32 x 3 uint8 test images of a CIFAR-10 category (raises DataUnavailable)."""
    return load_category(category, cifar_root(), "test").numpy()


def colourize_test_panels(category: str, index: int, checkpoints: dict[str, str | None]) -> Panels:
    """Colourize one CIFAR-10 test image at its own 32 x 32 and score each model's pixel accuracy."""
    images = test_images(category)
    index = int(index) % len(images)
    rgb = images[index]
    grey = grey_of(rgb)
    panels = Panels(grey=enlarge(grey_to_rgb(grey), TEST_IMAGE_ZOOM), original=enlarge(rgb, TEST_IMAGE_ZOOM))
    for arch, path, model, palette in _loaded_models(checkpoints, panels):
        classes = predict_classes(model, grey)
        prediction = classes_to_rgb(classes, palette)
        accuracy = pixel_accuracy(classes, rgb, palette)
        panels.models[arch] = Panel(f"{ARCH_NAMES[arch]} ({os.path.basename(path)}) · pixel accuracy {100 * accuracy:.1f}%",
                                    enlarge(prediction, TEST_IMAGE_ZOOM))
    panels.notes.append(f"CIFAR-10 test image {category} #{index}, 32×32, shown {TEST_IMAGE_ZOOM}× enlarged; "
                        "pixel accuracy = share of pixels given the palette colour nearest the truth.")
    return panels


# ---------------------------------------------------------------- Gradio glue

def _to_updates(panels: Panels) -> dict:
    """Images and captions for: grey, CNN, UNet, original (hidden without colour), slider, notes."""
    cnn = panels.models.get("cnn", Panel("CNN", None))
    unet = panels.models.get("unet", Panel("UNet", None))
    has_original = panels.original is not None
    slider = (panels.grey, unet.image) if unet.image is not None else None
    return {"grey": panels.grey, "grey_caption": "**Grey input** (what the models see)",
            "cnn": cnn.image, "cnn_caption": f"**{cnn.label}**",
            "unet": unet.image, "unet_caption": f"**{unet.label}**",
            "original": gr.update(value=panels.original, visible=has_original),
            "original_caption": gr.update(value="**Original colour**", visible=has_original),
            "slider": gr.update(value=slider, label=f"Before / after — {unet.label}"),
            "notes": "\n".join(f"- {note}" for note in panels.notes)}


@gpu(INFERENCE_S)  # ZeroGPU Spaces lend the GPU per call; a no-op elsewhere
def on_colourize_upload(image_path, cnn_path, unet_path, class_map, work_size) -> dict:
    if not image_path:
        raise gr.Error("Upload an image first (any size; PNG, JPEG, TIFF, WebP...).")
    try:
        panels = colourize_upload_panels(image_path, {"cnn": cnn_path, "unet": unet_path}, class_map, work_size)
    except ImageError as error:
        gr.Warning(str(error))
        return {"notes": f"**Could not use this file:** {error}"}  # the panels keep what they showed
    return _to_updates(panels)


@gpu(INFERENCE_S)
def on_colourize_test(category, index, cnn_path, unet_path) -> dict:
    try:
        panels = colourize_test_panels(category, index, {"cnn": cnn_path, "unet": unet_path})
    except DataUnavailable as error:
        gr.Warning(f"No CIFAR-10 test images: {error}")
        return {"notes": f"**No CIFAR-10 test images:** {error}"}
    return _to_updates(panels)


def random_index(category: str) -> int:
    try:
        count = len(test_images(category))
    except DataUnavailable as error:
        gr.Warning(f"No CIFAR-10 test images: {error}")
        return 0
    return random.randrange(count)


@dataclass
class ColourizeTab:
    """What app.py needs to keep the checkpoint dropdowns fresh."""
    cnn_checkpoint: gr.Dropdown
    unet_checkpoint: gr.Dropdown
    checkpoint_notes: gr.Markdown

    def refresh_after(self, *events) -> None:
        """Re-list checkpoints after each event (a Dependency, e.g. a save) or trigger (e.g. demo.load)."""
        inputs = [self.cnn_checkpoint, self.unet_checkpoint]
        outputs = {"cnn_checkpoint": self.cnn_checkpoint, "unet_checkpoint": self.unet_checkpoint,
                   "checkpoint_notes": self.checkpoint_notes}
        refresh = named_outputs(refresh_checkpoints, outputs)
        for event in events:
            if hasattr(event, "then"):
                event.then(refresh, inputs, list(outputs.values()), show_progress="hidden")
            else:
                gr.on([event], refresh, inputs, list(outputs.values()), show_progress="hidden")


def build_colourize_tab() -> ColourizeTab:
    gr.Markdown("Colourization as classification: each pixel of a grey image gets one of 24 colours. "
                "The plain **CNN** and the **UNet** (same layers plus skip connections) run side by side. "
                "Uploads of any size come back at full resolution: the models run on a small copy and their "
                "colours are laid onto the photo's own brightness.")
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            with gr.Tab("Upload"):
                upload = uploaded_image(label="Your image (any size or mode)", sources=["upload", "clipboard"],
                                       height=240)
                with gr.Row():
                    class_map = gr.Checkbox(label="Raw 24-colour class map", value=False)
                    work_size = gr.Slider(32, 256, value=96, step=8, label="Model working size (long side, px)")
                upload_button = gr.Button("Colourize upload", variant="primary")
            with gr.Tab("CIFAR-10 test image"):
                category = gr.Dropdown(list(CIFAR10_CLASSES), value="horse", label="Category")
                index = gr.Slider(0, 999, value=0, step=1, label="Test image number")
                with gr.Row():
                    test_button = gr.Button("Colourize test image", variant="primary")
                    random_button = gr.Button("Random test image")
                gr.Markdown(cifar_notice("Test images"))
            choices, notes = checkpoint_choices_by_arch()
            cnn_checkpoint = gr.Dropdown(choices["cnn"], value=default_choice("cnn", choices["cnn"]),
                                         label="CNN checkpoint")
            unet_checkpoint = gr.Dropdown(choices["unet"], value=default_choice("unet", choices["unet"]),
                                          label="UNet checkpoint")
            refresh_button = gr.Button("Refresh checkpoint list", size="sm")
            checkpoint_notes = gr.Markdown("\n".join(f"- {note}" for note in notes))
        with gr.Column(scale=3):
            outputs = {}
            with gr.Row(equal_height=True):
                for name, title in (("grey", "Grey input"), ("cnn", "CNN"), ("unet", "UNet"),
                                    ("original", "Original colour")):
                    with gr.Column(min_width=160):
                        outputs[name] = gr.Image(label=title, show_label=False, format="png", interactive=False,
                                                 height=220)
                        outputs[f"{name}_caption"] = gr.Markdown(f"**{title}**")
            outputs["slider"] = gr.ImageSlider(label="Before / after — UNet", format="png", interactive=False,
                                               max_height=420)
            outputs["notes"] = gr.Markdown()

    shown = list(outputs.values())
    upload_inputs = [upload, cnn_checkpoint, unet_checkpoint, class_map, work_size]
    colourize_upload = named_outputs(on_colourize_upload, outputs)
    upload_button.click(colourize_upload, upload_inputs, shown)
    upload.upload(colourize_upload, upload_inputs, shown)
    test_inputs = [category, index, cnn_checkpoint, unet_checkpoint]
    colourize_test = named_outputs(on_colourize_test, outputs)
    test_button.click(colourize_test, test_inputs, shown)
    random_button.click(random_index, category, index).then(colourize_test, test_inputs, shown)
    tab = ColourizeTab(cnn_checkpoint, unet_checkpoint, checkpoint_notes)
    tab.refresh_after(refresh_button.click)
    return tab
