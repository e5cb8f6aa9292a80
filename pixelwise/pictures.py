"""Pictures made of numbers: nearest-neighbour enlargement, grids of equal pictures with gaps (Train live's
strips; pixelwise.perpixel.Grid maps clicks back), viridis heat maps with a colour bar, and the
uncertainty maps of per-pixel classifiers (RGBA on a transparent ground, their text in a grey that reads on a
light page and a dark one). numpy and PIL only: no model, no Gradio."""
import math

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .perpixel import UNCERTAINTY_KINDS, Snapshot, uncertainty, uncertainty_range

STRIP_FACTOR, STRIP_GAP = 3, 3  # how Train live's strips are drawn (the pixel inspector maps clicks back)
UNCERTAINTY_LONG_SIDE = 240  # the maps are drawn at most this large (the page shows them smaller still)
# The maps' ground is transparent, so the page's own (white, or near black in dark mode) shows through: a white
# ground was a glaring block in dark mode. Their text is a mid grey, readable on both (4.8:1 on white, 3.9:1 on
# Gradio's dark ground).
INK = (107, 114, 128, 255)
CLEAR = (0, 0, 0, 0)


def enlarge(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling, so a 32 x 32 image is shown with crisp pixels."""
    return np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)


def image_grid(rows: list[list[np.ndarray]], factor: int = STRIP_FACTOR, gap: int = STRIP_GAP) -> np.ndarray:
    """Equal-sized RGB images laid out in rows, enlarged ``factor`` times, white gaps between them."""
    def join(pieces, axis):
        spacer_shape = list(pieces[0].shape)
        spacer_shape[axis] = gap
        spacer = np.full(spacer_shape, 255, np.uint8)
        out = [pieces[0]]
        for piece in pieces[1:]:
            out += [spacer, piece]
        return np.concatenate(out, axis=axis)

    return join([join([enlarge(image, factor) for image in row], axis=1) for row in rows], axis=0)


# viridis at 9 stops; colours in between are interpolated (no matplotlib needed)
_VIRIDIS = np.array([[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
                     [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]], dtype=np.float32)


def opaque(rgb: np.ndarray) -> np.ndarray:
    """... x 3 uint8 RGB -> ... x 4 RGBA, fully opaque."""
    return np.concatenate([rgb, np.full((*rgb.shape[:-1], 1), 255, np.uint8)], axis=-1)


def heat_colours(values: np.ndarray, top: float) -> np.ndarray:
    """Values in [0, top] -> ... x 3 uint8 viridis colours (dark = certain, yellow = unsure)."""
    scaled = np.clip(np.asarray(values, np.float32) / max(top, 1e-12), 0, 1) * (len(_VIRIDIS) - 1)
    low = np.floor(scaled).astype(int).clip(0, len(_VIRIDIS) - 2)
    fraction = (scaled - low)[..., None]
    return (_VIRIDIS[low] * (1 - fraction) + _VIRIDIS[low + 1] * fraction).round().astype(np.uint8)


FONT_SHOWN_PX = 13  # text of the maps is drawn so that it is about this high where the page shows it
UNITS = dict(zip(UNCERTAINTY_KINDS, ("bits", "1 - max p")))
SHOWN_WIDTH = 480  # how wide the page shows the maps (half the Colourize results column, or a narrow window)


def font(size: int) -> ImageFont.FreeTypeFont:
    """PIL's own scalable font (no font file needed) ``size`` pixels high."""
    return ImageFont.load_default(size=size)


def text_width(text: str, size: int) -> int:
    return int(math.ceil(font(size).getlength(text)))


def _ticks(top: float) -> list[tuple[float, str]]:
    return [(fraction, f"{fraction * top:.2g}") for fraction in (1.0, 0.5, 0.0)]


def bar_width(top: float, title: str, font_px: int) -> int:
    """How wide colour_bar draws: the ramp, the widest tick label, or the units if wider."""
    ramp = max(10, font_px)
    return max(ramp + 8 + max(text_width(label, font_px) for _, label in _ticks(top)), text_width(title, font_px)) + 6


def colour_bar(height: int, top: float, title: str, font_px: int = 11) -> np.ndarray:
    """A vertical colour bar from 0 (bottom) to ``top``: its units ``title`` above it and three tick labels beside
    it, ``font_px`` high, as H x W x 4 uint8 RGBA on a transparent ground (H at least what the text needs)."""
    ramp_width, head = max(10, font_px), font_px + 6
    height = max(height, head + 3 * font_px + 2)  # three tick labels one above the other
    low, high = height - font_px // 2 - 2, head + font_px // 2  # the ramp's bottom (0) and top rows
    bar = np.zeros((height, bar_width(top, title, font_px), 4), np.uint8)
    bar[high:low + 1, 2:2 + ramp_width] = opaque(heat_colours(np.linspace(top, 0, low + 1 - high)[:, None], top))
    picture = Image.fromarray(bar, "RGBA")
    draw = ImageDraw.Draw(picture)
    for fraction, label in _ticks(top):
        draw.text((ramp_width + 6, low - fraction * (low - high)), label, fill=INK, font=font(font_px), anchor="lm")
    draw.text((2, 1), title, fill=INK, font=font(font_px))
    return np.asarray(picture)


def title_band(title: str, width: int, font_px: int) -> np.ndarray:
    """``title`` in INK on a transparent ground, broken into lines that fit ``width``, as H x width x 4 uint8 RGBA."""
    lines = []
    for word in title.split():
        if lines and text_width(f"{lines[-1]} {word}", font_px) <= width - 4:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    line_height = round(font_px * 1.25)
    picture = Image.new("RGBA", (width, line_height * len(lines) + 4), CLEAR)
    draw = ImageDraw.Draw(picture)
    for number, line in enumerate(lines):
        draw.text((2, 2 + number * line_height), line, fill=INK, font=font(font_px))
    return np.asarray(picture)


def uncertainty_picture(logits: torch.Tensor, kind: str, shown: tuple[int, int], title: str = "",
                        font_px: int = 11) -> np.ndarray:
    """NC x h x w logits -> the uncertainty map enlarged (nearest, pixels kept) to ``shown`` (W, H), with a
    colour bar on the right labelled in the map's units (bits, or 1 − max p), and ``title`` above it, as RGBA on
    a transparent ground."""
    values = uncertainty(logits, kind).numpy()
    top = uncertainty_range(kind, logits.shape[0])
    heat = Image.fromarray(heat_colours(values, top)).resize(shown, Image.Resampling.NEAREST)
    bar = colour_bar(shown[1], top, UNITS[kind], font_px)
    canvas = np.zeros((max(shown[1], bar.shape[0]), shown[0] + 6 + bar.shape[1], 4), np.uint8)
    canvas[:shown[1], :shown[0]] = opaque(np.asarray(heat))
    canvas[:bar.shape[0], shown[0] + 6:] = bar
    return np.concatenate([title_band(title, canvas.shape[1], font_px), canvas]) if title else canvas


def uncertainty_maps(snapshot: Snapshot | None, kind: str, long_side: int = UNCERTAINTY_LONG_SIDE,
                     shown_width: int = SHOWN_WIDTH):
    """Every model's uncertainty map side by side (one row per image), each with its title and colour bar,
    the text drawn large enough to read when the whole is shown ``shown_width`` wide; None when there is
    nothing to draw."""
    if snapshot is None or not snapshot.models or kind not in UNCERTAINTY_KINDS:
        return None
    width, height = snapshot.grid.cell if snapshot.grid else snapshot.shown
    scale = min(1.0, long_side / max(width, height, 1))
    shown = (max(1, round(width * scale)), max(1, round(height * scale)))
    font_px = 11
    for _ in range(3):  # the bars widen with their text: a few rounds settle the size
        whole = sum(shown[0] + 14 + bar_width(uncertainty_range(kind, scores.logits.shape[1]), UNITS[kind], font_px)
                    for scores in snapshot.models.values())
        font_px = max(11, round(FONT_SHOWN_PX * whole / shown_width))
    columns = []
    for scores in snapshot.models.values():
        pictures = [uncertainty_picture(logits, kind, shown, scores.label if n == 0 else "", font_px)
                    for n, logits in enumerate(scores.logits)]
        columns.append(np.concatenate(pictures, axis=0))
    tallest = max(column.shape[0] for column in columns)
    padded = [np.pad(column, ((0, tallest - column.shape[0]), (0, 8), (0, 0))) for column in columns]  # transparent
    return np.concatenate(padded, axis=1)
