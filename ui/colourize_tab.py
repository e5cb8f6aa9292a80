"""Tab "Colourize": an upload or a CIFAR-10 test image through the handout's CNN and UNet and a
beyond-the-handout model, side by side, decoded as the reader chooses (mode, mean, annealed mean)."""
import functools
import random
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from colorizer import ARCH_NAMES, CIFAR10_CLASSES, load_category
from colorizer.hints import HintError, checked_hints
from colorizer.inference import DISPLAY_LONG_SIDE, prepare_photo
from colorizer.panels import Column, Panel, Panels, full_size_pngs, photo_panels, test_image_panels
from colorizer.pipeline import DEFAULT_DECODING, DEFAULT_TEMPERATURE, DEFAULT_WORK_SIZE, Settings
from pixelwise import limits
from pixelwise.checkpoints import CheckpointError
from pixelwise.errors import DataUnavailable
from pixelwise.images import ImageError, has_colour, load_rgb
from pixelwise.limits import OutOfRange, bounded
from pixelwise.settings import checkpoint_dir, cifar_root, hf_repo, shown_path
from pixelwise.tempfiles import request_dir
from pixelwise.zerogpu import INFERENCE_S, gpu
from runs.catalog import fetch_missing_checkpoints, list_checkpoints, load_colourizer
from ui.common import (cifar_notice, example_files, inference_device, named_outputs, shown_as_jpeg, upload_name,
                       uploaded_image)
from ui import hints_section
from ui.inspector import INSPECT_CLASS, add_inspect_api, build_inspector, model_chart

# The three model columns: which archs each lists, its title, and the checkpoint it defaults to.
SLOTS = {"cnn": (("cnn",), "CNN", "cnn.pt"),
         "unet": (("unet",), "UNet", "unet.pt"),
         "beyond": (("mobile_unet", "deep_unet"), "Beyond the handout", "colour_hints.pt")}
DECODING_CHOICES = [("mode (argmax, the handout's)", "mode"), ("mean", "mean"), ("annealed mean", "annealed")]
EXAMPLES = [("astronaut.jpg", "Astronaut"), ("rocket.jpg", "Rocket launch"), ("coffee.jpg", "Coffee"),
            ("chelsea_cat.jpg", "Cat"), ("camera_bw.jpg", "Cameraman (black and white)"),
            ("coins_bw.jpg", "Coins (black and white)")]


# ---------------------------------------------------------------- checkpoints

@functools.lru_cache(maxsize=4)
def _hub_notes(repo: str, folder: str) -> tuple[str, ...]:
    # Once per process: a fetch (or a failed one) is not repeated on every refresh.
    return tuple(fetch_missing_checkpoints(repo, folder))


def checkpoint_choices_by_slot() -> tuple[dict[str, list[tuple[str, str]]], list[str]]:
    """Dropdown choices per column, {slot: [(label, name)]}, and notes to show (hub fetches, unreadable files).
    Checkpoints are named (catalog.checkpoint_name), never by server path."""
    notes = []
    repo = hf_repo()
    if repo:
        notes += _hub_notes(repo, str(checkpoint_dir()))
    infos, problems = list_checkpoints()
    notes += [f"Skipped {problem}" for problem in problems]
    choices = {}
    for slot, (archs, title, default) in SLOTS.items():
        choices[slot] = [(info.label, info.name) for info in infos if info.arch in archs]
        if not choices[slot]:
            kinds = " or ".join(ARCH_NAMES[arch] for arch in archs)
            notes.append(f"No {title} checkpoint ({kinds}) in `{shown_path(checkpoint_dir())}`: train one with "
                         f"`python -m colorizer.train --model {archs[0]} --out checkpoints/{default}`"
                         + (" or in the Train live tab." if slot != "beyond" else " (see README.md)."))
    return choices, notes


def default_choice(slot: str, choices: list[tuple[str, str]], current: str | None = None) -> str | None:
    """Keep the current pick if it still exists, else the shipped default (e.g. unet.pt), else the first."""
    names = [name for _, name in choices]
    for candidate in (current, SLOTS[slot][2]):
        if candidate in names:
            return candidate
    return names[0] if names else None


def default_checkpoints() -> dict[str, str | None]:
    """Each column's default checkpoint name (what a fresh page shows)."""
    choices, _ = checkpoint_choices_by_slot()
    return {slot: default_choice(slot, choices[slot]) for slot in SLOTS}


def refresh_checkpoints(cnn_current: str | None = None, unet_current: str | None = None,
                        beyond_current: str | None = None) -> dict:
    choices, notes = checkpoint_choices_by_slot()
    current = {"cnn": cnn_current, "unet": unet_current, "beyond": beyond_current}
    updates = {f"{slot}_checkpoint": gr.update(choices=choices[slot], value=default_choice(slot, choices[slot], current[slot]))
               for slot in SLOTS}
    return {**updates, "checkpoint_notes": "\n".join(f"- {note}" for note in notes)}


# ---------------------------------------------------------------- the work (colorizer.panels does it)

def _columns(checkpoints: dict[str, str | None]) -> list[Column]:
    """Each chosen checkpoint (by name) loaded; one that cannot be loaded keeps its reason, so the other
    models still run."""
    columns, listed = [], list_checkpoints()[0]  # one walk of the checkpoint folders for every column
    for slot, name in checkpoints.items():
        title = SLOTS[slot][1]
        try:
            if not name:
                raise CheckpointError(f"no {title} checkpoint chosen")
            columns.append(Column(slot, title, name, load_colourizer(name, inference_device(), listed)))
        except CheckpointError as error:
            columns.append(Column(slot, title, name, None, str(error)))
    return columns


def colourize_upload_panels(image_path: str, checkpoints: dict[str, str | None], decoding: str = DEFAULT_DECODING,
                            temperature: float = DEFAULT_TEMPERATURE, class_map: bool = False,
                            work_size: int = DEFAULT_WORK_SIZE, hints: list | None = None) -> Panels:
    """Colourization of an uploaded file at its own resolution (shown at most DISPLAY_LONG_SIDE long; the full
    size is a download): decoded once, grey and lightness once for all models. Raises ImageError, naming the
    file as the person named it, for unusable files; HintError for unusable hints (upload pixel coordinates)."""
    photo = prepare_photo(image_path, DISPLAY_LONG_SIDE, name=upload_name(image_path))
    steer = checked_hints(hints, photo.full_size) if hints else None
    return photo_panels(photo, _columns(checkpoints), Settings(decoding, temperature, work_size), class_map, steer)


def full_size_files(image_path: str, checkpoints: dict[str, str | None], decoding: str = DEFAULT_DECODING,
                    temperature: float = DEFAULT_TEMPERATURE, work_size: int = DEFAULT_WORK_SIZE) -> list[str]:
    """Each chosen model's colour result at the upload's full size, as PNG files (colorizer.panels.full_size_pngs)."""
    name = upload_name(image_path)
    # request_dir: this request's own folder, so two people's same-sized pastes cannot overwrite each other
    files = full_size_pngs(image_path, _columns(checkpoints), request_dir(), Path(name).stem,
                           Settings(decoding, temperature, work_size), name, DISPLAY_LONG_SIDE)
    return [str(path) for path in files]


def test_images(category: str) -> np.ndarray:
    """N x 32 x 32 x 3 uint8 test images of a CIFAR-10 category (raises DataUnavailable)."""
    return load_category(category, cifar_root(), "test").numpy()


def colourize_test_panels(category: str, index: int, checkpoints: dict[str, str | None],
                          decoding: str = DEFAULT_DECODING, temperature: float = DEFAULT_TEMPERATURE) -> Panels:
    """Colourize one CIFAR-10 test image at its own 32 x 32 and score each model with the handout's metric
    (colorizer.panels.test_image_panels)."""
    images = test_images(category)
    index = int(index) % len(images)
    return test_image_panels(images[index], _columns(checkpoints), Settings(decoding, temperature), category, index)


# ---------------------------------------------------------------- Gradio glue

def _to_updates(panels: Panels) -> dict:
    """Images and captions for: grey, the three models, original (hidden without colour), slider, notes."""
    updates = {"grey": panels.grey, "grey_caption": "**Grey input** (what the models see)"}
    for slot, (_, title, _) in SLOTS.items():
        panel = panels.models.get(slot, Panel(title, None))
        updates |= {slot: panel.image, f"{slot}_caption": f"**{panel.label}**"}
    has_original = panels.original is not None
    # The slider compares the grey input with the most capable model that ran.
    best = next((panels.models[slot] for slot in ("beyond", "unet", "cnn")
                 if slot in panels.models and panels.models[slot].image is not None), None)
    return {**updates,
            "original": gr.update(value=panels.original, visible=has_original),
            "original_caption": gr.update(value="**Original colour**", visible=has_original),
            "slider": gr.update(value=(panels.grey, best.image) if best else None,
                                label=f"Before / after — {best.label}" if best else "Before / after"),
            "notes": "\n".join(f"- {note}" for note in panels.notes), "inspection": panels.snapshot()}


@gpu(INFERENCE_S)  # ZeroGPU Spaces lend the GPU per call; a no-op elsewhere
def on_colourize_upload(image_path, cnn, unet, beyond, decoding=DEFAULT_DECODING, temperature=DEFAULT_TEMPERATURE,
                        class_map=False, work_size=DEFAULT_WORK_SIZE, hints=None) -> dict:
    if not image_path:
        raise gr.Error("Upload an image first (any size; PNG, JPEG, TIFF, WebP...).")
    checkpoints = {"cnn": cnn, "unet": unet, "beyond": beyond}
    try:
        work_size = bounded(work_size, "Model working size", limits.WORK_SIZE)
        temperature = bounded(temperature, "Temperature", limits.TEMPERATURE, whole=False)
        panels = colourize_upload_panels(image_path, checkpoints, decoding, temperature, class_map, work_size, hints)
    except (ImageError, OutOfRange, HintError) as error:
        gr.Warning(str(error))
        return {"notes": f"**Could not use this file:** {error}"}  # the panels keep what they showed
    return _to_updates(panels)


@gpu(INFERENCE_S)
def on_full_size(image_path, cnn, unet, beyond, decoding=DEFAULT_DECODING, temperature=DEFAULT_TEMPERATURE,
                 work_size=DEFAULT_WORK_SIZE) -> list[str]:
    """Full-size PNGs of each model's colour result for an upload (the shown images are at most
    DISPLAY_LONG_SIDE long)."""
    if not image_path:
        raise gr.Error("Upload an image first.")
    try:
        work_size = bounded(work_size, "Model working size", limits.WORK_SIZE)
        temperature = bounded(temperature, "Temperature", limits.TEMPERATURE, whole=False)
        return full_size_files(image_path, {"cnn": cnn, "unet": unet, "beyond": beyond}, decoding, temperature,
                               work_size)
    except (ImageError, OutOfRange) as error:
        raise gr.Error(str(error)) from None


@gpu(INFERENCE_S)
def on_colourize_test(category, index, cnn, unet, beyond, decoding=DEFAULT_DECODING,
                      temperature=DEFAULT_TEMPERATURE) -> dict:
    try:
        index = bounded(index, "Test image number", limits.TEST_INDEX)
        temperature = bounded(temperature, "Temperature", limits.TEMPERATURE, whole=False)
        panels = colourize_test_panels(category, index, {"cnn": cnn, "unet": unet, "beyond": beyond},
                                       decoding, temperature)
    except DataUnavailable as error:
        gr.Warning(f"No CIFAR-10 test images: {error}")
        return {"notes": f"**No CIFAR-10 test images:** {error}"}
    except OutOfRange as error:
        gr.Warning(str(error))
        return {"notes": f"**{error}**"}
    return _to_updates(panels)


def random_index(category: str) -> int:
    try:
        count = len(test_images(category))
    except DataUnavailable as error:
        gr.Warning(f"No CIFAR-10 test images: {error}")
        return 0
    return random.randrange(count)


# ---------------------------------------------------------------- the public API (also MCP tools)

IMAGES = ("grey", "cnn", "unet", "beyond", "original")


def _answer(view: dict) -> tuple:
    """An endpoint's answer: the five images, then the whole view for the page (a gr.State, which the API
    and MCP leave out). An input that cannot be used raises gr.Error with the reason (the page keeps what it showed)."""
    if "grey" not in view:
        raise gr.Error(view.get("notes", "Nothing to show.").replace("**", ""))
    image = lambda value: value.get("value") if isinstance(value, dict) else value  # original: an update
    return (*(image(view[name]) for name in IMAGES), view)


def colourize(image: str, cnn_checkpoint: str | None = "cnn.pt", unet_checkpoint: str | None = "unet.pt",
              beyond_checkpoint: str | None = "colour_hints.pt", decoding: str = DEFAULT_DECODING,
              temperature: float = DEFAULT_TEMPERATURE, class_map: bool = False, work_size: float = DEFAULT_WORK_SIZE,
              hints: list | None = None):
    """Colourize a photo (any size or mode) with the handout's CNN and UNet and the beyond-the-handout model.

    Args:
        image: the photo; it comes back at its own resolution.
        cnn_checkpoint: name of a CNN checkpoint, e.g. "cnn.pt" (names are listed in the app's dropdowns).
        unet_checkpoint: name of a UNet checkpoint, e.g. "unet.pt".
        beyond_checkpoint: name of a beyond-the-handout checkpoint, e.g. "colour_hints.pt" (takes hints) or "colour_mobile_unet.pt".
        decoding: "mode" (argmax, the handout's), "mean", or "annealed" (annealed mean).
        temperature: T of the annealed mean (0.38 is Zhang et al.'s); ignored by the other decodings.
        class_map: show each model's raw classes (the mode) instead of colours.
        work_size: long side in pixels of the copy the models run on (32 to 256).
        hints: colour hints for a hint model in the beyond column (e.g. "colour_hints.pt"), a list of
            {"x": column, "y": row, "colour": "#rrggbb"} in the photo's own pixel coordinates (0, 0 top left);
            at most 200. Other models ignore them.

    Returns:
        The grey input, the CNN's, the UNet's and the beyond-the-handout model's colourization (with the
        hints marked), and the original (None when the photo had no colour); a model whose checkpoint is
        missing gives None.
    """
    return _answer(on_colourize_upload(image, cnn_checkpoint, unet_checkpoint, beyond_checkpoint, decoding,
                                       temperature, class_map, work_size, hints or None))


def colourize_test_image(category: str = "horse", index: float = 0, cnn_checkpoint: str | None = "cnn.pt",
                         unet_checkpoint: str | None = "unet.pt",
                         beyond_checkpoint: str | None = "colour_hints.pt", decoding: str = DEFAULT_DECODING,
                         temperature: float = DEFAULT_TEMPERATURE):
    """Colourize one 32 x 32 CIFAR-10 test image (shown 8x enlarged) with the three models.

    Args:
        category: a CIFAR-10 class, e.g. "horse".
        index: which test image of the category (0 to 999).
        cnn_checkpoint: name of a CNN checkpoint, e.g. "cnn.pt".
        unet_checkpoint: name of a UNet checkpoint, e.g. "unet.pt".
        beyond_checkpoint: name of a beyond-the-handout checkpoint, e.g. "colour_hints.pt" (takes hints) or "colour_mobile_unet.pt".
        decoding: "mode" (argmax, the handout's), "mean", or "annealed" (annealed mean).
        temperature: T of the annealed mean; ignored by the other decodings.

    Returns:
        The grey input, the three models' colourizations and the original colour image.
    """
    return _answer(on_colourize_test(category, index, cnn_checkpoint, unet_checkpoint, beyond_checkpoint,
                                     decoding, temperature))


def colourize_full_size(image: str, cnn_checkpoint: str | None = "cnn.pt", unet_checkpoint: str | None = "unet.pt",
                        beyond_checkpoint: str | None = "colour_hints.pt", decoding: str = DEFAULT_DECODING,
                        temperature: float = DEFAULT_TEMPERATURE, work_size: float = DEFAULT_WORK_SIZE) -> list[str]:
    """Each model's colourization of a photo as a PNG at the photo's own size (colourize shows at most 2000 px).

    Args:
        image: the photo.
        cnn_checkpoint: name of a CNN checkpoint, e.g. "cnn.pt".
        unet_checkpoint: name of a UNet checkpoint, e.g. "unet.pt".
        beyond_checkpoint: name of a beyond-the-handout checkpoint, e.g. "colour_hints.pt" (takes hints) or "colour_mobile_unet.pt".
        decoding: "mode", "mean" or "annealed".
        temperature: T of the annealed mean.
        work_size: long side in pixels of the copy the models run on.

    Returns:
        The PNG files, one per model that ran.
    """
    return on_full_size(image, cnn_checkpoint, unet_checkpoint, beyond_checkpoint, decoding, temperature, work_size)


def random_test_image(category, *chosen):
    """The "Random test image" button: a random index, colourized (a page action, not an endpoint)."""
    index = random_index(category)
    return (index, *colourize_test_image(category, index, *chosen))


def example_view(*inputs) -> dict:
    """An example's view without the original (see original_of), plain values only."""
    view = on_colourize_upload(*inputs)
    return {name: value.get("value") if isinstance(value, dict) else value for name, value in view.items()
            if not name.startswith("original") and name != "inspection"}


def original_of(image_path: str | None) -> dict:
    """The original panel for a photo: shown when it has colour, hidden otherwise."""
    rgb = load_rgb(image_path) if image_path else None
    shown = rgb is not None and has_colour(rgb)
    return {"original": gr.update(value=rgb if shown else None, visible=shown),
            "original_caption": gr.update(visible=shown), "inspection": None}  # no logits kept for examples


def show_view(view: dict | None) -> dict:
    """Everything but the images, for the page: captions, the original's visibility, the slider, notes."""
    return {name: value for name, value in (view or {}).items() if name not in IMAGES or name == "original"} | (
        {"original": gr.update(visible=view["original"]["visible"])} if view and "original" in view else {})


@dataclass
class ColourizeTab:
    """What app.py (and other features) need: the checkpoint dropdowns, and the shown images by name
    ("grey", "cnn", "unet", "beyond", "original")."""
    checkpoints: dict[str, gr.Dropdown]  # slot -> dropdown
    checkpoint_notes: gr.Markdown
    images: dict[str, gr.Image]

    def refresh_after(self, *events) -> None:
        """Re-list checkpoints after each event (a Dependency, e.g. a save) or trigger (e.g. demo.load)."""
        inputs = list(self.checkpoints.values())
        outputs = {f"{slot}_checkpoint": dropdown for slot, dropdown in self.checkpoints.items()}
        outputs["checkpoint_notes"] = self.checkpoint_notes
        refresh = named_outputs(refresh_checkpoints, outputs)
        for event in events:
            if hasattr(event, "then"):
                event.then(refresh, inputs, list(outputs.values()), show_progress="hidden", api_visibility="private")
            else:
                gr.on([event], refresh, inputs, list(outputs.values()), show_progress="hidden",
                      api_visibility="private")


def wire_hints(controls: "hints_section.HintControls", upload, beyond, outputs: dict, again: dict, show: dict) -> list:
    """A click on the Beyond picture picks a hint target; a suggested or picked colour adds a hint; remove, undo
    and clear change them; each change colourizes again (keeping the settings) and compares before and after.
    A new upload forgets the hints. Returns the events that make a new result."""
    h = controls
    named = lambda fn, names: (hints_section_outputs(fn, h, names))  # noqa: E731
    pick = named(hints_section.pick_pixel, ("target", "message", "suggestions", "style", "picker"))
    outputs["beyond"].select(pick[0], [outputs["inspection"], upload, beyond], pick[1], show_progress="hidden",
                             api_visibility="private")
    changes = [
        (h.suggestions.input, hints_section.add_hint, [h.hints, h.history, h.target, h.suggestions]),
        (h.add.click, hints_section.add_hint, [h.hints, h.history, h.target, h.picker]),
        (h.remove.input, hints_section.remove_hint, [h.hints, h.history, h.remove]),
        (h.undo.click, hints_section.undo_hint, [h.hints, h.history]),
        (h.clear.click, hints_section.clear_hints, [h.hints, h.history])]
    compare = named_outputs(lambda before, after, target: hints_section.compare(before, after, target, model_chart),
                            {"comparison": h.comparison, "entropy": h.entropy})
    events = []
    for trigger, handler, inputs in changes:
        fn, outs = named(handler, ("hints", "history", "remove", "message"))
        event = trigger(fn, inputs, outs, show_progress="hidden", api_visibility="private")
        event = event.then(lambda snapshot: snapshot, outputs["inspection"], h.before, api_visibility="private")
        event = event.then(**again).then(**show)
        event.then(compare, [h.before, outputs["inspection"], h.target], [h.comparison, h.entropy],
                   show_progress="hidden", api_visibility="private")
        events.append(event)
    fn, outs = named(hints_section.forget_hints, ("hints", "history", "target", "remove", "message", "suggestions",
                                                   "style"))
    events.append(upload.upload(fn, None, outs, show_progress="hidden", api_visibility="private")
                  .then(**again).then(**show))
    return events


def hints_section_outputs(handler, controls, names) -> tuple:
    """(the handler answering a list in ``names`` order, the components of those names)."""
    components = [getattr(controls, name) for name in names]
    return named_outputs(handler, dict(zip(names, components))), components


INTRO = ("Colourization as classification: each pixel of a grey image gets a colour class. The handout's "
         "plain **CNN** and **UNet** (24 RGB colours, trained on 5,000 CIFAR-10 horses) run beside a model "
         "**beyond the handout** (lightness in, Lab ab classes out, with Zhang et al.'s class rebalancing; "
         "by default the hint model, learned from real photos, which you can steer with a click). Uploads of any size come back at full resolution: the models run "
         "on a small copy and their colours are laid onto the photo's own lightness.")
OUTPUT_TITLES = (("grey", "Grey input"), ("cnn", "CNN"), ("unet", "UNet"), ("beyond", "Beyond the handout"),
                 ("original", "Original colour"))


def _upload_inputs() -> dict:
    """The Upload sub-tab: the photo, class map and working size, its buttons, the full-size files, and an
    empty column the examples fill once the outputs exist."""
    inputs = {"upload": uploaded_image(label="Your image (any size or mode)", sources=["upload", "clipboard"],
                                       height=240)}
    with gr.Row():
        inputs["class_map"] = gr.Checkbox(label="Raw class map (the mode's classes)", value=False)
        inputs["work_size"] = gr.Slider(*limits.WORK_SIZE, value=DEFAULT_WORK_SIZE, step=8,
                                        label="Model working size (long side, px)")
    inputs["upload_button"] = gr.Button("Colourize upload", variant="primary")
    inputs["full_size_button"] = gr.Button("Full-size PNGs", size="sm")
    inputs["full_size"] = gr.File(label="Full-size results (PNG)", file_count="multiple")
    inputs["examples"] = gr.Column()  # filled by _cached_examples, once the outputs exist
    return inputs


def _test_image_inputs() -> dict:
    """The CIFAR-10 test image sub-tab: category, index and its two buttons."""
    inputs = {"category": gr.Dropdown(list(CIFAR10_CLASSES), value="horse", label="Category"),
              "index": gr.Slider(0, 999, value=0, step=1, label="Test image number")}
    with gr.Row():
        inputs["test_button"] = gr.Button("Colourize test image", variant="primary")
        inputs["random_button"] = gr.Button("Random test image")
    gr.Markdown(cifar_notice("Test images"))
    return inputs


def _shared_inputs() -> dict:
    """Decoding, temperature and the three checkpoint dropdowns (every action uses them), with their notes."""
    with gr.Row():
        inputs = {"decoding": gr.Radio(DECODING_CHOICES, value=DEFAULT_DECODING, label="Decoding (every model)",
                                       info="mode: each pixel's most likely colour; mean: the expected colour; "
                                            "annealed mean: the mean of softmax(logits / T), in between"),
                  "temperature": gr.Slider(0.01, 1.0, value=DEFAULT_TEMPERATURE, step=0.01,
                                           label="Temperature T (annealed mean)")}
    choices, notes = checkpoint_choices_by_slot()
    inputs["checkpoints"] = {slot: gr.Dropdown(choices[slot], value=default_choice(slot, choices[slot]),
                                               label=f"{title} checkpoint") for slot, (_, title, _) in SLOTS.items()}
    inputs["refresh_button"] = gr.Button("Refresh checkpoint list", size="sm")
    inputs["checkpoint_notes"] = gr.Markdown("\n".join(f"- {note}" for note in notes))
    return inputs


def _outputs():
    """The five pictures with captions, the inspector and the hint controls under them, the before/after
    slider and the notes."""
    outputs = {}
    with gr.Row(equal_height=True):
        for name, title in OUTPUT_TITLES:
            with gr.Column(min_width=150):
                outputs[name] = shown_as_jpeg(gr.Image(label=title, show_label=False, interactive=False, height=200,
                                                       elem_id=f"colourize-{name}", elem_classes=INSPECT_CLASS))
                outputs[f"{name}_caption"] = gr.Markdown(f"**{title}**")
    outputs["inspection"] = gr.State(None)  # the last colourization's logits: clicks read them
    inspector = build_inspector(outputs["inspection"], elem_id="inspector-colourize")
    hint_controls = hints_section.build_hint_controls()
    outputs["slider"] = shown_as_jpeg(gr.ImageSlider(label="Before / after", interactive=False, max_height=420))
    outputs["notes"] = gr.Markdown()
    return outputs, inspector, hint_controls


def _wire_actions(inputs: dict, outputs: dict, inspector, hint_controls) -> list:
    """One public endpoint per action, answering images only; the captions, slider and notes follow in a
    private step from the view it leaves in a State. Returns the upload's inputs (the examples use them)."""
    view = gr.State()
    images = [outputs[name] for name in IMAGES]
    page = {name: component for name, component in outputs.items() if name not in IMAGES or name == "original"}
    show = dict(fn=named_outputs(show_view, page), inputs=view, outputs=list(page.values()),
                show_progress="hidden", api_visibility="private")
    checkpoints, upload, category, index = inputs["checkpoints"], inputs["upload"], inputs["category"], inputs["index"]
    chosen = [*checkpoints.values(), inputs["decoding"], inputs["temperature"]]
    upload_inputs = [upload, *chosen, inputs["class_map"], inputs["work_size"], hint_controls.hints]
    inputs["full_size_button"].click(colourize_full_size, [upload, *chosen, inputs["work_size"]], inputs["full_size"],
                                     api_name="colourize_full_size")
    again = dict(fn=colourize, inputs=upload_inputs, outputs=[*images, view], api_visibility="private")
    colourized = [
        inputs["upload_button"].click(colourize, upload_inputs, [*images, view], api_name="colourize").then(**show),
        *wire_hints(hint_controls, upload, checkpoints["beyond"], outputs, again, show),
        inputs["test_button"].click(colourize_test_image, [category, index, *chosen], [*images, view],
                                    api_name="colourize_test_image").then(**show),
        inputs["random_button"].click(random_test_image, [category, *chosen], [index, *images, view],
                                      api_visibility="private").then(**show)]
    inspector.watch(images)
    inspector.redraw_after(colourized)
    add_inspect_api(outputs["inspection"], lambda path: colourize_upload_panels(path, default_checkpoints()).snapshot())
    return upload_inputs


def _cached_examples(upload_inputs: list, outputs: dict, checkpoints: dict) -> None:
    """The example photos, answered once and cached. Gradio's example cache stores neither gr.update()s, nor
    an empty image, nor a State: the original and the inspector's state follow the cached answer privately."""
    defaults = [dropdown.value for dropdown in checkpoints.values()] + [DEFAULT_DECODING, DEFAULT_TEMPERATURE,
                                                                        False, DEFAULT_WORK_SIZE]
    cacheable = {name: component for name, component in outputs.items()
                 if not name.startswith("original") and name != "inspection"}
    # the hints (the last input) stay out of the examples: an example starts with none
    cached = gr.Examples([[path, *defaults] for path in example_files([name for name, _ in EXAMPLES])], upload_inputs[:-1],
                         list(cacheable.values()), named_outputs(example_view, cacheable), cache_examples=True,
                         cache_mode="lazy", example_labels=[label for _, label in EXAMPLES],
                         api_visibility="private",
                         label="Examples: one click, default settings (sources and licences: examples/README.md)")
    after = {name: outputs[name] for name in ("original", "original_caption", "inspection")}
    cached.cache_event.then(named_outputs(original_of, after), upload_inputs[0], list(after.values()),
                            api_visibility="private", show_progress="hidden")


def build_colourize_tab() -> ColourizeTab:
    gr.Markdown(INTRO)
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            with gr.Tab("Upload"):
                inputs = _upload_inputs()
            with gr.Tab("CIFAR-10 test image"):
                inputs |= _test_image_inputs()
            inputs |= _shared_inputs()
        with gr.Column(scale=3):
            outputs, inspector, hint_controls = _outputs()
    upload_inputs = _wire_actions(inputs, outputs, inspector, hint_controls)
    with inputs["examples"]:
        _cached_examples(upload_inputs, outputs, inputs["checkpoints"])
    tab = ColourizeTab(inputs["checkpoints"], inputs["checkpoint_notes"], {name: outputs[name] for name in IMAGES})
    tab.refresh_after(inputs["refresh_button"].click)
    return tab
