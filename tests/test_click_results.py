"""The simulated person of scripts/click_results.py (issue 29's clicks measure), on pictures the tests draw."""
import numpy as np
import pytest

from colorizer import regions
from colorizer.checkpoint import load_checkpoint
import torch

from colorizer.lab import rgb_to_lab
from scripts import click_results

HINT_MODEL = "checkpoints/colour_hints.pt"


def _two_colours(size=(48, 96)) -> np.ndarray:
    """A red left half and a green right half of the same Lab lightness (as near as 8-bit RGB allows)."""
    picture = np.zeros((*size, 3), np.uint8)
    picture[:, :size[1] // 2] = (200, 60, 60)
    picture[:, size[1] // 2:] = (60, 128, 60)
    return picture


def _lightness(picture: np.ndarray) -> np.ndarray:
    return rgb_to_lab(torch.from_numpy(picture))[..., 0].numpy().astype(np.float64)


def test_the_two_halves_share_a_lightness():
    lightness = _lightness(_two_colours())
    assert np.ptp(lightness) < 6  # so lightness alone cannot tell them apart (regions.LIGHTNESS_SCALE is 32)


def test_oracle_regions_follow_the_true_colours_where_the_lightness_does_not():
    model, _ = load_checkpoint(HINT_MODEL)
    picture = _two_colours()
    grey = _lightness(picture) / 100
    costs = click_results.oracle_costs(model, picture, grey)
    mask = regions.soft_mask(regions.geodesic_distance(costs, [(20, 24)], regions.THRESHOLD), 1.0)
    assert mask[:, 48:].max() == 0 and mask[:, 40:46].min() == 1  # the red half only, up to its edge
    lightness_only = regions.region_mask(grey * 100, [(20, 24)], "object")
    assert lightness_only[:, 48:52].min() == 1  # the lightness alone spreads across it


def test_the_next_click_is_the_worst_blurred_error_and_never_near_an_earlier_one():
    truth = np.full((100, 100, 3), 128, np.uint8)
    output = truth.copy()
    output[60:70, 20:30] = (200, 60, 60)  # a wrong patch: the biggest ab error
    output[10:14, 80:84] = (120, 140, 120)  # a smaller one
    true_ab = click_results.metrics.ab_of(truth)
    x, y = click_results.next_click(output, true_ab, [])
    assert 20 <= x < 30 and 60 <= y < 70
    x, y = click_results.next_click(output, true_ab, [(x, y)])
    assert (x - 25) ** 2 + (y - 65) ** 2 >= 3 ** 2  # at least the blur's width (3% of 100) from the first


def test_a_patch_colour_is_the_mean_of_its_5_by_5_pixels_clipped_at_the_edge():
    truth = np.zeros((10, 10, 3), np.uint8)
    truth[:, :, 0] = np.arange(10)[None, :] * 10
    assert click_results.patch_colour(truth, 5, 5) == (50, 0, 0)
    assert click_results.patch_colour(truth, 0, 0) == (10, 0, 0)  # columns 0-2 only: 0, 10, 20


@pytest.mark.parametrize("shape", [(9, 9), (9, 15)])
def test_the_deepest_pixel_is_the_middle_of_a_rectangle(shape):
    mask = np.zeros((20, 30), bool)
    mask[5:5 + shape[0], 5:5 + shape[1]] = True
    x, y = click_results.deepest_pixel(mask)
    assert y == 9 and 9 <= x <= 5 + shape[1] - 5
