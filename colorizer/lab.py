"""Colour as Zhang, Isola & Efros (ECCV 2016) treat it: lightness L in, quantized ab out.

- ``rgb_to_lab`` / ``lab_to_rgb``: sRGB (D65) <-> CIE Lab, on torch tensors.
- ``AbBins``: the classes. Either Zhang's grid (ab cells of 10, keeping those the training pixels
  fall in) or k-means over the training pixels' ab. Each class is an ab centre.
- ``rebalancing_weights``: per-class loss weights from the smoothed empirical prior
  (w ~ ((1 - lambda) p~ + lambda / Q)^-1, scaled to mean 1 under p~), so rare saturated colours
  count as much as greys and browns.
- ``decode_ab``: the mode (argmax), the mean, or the annealed mean softmax(log p / T) of the
  predicted distribution, as ab.
"""
from dataclasses import dataclass

import torch

GRID_STEP = 10.0  # Zhang's ab cell size
AB_RANGE = 110.0  # grid cells are centred on multiples of 10 in [-110, 110]

_SRGB_TO_XYZ = torch.tensor([[0.412453, 0.357580, 0.180423],
                             [0.212671, 0.715160, 0.072169],
                             [0.019334, 0.119193, 0.950227]])
_XYZ_TO_SRGB = torch.linalg.inv(_SRGB_TO_XYZ)  # once, not per call: lab_to_rgb runs per strip of a photo
_WHITE = torch.tensor([0.950456, 1.0, 1.088754])  # D65


def _linear(rgb: torch.Tensor) -> torch.Tensor:
    return torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)


def _gamma(linear: torch.Tensor) -> torch.Tensor:
    linear = linear.clamp(min=0)
    return torch.where(linear > 0.0031308, 1.055 * linear.clamp(min=0.0031308) ** (1 / 2.4) - 0.055, 12.92 * linear)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """... x 3 RGB (uint8, or float in [0, 1]) -> ... x 3 float Lab (L in [0, 100])."""
    rgb = rgb.float() / 255.0 if rgb.dtype == torch.uint8 else rgb.float()
    xyz = _linear(rgb) @ _SRGB_TO_XYZ.T / _WHITE
    f = torch.where(xyz > 0.008856, xyz.clamp(min=1e-12) ** (1 / 3), 7.787 * xyz + 16 / 116)
    lightness = 116 * f[..., 1] - 16
    return torch.stack([lightness, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], dim=-1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """... x 3 Lab -> ... x 3 float RGB in [0, 1] (out-of-gamut colours are clipped)."""
    fy = (lab[..., 0] + 16) / 116
    f = torch.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], dim=-1)
    xyz = torch.where(f > 0.206893, f ** 3, (f - 16 / 116) / 7.787) * _WHITE
    return _gamma(xyz @ _XYZ_TO_SRGB.T).clamp(0, 1)


def lab_to_uint8(lab: torch.Tensor) -> torch.Tensor:
    return (lab_to_rgb(lab) * 255).round().to(torch.uint8)


def grid_cell(ab: torch.Tensor) -> torch.Tensor:
    """... x 2 ab -> ... x 2 integer cell coordinates (index of the nearest multiple of 10)."""
    return torch.round(ab.clamp(-AB_RANGE, AB_RANGE) / GRID_STEP).to(torch.int64)


@dataclass
class AbBins:
    """Q colour classes, each an ab centre; ``kind`` is 'grid' or 'kmeans'."""

    centres: torch.Tensor  # Q x 2 float
    kind: str

    def __len__(self) -> int:
        return len(self.centres)

    def labels(self, ab: torch.Tensor, chunk: int = 1 << 20) -> torch.Tensor:
        """... x 2 ab -> ... nearest-centre class indices (int64)."""
        flat = ab.reshape(-1, 2).float()
        out = torch.empty(len(flat), dtype=torch.int64)
        for start in range(0, len(flat), chunk):
            out[start:start + chunk] = torch.cdist(flat[start:start + chunk], self.centres).argmin(dim=1)
        return out.reshape(ab.shape[:-1])

    def display_palette(self, lightness: float = 65.0) -> torch.Tensor:
        """Q x 3 RGB in [0, 1]: each class's colour at one lightness, for charts and class maps."""
        lab = torch.cat([torch.full((len(self), 1), lightness), self.centres], dim=1)
        return lab_to_rgb(lab)


def grid_bins(ab: torch.Tensor) -> AbBins:
    """Zhang's quantization: the 10 x 10 ab cells that at least one training pixel falls in."""
    cells = torch.unique(grid_cell(ab.reshape(-1, 2)), dim=0)
    return AbBins((cells.float() * GRID_STEP), "grid")


def kmeans_bins(ab: torch.Tensor, k: int, seed: int = 0, iterations: int = 30, sample: int = 400_000,
                weights: torch.Tensor | None = None) -> AbBins:
    """k ab centres from k-means++ and Lloyd iterations over a seeded sample of the training pixels
    (``weights``: how many pixels each row of ``ab`` stands for, when rows are distinct colours)."""
    flat = ab.reshape(-1, 2).float()
    generator = torch.Generator().manual_seed(seed)
    if weights is None:
        points = flat[torch.randperm(len(flat), generator=generator)[:sample]]
    else:
        points = flat[torch.multinomial(weights.double(), sample, replacement=True, generator=generator)]
    centres = points[torch.randint(len(points), (1,), generator=generator)]
    nearest = torch.cdist(points, centres).squeeze(1) ** 2
    for _ in range(1, k):
        centres = torch.cat([centres, points[torch.multinomial(nearest.double(), 1, generator=generator)]])
        nearest = torch.minimum(nearest, torch.cdist(points, centres[-1:]).squeeze(1) ** 2)
    for _ in range(iterations):
        assignment = torch.cdist(points, centres).argmin(dim=1)
        counts = torch.bincount(assignment, minlength=k)[:, None].float()
        sums = torch.zeros(k, 2).index_add_(0, assignment, points)
        centres = torch.where(counts > 0, sums / counts.clamp(min=1), centres)
    order = torch.argsort(centres[:, 0] * 1000 + centres[:, 1])  # a stable, readable order
    return AbBins(centres[order], "kmeans")


def empirical_prior(labels: torch.Tensor, num_classes: int, counts: torch.Tensor | None = None) -> torch.Tensor:
    """Share of pixels per class; ``counts``: how many pixels each label stands for (distinct colours)."""
    totals = torch.bincount(labels.reshape(-1), weights=None if counts is None else counts.double(),
                            minlength=num_classes).double()
    return totals / totals.sum()


def smoothed_prior(prior: torch.Tensor, centres: torch.Tensor, sigma: float = 5.0) -> torch.Tensor:
    """The prior convolved with a Gaussian of ``sigma`` in ab space (Zhang's p~), renormalized."""
    kernel = torch.exp(-torch.cdist(centres.double(), centres.double()) ** 2 / (2 * sigma ** 2))
    smooth = kernel @ prior.double()
    return smooth / smooth.sum()


def rebalancing_weights(prior: torch.Tensor, centres: torch.Tensor, mix: float = 0.5,
                        sigma: float = 5.0) -> torch.Tensor:
    """Zhang's class weights: ((1 - mix) p~ + mix / Q)^-1, normalized so that sum p~ w = 1."""
    smooth = smoothed_prior(prior, centres, sigma)
    weights = 1.0 / ((1 - mix) * smooth + mix / len(smooth))
    return (weights / (smooth * weights).sum()).float()


def soft_targets(ab: torch.Tensor, centres: torch.Tensor, neighbours: int = 5, sigma: float = 5.0):
    """Zhang's soft encoding: each pixel's 5 nearest centres, Gaussian-weighted (sigma 5).
    ... x 2 ab -> (... x neighbours indices, ... x neighbours weights summing to 1)."""
    distances, indices = torch.cdist(ab.reshape(-1, 2).float(), centres).topk(neighbours, largest=False)
    weights = torch.softmax(-distances ** 2 / (2 * sigma ** 2), dim=1)
    shape = ab.shape[:-1] + (neighbours,)
    return indices.reshape(shape), weights.reshape(shape)


DECODINGS = ("mode", "mean", "annealed")
DEFAULT_TEMPERATURE = 0.38  # Zhang's choice


def annealed_probabilities(logits: torch.Tensor, temperature: float, dim: int = 1) -> torch.Tensor:
    """softmax(log p / T) = softmax(logits / T): T = 1 is the predicted distribution, T -> 0 its mode."""
    return torch.softmax(logits.float() / max(temperature, 1e-4), dim=dim)


def decode_weights(logits: torch.Tensor, decoding: str = "annealed", temperature: float = DEFAULT_TEMPERATURE,
                   dim: int = 1) -> torch.Tensor:
    """Per-class weights that a decoding puts on each centre: one-hot for the mode, p for the mean,
    the annealed distribution otherwise. Same shape as ``logits``."""
    if decoding == "mode":
        return torch.zeros_like(logits, dtype=torch.float32).scatter_(dim, logits.argmax(dim, keepdim=True), 1.0)
    if decoding == "mean":
        return torch.softmax(logits.float(), dim=dim)
    if decoding == "annealed":
        return annealed_probabilities(logits, temperature, dim)
    raise ValueError(f"decoding must be one of {DECODINGS}, not {decoding!r}")


def decode_colours(logits: torch.Tensor, centres: torch.Tensor, decoding: str = "annealed",
                   temperature: float = DEFAULT_TEMPERATURE) -> torch.Tensor:
    """N x Q x H x W logits -> N x D x H x W: the decoded point in the classes' space
    (ab for Lab models with D = 2, RGB for palette models with D = 3)."""
    weights = decode_weights(logits, decoding, temperature)
    return torch.einsum("nqhw,qd->ndhw", weights, centres.to(weights))


def grid_label_table(bins: AbBins) -> torch.Tensor:
    """For every grid cell in [-110, 110]^2 the nearest class (the cell's own where it is one): labels by lookup."""
    steps = int(AB_RANGE / GRID_STEP)
    axis = torch.arange(-steps, steps + 1).float() * GRID_STEP
    cells = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).reshape(-1, 2)
    return torch.cdist(cells, bins.centres).argmin(dim=1)


def grid_labels(ab: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    steps = int(AB_RANGE / GRID_STEP)
    cell = grid_cell(ab) + steps
    return table[cell[..., 0] * (2 * steps + 1) + cell[..., 1]]
