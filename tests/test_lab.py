"""Lab colour, ab classes, rebalancing and decodings (the beyond-the-handout colourizer's recipe)."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from colorizer import lab
from colorizer.inference import decode_rgb
from colorizer.models import ModelConfig, build_model
from colorizer.trainer import TrainConfig, lab_data, train
from tests.helpers import CIFAR, requires_cifar


def test_lab_round_trip_is_within_one_level_for_every_8bit_colour():
    levels = torch.arange(0, 256, 5, dtype=torch.uint8)
    rgb = torch.stack(torch.meshgrid(levels, levels, levels, indexing="ij"), dim=-1).reshape(-1, 3)
    back = lab.lab_to_uint8(lab.rgb_to_lab(rgb))
    assert (back.int() - rgb.int()).abs().max() <= 1


def test_lab_of_known_colours():
    lab_values = lab.rgb_to_lab(torch.tensor([[255, 255, 255], [0, 0, 0], [255, 0, 0]], dtype=torch.uint8))
    assert torch.allclose(lab_values[0], torch.tensor([100.0, 0.0, 0.0]), atol=0.05)
    assert torch.allclose(lab_values[1], torch.zeros(3), atol=0.05)
    assert torch.allclose(lab_values[2], torch.tensor([53.24, 80.09, 67.20]), atol=0.1)  # the usual sRGB red


def _random_photo_pixels(n=4000, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 8, 8, 3), dtype=torch.uint8, generator=generator)


def test_grid_bins_cover_every_training_pixel():
    rgb = _random_photo_pixels(200)
    ab = lab.rgb_to_lab(rgb)[..., 1:].reshape(-1, 2)
    bins = lab.grid_bins(ab)
    labels = bins.labels(ab)
    # every pixel's own 10 x 10 cell is a class, so its nearest centre lies within half a cell diagonal
    assert (ab - bins.centres[labels]).abs().max() <= lab.GRID_STEP / 2 + 1e-3
    assert set(map(tuple, lab.grid_cell(ab).tolist())) == set(map(tuple, (bins.centres / 10).round().long().tolist()))


def test_rebalancing_weights_have_mean_one_under_the_prior_and_favour_rare_classes():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [50.0, 50.0], [-60.0, 30.0]])
    prior = torch.tensor([0.7, 0.2, 0.09, 0.01], dtype=torch.float64)
    weights = lab.rebalancing_weights(prior, centres, mix=0.5, sigma=5.0)
    smooth = lab.smoothed_prior(prior, centres, 5.0)
    assert float((smooth * weights.double()).sum()) == pytest.approx(1.0, abs=1e-6)
    assert weights[3] > weights[2] > weights[0]  # rarer colour, larger weight
    uniform = lab.rebalancing_weights(prior, centres, mix=1.0)
    assert torch.allclose(uniform, torch.ones(4), atol=1e-6)  # lambda = 1: no rebalancing


def test_annealed_mean_goes_from_the_mode_at_small_T_to_the_mean_at_T_1():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 12, 5, 7, generator=generator) * 3
    logits.scatter_add_(1, logits.argmax(1, keepdim=True), torch.ones(1, 1, 5, 7))  # a clear winner per pixel
    centres = torch.randn(12, 2, generator=generator) * 40
    mode = lab.decode_colours(logits, centres, "mode")
    assert torch.allclose(lab.decode_colours(logits, centres, "annealed", temperature=1e-3), mode, atol=1e-4)
    assert torch.allclose(lab.decode_colours(logits, centres, "annealed", temperature=1.0),
                          lab.decode_colours(logits, centres, "mean"), atol=1e-5)


def test_palette_models_decode_to_palette_colours_in_mode_and_to_mixtures_otherwise():
    model = build_model("unet", ModelConfig(num_colours=3))
    palette = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    logits = torch.zeros(3, 2, 2)
    logits[0] = 5.0
    grey = np.zeros((2, 2), np.float32)
    assert (decode_rgb(model, palette, logits, grey, "mode") == [255, 0, 0]).all()
    mean = decode_rgb(model, palette, logits, grey, "mean")
    assert 240 < mean[0, 0, 0] < 255 and 0 < mean[0, 0, 1] < 15


def test_lab_data_and_soft_targets_on_small_images():
    rgb = _random_photo_pixels(64)
    data = lab_data(rgb[:48], rgb[48:], "lab_kmeans", 16, 0, rebalance=0.5, soft_targets=True)
    assert data.colour_space == "lab" and data.centres.shape == (16, 2) and data.class_weights.shape == (16,)
    assert data.train_grey.shape == (48, 1, 8, 8) and 0 <= data.train_grey.min() and data.train_grey.max() <= 1
    assert data.train_ab.shape == (48, 8, 8, 2)
    indices, weights = lab.soft_targets(data.train_ab[:2], data.centres)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 8, 8))
    assert torch.equal(indices[..., 0], data.train_labels[:2])  # nearest centre first


@requires_cifar
@pytest.mark.parametrize("model,target", [("deep_unet", "lab_grid"), ("mobile_unet", "lab_kmeans")])
def test_beyond_models_train_through_the_one_trainer_and_resume_exactly(model, target, tmp_path):
    config = TrainConfig(model=model, category="horse", data_root=str(CIFAR), epochs=2, batch_size=20,
                         target=target, num_colours=32, rebalance=0.5, hflip=True, crop_pad=2, train_limit=40,
                         val_limit=20, num_filters=8, depth=2, pretrained=(model == "mobile_unet"))
    straight = train(config)
    resumable = replace(config, resume_path=str(tmp_path / "run.pt"))
    train(replace(resumable, epochs=1))  # "killed" after one epoch
    resumed = train(resumable)
    assert [e.val_loss for e in resumed.history if e.kind == "epoch"] == \
        pytest.approx([e.val_loss for e in straight.history if e.kind == "epoch"], rel=1e-5)
    assert straight.model.config.num_colours == len(straight.palette)
