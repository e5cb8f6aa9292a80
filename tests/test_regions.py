"""Region finding for a click (colorizer.regions) on pictures the tests draw."""
import numpy as np
import pytest
import torch

from colorizer import regions


def _two_discs(size=(64, 96)) -> np.ndarray:
    """Lightness: a mid-grey background with a dark disc on the left and a light one on the right."""
    rows, columns = np.mgrid[0:size[0], 0:size[1]]
    lightness = np.full(size, 50.0)
    lightness[(rows - 32) ** 2 + (columns - 24) ** 2 < 15 ** 2] = 10.0
    lightness[(rows - 32) ** 2 + (columns - 72) ** 2 < 15 ** 2] = 90.0
    return lightness


@pytest.mark.parametrize("reach", ["object", "larger"])
def test_a_click_on_one_disc_never_reaches_the_other(reach):
    lightness = _two_discs()
    rows, columns = np.mgrid[0:64, 0:96]
    left = (rows - 32) ** 2 + (columns - 24) ** 2 < 15 ** 2
    right = (rows - 32) ** 2 + (columns - 72) ** 2 < 15 ** 2
    mask = regions.region_mask(lightness, [(24, 32)], reach)
    assert mask[right].max() == 0  # never the other disc
    if reach == "object":
        assert mask[~left].max() == 0  # nor anything beyond the clicked disc's edge ("larger" crosses one edge)
    assert (mask[left] == 1).mean() > 0.9  # and the disc itself nearly whole at full strength


def test_predicted_distributions_split_objects_of_one_lightness():
    lightness = np.full((40, 80), 50.0)
    distributions = torch.zeros(2, 40, 80)
    distributions[0, :, :40] = 1  # the model sees two different things left and right
    distributions[1, :, 40:] = 1
    mask = regions.region_mask(lightness, [(34, 20)], "object", distributions)
    assert mask[:, 40:].max() == 0 and mask[15:26, 30:40].min() == 1
    assert regions.region_mask(lightness, [(34, 20)], "object")[15:26, 40:46].min() == 1  # without them it spreads


def test_on_a_gradient_the_region_grows_with_the_reach():
    lightness = np.tile(np.linspace(0, 100, 400), (48, 1))
    areas = [regions.region_mask(lightness, [(200, 24)], reach).sum() for reach in (0, 0.25, 0.5, 1, 2)]
    assert areas[0] == 1  # point: the clicked pixel alone
    assert all(a < b for a, b in zip(areas, areas[1:])), areas


def test_a_stroke_seeds_the_region_from_every_pixel_it_crosses():
    lightness = _two_discs()
    both = regions.region_mask(lightness, [(24, 32), (72, 32)], "object")
    assert both[32, 24] == 1 and both[32, 72] == 1 and both[5, 5] == 0


@pytest.mark.parametrize("bad", ["far", -1, float("nan"), 99, None])
def test_a_bad_reach_is_refused_in_plain_words(bad):
    with pytest.raises(ValueError, match="reach"):
        regions.reach_value(bad)


def test_each_pixel_belongs_to_the_geodesically_nearest_hint_alone():
    """Two clicks in one flat region: each keeps the half nearer to it (a later click refines, never fights)."""
    costs = regions.step_costs(np.full((20, 60), 50.0))
    distances = [regions.geodesic_distance(costs, [(column, 10)], 1.0) for column in (10, 50)]
    weights = regions.nearest_weights(distances, [1.0, 1.0])
    assert weights.shape == (2, 20, 60)
    assert weights[0, :, :29].min() > 0 and weights[0, :, 31:].max() == 0
    assert weights[1, :, 31:].min() > 0 and weights[1, :, :29].max() == 0
    assert np.array_equal(weights.max(axis=0), np.maximum(*[regions.soft_mask(d, 1.0) for d in distances]))


def _dijkstra(costs, seeds, limit):
    """Pixel by pixel, the textbook way: what regions.geodesic_distances must equal."""
    import heapq
    _, height, width = costs.shape
    distance = np.full((height, width), np.inf)
    queue = [(0.0, row, column) for column, row in seeds]
    for _, row, column in queue:
        distance[row, column] = 0.0
    while queue:
        here, row, column = heapq.heappop(queue)
        if here > distance[row, column]:
            continue
        for k, (dy, dx, _) in enumerate(regions.NEIGHBOURS):
            there = here + costs[k, row, column]
            if 0 <= row + dy < height and 0 <= column + dx < width and there < distance[row + dy, column + dx] \
                    and there <= limit:
                distance[row + dy, column + dx] = there
                heapq.heappush(queue, (there, row + dy, column + dx))
    return distance


def test_the_relaxed_distances_are_dijkstras_bit_for_bit_several_hints_at_once():
    rng = np.random.default_rng(4)
    costs = regions.step_costs(rng.random((30, 45)) * 100, torch.softmax(torch.randn(6, 30, 45), 0))
    seeds, limits = [[(3, 4)], [(40, 25), (41, 25)], [(20, 15)]], [1.0, 2.5, np.inf]
    found = regions.geodesic_distances(costs, seeds, limits)
    for distance, own_seeds, limit in zip(found, seeds, limits):
        assert np.array_equal(distance, _dijkstra(costs, own_seeds, limit))
    assert np.isfinite(found[0]).sum() < found[0].size  # the limit cut the first region short
