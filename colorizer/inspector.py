"""What a per-pixel classifier thinks at one pixel: the predicted distribution over its classes, its
entropy, the class it chose and the true one, plus maps of where it is unsure.

Works on logits already computed (a click recomputes nothing), for any number of models and any
classes (palette colours, Lab ab bins, segmentation classes). No Gradio: the app, the API, the
benchmark and the tests call these.
"""
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageDraw

from . import lab
from .palette import nearest_colour_labels

UNCERTAINTY_KINDS = ("entropy (bits)", "1 − max p")
TOP = 10  # bars shown per model; the other classes are summed into "rest"


class OutsideImage(ValueError):
    """A click that lands on no pixel a model saw (outside the picture, or on a gap between pictures)."""


# ---------------------------------------------------------------- distributions and uncertainty

def probabilities(logits: torch.Tensor, dim: int = 0) -> torch.Tensor:
    return torch.softmax(logits.float(), dim=dim)


def entropy_bits(logits: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Entropy of softmax(logits) in bits along ``dim``: 0 where one class has all the mass, log2(NC) at most."""
    log_p = torch.log_softmax(logits.float(), dim=dim)
    return (-(log_p.exp() * log_p).sum(dim=dim)).clamp(min=0) / math.log(2)


def uncertainty(logits: torch.Tensor, kind: str = UNCERTAINTY_KINDS[0], dim: int = 0) -> torch.Tensor:
    """Per-pixel uncertainty of NC x H x W logits: entropy in bits, or 1 − the largest probability."""
    if kind == UNCERTAINTY_KINDS[0]:
        return entropy_bits(logits, dim)
    if kind == UNCERTAINTY_KINDS[1]:
        return 1 - probabilities(logits, dim).amax(dim=dim)
    raise ValueError(f"uncertainty kind must be one of {UNCERTAINTY_KINDS}, not {kind!r}")


def uncertainty_range(kind: str, num_classes: int) -> float:
    """The largest value the map can take: log2(NC) bits, or 1 − 1/NC."""
    return math.log2(num_classes) if kind == UNCERTAINTY_KINDS[0] else 1 - 1 / num_classes


# ---------------------------------------------------------------- where a click lands

def source_index(position: float, shown: int, size: int) -> int:
    """The model pixel under ``position`` of a picture ``shown`` pixels long made from ``size`` model pixels.
    Same rule as PIL's nearest-neighbour resize, so it is the pixel the class map shows there."""
    return min(size - 1, int((position + 0.5) * size / shown))


@dataclass(frozen=True)
class Grid:
    """Pictures laid out in rows and columns with gaps (ui.common.image_grid): ``cell`` (w, h) shown pixels each."""
    rows: int
    cols: int
    cell: tuple[int, int]
    gap: int

    def locate(self, x: float, y: float) -> tuple[int, float, float]:
        """-> (row, x, y inside its cell); OutsideImage on a gap or outside the grid."""
        (width, height), step_x, step_y = self.cell, self.cell[0] + self.gap, self.cell[1] + self.gap
        col, row = int(x // step_x), int(y // step_y)
        if not (0 <= col < self.cols and 0 <= row < self.rows):
            raise OutsideImage(f"({x:.0f}, {y:.0f}) is outside the pictures.")
        inner_x, inner_y = x - col * step_x, y - row * step_y
        if inner_x >= width or inner_y >= height:
            raise OutsideImage("That is the white gap between two pictures: click inside one.")
        return row, inner_x, inner_y


# ---------------------------------------------------------------- one model's scores, and a click on them

@dataclass
class Scores:
    """One model's logits for the image(s) it last saw, and what is needed to read them."""
    label: str
    logits: torch.Tensor  # N x NC x h x w (N images; the Colourize tab has one)
    colours: np.ndarray  # NC x 3 uint8: how each class is drawn (palette colour, or an ab bin's display colour)
    names: tuple[str, ...] | None = None  # class names (segmentation); None: "#index"
    truth: np.ndarray | None = None  # N x h x w true class per pixel, when known

    def __post_init__(self):
        if self.logits.dim() == 3:
            self.logits = self.logits[None]

    @property
    def size(self) -> tuple[int, int]:
        return self.logits.shape[-1], self.logits.shape[-2]  # (w, h)

    def name(self, index: int) -> str:
        return self.names[index] if self.names else f"#{index}"


def true_classes(rgb: np.ndarray, palette: torch.Tensor, ab_centres: torch.Tensor | None = None) -> np.ndarray:
    """... x 3 uint8 true colours -> their classes: the nearest palette colour, or for Lab models the
    nearest ab centre (what each model was trained to predict)."""
    rgb = torch.from_numpy(np.array(rgb, dtype=np.uint8))  # a copy: PIL's arrays are read-only
    if ab_centres is None:
        return nearest_colour_labels(rgb, palette.cpu()).numpy()
    return lab.AbBins(ab_centres.float().cpu(), "given").labels(lab.rgb_to_lab(rgb)[..., 1:]).numpy()


def class_colours(palette: torch.Tensor) -> np.ndarray:
    """NC x 3 float palette in [0, 1] -> NC x 3 uint8 (the checkpoint palette; Lab: the display palette)."""
    return (palette.detach().cpu().float() * 255).round().clamp(0, 255).to(torch.uint8).numpy()


@dataclass
class PixelReport:
    """One model's answer at one pixel."""
    model: str
    label: str
    image: int
    x: int  # model pixel
    y: int
    probabilities: np.ndarray  # NC, sums to 1
    chosen: int  # argmax: the class map's colour there
    entropy_bits: float
    colours: np.ndarray
    truth: int | None
    class_names: tuple[str, ...] = ()

    def top(self, k: int = TOP) -> tuple[list[tuple[int, float]], float, int]:
        """The k most probable classes (index, p), largest first; the probability and count of the rest."""
        order = np.argsort(-self.probabilities, kind="stable")
        top = [(int(i), float(self.probabilities[i])) for i in order[:k]]
        return top, float(self.probabilities[order[k:]].sum()), max(0, len(order) - k)

    def hex(self, index: int) -> str:
        return "#%02x%02x%02x" % tuple(int(c) for c in self.colours[index])

    def name(self, index: int) -> str:
        return self.class_names[index] if self.class_names else f"#{index}"

    def as_dict(self, k: int | None = None) -> dict:
        """JSON for the API: every class's probability (or the top k and the rest), chosen and true class."""
        top, rest, rest_count = self.top(k or len(self.probabilities))
        return {"model": self.model, "label": self.label, "image": self.image, "x": self.x, "y": self.y,
                "chosen": {"class": self.chosen, "name": self.name(self.chosen), "colour": self.hex(self.chosen),
                           "p": float(self.probabilities[self.chosen])},
                "entropy_bits": round(self.entropy_bits, 4),
                "true": None if self.truth is None else {"class": self.truth, "name": self.name(self.truth),
                                                         "colour": self.hex(self.truth),
                                                         "p": float(self.probabilities[self.truth])},
                "classes": [{"class": i, "name": self.name(i), "colour": self.hex(i), "p": round(p, 6)} for i, p in top],
                "rest": {"p": round(rest, 6), "classes": rest_count}}


def report(key: str, scores: Scores, image: int, x: int, y: int) -> PixelReport:
    column = scores.logits[image, :, y, x]
    p = probabilities(column).numpy().astype(np.float64)
    p /= p.sum()  # exactly 1 in float64, so the chart's bars and "rest" add up
    truth = None if scores.truth is None else int(scores.truth[image, y, x])
    return PixelReport(key, scores.label, image, x, y, p, int(column.argmax()), float(entropy_bits(column)),
                       scores.colours, truth, tuple(scores.names or ()))


@dataclass
class Snapshot:
    """The last result a person can click on: every model's scores, and how the pictures were shown."""
    models: dict[str, Scores] = field(default_factory=dict)
    shown: tuple[int, int] = (0, 0)  # (W, H) of each picture (of one grid cell when ``grid`` is set)
    grid: Grid | None = None  # pictures laid out in a grid (Train live's strips): one row per image
    source: str = ""  # what was colourized, for the chart's title

    def locate(self, x: float, y: float, scores: Scores) -> tuple[int, int, int]:
        """Shown-picture coordinates -> (image, model x, model y); OutsideImage with a reason otherwise."""
        image = 0
        if self.grid is not None:
            image, x, y = self.grid.locate(x, y)
        width, height = self.grid.cell if self.grid else self.shown
        if not (0 <= x < width and 0 <= y < height):
            raise OutsideImage(f"({x:.0f}, {y:.0f}) is outside the {width}×{height} picture: click on the image.")
        model_w, model_h = scores.size
        return image, source_index(x, width, model_w), source_index(y, height, model_h)

    def inspect(self, x: float, y: float) -> list[PixelReport]:
        """Every model's distribution at the clicked point: softmax of one logit column each, no model run."""
        if not self.models:
            raise OutsideImage("Nothing to inspect yet: colourize an image first.")
        reports = []
        for key, scores in self.models.items():
            image, model_x, model_y = self.locate(x, y, scores)
            reports.append(report(key, scores, image, model_x, model_y))
        return reports


# ---------------------------------------------------------------- pictures of uncertainty

# viridis at 9 stops; colours in between are interpolated (no matplotlib needed)
_VIRIDIS = np.array([[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
                     [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]], dtype=np.float32)


def heat_colours(values: np.ndarray, top: float) -> np.ndarray:
    """Values in [0, top] -> ... x 3 uint8 viridis colours (dark = certain, yellow = unsure)."""
    scaled = np.clip(np.asarray(values, np.float32) / max(top, 1e-12), 0, 1) * (len(_VIRIDIS) - 1)
    low = np.floor(scaled).astype(int).clip(0, len(_VIRIDIS) - 2)
    fraction = (scaled - low)[..., None]
    return (_VIRIDIS[low] * (1 - fraction) + _VIRIDIS[low + 1] * fraction).round().astype(np.uint8)


def colour_bar(height: int, top: float, title: str, width: int = 70) -> np.ndarray:
    """A vertical colour bar from 0 (bottom) to ``top`` with three labels, as H x width x 3 uint8."""
    height = max(height, 60)
    bar = np.full((height, width, 3), 255, np.uint8)
    ramp = heat_colours(np.linspace(top, 0, height - 20)[:, None].repeat(14, axis=1), top)
    bar[10:height - 10, 4:18] = ramp
    picture = Image.fromarray(bar)
    draw = ImageDraw.Draw(picture)
    for fraction in (0.0, 0.5, 1.0):
        row = int(10 + (1 - fraction) * (height - 21))
        draw.text((21, row - 5), f"{fraction * top:.2g}", fill=(0, 0, 0))
    draw.text((2, 0), title[:12], fill=(0, 0, 0))
    return np.asarray(picture)


def uncertainty_picture(logits: torch.Tensor, kind: str, shown: tuple[int, int], title: str = "") -> np.ndarray:
    """NC x h x w logits -> the uncertainty map enlarged (nearest, pixels kept) to ``shown`` (W, H), with a
    colour bar on the right labelled in the map's units (bits, or 1 − max p)."""
    values = uncertainty(logits, kind).numpy()
    top = uncertainty_range(kind, logits.shape[0])
    heat = Image.fromarray(heat_colours(values, top)).resize(shown, Image.Resampling.NEAREST)
    bar = colour_bar(shown[1], top, "bits" if kind == UNCERTAINTY_KINDS[0] else "1 - max p")
    canvas = np.full((max(shown[1], bar.shape[0]), shown[0] + 6 + bar.shape[1], 3), 255, np.uint8)
    canvas[:shown[1], :shown[0]] = np.asarray(heat)
    canvas[:bar.shape[0], shown[0] + 6:] = bar
    if title:
        picture = Image.fromarray(canvas)
        ImageDraw.Draw(picture).text((4, 4), title, fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
        canvas = np.asarray(picture)
    return canvas


def model_scores(label: str, model, palette: torch.Tensor, logits: torch.Tensor,
                 true_rgb: np.ndarray | None = None) -> Scores:
    """Scores of a colourizer's NC x h x w logits; ``true_rgb`` (h x w x 3 uint8, the original at the
    model's size) gives each pixel's true class, as that model's training labels would."""
    centres = getattr(model, "ab_centres", None) if getattr(model, "colour_space", "rgb") == "lab" else None
    truth = None if true_rgb is None else true_classes(true_rgb, palette, centres)[None]
    return Scores(label, logits, class_colours(palette), truth=truth)
