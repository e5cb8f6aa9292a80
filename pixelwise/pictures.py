"""Pictures made of numbers: nearest-neighbour enlargement, grids of equal pictures with gaps (Train live's
strips; pixelwise.perpixel.Grid maps clicks back), viridis heat maps with a colour bar, and the
uncertainty maps of per-pixel classifiers. numpy and PIL only: no model, no Gradio."""
import numpy as np
import torch
from PIL import Image, ImageDraw

from .perpixel import UNCERTAINTY_KINDS, Snapshot, uncertainty, uncertainty_range

STRIP_FACTOR, STRIP_GAP = 3, 3  # how Train live's strips are drawn (the pixel inspector maps clicks back)
UNCERTAINTY_LONG_SIDE = 320  # the maps are drawn at most this large (the working size is smaller anyway)


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


def uncertainty_maps(snapshot: Snapshot | None, kind: str, long_side: int = UNCERTAINTY_LONG_SIDE):
    """Every model's uncertainty map side by side (one row per image), each with its colour bar; None when
    there is nothing to draw."""
    if snapshot is None or not snapshot.models or kind not in UNCERTAINTY_KINDS:
        return None
    width, height = snapshot.grid.cell if snapshot.grid else snapshot.shown
    scale = min(1.0, long_side / max(width, height, 1))
    shown = (max(1, round(width * scale)), max(1, round(height * scale)))
    columns = []
    for scores in snapshot.models.values():
        pictures = [uncertainty_picture(logits, kind, shown, scores.label if n == 0 else "")
                    for n, logits in enumerate(scores.logits)]
        columns.append(np.concatenate(pictures, axis=0))
    tallest = max(column.shape[0] for column in columns)
    padded = [np.pad(column, ((0, tallest - column.shape[0]), (0, 8), (0, 0)), constant_values=255) for column in columns]
    return np.concatenate(padded, axis=1)
