"""What a per-pixel classifier thinks at one pixel: the predicted distribution over its classes, its
entropy, the class it chose and the true one, how unsure it is everywhere, and which model pixel a
click on a shown picture lands on.

Works on logits already computed (a click recomputes nothing), for any number of models and any
classes (palette colours, Lab ab bins, segmentation classes): colorizer and segmenter both build on it
(colorizer.inspector adds the colourizers' true classes). The pictures of it are in pixelwise.pictures.
No Gradio: the app, the API, the benchmark and the tests call these.
"""
import math
from dataclasses import dataclass, field

import numpy as np
import torch

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
    """Pictures laid out in rows and columns with gaps (pixelwise.pictures.image_grid): ``cell`` (w, h) shown pixels each."""
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
