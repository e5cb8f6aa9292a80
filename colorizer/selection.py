"""What a click (or a stroke) on the hint model's picture selects, for the Colourize tab to show before a colour
is picked: the region the next hint will reach (found as colorizer.inference.steered_logits finds it:
colorizer.inference.region_costs: the working-size lightness and the model's features), drawn as a see-through layer
to lay over the picture itself (outlined, the rest dimmed, the stroke's line on top); and a stroke
drawn by dragging on the picture, turned into a stroke hint's points."""
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from . import regions
from .hints import Hint, hint_pixels
from .inference import PreparedPhoto, model_input, region_costs

PREVIEW_LONG_SIDE = 320  # the outline is drawn this small, then enlarged: its weight the same on any picture
OUTLINE = (255, 0, 255)  # magenta: seen on any colour and on grey
LINE = (255, 255, 0)


def selected_region(model, photo: PreparedPhoto, logits: torch.Tensor, points: list[tuple[int, int]],
                    reach, cache: dict | None = None) -> np.ndarray:
    """h x w float32 in [0, 1] at the working size of ``logits`` (NC x h x w, or 1 x NC x h x w): the region a
    hint at upload pixels ``points`` (x, y; one, or a stroke's) with ``reach`` covers, found as the hint
    finds it (colorizer.inference.region_costs, from the model's own zero-hint run, as steered_logits finds
    it). ``cache``: a dict the caller keeps for this photo, model and working size: the working-size input
    and the costs are found once (one model run) for every later click."""
    logits = logits[0] if logits.dim() == 4 else logits
    work = (logits.shape[-1], logits.shape[-2])
    seeds = hint_pixels(Hint(*points[0], (0, 0, 0), 0.0, tuple(points[1:])), photo.full_size, work)
    found = {} if cache is None else cache
    if "costs" not in found:
        found["grey"] = model_input(model, photo.small(work))  # what the model saw: L / 100
        _, found["costs"] = region_costs(model, found["grey"])
    return regions.region_mask(found["grey"], seeds, reach, costs=found["costs"])


def outline_overlay(mask: np.ndarray, points: list[tuple[int, int]], full_size: tuple[int, int],
                    size: tuple[int, int]) -> np.ndarray:
    """A see-through layer to lay over the picture a person clicked (``size`` = its (width, height)): clear
    inside the region ``mask`` (working size, any scale), dimmed outside, the region outlined and the points
    (upload pixels of a photo ``full_size``; joined by a line for a stroke) on top: H x W x 4 uint8 RGBA. Drawn
    at most PREVIEW_LONG_SIDE long and enlarged, so the outline keeps its weight on a large picture shown small."""
    width, height = size
    scale = min(1.0, PREVIEW_LONG_SIDE / max(width, height))
    small = (max(1, round(width * scale)), max(1, round(height * scale)))
    inside = Image.fromarray((np.asarray(mask) >= 0.5).astype(np.uint8) * 255).resize(small, Image.Resampling.NEAREST)
    held = np.asarray(inside) > 0
    border = np.asarray(inside.filter(ImageFilter.MaxFilter(5))) != np.asarray(inside.filter(ImageFilter.MinFilter(3)))
    layer = np.zeros((small[1], small[0], 4), np.uint8)
    layer[~held] = (0, 0, 0, 120)  # outside the region: dimmed, still seen
    layer[border] = (*OUTLINE, 255)
    image = Image.fromarray(layer, "RGBA")
    draw = ImageDraw.Draw(image)
    shown = [((x + 0.5) * small[0] / full_size[0], (y + 0.5) * small[1] / full_size[1]) for x, y in points]
    if len(shown) > 1:
        draw.line(shown, fill=(*LINE, 255), width=3)
    for x, y in shown[:1] if len(shown) > 1 else shown:
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=(*LINE, 255), outline=(0, 0, 0, 255))
    return np.asarray(image.resize((width, height), Image.Resampling.NEAREST))


MAX_DRAWN_POINTS = 64  # a drawn stroke's points: enough to follow a curve, few enough to read in the hint list
CELLS_ON_LONG_SIDE = 128  # painted pixels are grouped in cells this fine before the stroke's line is traced


class NothingDrawn(ValueError):
    """A drawing layer with no painted pixel (or none that are new)."""


def drawn_stroke(painted: np.ndarray, full_size: tuple[int, int], before: np.ndarray | None = None,
                 max_points: int = MAX_DRAWN_POINTS) -> list[list[int]]:
    """The stroke a person painted on a drawing layer (H x W x 4 RGBA: its alpha; or H x W), as ordered [x, y]
    points in the upload's own pixels (``full_size`` = (width, height); the layer covers the whole upload at any
    size). Only pixels not painted in ``before`` (the layer as it was, same shape) count, so a new stroke beside
    an old one is taken alone. The painted pixels are grouped in cells (1/128 of the long side), the largest
    connected piece is kept, and its longest path from cell to cell (the two ends farthest apart), moved to the
    middle of the painted band, is its line, thinned to at most ``max_points``, starting at the end nearer the
    left (then the top). NothingDrawn, in plain words, when nothing was painted."""
    alpha = np.asarray(painted)
    mask = (alpha[..., -1] if alpha.ndim == 3 else alpha) > 0
    if before is not None and np.shape(before) == mask.shape:
        new = mask & ~np.asarray(before, bool)
        mask = new if new.any() else mask  # the eraser took pixels away: the stroke left is the one meant
    if not mask.any():
        raise NothingDrawn("Nothing drawn: drag across the picture to draw a stroke.")
    height, width = mask.shape
    cell = max(1, -(-max(height, width) // CELLS_ON_LONG_SIDE))
    rows, columns = np.nonzero(mask)
    keys = (rows // cell) * (width // cell + 1) + columns // cell
    cells, where = np.unique(keys, return_inverse=True)
    centres = np.stack([np.bincount(where, columns), np.bincount(where, rows)], 1) / np.bincount(where)[:, None]
    grid = {(int(k // (width // cell + 1)), int(k % (width // cell + 1))): n for n, k in enumerate(cells)}
    neighbours = [[grid[(r + dr, c + dc)] for dr in (-1, 0, 1) for dc in (-1, 0, 1)
                   if (dr or dc) and (r + dr, c + dc) in grid] for (r, c) in grid]
    piece = max(_pieces(neighbours), key=len)
    one_end = _farthest(neighbours, piece[0])[0]
    other_end, came_from = _farthest(neighbours, one_end)
    path = [other_end]
    while path[-1] != one_end:
        path.append(came_from[path[-1]])
    # the path may hug the painted band's edge: each of its cells moves to the mean of the piece's cells within
    # about half the band's width of it, the band's middle
    cell_places, members = np.array(list(grid)), np.array(piece)
    half = max(1, round(len(piece) / len(path) / 2))
    nearby = np.abs(cell_places[path][:, None] - cell_places[members][None]).max(axis=2) <= half
    line = (nearby @ centres[members]) / nearby.sum(axis=1, keepdims=True)
    if tuple(line[-1]) < tuple(line[0]):
        line = line[::-1]
    if len(line) > max_points:
        line = line[np.round(np.linspace(0, len(line) - 1, max_points)).astype(int)]
    scale_x, scale_y = full_size[0] / width, full_size[1] / height
    points = []
    for x, y in line:
        point = [min(full_size[0] - 1, int((x + 0.5) * scale_x)), min(full_size[1] - 1, int((y + 0.5) * scale_y))]
        if not points or point != points[-1]:
            points.append(point)
    return points


def _pieces(neighbours: list[list[int]]) -> list[list[int]]:
    """The connected pieces of a graph given as each node's neighbours."""
    seen, pieces = set(), []
    for start in range(len(neighbours)):
        if start in seen:
            continue
        seen.add(start)
        piece, queue = [], [start]
        while queue:
            node = queue.pop()
            piece.append(node)
            for other in neighbours[node]:
                if other not in seen:
                    seen.add(other)
                    queue.append(other)
        pieces.append(piece)
    return pieces


def _farthest(neighbours: list[list[int]], start: int) -> tuple[int, dict[int, int]]:
    """The node the most steps from ``start`` (breadth first), and each reached node's step back towards it."""
    came_from, queue, last = {start: start}, [start], start
    for node in queue:  # the list grows as it is read: a queue
        last = node
        for other in neighbours[node]:
            if other not in came_from:
                came_from[other] = node
                queue.append(other)
    return last, came_from
