"""User colour hints as model input (Zhang, Zhu, Isola, Geng, Lin, Yu & Efros, SIGGRAPH 2017).

A hint model sees four planes: lightness L / 100, then the hinted a and b (divided by ``AB_SCALE``)
and a mask that is 1 where a hint is, so that "a grey hint" (a = b = 0, mask 1) and "no hint"
(mask 0) differ. With no hint at all it colourizes automatically.

- Training (``sample_hint_planes``): hints simulated from the truth much as SIGGRAPH 2017 does. A share
  ``no_hint_share`` of the images gets none; the others get a number of patches drawn from a
  geometric distribution with p = 1/8 (add a patch, then go on unless a coin with p = 1/8 says stop:
  8 patches on average), each a square of side 1-9 px holding the mean true ab of the pixels it covers.
  One departure: the paper centres the patch positions on a 2-D Gaussian around the middle of the
  image (mean H/2, W/2; sigma H/4, W/4); here they are uniform over the image, because a person clicks
  anywhere, edges and corners included (the Gaussian puts 13% of the positions of each axis in its outer
  eighths, uniform 25%), and ``colour_hints.pt`` was trained so.
- Using the model (``hint_planes``): hints given as (x, y, (r, g, b)) in the upload's own pixel
  coordinates (after its EXIF rotation) land on the model pixel that covers (x, y) at the working size,
  as a small square of the hinted colour's ab; a stroke lands on every model pixel along it. At a reach
  above ``point`` a hint also covers the region it lands on (colorizer.regions, colorizer.inference).
"""
import json
import math
from dataclasses import dataclass

import numpy as np
import torch

from . import lab

AB_SCALE = 110.0  # ab / 110: hint planes in [-1, 1]
HINT_PLANES = 3
STOP_P = 1 / 8  # SIGGRAPH 2017: the number of points is geometric with p = 1/8
MAX_PATCH = 9  # patch sides 1..9 px
MAX_HINTS = 200  # a person or a script asking for more gets a plain message
MAX_STROKE_POINTS = 1000
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
    """One user hint: a pixel of the upload (x right, y down, from 0) and the colour wanted there. ``reach``:
    0 a point (the SIGGRAPH 2017 patch), above 0 the region around it (colorizer.regions.reach_value);
    ``stroke``: the later points of a stroke that starts at (x, y); ``ab``: the exact Lab ab wanted, when
    the colour was given in Lab (``rgb`` is then only how it is drawn)."""

    x: int
    y: int
    rgb: tuple[int, int, int]
    reach: float = 0.0
    stroke: tuple[tuple[int, int], ...] = ()
    ab: tuple[float, float] | None = None

    @property
    def points(self) -> list[tuple[int, int]]:
        return [(self.x, self.y), *self.stroke]


def _numbers(text: str, colour, count: int = 3) -> list[float]:
    inside = text[text.find("(") + 1:text.rfind(")")].replace("/", " ").replace(",", " ").split()[:count]
    try:
        values = [float(part) for part in inside]
    except ValueError:
        values = []
    if len(values) != count or not all(math.isfinite(value) for value in values):
        name = text[:text.find("(")] or "rgb"
        raise HintError(f"colour {colour!r} is not {name}(...) with {count} finite numbers")
    return values


def parse_lab(colour) -> tuple[float, float, float] | None:
    """CSS 'lab(L a b)' (or 'lab(L, a, b)') -> (L, a, b); None for a colour written otherwise."""
    if not isinstance(colour, str) or not colour.strip().lower().startswith("lab("):
        return None
    lightness, a, b = _numbers(colour.strip().lower(), colour)
    if not (0 <= lightness <= 100 and -128 <= a <= 127 and -128 <= b <= 127):
        raise HintError(f"colour {colour!r}: L must be 0-100, a and b -128-127")
    return lightness, a, b


def lab_text(lightness: float, a: float, b: float) -> str:
    """The CSS lab() text of a Lab colour (what parse_lab reads back)."""
    return f"lab({lightness:.1f} {a:.1f} {b:.1f})"


def parse_colour(colour) -> tuple[int, int, int]:
    """'#rrggbb', '#rgb', 'rgb(r, g, b)' / 'rgba(...)' (Gradio's colour picker), CSS 'lab(L a b)' or (r, g, b)
    ints 0-255 -> (r, g, b); HintError with a plain message otherwise."""
    if isinstance(colour, str):
        text = colour.strip().lower()
        if text.startswith("lab("):
            return tuple(int(v) for v in lab.lab_to_uint8(torch.tensor(parse_lab(colour))).tolist())
        if text.startswith("rgb"):
            colour = tuple(round(value) for value in _numbers(text, colour))
        else:
            digits = text.lstrip("#")
            if len(digits) == 3:
                digits = "".join(2 * digit for digit in digits)
            if len(digits) != 6 or any(digit not in "0123456789abcdef" for digit in digits):
                raise HintError(f"colour {colour!r} is not #rrggbb")
            return tuple(int(digits[i:i + 2], 16) for i in (0, 2, 4))
    try:
        values = [float(value) for value in colour]
    except (TypeError, ValueError, OverflowError):
        raise HintError(f"colour {colour!r} is not #rrggbb or three whole numbers 0-255") from None
    if len(values) != 3 or any(not (0 <= value <= 255 and value == int(value)) for value in values):
        raise HintError(f"colour {colour!r} must be three whole numbers 0-255")
    return tuple(int(value) for value in values)


def _pixel(value, what: str, number: int) -> int:
    """A coordinate as a whole number; HintError for text, NaN, infinities and fractions."""
    try:
        number_value = float(value)
    except (TypeError, ValueError, OverflowError):
        raise HintError(f"hint {number}: x and y must be whole pixel numbers, not {what} = {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number_value) or number_value != int(number_value):
        raise HintError(f"hint {number}: x and y must be whole pixel numbers, not {what} = {value!r}")
    return int(number_value)


def _hint_fields(hint, number: int) -> tuple[list, object, object]:
    """(points, colour, reach or None) of a hint given as a Hint, a dict or an (x, y, colour) triple."""
    if isinstance(hint, dict):
        colour = hint.get("colour", hint.get("color"))
        if colour is None or not ({"x", "y"} <= set(hint) or "stroke" in hint):
            raise HintError(f"hint {number} needs x, y and colour (or a stroke and colour), e.g. "
                            '{"x": 10, "y": 20, "colour": "#ff0000"} or '
                            '{"stroke": [[10, 20], [30, 25]], "colour": "#ff0000"}')
        if "stroke" in hint:
            points = hint["stroke"]
            if not isinstance(points, (list, tuple)) or not points or len(points) > MAX_STROKE_POINTS \
                    or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in points):
                raise HintError(f"hint {number}: a stroke is a list of 1-{MAX_STROKE_POINTS} [x, y] points")
        else:
            points = [[hint["x"], hint["y"]]]
        return points, colour, hint.get("reach")
    if isinstance(hint, (list, tuple)) and len(hint) == 3:
        return [[hint[0], hint[1]]], hint[2], None
    raise HintError(f"hint {number} is not (x, y, colour) or {{\"x\", \"y\", \"colour\"}}")


def checked_hints(hints, size: tuple[int, int], reach="point") -> list[Hint]:
    """Hints as (x, y, colour) triples, Hint objects, {"x", "y", "colour"[, "reach"]} or {"stroke": [[x, y],
    ...], "colour"[, "reach"]} dicts (or that list as JSON text), checked against an upload of ``size``
    (width, height); ``reach`` applies where a hint names none. Two hints on one pixel: the later one is
    kept. Raises HintError with a plain message."""
    from .regions import reach_value

    if isinstance(hints, str):
        try:
            hints = json.loads(hints) if hints.strip() else []
        except ValueError:
            raise HintError("hints must be a JSON list of {\"x\", \"y\", \"colour\"}") from None
    if hints is None:
        hints = []
    if not isinstance(hints, (list, tuple)):
        raise HintError(f"hints must be a list of {{\"x\", \"y\", \"colour\"}}, not {type(hints).__name__}")
    if len(hints) > MAX_HINTS:
        raise HintError(f"{len(hints)} hints: at most {MAX_HINTS} are taken")
    width, height = size
    kept = {}
    for number, hint in enumerate(hints, 1):
        if isinstance(hint, Hint):
            checked, points = hint, hint.points
        else:
            points, colour, own_reach = _hint_fields(hint, number)
            points = [(_pixel(x, "x", number), _pixel(y, "y", number)) for x, y in points]
            try:
                hint_reach = reach_value(reach if own_reach is None else own_reach)
            except ValueError as error:
                raise HintError(f"hint {number}: {error}") from None
            try:
                lab_colour, rgb = parse_lab(colour), parse_colour(colour)
            except HintError as error:
                raise HintError(f"hint {number}: {error}") from None
            checked = Hint(*points[0], rgb, hint_reach, tuple(points[1:]), lab_colour[1:] if lab_colour else None)
        for x, y in points:
            if not (0 <= x < width and 0 <= y < height):
                raise HintError(f"hint {number} at ({x}, {y}) is outside the {width} x {height} image")
        kept.pop(checked.points[0] if not checked.stroke else number, None)  # a later hint on one pixel wins
        kept[checked.points[0] if not checked.stroke else number] = checked
    return list(kept.values())


def model_pixel(x: int, y: int, size: tuple[int, int], work: tuple[int, int]) -> tuple[int, int]:
    """The (column, row) of the working-size model pixel that covers upload pixel (x, y): the one rounding
    rule for a hint and for the pixel a click reads."""
    return (min(work[0] - 1, x * work[0] // size[0]), min(work[1] - 1, y * work[1] // size[1]))


def hint_pixels(hint: Hint, size: tuple[int, int], work: tuple[int, int]) -> list[tuple[int, int]]:
    """The model pixels (column, row) a hint lands on: its one pixel, or every pixel along its stroke."""
    pixels = [model_pixel(x, y, size, work) for x, y in hint.points]
    along = [pixels[0]]
    for (x0, y0), (x1, y1) in zip(pixels, pixels[1:]):
        steps = max(abs(x1 - x0), abs(y1 - y0))
        along += [(round(x0 + (x1 - x0) * t / steps), round(y0 + (y1 - y0) * t / steps)) for t in range(1, steps + 1)]
    return list(dict.fromkeys(along))


def hint_ab(hints: list[Hint]) -> torch.Tensor:
    """N x 2 Lab ab of the hints: the exact ab where given, else the ab of the RGB colour."""
    colours = lab.rgb_to_lab(torch.tensor([hint.rgb for hint in hints], dtype=torch.uint8))[:, 1:]
    for index, hint in enumerate(hints):
        if hint.ab is not None:
            colours[index] = torch.tensor(hint.ab)
    return colours


def hint_planes(hints: list[Hint], size: tuple[int, int], work: tuple[int, int], patch: int = USER_PATCH,
                regions: list | None = None) -> torch.Tensor:
    """3 x h x w planes for a model running at ``work`` (width, height) on an upload of ``size``. ``regions``:
    per hint None or an h x w mask in [0, 1] whose pixels above one half also receive the hint."""
    planes = torch.zeros(HINT_PLANES, work[1], work[0])
    if not hints:
        return planes
    for index, (hint, ab) in enumerate(zip(hints, hint_ab(hints) / AB_SCALE)):
        region = regions[index] if regions is not None else None
        if region is not None:
            covered = torch.as_tensor(region) > 0.5
            planes[:2, covered] = ab[:, None]
            planes[2, covered] = 1.0
        for column, row in hint_pixels(hint, size, work):
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
    lab: tuple[float, float, float] | None = None  # the exact Lab colour meant (rgb is its gamut-clipped display)

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)

    @property
    def value(self) -> str:
        """What a hint is given: the exact lab() where known (an RGB at a clipped lightness is another ab)."""
        return lab_text(*self.lab) if self.lab else self.hex

    @staticmethod
    def of_lab(lightness: float, a: float, b: float, mass: float) -> "Suggestion":
        lightness = min(100.0, max(0.0, lightness))
        rgb = lab.lab_to_uint8(torch.tensor([lightness, a, b], dtype=torch.float32)).tolist()
        return Suggestion(tuple(int(v) for v in rgb), mass, (lightness, a, b))


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
        if len(seeds) == count or (seeds and p[index] < min_mass / 4):  # the likeliest class always seeds one
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


def suggest_modes(probabilities: torch.Tensor, centres: torch.Tensor, lightness: float, count: int = 8,
                  radius: float = 15.0, separation: float = 20.0, min_mass: float = 0.005) -> list[Suggestion]:
    """The modes of a distribution over ab classes (one pixel's, or a region's mean): classes ranked by the
    probability mass within ``radius`` ab units of them, taken greedily at least ``separation`` apart; each
    shown as the probability-weighted mean ab within ``radius`` of it (a mode, not the mean of a whole
    cluster, which pulls colours towards grey), at ``lightness`` itself (the clicked patch's own; the hint
    sends the ab exactly, Suggestion.value). Most probable first."""
    p = probabilities.double().clamp(min=0)
    p = p / p.sum()
    ab = centres.double()
    near = (torch.cdist(ab, ab) <= radius).double()
    mass = near @ p
    modes, found = [], []
    for index in torch.argsort(mass + 1e-9 * p, descending=True).tolist():  # ties: the class's own share first
        if len(found) == count or (found and mass[index] < min_mass):
            break
        weights = near[index] * p
        mode_ab = (weights[:, None] * ab).sum(0) / weights.sum()
        if all(torch.dist(mode_ab, other) >= separation for other in modes):  # shown colours apart, not classes
            modes.append(mode_ab)
            found.append(Suggestion.of_lab(float(lightness), *mode_ab.tolist(), float(mass[index])))
    return found


def mark_hints(picture, hints: list[Hint], size: tuple[int, int]):
    """A copy of ``picture`` (H x W x 3 uint8) with a marker on each hint: a dot of the hinted colour in a
    white and a black ring, numbered in order (a stroke: its line too); ``size`` is the upload's (width,
    height) the hints refer to."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(np.asarray(picture))
    draw = ImageDraw.Draw(image)
    scale_x, scale_y = image.width / size[0], image.height / size[1]
    radius = max(4, round(max(image.size) / 90))
    for number, hint in enumerate(hints, 1):
        x, y = (hint.x + 0.5) * scale_x, (hint.y + 0.5) * scale_y
        if hint.stroke:  # the stroke's line, outlined as its dot is, under the numbered dot at its start
            line = [((px + 0.5) * scale_x, (py + 0.5) * scale_y) for px, py in hint.points]
            draw.line(line, fill="black", width=radius + 2, joint="curve")
            draw.line(line, fill=hint.rgb, width=max(2, radius - 2), joint="curve")
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


def region_suggestions(logits: torch.Tensor, centres: torch.Tensor, grey: np.ndarray, seeds: list[tuple[int, int]],
                       lightness: float, reach="object", count: int = 8) -> list[Suggestion]:
    """The suggested colours for a click: the modes (suggest_modes) of the mean distribution over the region
    the click's model pixels ``seeds`` (column, row) belong to (colorizer.regions, on the working-size input
    ``grey`` = L / 100 and these logits), shown at ``lightness``."""
    from .regions import region_mask

    logits = logits[0] if logits.dim() == 4 else logits
    probabilities = torch.softmax(logits.float(), dim=0)
    weights = torch.from_numpy(region_mask(np.asarray(grey, np.float64) * 100, seeds, reach, probabilities))
    mean = (probabilities * weights[None]).flatten(1).sum(1) / weights.sum()
    return suggest_modes(mean, centres, lightness, count)


def click_suggestions(logits: torch.Tensor, centres: torch.Tensor, image, point: tuple[int, int],
                      size: tuple[int, int]) -> list[Suggestion]:
    """The suggestions for a click at upload pixel ``point`` (x, y) of an upload of ``size`` (width, height):
    the modes (suggest_modes) of the distribution at the model pixel a hint there lands on (model_pixel: one
    rounding rule for both), at the lightness of the 5 x 5 patch around it. ``image``: the upload decoded (a
    PIL image, any size). (The region's mean distribution, region_suggestions, measured 2 points lower:
    scripts/suggestion_results.py.)"""
    logits = logits[0] if logits.dim() == 4 else logits
    work = (logits.shape[-1], logits.shape[-2])
    column, row = model_pixel(*point, size, work)
    x, y = (min(image.size[i] - 1, point[i] * image.size[i] // size[i]) for i in (0, 1))
    box = (max(0, x - 2), max(0, y - 2), min(image.size[0], x + 3), min(image.size[1], y + 3))
    patch = np.array(image.convert("RGB").crop(box))  # 5 x 5, clipped at the edges
    lightness = float(lab.rgb_to_lab(torch.from_numpy(patch))[..., 0].mean())
    return suggest_modes(torch.softmax(logits[:, row, column].float(), dim=0), centres, lightness)


def lightness_at(rgb: tuple[int, int, int]) -> float:
    """Lab L of one RGB colour."""
    return float(lab.rgb_to_lab(torch.tensor(rgb, dtype=torch.uint8))[0])
