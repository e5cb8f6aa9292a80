"""Colourizing one grey image, or a photo of any size at full resolution."""
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from pixelwise.images import has_colour, to_rgb

from . import lab
from .palette import labels_to_rgb, nearest_colour_labels


def grey_of(rgb: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 -> H x W float in [0, 1]: the mean of R, G and B, as in training."""
    return rgb.astype(np.float32).mean(axis=2) / 255.0


def grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    """H x W grey (float in [0, 1] or uint8) -> H x W x 3 uint8, for showing it beside colour images."""
    grey = np.asarray(grey)
    grey = grey if grey.dtype == np.uint8 else (grey * 255).round().clip(0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def is_lab(model: nn.Module) -> bool:
    """Lab models take lightness L / 100 and predict ab classes; the handout's take mean-RGB grey and predict palette colours."""
    return getattr(model, "colour_space", "rgb") == "lab"


def model_input(model: nn.Module, rgb: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 -> the H x W float input in [0, 1] that this model was trained on."""
    if is_lab(model):
        return (lab.rgb_to_lab(torch.from_numpy(np.ascontiguousarray(rgb)))[..., 0] / 100).numpy()
    return grey_of(rgb)


@torch.no_grad()
def predict_logits(model: nn.Module, grey: np.ndarray | torch.Tensor) -> torch.Tensor:
    """H x W input in [0, 1] (or uint8) -> NC x H x W float logits on the CPU. Any H, W: edges are padded
    (replicated) to the multiple of the model's poolings."""
    grey = grey if isinstance(grey, torch.Tensor) else torch.from_numpy(np.array(grey))  # a copy: inputs may be read-only
    grey = grey.float() / 255.0 if grey.dtype == torch.uint8 else grey.float()
    height, width = grey.shape
    multiple = getattr(model, "size_multiple", 4)
    pad_h, pad_w = -height % multiple, -width % multiple
    x = grey[None, None]
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    logits = model(x.to(device))[0, :, :height, :width].float().cpu()
    model.train(was_training)
    return logits


def predict_classes(model: nn.Module, grey: np.ndarray | torch.Tensor) -> np.ndarray:
    """H x W grey in [0, 1] (or uint8) -> H x W colour-class indices (the mode of each pixel's distribution)."""
    return predict_logits(model, grey).argmax(dim=0).numpy()


def decode_rgb(model: nn.Module, palette: torch.Tensor, logits: torch.Tensor, grey: np.ndarray,
               decoding: str = "mode", temperature: float = lab.DEFAULT_TEMPERATURE) -> np.ndarray:
    """NC x H x W logits -> H x W x 3 uint8. Palette models: the decoded mix of palette colours (mode = the
    handout's argmax). Lab models: the decoded ab with the input's own lightness ``grey`` (L / 100)."""
    if is_lab(model):
        ab = lab.decode_colours(logits[None], model.ab_centres, decoding, temperature)[0]
        lab_image = torch.cat([torch.from_numpy(np.asarray(grey, np.float32))[None] * 100, ab]).permute(1, 2, 0)
        return lab.lab_to_uint8(lab_image).numpy()
    rgb = lab.decode_colours(logits[None], palette.cpu().float(), decoding, temperature)[0].permute(1, 2, 0)
    return (rgb * 255).round().clamp(0, 255).to(torch.uint8).numpy()


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
    colour: np.ndarray  # H x W x 3 uint8: predicted colour on the original's full-resolution lightness
    class_map: np.ndarray  # H x W x 3 uint8: the raw class colours (the mode), upscaled without smoothing
    original: np.ndarray | None  # H x W x 3 uint8, or None when the input had no colour
    work_size: tuple[int, int]  # (width, height) the model ran at
    logits: torch.Tensor | None = None  # NC x h x w at the working size: the per-pixel distributions behind it


def working_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Shrink (never enlarge) so the long side is at most ``long_side``; both sides a multiple of 4, at least 4."""
    scale = min(1.0, long_side / max(width, height))
    return tuple(max(4, int(round(side * scale / 4)) * 4) for side in (width, height))


def _resize(array: np.ndarray, size: tuple[int, int], resample) -> np.ndarray:
    return np.asarray(Image.fromarray(array).resize(size, resample)) if array.shape[1::-1] != size else array


def colourize_photo(model: nn.Module, palette: torch.Tensor, image: Image.Image | np.ndarray,
                    long_side: int = 96, decoding: str = "mode",
                    temperature: float = lab.DEFAULT_TEMPERATURE) -> PhotoResult:
    """Run the model on a downscaled copy, then lay the predicted colour onto the original's
    full-resolution lightness, so the output is as large and sharp as the input. Palette models:
    the decoded RGB's chroma (YCbCr Cb, Cr) on the original's Y. Lab models: the decoded ab,
    upsampled, with the original's L."""
    rgb = to_rgb(image)
    height, width = rgb.shape[:2]
    grey = (grey_of(rgb) * 255).round().astype(np.uint8)
    work = working_size(width, height, long_side)
    small = _resize(rgb, work, Image.Resampling.BILINEAR)
    model_grey = model_input(model, small)
    logits = predict_logits(model, model_grey)
    small_colour = decode_rgb(model, palette, logits, model_grey, decoding, temperature)
    class_map = _resize(classes_to_rgb(logits.argmax(dim=0).numpy(), palette), (width, height),
                        Image.Resampling.NEAREST)
    if is_lab(model):
        ab = lab.decode_colours(logits[None], model.ab_centres, decoding, temperature)
        ab = F.interpolate(ab, size=(height, width), mode="bilinear", align_corners=False)[0]
        lightness = lab.rgb_to_lab(torch.from_numpy(rgb))[..., :1]
        colour = lab.lab_to_uint8(torch.cat([lightness, ab.permute(1, 2, 0)], dim=-1)).numpy()
    else:
        chroma = Image.fromarray(small_colour).resize((width, height), Image.Resampling.BICUBIC).convert("YCbCr")
        _, cb, cr = chroma.split()
        luminance = Image.fromarray(rgb).convert("YCbCr").split()[0]  # the original's full-resolution Y
        colour = np.asarray(Image.merge("YCbCr", (luminance, cb, cr)).convert("RGB"))
    return PhotoResult(
        grey=grey_to_rgb(grey), colour=colour, class_map=class_map,
        original=rgb if has_colour(rgb) else None, work_size=work, logits=logits,
    )
