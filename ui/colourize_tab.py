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
from colorizer.panels import Column, Panel, Panels, Reference, full_size_pngs, photo_panels, test_image_panels
from colorizer.reference import ReferencePhotoError
from colorizer.pipeline import DEFAULT_DECODING, DEFAULT_TEMPERATURE, DEFAULT_WORK_SIZE, Settings
from pixelwise import limits
from pixelwise.checkpoints import CheckpointError
from pixelwise.errors import DataUnavailable
from pixelwise.images import ImageError
from pixelwise.limits import OutOfRange, bounded
from pixelwise.settings import REPO_ROOT, checkpoint_dir, cifar_root, downloads_max_age_s, hf_repo, shown_path
from pixelwise.tempfiles import request_dir
from pixelwise.zerogpu import quick_request
from runs.catalog import fetch_missing_checkpoints, list_checkpoints, load_colourizer
from ui.common import (UploadedPath, buttons_above_css, cifar_notice, clamped_js, example_buttons, example_path,
                       inference_device, named_outputs, notice, notice_box, plain, refusal, shown_as_jpeg, shown_files,
                       upload_name, uploaded_image)
from ui import hints_section, reference_section
from ui.inspector import INSPECT_CLASS, Inspector, add_inspect_api, build_inspector, model_chart

# The three model columns: which archs each lists, its title, and the checkpoint it defaults to.
SLOTS = {"cnn": (("cnn",), "CNN", "cnn.pt"),
         "unet": (("unet",), "UNet", "unet.pt"),
         "beyond": (("mobile_unet", "deep_unet"), "Beyond the handout", "colour_hints.pt")}
REFERENCE_SIDE = 256  # a reference photo is read this small: its palette is all that is used
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


def warm_up() -> None:
    """Check, load and run the default checkpoints once on an example photo (app.py, at start-up): the first
    person to colourize on a fresh app then waits ~0.15 s instead of ~3 s (the catalogue's checks of every
    checkpoint, the loads and the first passes), and a burst at start-up does not load them four times over."""
    colourize_upload_panels(str(REPO_ROOT / "examples" / EXAMPLES[0][0]), default_checkpoints())


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
                            work_size: int = DEFAULT_WORK_SIZE, hints: list | None = None,
                            kept: dict | None = None, scored: bool = True, reference: str | None = None,
                            reference_strength: float = 1.0) -> Panels:
    """Colourization of an uploaded file at its own resolution (shown at most DISPLAY_LONG_SIDE long; the full
    size is a download): decoded once, grey and lightness once for all models. Raises ImageError, naming the
    file as the person named it, for unusable files; HintError for unusable hints (upload pixel coordinates).
    ``kept``: the Panels.kept of this photo's last result (models whose logits still apply are not run);
    ``scored=False``: nothing for the pixel inspector (an API answer). ``reference``: a photo file whose palette
    the Beyond model follows, ``reference_strength`` of the way (ReferencePhotoError when it cannot be used)."""
    photo = prepare_photo(image_path, DISPLAY_LONG_SIDE, name=upload_name(image_path))
    steer = checked_hints(hints, photo.full_size) if hints else None
    return photo_panels(photo, _columns(checkpoints), Settings(decoding, temperature, work_size), class_map, steer,
                        kept, scored, reference_photo(reference, reference_strength))


def reference_photo(path: str | None, strength: float = 1.0) -> Reference | None:
    """A reference file for photo_panels (read at a small size: only its palette counts), or None."""
    if not path:
        return None
    try:
        strength = bounded(strength, "Reference strength", (0.0, 1.0), whole=False)
        photo = prepare_photo(path, REFERENCE_SIDE, name=upload_name(path))
    except ImageError as error:
        raise ReferencePhotoError(f"Could not use the reference photo: {error}") from None
    except OutOfRange as error:
        raise ReferencePhotoError(str(error)) from None
    return Reference(photo, str(path), strength)


def full_size_files(image_path: str, checkpoints: dict[str, str | None], decoding: str = DEFAULT_DECODING,
                    temperature: float = DEFAULT_TEMPERATURE, work_size: int = DEFAULT_WORK_SIZE,
                    hints: list | None = None, reference: str | None = None,
                    reference_strength: float = 1.0) -> list[str]:
    """Each chosen model's colour result at the upload's full size, as PNG files (colorizer.panels.full_size_pngs),
    with the hints and the reference shown."""
    name = upload_name(image_path)
    # request_dir: this request's own folder, so two people's same-sized pastes cannot overwrite each other
    files = full_size_pngs(image_path, _columns(checkpoints), request_dir(), Path(name).stem,
                           Settings(decoding, temperature, work_size), name, DISPLAY_LONG_SIDE, hints,
                           reference_photo(reference, reference_strength))
    return [str(path) for path in files]


def test_images(category: str) -> np.ndarray:
    """N x 32 x 32 x 3 uint8 test images of a CIFAR-10 category (raises DataUnavailable)."""
    return load_category(category, cifar_root(), "test").numpy()


def colourize_test_panels(category: str, index: int, checkpoints: dict[str, str | None],
                          decoding: str = DEFAULT_DECODING, temperature: float = DEFAULT_TEMPERATURE,
                          class_map: bool = False) -> Panels:
    """Colourize one CIFAR-10 test image at its own 32 x 32 and score each model with the handout's metric
    (colorizer.panels.test_image_panels)."""
    images = test_images(category)
    index = int(index) % len(images)
    return test_image_panels(images[index], _columns(checkpoints), Settings(decoding, temperature), category, index,
                             class_map)


# ---------------------------------------------------------------- handlers: a view by name, or why not

def _to_updates(panels: Panels) -> dict:
    """Images and captions for: grey, the three models, original (hidden without colour), slider, notes; and
    what a redraw reuses (the models' working-size logits)."""
    updates = {"grey": panels.grey, "grey_caption": "**Grey input** (what the models see)"}
    for slot, (_, title, _) in SLOTS.items():
        panel = panels.models.get(slot, Panel(title, None))
        updates |= {slot: panel.image, f"{slot}_caption": f"**{panel.label}**"}
    has_original = panels.original is not None
    # The slider compares the grey input with the most capable model that ran.
    best = next((slot for slot in ("beyond", "unet", "cnn")
                 if slot in panels.models and panels.models[slot].image is not None), None)
    label = f"Before / after — {panels.models[best].label}" if best else "Before / after"
    return {**updates, "best": best,
            "original": gr.update(value=panels.original, visible=has_original),
            "original_caption": gr.update(value="**Original colour**", visible=has_original),
            "slider": gr.update(value=(panels.grey, updates[best]) if best else None, label=label),
            "notes": "\n".join(f"- {note}" for note in panels.notes), "inspection": panels.snapshot(),
            "kept": panels.kept}


def _checked(work_size, temperature) -> tuple[int, float]:
    return (bounded(work_size, "Model working size", limits.WORK_SIZE),
            bounded(temperature, "Temperature", limits.TEMPERATURE, whole=False))


@quick_request  # ZeroGPU Spaces lend the GPU per call (a no-op elsewhere); trainings yield to it
def on_colourize_upload(image_path, cnn, unet, beyond, decoding=DEFAULT_DECODING, temperature=DEFAULT_TEMPERATURE,
                        class_map=False, work_size=DEFAULT_WORK_SIZE, hints=None, kept=None, scored=True,
                        reference=None, reference_strength=1.0) -> dict:
    """The view of an upload ({output name: value}, ``source`` saying what it shows), or {"refused": why}.
    ``scored=False``: without what the pixel inspector reads (the API's answer)."""
    if not image_path:
        return {"refused": "Upload an image first (any size; PNG, JPEG, TIFF, WebP...)."}
    checkpoints = {"cnn": cnn, "unet": unet, "beyond": beyond}
    try:
        work_size, temperature = _checked(work_size, temperature)
        panels = colourize_upload_panels(image_path, checkpoints, decoding, temperature, class_map, work_size, hints,
                                         kept, scored, reference, reference_strength)
    except ImageError as error:
        return {"refused": f"Could not use this file: {error}"}
    except (OutOfRange, HintError) as error:
        return {"refused": str(error)}
    name = upload_name(image_path)
    return {**_to_updates(panels), "source": {"upload": str(image_path), "name": name}, "stem": Path(name).stem}


@quick_request
def on_full_size(image_path, cnn, unet, beyond, decoding=DEFAULT_DECODING, temperature=DEFAULT_TEMPERATURE,
                 work_size=DEFAULT_WORK_SIZE, hints=None, reference=None, reference_strength=1.0) -> list[str]:
    """Full-size PNGs of each model's colour result for an upload (the shown images are at most
    DISPLAY_LONG_SIDE long), with the page's hints and reference photo when it has them."""
    if not image_path:
        raise refusal("Upload an image first.")
    try:
        work_size, temperature = _checked(work_size, temperature)
        return full_size_files(image_path, {"cnn": cnn, "unet": unet, "beyond": beyond}, decoding, temperature,
                               work_size, hints, reference, reference_strength)
    except (ImageError, OutOfRange, HintError) as error:
        raise refusal(plain(error)) from None


@quick_request
def on_colourize_test(category, index, cnn, unet, beyond, decoding=DEFAULT_DECODING,
                      temperature=DEFAULT_TEMPERATURE, class_map=False) -> dict:
    """The view of a CIFAR-10 test image, or {"refused": why}."""
    try:
        index = bounded(index, "Test image number", limits.TEST_INDEX)
        temperature = bounded(temperature, "Temperature", limits.TEMPERATURE, whole=False)
        panels = colourize_test_panels(category, index, {"cnn": cnn, "unet": unet, "beyond": beyond},
                                       decoding, temperature, class_map)
    except DataUnavailable as error:
        return {"refused": f"No CIFAR-10 test images: {error}"}
    except OutOfRange as error:
        return {"refused": str(error)}
    return {**_to_updates(panels), "source": {"test": [category, index]}, "stem": f"{category}_{index}"}


def on_redraw(view, cnn, unet, beyond, decoding=DEFAULT_DECODING, temperature=DEFAULT_TEMPERATURE, class_map=False,
              work_size=DEFAULT_WORK_SIZE, hints=None, reference=None, reference_strength=1.0) -> dict:
    """A control changed: what is shown drawn again with every control as it now is; the models whose
    checkpoint, working size and hints are unchanged are not run again (their kept logits are decoded anew).
    Nothing shown yet: nothing to do ({})."""
    source = (view or {}).get("source") or {}
    if "upload" in source:
        return on_colourize_upload(shown_upload(view), cnn, unet, beyond, decoding, temperature, class_map,
                                   work_size, hints, view.get("kept"), reference=reference,
                                   reference_strength=reference_strength)
    if "test" in source:
        return on_colourize_test(*source["test"], cnn, unet, beyond, decoding, temperature, class_map)
    return {}


def shown_upload(view: dict | None) -> UploadedPath | None:
    """The photo a view shows (its server path, which remembers the person's name for it); None for a test
    image or nothing."""
    source = (view or {}).get("source") or {}
    if "upload" not in source:
        return None
    path = UploadedPath(source["upload"])
    path.orig_name = source["name"]
    return path


def random_index(category: str) -> int | None:
    try:
        return random.randrange(len(test_images(category)))
    except DataUnavailable:
        return None


# ---------------------------------------------------------------- views as the page and the API take them

IMAGES = ("grey", "cnn", "unet", "beyond", "original")
PAGE = ("grey_caption", "cnn_caption", "unet_caption", "beyond_caption", "original", "original_caption", "slider",
        "notes", "inspection")  # what show_view sets after the pictures


def page_answer(view: dict) -> dict:
    """A handler's view for the page: the pictures as files named after the photo and model, the lean view
    (no pictures: captions, notes, the logits a click or a redraw reads) and a cleared notice; a refused
    input gives only its notice, and every panel keeps the last good result. Nothing to do: {}."""
    if "refused" in view:
        return {"notice": notice(view["refused"])}
    if "grey" not in view:
        return {}
    original = view["original"].get("value")
    files = shown_files({name: view[name] for name in IMAGES[:-1]} | {"original": original}, view["stem"])
    best = view["best"]
    slider = gr.update(value=(files["grey"], files[best]) if best else None, label=view["slider"]["label"])
    lean = {name: value for name, value in view.items() if name not in IMAGES}
    lean |= {"slider": slider, "original": gr.update(visible=original is not None)}
    return {**files, "view": lean, "notice": ""}


def show_view(view: dict | None) -> dict:
    """Everything but the pictures, for the page: captions, the original's visibility, the slider, notes and
    the inspector's logits."""
    return {name: view[name] for name in PAGE if name in (view or {})}


def _answer(view: dict) -> tuple:
    """An API endpoint's answer: the five pictures, nothing kept in the session (an API call has no page to
    redraw). An input that cannot be used raises gr.Error with the reason in plain words."""
    if "refused" in view:
        raise refusal(plain(view["refused"]))
    image = lambda value: value.get("value") if isinstance(value, dict) else value  # original: an update
    return tuple(image(view[name]) for name in IMAGES)


# ---------------------------------------------------------------- the public API (also MCP tools)

def colourize(image: str, cnn_checkpoint: str | None = "cnn.pt", unet_checkpoint: str | None = "unet.pt",
              beyond_checkpoint: str | None = "colour_hints.pt", decoding: str = DEFAULT_DECODING,
              temperature: float = DEFAULT_TEMPERATURE, class_map: bool = False, work_size: float = DEFAULT_WORK_SIZE,
              hints: list | None = None, reference: str | None = None, reference_strength: float = 1.0):
    """Colourize a photo (any size or mode) with the handout's CNN and UNet and the beyond-the-handout model.

    Result: five pictures, the grey input, the CNN's, the UNet's and the beyond-the-handout model's
    colourization (with the hints marked), and the original (None when the photo had no colour); a model whose
    checkpoint is missing gives None.

    Args:
        image: the photo (over MCP a data: URL, "data:image/png;base64,...", or a public https URL); it comes back at its own resolution.
        cnn_checkpoint: name of a CNN checkpoint, e.g. "cnn.pt" (names are listed in the app's dropdowns).
        unet_checkpoint: name of a UNet checkpoint, e.g. "unet.pt".
        beyond_checkpoint: name of a beyond-the-handout checkpoint, e.g. "colour_hints.pt" (takes hints) or "colour_mobile_unet.pt".
        decoding: "mode" (argmax, the handout's), "mean", or "annealed" (annealed mean).
        temperature: T of the annealed mean (0.38 is Zhang et al.'s); ignored by the other decodings.
        class_map: show each model's raw classes (the mode) instead of colours.
        work_size: long side in pixels of the copy the models run on (32 to 256).
        hints: colour hints for a hint model in the beyond column (e.g. "colour_hints.pt"): a list of {"x": column, "y": row, "colour": "#rrggbb", "reach": "object"} or strokes {"stroke": [[x, y], ...], "colour": "#rrggbb", "reach": "object"} in the photo's own pixel coordinates after its EXIF rotation (0, 0 top left), at most 200; "reach": "point" (the default: a small patch, which may tint the whole photo), "object" (the region the pixel or stroke lands on, and nothing outside it) or "larger"; a colour may also be CSS "lab(L a b)" (its ab is used exactly); other models ignore hints.
        reference: a colour photo whose palette the beyond model follows (global hints; a beyond checkpoint that takes none is replaced by "colour_reference.pt"); None: automatic colour.
        reference_strength: how far from automatic colour (0) to the reference's palette (1).
    """
    beyond_checkpoint = reference_section.reference_checkpoint_for(beyond_checkpoint, reference)
    return _answer(on_colourize_upload(image, cnn_checkpoint, unet_checkpoint, beyond_checkpoint, decoding,
                                       temperature, class_map, work_size, hints or None, scored=False,
                                       reference=reference or None, reference_strength=reference_strength))


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
        image: the photo (over MCP a data: URL, "data:image/png;base64,...", or a public https URL).
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


# ---------------------------------------------------------------- the page's own actions (private)

def page_new(image_path, cnn, unet, beyond, decoding, temperature, class_map, work_size, reference=None,
             reference_strength=1.0) -> dict:
    """An upload or an example: colourized with the current controls and no hints (the old hints were for
    another photo, and go once this one is shown); a reference's palette applies to any photo, so it stays."""
    answer = page_answer(on_colourize_upload(image_path, cnn, unet, beyond, decoding, temperature, class_map,
                                             work_size, reference=reference, reference_strength=reference_strength))
    return answer | (hints_section.forget_hints() if "view" in answer else {})


def page_test(category, index, cnn, unet, beyond, decoding, temperature, class_map) -> dict:
    answer = page_answer(on_colourize_test(category, index, cnn, unet, beyond, decoding, temperature, class_map))
    return answer | (hints_section.forget_hints() if "view" in answer else {})


def page_random(category, *chosen) -> dict:
    """The "Random test image" button: a random index, colourized."""
    index = random_index(category)
    if index is None:
        return page_test(category, 0, *chosen)  # says why there are none
    return {"index": index} | page_test(category, index, *chosen)


def page_redraw(view, cnn, unet, beyond, decoding, temperature, class_map, work_size, hints, reference=None,
                reference_strength=1.0) -> dict:
    return page_answer(on_redraw(view, cnn, unet, beyond, decoding, temperature, class_map, work_size, hints,
                                 reference, reference_strength))


def page_full_size(view, cnn, unet, beyond, decoding, temperature, work_size, hints=None, reference=None,
                   reference_strength=1.0) -> dict:
    """Full-size PNGs of the photo shown (not of a file the upload box holds but that was refused), with its
    hints and reference photo."""
    path = shown_upload(view)
    if path is None:
        return {"notice": notice("Full-size PNGs are made for uploads and examples: show one first.")}
    try:
        return {"full_size": on_full_size(path, cnn, unet, beyond, decoding, temperature, work_size, hints,
                                          reference, reference_strength), "notice": ""}
    except gr.Error as error:
        return {"notice": notice(error.message)}


@dataclass
class ColourizeTab:
    """What app.py (and other features) need: the checkpoint dropdowns, and the shown images by name
    ("grey", "cnn", "unet", "beyond", "original")."""
    checkpoints: dict[str, gr.Dropdown]  # slot -> dropdown
    checkpoint_notes: gr.Markdown
    images: dict[str, gr.Image]
    first_example: dict  # the listener's arguments that colourize the first example (show_example_on)
    own_choices: list  # a person's own picks (upload, example, test image, its number or category moved): each
    # cancels the first example
    show: dict  # the listener's arguments that show the rest of a result (_wire_page)
    inspector: Inspector

    def show_example_on(self, trigger) -> None:
        """On ``trigger`` (app.py: demo.load), the first example colourized as its button does, and the
        inspector's maps drawn for it."""
        first = trigger(**self.first_example)
        for choice in self.own_choices:  # else a photo uploaded as the page opens is replaced by the example
            choice(None, cancels=[first], api_visibility="private")
        self.inspector.redraw_after([first.then(**self.show)])

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


def wire_hint_targets(controls: "hints_section.HintControls", outputs: dict, beyond) -> None:
    """A click on the Beyond picture, or a stroke dragged across its drawing copy (kept as the picture is, in draw
    mode), picks the next hint's target; what it reaches is laid over the Beyond picture, and follows the reach."""
    h = controls
    named = lambda fn, names: (hints_section_outputs(fn, h, names))  # noqa: E731
    picked = ("target", "message", "suggestions", "style", "picker", "region", "photo")
    pick = named(pick_hint_target, picked)
    outputs["beyond"].select(pick[0], [outputs["inspection"], outputs["view"], beyond, h.photo, h.reach], pick[1],
                             show_progress="hidden", api_visibility="private")
    stroke = named(pick_hint_stroke, (*picked, "painted"))
    h.draw.input(stroke[0], [outputs["inspection"], outputs["view"], beyond, h.photo, h.draw, h.painted, h.reach],
                 stroke[1], show_progress="hidden", api_visibility="private", trigger_mode="always_last")
    copy = named(hints_section.drawing_copy, ("draw", "painted"))
    for trigger in (h.pick.change, outputs["beyond"].change):  # drawn on the Beyond picture as it now is
        trigger(copy[0], [h.pick, outputs["beyond"]], copy[1], show_progress="hidden", api_visibility="private",
                preprocess=False)  # the picture's file, not decoded (drawing_copy)
    region = named(hints_section.show_region, ("region",))
    h.reach.change(region[0], [h.photo, outputs["inspection"], beyond, h.target, h.reach], region[1],
                   show_progress="hidden", api_visibility="private")
    for trigger in (h.region.change, outputs["beyond"].change):  # the region laid over the Beyond picture
        trigger(None, h.region, None, js=hints_section.REGION_OVERLAY_JS, api_visibility="private")


def wire_hints(controls: "hints_section.HintControls", outputs: dict, beyond, redraw: dict, show: dict) -> list:
    """The next hint's target picked (wire_hint_targets); a suggested or picked colour adds a hint; remove, undo
    and clear change them; each change draws the result again (keeping the settings; only the hint model runs)
    and compares before and after; an event that changes nothing redraws nothing. Returns the events that make
    a new result."""
    h = controls
    named = lambda fn, names: (hints_section_outputs(fn, h, names))  # noqa: E731
    wire_hint_targets(h, outputs, beyond)
    changes = [
        (h.suggestions.input, hints_section.add_hint, [h.hints, h.history, h.target, h.suggestions, h.reach]),
        (h.add.click, hints_section.add_hint, [h.hints, h.history, h.target, h.picker, h.reach]),
        (h.remove.input, hints_section.remove_hint, [h.hints, h.history, h.remove]),
        (h.undo.click, hints_section.undo_hint, [h.hints, h.history]),
        (h.clear.click, hints_section.clear_hints, [h.hints, h.history])]
    compare = named_outputs(lambda before, after, target: hints_section.compare(before, after, target, model_chart),
                            {"comparison": h.comparison, "entropy": h.entropy})
    def when_changed(fn, first_output):
        """fn, run only after a hint event that changed the hints (else its first output is left as it is)."""
        return lambda changed, *args: fn(*args) if changed else {first_output: gr.skip()}

    gated_redraw = dict(redraw, inputs=[h.changed, *redraw["inputs"]], js=None,
                        fn=when_changed(redraw["fn"], redraw["outputs"][0]))
    events = []
    for trigger, handler, inputs in changes:
        fn, outs = named(handler, ("hints", "history", "remove", "message", "changed", "region"))
        event = trigger(fn, inputs, outs, show_progress="hidden", api_visibility="private")
        event = event.then(when_changed(lambda snapshot: {h.before: snapshot}, h.before),
                           [h.changed, outputs["inspection"]], h.before, api_visibility="private")
        event = event.then(**gated_redraw).then(**show)
        event.then(when_changed(compare, h.comparison), [h.changed, h.before, outputs["inspection"], h.target],
                   [h.comparison, h.entropy], show_progress="hidden", api_visibility="private")
        events.append(event)
    return events


def wire_reference(controls: "reference_section.ReferenceControls", inputs: dict, outputs: dict, redraw: dict,
                   show: dict) -> list:
    """An example, the Beyond picture or Clear sets the reference photo; a new reference (or an upload of one)
    and a strength change draw the photo again (switching Beyond to the reference model when the chosen one
    takes no reference) and show the palette. Returns the events that make a new result."""
    c, beyond = controls, inputs["checkpoints"]["beyond"]
    c.examples.click(named_outputs(lambda index: reference_section.example_reference(index, EXAMPLES),
                                   {"reference": c.photo}), c.examples, c.photo, api_visibility="private")
    c.take_beyond.click(named_outputs(reference_section.beyond_as_reference, {"reference": c.photo}), outputs["beyond"],
                        c.photo, api_visibility="private")
    c.clear.click(lambda: None, None, c.photo, api_visibility="private")
    results = {name: outputs[name] for name in (*IMAGES, "view", "notice")}
    apply = named_outputs(page_reference, results | {"beyond_checkpoint": beyond, "strip": c.strip})
    outs = [*results.values(), beyond, c.strip]
    return [trigger(apply, redraw["inputs"], outs, api_visibility="private").then(**show)
            for trigger in (c.photo.change, c.strength.release)]


def page_reference(view, cnn, unet, beyond, decoding, temperature, class_map, work_size, hints, reference=None,
                   reference_strength=1.0) -> dict:
    """A new reference or strength: the Beyond checkpoint that takes it, the photo drawn again, the palette shown."""
    beyond = reference_section.reference_checkpoint_for(beyond, reference)
    answer = page_redraw(view, cnn, unet, beyond, decoding, temperature, class_map, work_size, hints, reference,
                         reference_strength)
    return answer | {"beyond_checkpoint": beyond, "strip": reference_section.palette_strip(reference, beyond)}


def pick_hint_target(snapshot, view, beyond, photo, reach, event: gr.SelectData) -> dict:
    """hints_section.pick_pixel on the photo shown (not on a file the upload box holds but that was refused)."""
    return hints_section.pick_pixel(snapshot, shown_upload(view), beyond, event, photo, reach)


def pick_hint_stroke(snapshot, view, beyond, photo, drawing, painted, reach) -> dict:
    """hints_section.pick_stroke on the photo shown."""
    return hints_section.pick_stroke(snapshot, shown_upload(view), beyond, drawing, painted, photo, reach)


def hints_section_outputs(handler, controls, names) -> tuple:
    """(the handler answering a list in ``names`` order, the components of those names)."""
    components = [getattr(controls, name) for name in names]
    return named_outputs(handler, dict(zip(names, components))), components


INTRO = ("Colourization as classification: each pixel of a grey image gets a colour class. The handout's "
         "plain **CNN** and **UNet** (24 RGB colours, trained on 5,000 CIFAR-10 horses) run beside a model "
         "**beyond the handout** (lightness in, Lab ab classes out, with Zhang et al.'s class rebalancing; "
         "by default the hint model, learned from real photos, which you can steer with a click). Uploads of any "
         "size come back at full resolution: the models run on a small copy and their colours are laid onto the "
         "photo's own lightness. Every setting redraws what is shown at once.")
OUTPUT_TITLES = (("grey", "Grey input"), ("cnn", "CNN"), ("unet", "UNet"), ("beyond", "Beyond the handout"),
                 ("original", "Original colour"))
# The pictures' buttons sit in a strip above each picture (ui.common.buttons_above_css), and the five columns line
# up: each picture's box keeps its height (200 px) instead of growing by what a shorter caption leaves (the
# pictures, centred in boxes 200 to 234 px high, sat at five heights).
TAB_CSS = buttons_above_css("#colourize-pictures .pw-inspect") + """
#colourize-pictures .pw-inspect { flex-grow: 0 !important; }
"""
# An example's result: if the pictures are out of view (a narrow window stacks them under the controls),
# bring them into view; where they are in view already, nothing moves.
SHOW_RESULTS_JS = """() => { const el = document.querySelector('#colourize-pictures');
  if (!el) return; const box = el.getBoundingClientRect();
  if (box.top < 0 || box.top > window.innerHeight - 120) el.scrollIntoView({block: 'start'}); }"""


def _upload_inputs() -> dict:
    """The Upload sub-tab: the examples first (seen before anything is scrolled), the photo, the working size,
    and the full-size files."""
    inputs = {"examples": example_buttons(EXAMPLES, "colourize-example-buttons")}
    inputs["upload"] = uploaded_image(label="Your photo (any size)",
                                      sources=["upload", "clipboard"], height=200)
    inputs["work_size"] = gr.Slider(*limits.WORK_SIZE, value=DEFAULT_WORK_SIZE, step=8,
                                    label="Model working size (long side, px)")
    inputs["full_size_button"] = gr.Button("Full-size PNGs", size="sm")
    inputs["full_size"] = gr.File(label="Full-size results (PNG)", file_count="multiple")
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
    """Decoding, temperature, class map and the three checkpoint dropdowns (each redraws what is shown), with
    their notes."""
    inputs = {"decoding": gr.Radio(DECODING_CHOICES, value=DEFAULT_DECODING, label="Decoding (every model)",
                                   info="mode: each pixel's most likely colour; mean: the expected colour; "
                                        "annealed mean: the mean of softmax(logits / T), in between"),
              "temperature": gr.Slider(0.01, 1.0, value=DEFAULT_TEMPERATURE, step=0.01,
                                       label="Temperature T (annealed mean)"),
              "class_map": gr.Checkbox(label="Raw class map (the mode's classes)", value=False)}
    choices, notes = checkpoint_choices_by_slot()
    inputs["checkpoints"] = {slot: gr.Dropdown(choices[slot], value=default_choice(slot, choices[slot]),
                                               label=f"{title} checkpoint") for slot, (_, title, _) in SLOTS.items()}
    inputs["refresh_button"] = gr.Button("Refresh checkpoint list", size="sm")
    inputs["checkpoint_notes"] = gr.Markdown("\n".join(f"- {note}" for note in notes))
    return inputs


def _outputs():
    """The notice, the five pictures with captions, the hint controls right under them, the inspector, the
    reference colours, what the last hint changed, the before/after slider and the notes."""
    outputs = {"notice": notice_box("colourize-notice")}
    with gr.Row(equal_height=True, elem_id="colourize-pictures"):
        for name, title in OUTPUT_TITLES:
            with gr.Column(min_width=150):
                outputs[name] = shown_as_jpeg(gr.Image(label=title, show_label=False, interactive=False, height=200,
                                                       buttons=["download", "fullscreen"],
                                                       elem_id=f"colourize-{name}", elem_classes=INSPECT_CLASS))
                outputs[f"{name}_caption"] = gr.Markdown(f"**{title}**")
    # both kept for an hour after their last change, like the files they name (ui/segment_tab.py says why)
    outputs["view"] = gr.State(time_to_live=downloads_max_age_s())  # what is shown, without its pictures: captions, notes, the logits a redraw reuses
    outputs["inspection"] = gr.State(None, time_to_live=downloads_max_age_s())  # the last colourization's logits: clicks read them
    hint_controls = hints_section.build_hint_controls()  # right under the pictures: picking and seeing, no scrolling
    inspector = build_inspector(outputs["inspection"], elem_id="inspector-colourize")
    outputs["reference_controls"] = reference_section.build_reference_controls(EXAMPLES)
    hints_section.build_hint_comparison(hint_controls)
    outputs["slider"] = shown_as_jpeg(gr.ImageSlider(label="Before / after", interactive=False, max_height=420,
                                                              elem_id="colourize-slider"))
    outputs["notes"] = gr.Markdown()
    return outputs, inspector, hint_controls


def _wire_api(inputs: dict, outputs: dict, hints: gr.JSON, reference: "reference_section.ReferenceControls") -> None:
    """The public endpoints (also MCP tools), on hidden buttons: they answer the pictures, or gr.Error with the
    reason. The page's own events are private (_wire_page) and answer a refusal with one notice."""
    images = [outputs[name] for name in IMAGES]
    chosen = [*inputs["checkpoints"].values(), inputs["decoding"], inputs["temperature"]]
    upload, work_size = inputs["upload"], inputs["work_size"]
    with gr.Row(visible=False):
        buttons = [gr.Button(visible=False) for _ in range(3)]
    buttons[0].click(colourize, [upload, *chosen, inputs["class_map"], work_size, hints, reference.photo,
                                 reference.strength], images, api_name="colourize")
    buttons[1].click(colourize_test_image, [inputs["category"], inputs["index"], *chosen], images,
                     api_name="colourize_test_image")
    buttons[2].click(colourize_full_size, [upload, *chosen, work_size], inputs["full_size"],
                     api_name="colourize_full_size")
    add_inspect_api(outputs["inspection"], lambda path: colourize_upload_panels(path, default_checkpoints()).snapshot())


FORGOTTEN = ("hints", "history", "target", "remove", "message", "suggestions", "style", "region",
             "photo")  # hints_section.forget_hints


def _wire_page(inputs: dict, outputs: dict, h, examples, reference) -> tuple[list, dict, dict, dict]:
    """Upload, example, test image and every control: each answers pictures, view and notice (page_answer),
    then the rest of the page from the view (show_view). Returns those events, the redraw and the show step."""
    results = {name: outputs[name] for name in (*IMAGES, "view", "notice")}
    forgets = results | {name: getattr(h, name) for name in FORGOTTEN}
    step = lambda handler, outs: dict(fn=named_outputs(handler, outs), outputs=list(outs.values()),  # noqa: E731
                                      api_visibility="private")
    page = {name: outputs[name] for name in PAGE}
    show = dict(fn=named_outputs(show_view, page), inputs=outputs["view"], outputs=list(page.values()),
                show_progress="hidden", api_visibility="private")
    chosen = [*inputs["checkpoints"].values(), inputs["decoding"], inputs["temperature"], inputs["class_map"]]
    referenced = [reference.photo, reference.strength]  # a reference stays for the next photo
    own = gr.State({"picked": False})  # whether the person picked a photo themselves (page_first_example)
    new = dict(inputs=[own, inputs["upload"], *chosen, inputs["work_size"], *referenced],
               **step(own_pick(page_new), forgets))
    example = dict(inputs=[own, examples, *chosen, inputs["work_size"], *referenced],
                   **step(own_pick(page_example), forgets | {"upload": inputs["upload"]}))
    test = [inputs["category"], inputs["index"], *chosen]
    moved = [own, *test]  # the slider or the category moved: a person's own pick too (page_first_example)
    events = [inputs["upload"].upload(**new), examples.click(**example),
              inputs["test_button"].click(inputs=[own, *test], **step(own_pick(page_test), forgets)),
              gr.on(test_image_moves(inputs), inputs=moved, js=clamped_js(moved), trigger_mode="always_last",
                    **step(own_pick(page_test), forgets)),
              inputs["random_button"].click(inputs=[own, inputs["category"], *chosen],
                                            **step(own_pick(page_random), forgets | {"index": inputs["index"]}))]
    redraw_inputs = [outputs["view"], *chosen, inputs["work_size"], h.hints, *referenced]
    redraw = dict(inputs=redraw_inputs, js=clamped_js(redraw_inputs), **step(page_redraw, results))
    for control in (*inputs["checkpoints"].values(), inputs["decoding"], inputs["temperature"],
                    inputs["class_map"], inputs["work_size"]):
        events.append(control.change(**redraw))
    examples.click(None, js=SHOW_RESULTS_JS)
    size_inputs = [outputs["view"], *chosen[:-1], inputs["work_size"], h.hints, *referenced]
    inputs["full_size_button"].click(inputs=size_inputs, **step(page_full_size, {"full_size": inputs["full_size"],
                                                                                 "notice": outputs["notice"]}))
    first = dict(inputs=[own, *chosen, inputs["work_size"]], **step(page_first_example, forgets))
    return [event.then(**show) for event in events], redraw, show, first


def test_image_moves(inputs: dict) -> list:
    """The triggers of a person's own move to another test image: the number slider (released, or typed in) and
    the category (not .change: the Random button sets the number too, and is a pick of its own)."""
    return [inputs["index"].release, inputs["index"].input, inputs["category"].input]


def page_example(index, *chosen) -> dict:
    """An example button: its photo in the upload box, colourized as an upload (page_new)."""
    path = example_path(EXAMPLES, index)
    return {"upload": path} | page_new(path, *chosen)


def page_first_example(own: dict, *chosen) -> dict:
    """The first example, as the page opens (its panels were blank until an example was clicked), shown as its
    button shows it but left out of the upload box; nothing when the person picked a photo of their own
    (``own``, own_pick: an upload, an example, a test image, its number or category moved) before it ran or
    while it ran. Cancelling it from the page was not enough (issue 29): its
    answer put the example into the upload box while a person's file was still on its way there, and the upload
    then either sent the example or never fired; and a pick made before the page sent it (its load events wait
    for every component) was replaced by the example the queue ran after it."""
    if own.get("picked"):
        return {}
    answer = page_new(example_path(EXAMPLES, 0), *chosen)
    return {} if own.get("picked") else answer


def own_pick(handler):
    """``handler`` for a person's own pick (an upload, an example, a test image or a move of its number or
    category), taking the page's ``own`` state
    first: it notes the pick there, in the session, at once, so that the first example leaves the page to it."""
    def picked(own: dict, *args):
        own["picked"] = True
        return handler(*args)
    picked.__name__ = handler.__name__
    return picked


def build_colourize_tab() -> ColourizeTab:
    gr.Markdown(INTRO)
    gr.HTML(f"<style>{TAB_CSS}</style>", padding=False)
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            with gr.Tab("Upload"):
                inputs = _upload_inputs()
            with gr.Tab("CIFAR-10 test image"):
                inputs |= _test_image_inputs()
            inputs |= _shared_inputs()
        with gr.Column(scale=3):
            outputs, inspector, hint_controls = _outputs()
    reference = outputs.pop("reference_controls")
    _wire_api(inputs, outputs, hint_controls.hints, reference)
    shown, redraw, show, first = _wire_page(inputs, outputs, hint_controls, inputs["examples"], reference)
    shown += wire_hints(hint_controls, outputs, inputs["checkpoints"]["beyond"], redraw, show)
    shown += wire_reference(reference, inputs, outputs, redraw, show)
    inspector.watch([outputs[name] for name in IMAGES])
    inspector.redraw_after(shown)
    tab = ColourizeTab(inputs["checkpoints"], inputs["checkpoint_notes"], {name: outputs[name] for name in IMAGES},
                       first, [inputs["upload"].upload, inputs["examples"].click, inputs["test_button"].click,
                               inputs["random_button"].click, *test_image_moves(inputs)], show, inspector)
    tab.refresh_after(inputs["refresh_button"].click)
    return tab
