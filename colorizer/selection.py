"""What a click (or a stroke) on the hint model's picture selects, for the Colourize tab to show before a colour
is picked: the region the next hint will reach (found as colorizer.inference.steered_logits finds it:
colorizer.inference.region_costs: the working-size lightness and the model's features), drawn as an outline on a small
copy of the photo, the stroke's line on top."""
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from . import regions
from .hints import Hint, hint_pixels
from .inference import PreparedPhoto, model_input, region_costs

PREVIEW_LONG_SIDE = 320  # the preview beside the suggestions: small, a region's shape is what it shows
OUTLINE = (255, 0, 255)  # magenta: seen on any colour and on grey
LINE = (255, 255, 0)


def selected_region(model, photo: PreparedPhoto, logits: torch.Tensor, points: list[tuple[int, int]],
                    reach) -> np.ndarray:
    """h x w float32 in [0, 1] at the working size of ``logits`` (NC x h x w, or 1 x NC x h x w): the region a
    hint at upload pixels ``points`` (x, y; one, or a stroke's) with ``reach`` covers, found as the hint
    finds it (colorizer.inference.region_costs; ``logits`` stand in for the zero-hint ones where the model
    has no features)."""
    logits = logits[0] if logits.dim() == 4 else logits
    work = (logits.shape[-1], logits.shape[-2])
    seeds = hint_pixels(Hint(*points[0], (0, 0, 0), 0.0, tuple(points[1:])), photo.full_size, work)
    grey = model_input(model, photo.small(work))  # what the model saw: L / 100
    _, costs = region_costs(model, grey, logits.float())
    return regions.region_mask(grey, seeds, reach, costs=costs)


def outlined(photo: PreparedPhoto, mask: np.ndarray, points: list[tuple[int, int]],
             long_side: int = PREVIEW_LONG_SIDE) -> np.ndarray:
    """The photo's grey at ``long_side``, the region ``mask`` (working size, any scale) outlined and the rest
    dimmed, and the clicked points (joined by a line for a stroke) on top: H x W x 3 uint8."""
    width, height = photo.size
    scale = long_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    grey = Image.fromarray(photo.grey_rgb).resize(size, Image.Resampling.BILINEAR)
    inside = Image.fromarray((np.asarray(mask) >= 0.5).astype(np.uint8) * 255).resize(size, Image.Resampling.NEAREST)
    picture = np.asarray(grey).astype(np.float32)
    held = np.asarray(inside)[..., None] > 0
    picture = np.where(held, picture, picture * 0.45).astype(np.uint8)  # outside the region: dimmed
    border = np.asarray(inside.filter(ImageFilter.MaxFilter(3))) != np.asarray(inside.filter(ImageFilter.MinFilter(3)))
    picture[border] = OUTLINE
    image = Image.fromarray(picture)
    draw = ImageDraw.Draw(image)
    shown = [((x + 0.5) * size[0] / photo.full_size[0], (y + 0.5) * size[1] / photo.full_size[1]) for x, y in points]
    if len(shown) > 1:
        draw.line(shown, fill=LINE, width=3)
    for x, y in shown:
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=LINE, outline="black")
    return np.asarray(image)
