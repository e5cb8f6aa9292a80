"""User colour hints as model input (Zhang, Zhu, Isola, Geng, Lin, Yu & Efros, SIGGRAPH 2017).

A hint model sees four planes: lightness L / 100, then the hinted a and b (divided by ``AB_SCALE``)
and a mask that is 1 where a hint is, so that "a grey hint" (a = b = 0, mask 1) and "no hint"
(mask 0) differ. With no hint at all it colourizes automatically.

- Training (``sample_hint_planes``): hints simulated from the truth as SIGGRAPH 2017 does. A share
  ``no_hint_share`` of the images gets none; the others get a number of patches drawn from a
  geometric distribution with p = 1/8 (add a patch, then go on unless a coin with p = 1/8 says stop:
  8 patches on average), each a square of side 1-9 px at a uniformly random place, holding the mean
  true ab of the pixels it covers.
- Using the model (``hint_planes``): hints given as (x, y, (r, g, b)) in the upload's own pixel
  coordinates land on the model pixel that covers (x, y) at the working size, as a small square of
  the hinted colour's ab.
"""
from dataclasses import dataclass

import torch

from . import lab

AB_SCALE = 110.0  # ab / 110: hint planes in [-1, 1]
HINT_PLANES = 3
STOP_P = 1 / 8  # SIGGRAPH 2017: the number of points is geometric with p = 1/8
MAX_PATCH = 9  # patch sides 1..9 px
MAX_HINTS = 200  # a person or a script asking for more gets a plain message
USER_PATCH = 3  # a user's hint covers 3 x 3 model pixels (training saw sides 1-9)


class HintError(ValueError):
    """A hint that cannot be used (outside the image, a malformed colour, too many)."""


def hint_count(generator: torch.Generator, stop_p: float = STOP_P, cap: int = 64) -> int:
    """1, 2, 3, ... patches: geometric with success probability ``stop_p`` (mean 1 / stop_p), capped."""
    count = 1
    while count < cap and torch.rand(1, generator=generator).item() >= stop_p:
        count += 1
    return count


def sample_patches(height: int, width: int, generator: torch.Generator, stop_p: float = STOP_P,
                   max_patch: int = MAX_PATCH) -> list[tuple[int, int, int, int]]:
    """(top, left, rows, columns) of the hint patches of one image: a geometric number of squares of
    side 1..max_patch (clipped to the image), each at a uniformly random place inside it."""
    patches = []
    for _ in range(hint_count(generator, stop_p)):
        side = int(torch.randint(1, max_patch + 1, (1,), generator=generator))
        rows, columns = min(side, height), min(side, width)
        top = int(torch.randint(0, height - rows + 1, (1,), generator=generator))
        left = int(torch.randint(0, width - columns + 1, (1,), generator=generator))
        patches.append((top, left, rows, columns))
    return patches


def sample_hint_planes(ab: torch.Tensor, generator: torch.Generator, no_hint_share: float = 0.1,
                       stop_p: float = STOP_P, max_patch: int = MAX_PATCH) -> torch.Tensor:
    """B x H x W x 2 true ab -> B x 3 x H x W hint planes (a / 110, b / 110, mask), simulated per image."""
    batch, height, width, _ = ab.shape
    planes = torch.zeros(batch, HINT_PLANES, height, width)
    for index in range(batch):
        if torch.rand(1, generator=generator).item() < no_hint_share:
            continue
        for top, left, rows, columns in sample_patches(height, width, generator, stop_p, max_patch):
            window = (slice(top, top + rows), slice(left, left + columns))
            mean_ab = ab[index][window].reshape(-1, 2).mean(0)
            planes[index, :2][(slice(None),) + window] = (mean_ab / AB_SCALE)[:, None, None]
            planes[index, 2][window] = 1.0
    return planes


@dataclass(frozen=True)
class Hint:
    """One user hint: a pixel of the upload (x right, y down, from 0) and the colour wanted there."""

    x: int
    y: int
    rgb: tuple[int, int, int]


def parse_colour(colour) -> tuple[int, int, int]:
    """'#rrggbb', '#rgb', 'rgb(r, g, b)' / 'rgba(...)' (Gradio's colour picker) or (r, g, b) ints 0-255."""
    if isinstance(colour, str):
        text = colour.strip().lower()
        if text.startswith("rgb"):
            inside = text[text.find("(") + 1:text.rfind(")")]
            try:
                values = [float(part) for part in inside.split(",")[:3]]
            except ValueError:
                raise HintError(f"colour {colour!r} is not rgb(r, g, b)") from None
            colour = tuple(round(value) for value in values)
        else:
            digits = text.lstrip("#")
            if len(digits) == 3:
                digits = "".join(2 * digit for digit in digits)
            if len(digits) != 6 or any(digit not in "0123456789abcdef" for digit in digits):
                raise HintError(f"colour {colour!r} is not #rrggbb")
            return tuple(int(digits[i:i + 2], 16) for i in (0, 2, 4))
    try:
        rgb = tuple(int(value) for value in colour)
    except (TypeError, ValueError):
        raise HintError(f"colour {colour!r} is not #rrggbb or three whole numbers 0-255") from None
    if len(rgb) != 3 or any(not 0 <= value <= 255 for value in rgb):
        raise HintError(f"colour {colour!r} must be three whole numbers 0-255")
    return rgb


def checked_hints(hints, size: tuple[int, int]) -> list[Hint]:
    """Hints as (x, y, colour) triples, Hint objects or {"x", "y", "colour"} dicts, checked against an
    upload of ``size`` (width, height). Raises HintError with a plain message."""
    hints = list(hints or [])
    if len(hints) > MAX_HINTS:
        raise HintError(f"{len(hints)} hints: at most {MAX_HINTS} are taken")
    width, height = size
    out = []
    for number, hint in enumerate(hints, 1):
        if isinstance(hint, Hint):
            x, y, colour = hint.x, hint.y, hint.rgb
        elif isinstance(hint, dict):
            if not {"x", "y"} <= set(hint) or not ({"colour"} & set(hint) or {"color"} & set(hint)):
                raise HintError(f"hint {number} needs x, y and colour, e.g. {{\"x\": 10, \"y\": 20, \"colour\": \"#ff0000\"}}")
            x, y, colour = hint["x"], hint["y"], hint.get("colour", hint.get("color"))
        else:
            try:
                x, y, colour = hint
            except (TypeError, ValueError):
                raise HintError(f"hint {number} is not (x, y, colour)") from None
        try:
            x, y = int(x), int(y)
        except (TypeError, ValueError):
            raise HintError(f"hint {number}: x and y must be whole pixel numbers, not {x!r}, {y!r}") from None
        if not (0 <= x < width and 0 <= y < height):
            raise HintError(f"hint {number} at ({x}, {y}) is outside the {width} x {height} image")
        out.append(Hint(x, y, parse_colour(colour)))
    return out


def model_pixel(x: int, y: int, size: tuple[int, int], work: tuple[int, int]) -> tuple[int, int]:
    """The (column, row) of the working-size model pixel that covers upload pixel (x, y)."""
    return (min(work[0] - 1, x * work[0] // size[0]), min(work[1] - 1, y * work[1] // size[1]))


def hint_planes(hints: list[Hint], size: tuple[int, int], work: tuple[int, int], patch: int = USER_PATCH) -> torch.Tensor:
    """3 x h x w planes for a model running at ``work`` (width, height) on an upload of ``size``."""
    planes = torch.zeros(HINT_PLANES, work[1], work[0])
    if not hints:
        return planes
    colours = lab.rgb_to_lab(torch.tensor([hint.rgb for hint in hints], dtype=torch.uint8))[:, 1:] / AB_SCALE
    for hint, ab in zip(hints, colours):
        column, row = model_pixel(hint.x, hint.y, size, work)
        top, left = max(0, row - patch // 2), max(0, column - patch // 2)
        bottom, right = min(work[1], row + patch // 2 + 1), min(work[0], column + patch // 2 + 1)
        planes[:2, top:bottom, left:right] = ab[:, None, None]
        planes[2, top:bottom, left:right] = 1.0
    return planes


# ---------------------------------------------------------------- what the tab offers and draws

@dataclass(frozen=True)
class Suggestion:
    """One main mode of a pixel's predicted colour distribution: its colour and the probability mass it holds."""

    rgb: tuple[int, int, int]
    mass: float

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


def suggest_colours(probabilities: torch.Tensor, centres: torch.Tensor, lightness: float, count: int = 6,
                    radius: float = 30.0, min_mass: float = 0.02) -> list[Suggestion]:
    """The main modes of one pixel's distribution over ab classes, as the SIGGRAPH 2017 tool offers them:
    classes grouped around the likeliest ones (greedy seeds at least ``radius`` apart in ab, then a few
    probability-weighted k-means steps), each group's mean ab shown at the pixel's own lightness (kept
    within 30-85 so that dark and bright colours stay recognisable), most probable first."""
    p = probabilities.double().clamp(min=0)
    p = p / p.sum()
    ab = centres.double()
    seeds = []
    for index in torch.argsort(p, descending=True).tolist():
        if len(seeds) == count or p[index] < min_mass / 4:
            break
        if all(torch.dist(ab[index], ab[seed]) >= radius for seed in seeds):
            seeds.append(index)
    means = ab[seeds]
    for _ in range(5):
        nearest = torch.cdist(ab, means).argmin(dim=1)
        mass = torch.zeros(len(means), dtype=torch.float64).index_add_(0, nearest, p)
        sums = torch.zeros_like(means).index_add_(0, nearest, ab * p[:, None])
        means = torch.where(mass[:, None] > 0, sums / mass.clamp(min=1e-12)[:, None], means)
    shown_l = min(85.0, max(30.0, float(lightness)))
    colours = lab.lab_to_uint8(torch.cat([torch.full((len(means), 1), shown_l), means.float()], dim=1))
    found = [Suggestion(tuple(int(v) for v in colour), float(m)) for colour, m in zip(colours.tolist(), mass.tolist())
             if m >= min_mass]
    return sorted(found, key=lambda suggestion: -suggestion.mass)


def mark_hints(picture, hints: list[Hint], size: tuple[int, int]):
    """A copy of ``picture`` (H x W x 3 uint8) with a marker on each hint: a dot of the hinted colour in a
    white and a black ring, numbered in order; ``size`` is the upload's (width, height) the hints refer to."""
    import numpy as np
    from PIL import Image, ImageDraw

    image = Image.fromarray(np.asarray(picture))
    draw = ImageDraw.Draw(image)
    scale_x, scale_y = image.width / size[0], image.height / size[1]
    radius = max(4, round(max(image.size) / 90))
    for number, hint in enumerate(hints, 1):
        x, y = (hint.x + 0.5) * scale_x, (hint.y + 0.5) * scale_y
        draw.ellipse((x - radius - 2, y - radius - 2, x + radius + 2, y + radius + 2), fill="black")
        draw.ellipse((x - radius - 1, y - radius - 1, x + radius + 1, y + radius + 1), fill="white")
        draw.ellipse((x - radius + 1, y - radius + 1, x + radius - 1, y + radius - 1), fill=hint.rgb)
        draw.text((x + radius + 3, y - radius - 3), str(number), fill="white", stroke_width=2, stroke_fill="black")
    return np.asarray(image)


def suggestions_at(logits: torch.Tensor, centres: torch.Tensor, column: int, row: int, lightness: float,
                   count: int = 6) -> list[Suggestion]:
    """The suggested colours at one model pixel of a Lab model's logits (NC x h x w, or 1 x NC x h x w)."""
    logits = logits[0] if logits.dim() == 4 else logits
    return suggest_colours(torch.softmax(logits[:, row, column].float(), dim=0), centres, lightness, count)


def lightness_at(rgb: tuple[int, int, int]) -> float:
    """Lab L of one RGB colour."""
    return float(lab.rgb_to_lab(torch.tensor(rgb, dtype=torch.uint8))[0])
