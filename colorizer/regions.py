"""The region a click (or a stroke) lands on, class-agnostically: geodesic distance from the clicked pixels
over the working-size picture, where a step costs little inside a smooth area and a lot across an edge of
lightness or of what the colourizer computes there (its per-pixel colour distributions, or the features
just before its classifier: colorizer.inference.logits_and_features; both change at object borders even
where the lightness does not). The region is every pixel within a reach of the
click, with a soft edge; a larger reach crosses weaker edges and goes further.

    mask = region_mask(lightness, seeds=[(column, row)], reach=1.0, distributions=probabilities)

The scales below were chosen on Imagenette train/ and flower train photos (docs/hints.md, "Steering the object").
"""
import math

import numpy as np
import torch

REACHES = {"point": 0.0, "object": 1.0, "larger": 2.5}  # the named reaches; any number >= 0 works too
STEP_COST = 0.01  # per pixel travelled in a smooth area: 100 working pixels cost 1
LIGHTNESS_SCALE = 32.0  # a lightness step of 32 (Lab L) between neighbours costs 1
DISTRIBUTION_SCALE = 0.8  # a change of 0.8 in total variation of the per-pixel distributions (or features) costs 1
EDGE_POWER = 2.0  # squared: texture's many small steps cost little, one clear edge a lot
THRESHOLD = 1.2  # geodesic distance at which the region ends, at reach 1 ("object")
SOFT_EDGE = 0.6  # the last 60% of the distance fades from 1 to 0
MAX_REACH = 4.0
# the 8 neighbours: (row step, column step, length)
NEIGHBOURS = [(dy, dx, math.hypot(dy, dx)) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]


def reach_value(reach) -> float:
    """'point' / 'object' / 'larger' or a number >= 0 -> the multiplier of THRESHOLD (0: a point, no region)."""
    if isinstance(reach, str):
        if reach not in REACHES:
            raise ValueError(f"reach {reach!r} is not one of {', '.join(REACHES)} or a number 0-{MAX_REACH:g}")
        return REACHES[reach]
    try:
        value = float(reach)
    except (TypeError, ValueError):
        raise ValueError(f"reach {reach!r} is not one of {', '.join(REACHES)} or a number 0-{MAX_REACH:g}") from None
    if not 0 <= value <= MAX_REACH:  # also refuses NaN
        raise ValueError(f"reach {reach!r} must be between 0 and {MAX_REACH:g}")
    return value


def step_costs(lightness: np.ndarray, distributions: torch.Tensor | None = None) -> np.ndarray:
    """h x w lightness (Lab L, 0-100) and optional C x h x w distributions (each pixel's sums to 1) ->
    8 x h x w costs of the step from each pixel to each neighbour (inf off the picture)."""
    light = np.asarray(lightness, np.float64)
    height, width = light.shape
    probs = None if distributions is None else np.asarray(distributions, np.float64)
    costs = np.full((len(NEIGHBOURS), height, width), np.inf)
    for k, (dy, dx, length) in enumerate(NEIGHBOURS):
        rows = slice(max(0, -dy), height - max(0, dy))
        cols = slice(max(0, -dx), width - max(0, dx))
        to_rows = slice(max(0, dy), height - max(0, -dy))
        to_cols = slice(max(0, dx), width - max(0, -dx))
        edge = (np.abs(light[to_rows, to_cols] - light[rows, cols]) / LIGHTNESS_SCALE) ** EDGE_POWER
        if probs is not None:
            change = 0.5 * np.abs(probs[:, to_rows, to_cols] - probs[:, rows, cols]).sum(0)
            edge = edge + (change / DISTRIBUTION_SCALE) ** EDGE_POWER
        costs[k, rows, cols] = length * (STEP_COST + edge)
    return costs


def geodesic_distance(costs: np.ndarray, seeds: list[tuple[int, int]], limit: float = math.inf) -> np.ndarray:
    """The least total cost from the seed pixels (column, row) over ``costs`` (step_costs); h x w, inf beyond
    ``limit``."""
    return geodesic_distances(costs, [seeds], [limit])[0]


def geodesic_distances(costs: np.ndarray, seed_lists: list, limits: list[float]) -> np.ndarray:
    """geodesic_distance for several hints at once (N x h x w). Every pixel is relaxed from its 8 neighbours
    at once, round after round until nothing within the limit changes: the same sums as Dijkstra's pixel by
    pixel (the shortest path to a pixel within a limit never leaves it, so a round that lowers none there
    leaves none to lower), several times sooner in numpy, all hints in one pass."""
    _, height, width = costs.shape
    distance = np.full((len(seed_lists), height, width), np.inf)
    for index, seeds in enumerate(seed_lists):
        for column, row in seeds:
            distance[index, row, column] = 0.0
    moves = []
    for k, (dy, dx, _) in enumerate(NEIGHBOURS):
        source = (slice(None), slice(max(0, -dy), height - max(0, dy)), slice(max(0, -dx), width - max(0, dx)))
        target = (slice(None), slice(max(0, dy), height - max(0, -dy)), slice(max(0, dx), width - max(0, -dx)))
        moves.append((costs[k][source[1:]], source, target))
    limit = np.asarray(limits, np.float64)[:, None, None]
    before, changed = np.empty_like(distance), True
    while changed:  # a round that lowers no value within the limit leaves none to lower: done
        before[:] = distance
        for step, source, target in moves:
            np.minimum(distance[target], distance[source] + step, out=distance[target])
        changed = ((distance < before) & (distance <= limit)).any()
    distance[distance > limit] = np.inf
    return distance


def region_mask(lightness: np.ndarray, seeds: list[tuple[int, int]], reach=1.0,
                distributions: torch.Tensor | None = None, costs: np.ndarray | None = None) -> np.ndarray:
    """h x w float32 in [0, 1]: 1 on the region connected to the seed pixels (column, row), fading to 0 over
    its last SOFT_EDGE of geodesic distance. Reach 0 ('point'): the seed pixels alone."""
    reach = reach_value(reach)
    height, width = np.shape(lightness)
    if reach == 0:
        mask = np.zeros((height, width), np.float32)
        for column, row in seeds:
            mask[row, column] = 1.0
        return mask
    costs = step_costs(lightness, distributions) if costs is None else costs
    return soft_mask(geodesic_distance(costs, seeds, THRESHOLD * reach), reach)


def soft_mask(distance: np.ndarray, reach: float) -> np.ndarray:
    """Geodesic distances -> the region's h x w float32 mask: 1 near, fading to 0 over the last SOFT_EDGE."""
    threshold = THRESHOLD * reach
    fade_start = threshold * (1 - SOFT_EDGE)
    return np.clip((threshold - distance) / (threshold - fade_start), 0, 1).astype(np.float32)


def nearest_weights(distances: list[np.ndarray], reaches: list[float]) -> np.ndarray:
    """N x h x w: each pixel belongs to the hint geodesically nearest to it (its soft mask there), to no
    other: a later click inside an earlier click's region takes the part nearer to it, refining it."""
    stacked = np.stack(distances)
    owner = stacked.argmin(axis=0)
    weights = np.stack([soft_mask(distance, reach) for distance, reach in zip(distances, reaches)])
    return weights * (owner[None] == np.arange(len(distances))[:, None, None])
