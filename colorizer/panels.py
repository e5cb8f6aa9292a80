"""Several colourizers side by side on one photo or one CIFAR-10 test image: what the Colourize tab shows
(``Panels``), made through the one pipeline (colorizer.pipeline) with one ``Settings`` for every model.
No Gradio: the tab and its API turn Panels into pictures and captions; the inspector reads ``snapshot``."""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .hints import Hint, checked_hints, mark_hints
from pixelwise.perpixel import Scores, Snapshot
from pixelwise.pictures import enlarge

from .inference import PreparedPhoto, grey_of, grey_to_rgb, prepare_photo
from .pipeline import Colourizer, Settings, accuracy

TEST_IMAGE_ZOOM = 8  # 32 x 32 test images are shown 256 x 256, pixels kept crisp


REFERENCE_CHECKPOINT = "colour_reference.pt"  # the shipped model with the global-hint branch


@dataclass(frozen=True)
class Reference:
    """A reference photo for the panels: the photo, what names it (so kept logits know it), how strongly it counts."""
    photo: PreparedPhoto
    key: str
    strength: float = 1.0


@dataclass(frozen=True)
class Column:
    """One model column: its key ("cnn", "unet", "beyond"), title, checkpoint name, and the loaded
    colourizer, or None with the reason it could not be loaded."""
    key: str
    title: str
    name: str | None
    colourizer: Colourizer | None
    problem: str = ""

    @property
    def label(self) -> str:
        return f"{self.title} ({self.name})"


@dataclass
class Panel:
    label: str
    image: np.ndarray | None
    scores: Scores | None = None  # the logits behind the picture, for the pixel inspector


@dataclass
class Panels:
    """What the tab shows: grey input, one panel per model column, the original when it had colour."""
    grey: np.ndarray
    models: dict[str, Panel] = field(default_factory=dict)  # column key ("cnn", "unet", "beyond") -> panel
    original: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    source: str = ""  # what was colourized, for the inspector's title
    # column key -> (what made them: checkpoint, working size, hints; the working-size logits): what a redraw
    # with another decoding reuses (photo_panels' ``kept``). References, not copies, of the inspector's logits.
    kept: dict[str, tuple[tuple, torch.Tensor]] = field(default_factory=dict)

    def snapshot(self) -> Snapshot:
        """What a click on the pictures reads: every model's logits and the pictures' size."""
        models = {key: panel.scores for key, panel in self.models.items() if panel.scores is not None}
        return Snapshot(models, shown=self.grey.shape[1::-1], source=self.source)

    def loaded(self, columns: list[Column]) -> list[Column]:
        """The columns whose model loaded; the others get an 'unavailable' panel and a note."""
        for column in columns:
            if column.colourizer is None:
                self.models[column.key] = Panel(f"{column.title}: unavailable", None)
                self.notes.append(f"{column.title}: {column.problem}")
        return [column for column in columns if column.colourizer is not None]


def photo_panels(photo: PreparedPhoto, columns: list[Column], settings: Settings = Settings(),
                 class_map: bool = False, hints: list[Hint] | None = None,
                 kept: dict[str, tuple[tuple, torch.Tensor]] | None = None, scored: bool = True,
                 reference: "Reference | None" = None) -> Panels:
    """Each model on one prepared photo at the photo's own (prepared) size: colour on its lightness, or the
    raw class map; the grey and the lightness are made once for all models. ``hints`` (in the upload's own
    pixel coordinates) steer the hint models, and are marked on their pictures. ``kept``: an earlier
    Panels.kept of this photo; a model whose checkpoint, working size and hints are unchanged is not run
    again, its logits are decoded anew (a decoding, temperature or class-map change). ``scored=False``: no
    Scores for the pixel inspector (an API answer has no page to click; ~12% of a 512² request's work).
    ``reference``: a photo whose palette the models with the global branch follow (colorizer.reference)."""
    width, height = photo.full_size
    panels = Panels(grey=photo.grey_rgb, original=photo.rgb if photo.has_colour else None,
                    source=f"upload {width}×{height}")
    for column in panels.loaded(columns):
        taken = steering(column.colourizer, hints, reference)
        steered, referenced = "hints" in taken, "reference" in taken
        made_with = (column.name, settings.work_size, tuple(hints) if steered else ()) + (
            (reference.key, reference.strength) if referenced else ())
        earlier = (kept or {}).get(column.key)
        reused = earlier[1] if earlier is not None and earlier[0] == made_with else None
        result = column.colourizer.run(photo, settings, logits=reused, **taken)
        panels.kept[column.key] = (made_with, result.logits)
        kind = "class map (mode)" if class_map else settings.describe()
        truth = photo.small(result.work_size) if photo.has_colour else None  # the copy the model saw: no new work
        picture = result.class_map if class_map else result.colour
        if steered:
            picture = mark_hints(picture, hints, photo.full_size)
            kind += f", {len(hints)} hint{'s' if len(hints) > 1 else ''}"
        if referenced:
            kind += f", reference colours at {reference.strength:.0%}"
        elif reference is not None:
            panels.notes.append(f"{column.title}: {column.name} takes no reference colours; choose "
                                f"{REFERENCE_CHECKPOINT} for them.")
        panels.models[column.key] = Panel(f"{column.label} · {kind}, {width}×{height}", picture,
                                          column.colourizer.scores(column.label, result.logits, truth) if scored else None)
        panels.notes.append(f"{column.title} ran at {result.work_size[0]}×{result.work_size[1]}; "
                            f"its colours were put on the original {width}×{height} lightness.")
    if photo.size != photo.full_size:
        panels.notes.append(f"Shown at {photo.size[0]}×{photo.size[1]}; **Full-size PNGs** makes the "
                            f"{width}×{height} results.")
    if panels.original is None:
        panels.notes.append("The upload has no colour, so there is no original to compare with.")
    return panels


def test_image_panels(rgb: np.ndarray, columns: list[Column], settings: Settings = Settings(),
                      category: str = "", index: int = 0, class_map: bool = False) -> Panels:
    """Each model on one 32 x 32 test image at its own size, scored with the handout's metric: the shown
    colours and the truth mapped to the nearest colour of a handout palette (its own for the handout
    models, the first handout model's for Lab models), share of pixels that agree."""
    zoom = lambda image: enlarge(image, TEST_IMAGE_ZOOM)
    panels = Panels(grey=zoom(grey_to_rgb(grey_of(rgb))), original=zoom(rgb),
                    source=f"CIFAR-10 test {category} #{index}")
    reference = None  # a handout palette, to score Lab models with
    for column in panels.loaded(columns):
        colourizer = column.colourizer
        reference = colourizer.palette if reference is None and not colourizer.is_lab else reference
        result = colourizer.run_small(rgb, settings)
        kind, picture = (("class map (mode)", colourizer.class_map(result.logits)) if class_map
                         else (settings.describe(), result.colour))
        own = colourizer.own_reference(reference)  # the shown picture is scored: the class map's when shown
        score = (f"pixel accuracy {100 * accuracy(picture, rgb, own):.1f}%" if own is not None
                 else "no handout palette to score with")
        panels.models[column.key] = Panel(f"{column.label} · {kind} · {score}", zoom(picture),
                                          colourizer.scores(column.label, result.logits, rgb))
    panels.notes.append(f"CIFAR-10 test image {category} #{index}, 32×32, shown {TEST_IMAGE_ZOOM}× enlarged; "
                        "pixel accuracy = share of pixels whose shown colour and true colour have the same nearest "
                        "handout palette colour (the mode's accuracy is the handout's metric).")
    return panels


def full_size_pngs(image, columns: list[Column], folder: Path, stem: str, settings: Settings = Settings(),
                   name: str | None = None, shown_side: int | None = None, hints: list | None = None,
                   reference: Reference | None = None) -> list[Path]:
    """Each loaded model's colour result at the image's full size, as PNG files in ``folder``: the models run
    on the copy shown (long side ``shown_side``) with the hints and reference shown, so the colours are the
    ones shown (without the hint marks), then one model at a time is laid onto the full-size lightness in
    strips. ``name``: how errors name the file."""
    shown = prepare_photo(image, shown_side, name=name)
    hints = checked_hints(hints, shown.full_size) if hints else None
    chosen = [column for column in columns if column.colourizer is not None]
    logits = [column.colourizer.logits(shown, settings, **steering(column.colourizer, hints, reference))[0]
              for column in chosen]
    full = prepare_photo(image, None, name=name)
    full.keep_only(*{column.colourizer.lightness_plane for column in chosen})
    return [column.colourizer.save_png(model_logits, full,
                                       folder / f"{stem}_{column.key}_{full.size[0]}x{full.size[1]}.png", settings)
            for column, model_logits in zip(chosen, logits)]


def steering(colourizer: Colourizer, hints: list[Hint] | None, reference: Reference | None) -> dict:
    """The hints and reference a colourizer takes, as keyword arguments of Colourizer.logits."""
    taken = {"hints": hints} if hints and colourizer.takes_hints else {}
    if reference is not None and colourizer.takes_reference:
        taken |= {"reference": reference.photo, "reference_strength": reference.strength}
    return taken
