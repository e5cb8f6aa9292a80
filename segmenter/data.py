"""Oxford 17 Flowers (segmented subset, 256x256): a fixed species-stratified split, flower-vs-background
targets with an ignore label, light augmentation and ImageNet normalisation.

Split: ids are grouped by species (ceil(id / 80)); within each species the sorted ids are shuffled with
``random.Random(SPLIT_SEED + species)``; the first round(15 %) go to test, the next round(15 %) to val,
the rest (~70 %) to train. Fixed by the seed, independent of the machine.
"""
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from pixelwise.errors import DataUnavailable
from pixelwise.settings import flowers_root

IGNORE = 255
SPLIT_SEED = 17
SPLIT_FRACTIONS = {"test": 0.15, "val": 0.15}
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
# mask value -> training label: 1 flower; 2 leaves, 3 background, 4 sky -> 0; 0 (uncertain band) and 5 -> ignore
MASK_TO_LABEL = np.full(256, IGNORE, dtype=np.uint8)
MASK_TO_LABEL[[2, 3, 4]] = 0
MASK_TO_LABEL[1] = 1


def species_of(image_id: int) -> int:
    return math.ceil(image_id / 80)


def list_ids(root: Path | None = None) -> list[int]:
    root = Path(root or flowers_root())
    images, masks = root / "images", root / "masks"
    if not images.is_dir() or not masks.is_dir():
        raise DataUnavailable(f"{root}: expected images/ and masks/ of Oxford 17 Flowers: get them with "
                              "`python -m pixelwise.fetch flowers17` (or set PIXELWISE_FLOWERS)")
    ids = sorted(int(p.stem.split("_")[1]) for p in images.glob("image_*.jpg") if (masks / f"{p.stem}.png").is_file())
    if not ids:
        raise DataUnavailable(f"{root}: no image_NNNN.jpg with a matching masks/image_NNNN.png")
    return ids


def make_split(ids: list[int]) -> dict[str, list[int]]:
    """{"train", "val", "test"}: sorted id lists, stratified by species (see module docstring)."""
    split = {"train": [], "val": [], "test": []}
    for species in sorted({species_of(i) for i in ids}):
        members = sorted(i for i in ids if species_of(i) == species)
        random.Random(SPLIT_SEED + species).shuffle(members)
        n_test = round(len(members) * SPLIT_FRACTIONS["test"])
        n_val = round(len(members) * SPLIT_FRACTIONS["val"])
        split["test"] += members[:n_test]
        split["val"] += members[n_test : n_test + n_val]
        split["train"] += members[n_test + n_val :]
    return {name: sorted(members) for name, members in split.items()}


def image_path(image_id: int, root: Path | None = None) -> Path:
    return Path(root or flowers_root()) / "images" / f"image_{image_id:04d}.jpg"


def load_pair(image_id: int, root: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(H x W x 3 uint8 RGB, H x W uint8 labels in {0, 1, IGNORE})."""
    root = Path(root or flowers_root())
    rgb = np.asarray(Image.open(image_path(image_id, root)).convert("RGB"))
    raw = np.asarray(Image.open(root / "masks" / f"image_{image_id:04d}.png"))
    return rgb, MASK_TO_LABEL[raw]


def normalise(rgb: np.ndarray | torch.Tensor) -> torch.Tensor:
    """H x W x 3 uint8 (or N x H x W x 3) -> float tensor, channels first, ImageNet-normalised."""
    x = (rgb if isinstance(rgb, torch.Tensor) else torch.as_tensor(np.array(rgb))).float().div(255)
    x = x.permute(2, 0, 1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    return (x - IMAGENET_MEAN) / IMAGENET_STD


@dataclass
class FlowerSet:
    """Decoded images and labels of one split, kept in memory (~200 KB per image)."""

    ids: list[int]
    images: torch.Tensor  # N x H x W x 3 uint8 RGB (normalised per batch: 4x less memory than float)
    labels: torch.Tensor  # N x H x W int64 in {0, 1, IGNORE}

    def __len__(self):
        return len(self.ids)

    def inputs(self, index) -> torch.Tensor:
        """Normalised float images for ``index`` (a slice or index tensor)."""
        return normalise(self.images[index])


def load_set(ids: list[int], root: Path | None = None) -> FlowerSet:
    pairs = [load_pair(i, root) for i in ids]
    images = torch.as_tensor(np.stack([rgb for rgb, _ in pairs]))
    labels = torch.as_tensor(np.stack([label for _, label in pairs])).long()
    return FlowerSet(list(ids), images, labels)


def augment(images: torch.Tensor, labels: torch.Tensor, crop: int, generator: torch.Generator,
            max_scale: float = 1.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per batch: random horizontal flip, then random upscale in [1, max_scale] and a random crop x crop."""
    if torch.rand((), generator=generator) < 0.5:
        images, labels = images.flip(-1), labels.flip(-1)
    scale = 1.0 + float(torch.rand((), generator=generator)) * (max_scale - 1.0)
    size = max(crop, round(images.shape[-2] * scale)), max(crop, round(images.shape[-1] * scale))  # (H, W)
    if size != tuple(images.shape[-2:]):
        images = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        labels = F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].long()
    top = int(torch.randint(0, images.shape[-2] - crop + 1, (), generator=generator))
    left = int(torch.randint(0, images.shape[-1] - crop + 1, (), generator=generator))
    return images[..., top : top + crop, left : left + crop], labels[..., top : top + crop, left : left + crop]
