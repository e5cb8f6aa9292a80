"""Colourizing one grey image, or a photo of any size at full resolution."""
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from pixelwise.images import has_colour, to_rgb

from .palette import labels_to_rgb, nearest_colour_labels


def grey_of(rgb: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 -> H x W float in [0, 1]: the mean of R, G and B, as in training."""
    return rgb.astype(np.float32).mean(axis=2) / 255.0


def grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    """H x W grey (float in [0, 1] or uint8) -> H x W x 3 uint8, for showing it beside colour images."""
    grey = np.asarray(grey)
    grey = grey if grey.dtype == np.uint8 else (grey * 255).round().clip(0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


@torch.no_grad()
def predict_classes(model: nn.Module, grey: np.ndarray | torch.Tensor) -> np.ndarray:
    """H x W grey in [0, 1] (or uint8) -> H x W colour-class indices. Any H, W: edges are padded to a multiple of 4."""
    grey = grey if isinstance(grey, torch.Tensor) else torch.from_numpy(np.array(grey))  # a copy: inputs may be read-only
    grey = grey.float() / 255.0 if grey.dtype == torch.uint8 else grey.float()
    height, width = grey.shape
    pad_h, pad_w = -height % 4, -width % 4
    x = grey[None, None]
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    classes = model(x.to(device)).argmax(dim=1)[0, :height, :width].cpu().numpy()
    model.train(was_training)
    return classes


def classes_to_rgb(classes: np.ndarray, palette: torch.Tensor) -> np.ndarray:
    """H x W class indices -> H x W x 3 uint8 palette colours."""
    return labels_to_rgb(torch.from_numpy(classes), palette.cpu()).numpy()


def colourize(model: nn.Module, palette: torch.Tensor, grey: np.ndarray | torch.Tensor) -> np.ndarray:
    """Grey image (H x W, [0, 1] or uint8) -> H x W x 3 uint8 RGB, each pixel its predicted palette colour.
    (predict_classes gives the class indices themselves.)"""
    return classes_to_rgb(predict_classes(model, grey), palette)


def pixel_accuracy(classes: np.ndarray, true_rgb: np.ndarray, palette: torch.Tensor) -> float:
    """Fraction of pixels whose predicted class is the nearest palette colour of the true pixel."""
    truth = nearest_colour_labels(torch.from_numpy(np.ascontiguousarray(true_rgb)), palette.cpu()).numpy()
    return float((classes == truth).mean())


@dataclass
class PhotoResult:
    grey: np.ndarray  # H x W x 3 uint8, the grey the model saw, at full resolution
    colour: np.ndarray  # H x W x 3 uint8: predicted chroma on the original luminance
    class_map: np.ndarray  # H x W x 3 uint8: the raw palette colours, upscaled without smoothing
    original: np.ndarray | None  # H x W x 3 uint8, or None when the input had no colour
    work_size: tuple[int, int]  # (width, height) the model ran at


def working_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Shrink (never enlarge) so the long side is at most ``long_side``; both sides a multiple of 4, at least 4."""
    scale = min(1.0, long_side / max(width, height))
    return tuple(max(4, int(round(side * scale / 4)) * 4) for side in (width, height))


def colourize_photo(model: nn.Module, palette: torch.Tensor, image: Image.Image | np.ndarray,
                    long_side: int = 96) -> PhotoResult:
    """Run the model on a downscaled grey copy, then put the predicted chroma (YCbCr Cb, Cr)
    onto the original's full-resolution luminance, so the output is as large and sharp as the input."""
    rgb = to_rgb(image)
    height, width = rgb.shape[:2]
    grey = Image.fromarray((grey_of(rgb) * 255).round().astype(np.uint8))
    work = working_size(width, height, long_side)
    small = np.asarray(grey.resize(work, Image.Resampling.BILINEAR if work != grey.size else Image.Resampling.NEAREST))
    small_colour = colourize(model, palette, small)
    class_map = np.asarray(Image.fromarray(small_colour).resize((width, height), Image.Resampling.NEAREST))
    chroma = Image.fromarray(small_colour).resize((width, height), Image.Resampling.BICUBIC).convert("YCbCr")
    _, cb, cr = chroma.split()
    luminance = Image.fromarray(rgb).convert("YCbCr").split()[0]  # the original's full-resolution Y
    colour = np.asarray(Image.merge("YCbCr", (luminance, cb, cr)).convert("RGB"))
    return PhotoResult(
        grey=grey_to_rgb(np.asarray(grey)),
        colour=colour, class_map=class_map,
        original=rgb if has_colour(rgb) else None, work_size=work,
    )
