"""Global colour hints: a reference photo's palette as model input (SIGGRAPH 2017's global hints).

A global hint is one vector per image: the share of its pixels in each ab class of the model, the mean
saturation (chroma / 110) and a flag that is 1 when a hint is given, so that "no global hint" (all zeros)
is an input of its own. ``MobileUNet(global_hints=1)`` reads it (``colorizer.models.GlobalHintBranch``).

- Using it: ``photo_palette`` (any RGB photo -> class shares and saturation), ``global_hint_vector``.
- Training (``sample_global_hints``): the vector of the training crop's own true colours, sometimes
  blurred over neighbouring classes, sometimes cut to its few main classes, sometimes dropped, so that
  another photo's palette (never exactly the output's) is also something the model has learned to use.
"""
import functools

import numpy as np
import torch

from pixelwise.images import has_colour, to_rgb

from . import lab
from .hints import AB_SCALE, HintError

EXTRA_INPUTS = 2  # saturation, 'given' flag
MAX_PIXELS = 1 << 16  # a reference's palette from at most this many evenly spaced pixels (a 12-MP upload is quick)
BLUR_SIGMAS = (5.0, 20.0)  # ab units: the blur drawn in training spreads a class's share this far
TOP_CLASSES = (1, 12)  # training's cut palettes keep this many main classes (1: a one-colour reference is seen too)


def class_shares(ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """... x 2 ab -> Q shares summing to 1: the fraction of pixels nearest each class centre."""
    flat = ab.reshape(-1, 2)
    if len(flat) > MAX_PIXELS:
        flat = flat[torch.linspace(0, len(flat) - 1, MAX_PIXELS).long()]
    labels = lab.grid_labels(flat, _label_table(tuple(map(tuple, centres.float().tolist()))))
    return torch.bincount(labels, minlength=len(centres)).float() / max(1, len(labels))


@functools.lru_cache(maxsize=4)
def _label_table(centres: tuple) -> torch.Tensor:
    """Every ab grid cell's nearest class, once per set of classes: labels by lookup (a cdist per photo was slow)."""
    return lab.grid_label_table(lab.AbBins(torch.tensor(centres), "grid"))


def saturation(ab: torch.Tensor) -> float:
    """Mean chroma of the pixels, / 110 (0 for a grey photo)."""
    return float(ab.reshape(-1, 2).float().norm(dim=1).mean()) / AB_SCALE


def photo_palette(rgb, centres: torch.Tensor) -> tuple[torch.Tensor, float]:
    """An H x W x 3 uint8 photo (array or tensor) -> (Q class shares, saturation)."""
    rgb = rgb if isinstance(rgb, torch.Tensor) else np.asarray(rgb)
    step = max(1, int((rgb.shape[0] * rgb.shape[1] / MAX_PIXELS) ** 0.5))
    sample = rgb[::step, ::step]
    sample = sample if isinstance(sample, torch.Tensor) else torch.from_numpy(np.array(sample))  # a copy: may be read-only
    ab = lab.rgb_to_lab(sample)[..., 1:]
    return class_shares(ab, centres), saturation(ab)


def global_hint_vector(shares: torch.Tensor, saturation_value: float) -> torch.Tensor:
    """The model's global input for one image: shares, saturation, given = 1."""
    return torch.cat([shares.float(), torch.tensor([saturation_value, 1.0])])


def no_global_hint(num_classes: int) -> torch.Tensor:
    return torch.zeros(num_classes + EXTRA_INPUTS)


def blurred(shares: torch.Tensor, centres: torch.Tensor, sigma: float) -> torch.Tensor:
    """Shares spread over neighbouring classes by a Gaussian of ``sigma`` ab units (rows sum to 1)."""
    distance = torch.cdist(centres.float(), centres.float())
    kernel = torch.exp(-distance ** 2 / (2 * sigma ** 2))
    return shares @ (kernel / kernel.sum(dim=1, keepdim=True))


def main_classes(shares: torch.Tensor, count: int) -> torch.Tensor:
    """Only the ``count`` largest shares, renormalised: a palette of a few swatches."""
    kept = torch.zeros_like(shares)
    top = torch.topk(shares, min(count, len(shares))).indices
    kept[top] = shares[top]
    return kept / kept.sum().clamp(min=1e-12)


def sample_global_hints(labels: torch.Tensor, ab: torch.Tensor, centres: torch.Tensor, generator: torch.Generator,
                        drop_share: float = 0.3) -> torch.Tensor:
    """B x H x W class labels and B x H x W x 2 true ab -> B x (Q + 2) global hints, each image's own palette:
    a share ``drop_share`` gets none; of the rest a third exact, a third blurred, a third cut to its main classes."""
    num_classes = len(centres)
    out = torch.zeros(len(labels), num_classes + EXTRA_INPUTS)
    for index in range(len(labels)):
        if torch.rand(1, generator=generator).item() < drop_share:
            continue
        shares = torch.bincount(labels[index].reshape(-1), minlength=num_classes).float()
        shares = shares / shares.sum()
        kind = torch.rand(1, generator=generator).item()
        if kind < 1 / 3:
            low, high = BLUR_SIGMAS
            shares = blurred(shares, centres, low + (high - low) * torch.rand(1, generator=generator).item())
        elif kind < 2 / 3:
            shares = main_classes(shares, int(torch.randint(TOP_CLASSES[0], TOP_CLASSES[1] + 1, (1,),
                                                            generator=generator)))
        out[index] = global_hint_vector(shares, saturation(ab[index]))
    return out


# ---------------------------------------------------------------- a reference photo for a model

class ReferencePhotoError(HintError):
    """A reference that cannot be used (a grey photo, a model without the global branch, a bad strength)."""


def takes_reference(model) -> bool:
    """A model with the global-hint branch (``MobileUNet(global_hints=1)``)."""
    return bool(getattr(getattr(model, "config", None), "global_hints", 0))


def reference_rgb(reference) -> np.ndarray:
    """A PreparedPhoto, an RGB (or grey) array or tensor -> H x W x 3 uint8; ReferencePhotoError if it has no colour."""
    rgb = getattr(reference, "rgb", reference)
    if rgb is None:
        raise ReferencePhotoError("the reference photo was let go of; prepare it again")
    rgb = to_rgb(np.asarray(rgb))
    if not has_colour(rgb):
        raise ReferencePhotoError("the reference photo has no colour (it is grey): choose a colour photo")
    return rgb


def reference_hint(model, reference, strength: float = 1.0) -> torch.Tensor:
    """The global hint a model takes for ``reference`` (checked: a plain ReferencePhotoError when unusable)."""
    if not takes_reference(model):
        raise ReferencePhotoError("this model takes no reference photo; choose colour_reference.pt")
    if not 0.0 <= float(strength) <= 1.0:
        raise ReferencePhotoError(f"reference strength must be between 0 and 1, not {strength!r}")
    shares, saturation_value = photo_palette(reference_rgb(reference), model.ab_centres)
    return global_hint_vector(shares, saturation_value)


def swatches(shares: torch.Tensor, centres: torch.Tensor, count: int = 8, lightness: float = 65.0,
             min_share: float = 0.01) -> list[tuple[tuple[int, int, int], float]]:
    """A palette as ((r, g, b), share) swatches, largest first: its ``count`` main classes shown at one lightness."""
    top = torch.argsort(shares, descending=True)[:count]
    top = top[shares[top] >= min_share]
    colours = lab.lab_to_uint8(torch.cat([torch.full((len(top), 1), lightness), centres[top].float()], dim=1))
    return [(tuple(int(v) for v in colour), float(shares[index])) for colour, index in zip(colours.tolist(), top.tolist())]
