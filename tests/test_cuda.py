"""CUDA paths, run only where CUDA exists (`-m cuda` selects them; elsewhere they skip at once).

Data-free: the shipped checkpoints and synthetic images, so a bare GPU machine runs them."""
import numpy as np
import pytest
import torch

from colorizer.checkpoint import load_checkpoint
from colorizer.inference import predict_classes
from colorizer.trainer import TrainConfig, labelled_data, train
from segmenter.inference import segment
from segmenter.models import load_flower_checkpoint
from tests.helpers import CHECKPOINTS

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available())")]


def _grey(seed: int = 0, size: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).random((size, size), dtype=np.float32)


def test_colourize_on_cuda_agrees_with_cpu():
    for name in ("cnn.pt", "unet.pt"):
        cpu_model, _ = load_checkpoint(CHECKPOINTS / name, "cpu")
        gpu_model, _ = load_checkpoint(CHECKPOINTS / name, "cuda")
        grey = _grey()
        same = (predict_classes(cpu_model, grey) == predict_classes(gpu_model, grey)).mean()
        assert same > 0.99  # cuDNN kernels differ in rounding, so an argmax may flip on near ties


def test_segment_on_cuda_agrees_with_cpu():
    rgb = (np.random.default_rng(1).random((200, 300, 3)) * 255).astype(np.uint8)
    cpu = segment(load_flower_checkpoint(CHECKPOINTS / "flowers_deeplab.pt", "cpu"), rgb).labels
    gpu = segment(load_flower_checkpoint(CHECKPOINTS / "flowers_deeplab.pt", "cuda"), rgb).labels
    assert gpu.shape == (200, 300) and (cpu == gpu).mean() > 0.99


def test_training_runs_on_cuda_and_lowers_the_loss():
    rng = np.random.default_rng(2)
    rgb = torch.from_numpy((rng.random((64, 32, 32, 3)) * 255).astype(np.uint8))
    palette = torch.from_numpy(rng.random((8, 3)).astype(np.float32))
    data = labelled_data(rgb[:48], rgb[48:], palette)
    result = train(TrainConfig(model="unet", epochs=3, batch_size=16, num_filters=8, num_colours=8,
                               device="cuda"), data)
    assert next(result.model.parameters()).is_cuda
    losses = [event.val_loss for event in result.history if event.kind == "epoch"]
    assert losses[-1] < losses[0]
