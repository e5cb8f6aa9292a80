"""Segment a photo of any size with the flower model or a VOC-21 DeepLabV3, and draw the result."""
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from pixelwise.settings import checkpoint_dir

from .data import load_pair, normalise
from .models import FLOWER_CLASSES, VOC_CLASSES, load_flower_checkpoint, load_voc_model
from .trainer import foreground_iou

FLOWER_SHORT_SIDE = 256  # the flower model was trained on 256^2 photos where the flower fills the frame
VOC_SHORT_SIDE = 520  # torchvision's evaluation size for its COCO/VOC DeepLabV3 weights
MAX_LONG_SIDE = 1024  # keeps CPU inference of huge uploads to seconds


def voc_palette(n: int = 256) -> np.ndarray:
    """The standard PASCAL VOC colour map (bit-interleaved class index)."""
    palette = np.zeros((n, 3), dtype=np.uint8)
    for index in range(n):
        c, r, g, b = index, 0, 0, 0
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        palette[index] = (r, g, b)
    return palette


FLOWER_PALETTE = np.array([[30, 60, 200], [255, 200, 0]], dtype=np.uint8)  # background blue, flower yellow


@dataclass
class Segmentation:
    labels: np.ndarray  # H x W uint8 class index at the photo's own size
    class_names: tuple[str, ...]
    palette: np.ndarray  # num_classes x 3 uint8
    logits: torch.Tensor | None = None  # num_classes x h x w at the working size the model saw (CPU, float16)


def short_side_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) scaled (up or down) so the short side is ``short_side``, the long side at most
    MAX_LONG_SIDE. (The colourizer's rule only shrinks, by the long side: colorizer.inference.long_side_size.)"""
    scale = min(short_side / min(width, height), MAX_LONG_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


@torch.no_grad()
def segment(model, rgb: np.ndarray, kind: str = "flower") -> Segmentation:
    """Labels for an H x W x 3 uint8 photo. The model sees a resized copy; its logits are upsampled
    (bilinear) to the photo's size, or for photos over MAX_LONG_SIDE to that size and the labels then
    enlarged without smoothing, so a 50-megapixel upload never becomes a 50-megapixel float tensor."""
    height, width = rgb.shape[:2]
    device = next(model.parameters()).device
    work = short_side_size(width, height, FLOWER_SHORT_SIDE if kind == "flower" else VOC_SHORT_SIDE)
    small = rgb if work == (width, height) else np.asarray(Image.fromarray(rgb).resize(work, Image.Resampling.BILINEAR))
    logits = model(normalise(small)[None].to(device))["out"]
    shown = short_side_size(width, height, min(width, height))  # the photo's size, capped at MAX_LONG_SIDE
    labels = F.interpolate(logits, size=shown[::-1], mode="bilinear", align_corners=False).argmax(1)[0]
    labels = labels.to(torch.uint8).cpu().numpy()
    if shown != (width, height):
        labels = np.asarray(Image.fromarray(labels).resize((width, height), Image.Resampling.NEAREST))
    kept = logits[0].to("cpu", torch.float16)  # the class distributions behind the labels, for the inspector
    if kind == "flower":
        return Segmentation(labels, FLOWER_CLASSES, FLOWER_PALETTE, kept)
    return Segmentation(labels, VOC_CLASSES, voc_palette(len(VOC_CLASSES)), kept)


def mask_image(result: Segmentation) -> np.ndarray:
    return result.palette[result.labels]


def overlay(rgb: np.ndarray, result: Segmentation, opacity: float) -> np.ndarray:
    """Photo blended with the class colours; opacity 0 = photo only, 1 = mask only (uint8 throughout)."""
    opacity = float(np.clip(opacity, 0.0, 1.0))
    return np.asarray(Image.blend(Image.fromarray(rgb), Image.fromarray(mask_image(result)), opacity))


def legend(result: Segmentation) -> list[tuple[str, str, float]]:
    """(class name, hex colour, share of pixels) for each class present, largest first."""
    counts = np.bincount(result.labels.ravel(), minlength=len(result.class_names))
    total = counts.sum()
    return [(result.class_names[i], "#%02x%02x%02x" % tuple(result.palette[i]), counts[i] / total)
            for i in np.argsort(-counts) if counts[i] > 0]


def flower_checkpoint_path() -> Path:
    """The shipped flower model: flowers_deeplab.pt in the checkpoint folder ($PIXELWISE_CHECKPOINTS)."""
    return checkpoint_dir() / "flowers_deeplab.pt"


@functools.lru_cache(maxsize=4)
def _load(name: str, stamp: float, device: str):
    if name == "flower":
        return load_flower_checkpoint(flower_checkpoint_path(), device)
    return load_voc_model(name, allow_download=True).to(device)


def load_segmenter(name: str, device: str = "cpu"):
    """'flower' or a VOC_MODELS name -> the model in eval mode, loaded once per process (again if the
    flower checkpoint file changes). Raises CheckpointError or WeightsUnavailable with a clear message."""
    path = flower_checkpoint_path()
    stamp = path.stat().st_mtime if name == "flower" and path.is_file() else 0.0
    return _load(name, stamp, str(device))


def iou_against_truth(labels: np.ndarray, image_id: int, data_root: Path | None = None) -> float | None:
    """Flower IoU of a predicted label map against a flower image's truth mask, the uncertain band
    ignored; None when the sizes differ (the photo was not the data set's own image)."""
    _, truth = load_pair(int(image_id), data_root)
    if truth.shape != labels.shape:
        return None
    return foreground_iou(torch.as_tensor(labels.astype(np.int64)), torch.as_tensor(truth.astype(np.int64)))
