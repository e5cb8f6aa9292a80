"""How good a colourization is, by the measures the field uses.

- ``palette_accuracy``: the handout's metric, for any model: its RGB output and the true pixel are each
  mapped to the nearest colour of one reference palette; the share of pixels whose two colours agree.
- ``ab_psnr``: PSNR of the ab channels against the truth (ab range taken as 0..255 wide, as is usual).
- ``ab_error_auc``: Zhang et al.'s AuC: the share of pixels whose ab error is within t, averaged over
  t = 0..150; ``rebalanced`` weights each pixel by the inverse frequency of its true ab cell, so rare
  saturated colours count as much as greys.
- ``colourfulness``: Hasler & Suesstrunk's metric of one RGB image.
"""
import numpy as np
import torch

from . import lab
from .palette import nearest_colour_labels

AUC_THRESHOLDS = np.arange(0, 151)


def palette_accuracy(predicted_rgb: torch.Tensor, true_rgb: torch.Tensor, palette: torch.Tensor) -> float:
    """... x 3 uint8 both; share of pixels whose nearest palette colours agree."""
    predicted = nearest_colour_labels(predicted_rgb.contiguous(), palette)
    truth = nearest_colour_labels(true_rgb.contiguous(), palette)
    return float((predicted == truth).double().mean())


def ab_of(rgb_uint8: np.ndarray) -> np.ndarray:
    return lab.rgb_to_lab(torch.from_numpy(np.array(rgb_uint8)))[..., 1:].numpy()  # a writable copy


def ab_psnr(predicted_ab: np.ndarray, true_ab: np.ndarray) -> float:
    mse = float(np.mean((predicted_ab - true_ab) ** 2))
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


def ab_error_auc(errors: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the curve 'share of pixels with ab error <= t' for t in 0..150, as a share of the maximum."""
    order = np.argsort(errors)
    sorted_errors = errors[order]
    weights = np.ones_like(errors) if weights is None else weights
    cumulative = np.concatenate([[0.0], np.cumsum(weights[order])]) / weights.sum()
    within = cumulative[np.searchsorted(sorted_errors, AUC_THRESHOLDS, side="right")]
    return float(within.mean())


def inverse_frequency_weights(true_ab: np.ndarray) -> np.ndarray:
    """Per-pixel weight 1 / frequency of its 10 x 10 ab cell among these pixels (each cell counts the same)."""
    cells = lab.grid_cell(torch.from_numpy(true_ab.reshape(-1, 2))).numpy()
    codes = (cells[:, 0] + 20) * 64 + (cells[:, 1] + 20)
    _, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse]


def colourfulness(rgb_uint8: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003): sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2)."""
    rgb = rgb_uint8.reshape(-1, 3).astype(np.float64)
    rg = rgb[:, 0] - rgb[:, 1]
    yb = 0.5 * (rgb[:, 0] + rgb[:, 1]) - rgb[:, 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
