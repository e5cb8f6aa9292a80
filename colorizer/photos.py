"""Photos of any size from folders, for learning colour at the working size (beyond CIFAR's 32 px).

A photo folder is laid out like ``../shared/data/imagenette160`` or ``../shared/data/cifar10``:
``ROOT/<split>/<class>/*.jpg`` (any depth below the split; ``val`` and ``test`` both count as the
held-out split), or just images anywhere below ROOT when it has no split folders. Every photo is
decoded once, its short side resized to ``side`` and centre-cropped to a square, and cached in the
process as one uint8 tensor; ``random_crops`` makes training batches from it (random-resized
square crops at the training size, random left-right flips).
"""
import functools
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from pixelwise.errors import DataUnavailable

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
HELD_OUT = ("val", "test")  # the names of a held-out split, in the order they are looked for


def split_folder(root: str | Path, split: str) -> Path:
    """``ROOT/train`` for 'train'; ``ROOT/val`` or ``ROOT/test`` for 'val'; ROOT itself when it has no splits."""
    root = Path(root)
    if not root.is_dir():
        raise DataUnavailable(f"photo folder {root} does not exist. Imagenette: `python -m pixelwise.fetch imagenette`; "
                              "or name any folder of photos (ROOT/train/..., ROOT/val/...).")
    names = ("train",) if split == "train" else HELD_OUT
    for name in names:
        if (root / name).is_dir():
            return root / name
    if any((root / name).is_dir() for name in ("train",) + HELD_OUT):
        raise DataUnavailable(f"{root} has no {' or '.join(names)} folder")
    return root


def photo_files(folder: Path) -> list[Path]:
    files = sorted(Path(path) / name for path, _, names in os.walk(folder) for name in names
                   if Path(name).suffix.lower() in PHOTO_SUFFIXES)
    if not files:
        raise DataUnavailable(f"no photos ({', '.join(PHOTO_SUFFIXES)}) in {folder}")
    return files


def square_photo(path: Path, side: int) -> np.ndarray:
    """side x side x 3 uint8: the short side resized to ``side`` (Lanczos), the long one centre-cropped."""
    with Image.open(path) as image:
        image.draft("RGB", (side, side))  # JPEG: decode at a reduced scale when the photo is much larger
        image = image.convert("RGB")
        scale = side / min(image.size)
        size = (max(side, round(image.width * scale)), max(side, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
        left, top = (size[0] - side) // 2, (size[1] - side) // 2
        return np.asarray(image.crop((left, top, left + side, top + side)))


@functools.lru_cache(maxsize=4)
def load_photos(root: str, split: str = "train", side: int = 160, limit: int | None = None) -> torch.Tensor:
    """N x side x side x 3 uint8 photos of one split (sorted by path; ``limit``: evenly spaced ones), cached."""
    files = photo_files(split_folder(root, split))
    if limit is not None and limit < len(files):
        files = [files[i] for i in np.linspace(0, len(files) - 1, limit).round().astype(int)]
    arrays = [square_photo(path, side) for path in tqdm(files, desc=f"decoding {Path(root).name}/{split}",
                                                        unit="photo", leave=False, disable=len(files) < 500)]
    return torch.from_numpy(np.stack(arrays))


def load_photo_sources(roots: str, split: str, side: int, limit: int | None = None) -> torch.Tensor:
    """Several folders mixed (``roots`` separated by os.pathsep or commas), each decoded once."""
    parts = [part for part in roots.replace(os.pathsep, ",").split(",") if part.strip()]
    return torch.cat([load_photos(part.strip(), split, side, limit) for part in parts])


def random_crops(photos: torch.Tensor, size: int, generator: torch.Generator, min_share: float = 0.6,
                 hflip: bool = True) -> torch.Tensor:
    """B x S x S x 3 uint8 -> B x size x size x 3 uint8: per photo a random square crop of side
    between ``min_share`` and all of S, resized to ``size`` (antialiased), mirrored with p = 1/2."""
    side = photos.shape[1]
    shares = torch.empty(len(photos)).uniform_(min_share, 1.0, generator=generator)
    flips = torch.rand(len(photos), generator=generator) < 0.5
    out = []
    for photo, share, flip in zip(photos, shares.tolist(), flips.tolist()):
        crop = max(size, round(side * share)) if side >= size else side
        top, left = (torch.randint(0, side - crop + 1, (2,), generator=generator)).tolist()
        patch = photo[top:top + crop, left:left + crop].permute(2, 0, 1)[None].float()
        if crop != size:
            patch = F.interpolate(patch, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        patch = patch[0].permute(1, 2, 0)
        out.append(patch.flip(1) if hflip and flip else patch)
    return torch.stack(out).round().clamp(0, 255).to(torch.uint8)


def resized(photos: torch.Tensor, size: int) -> torch.Tensor:
    """The whole photos resized to size x size (antialiased): what the model sees at the working size."""
    if photos.shape[1] == size:
        return photos
    x = F.interpolate(photos.permute(0, 3, 1, 2).float(), size=(size, size), mode="bilinear", antialias=True)
    return x.permute(0, 2, 3, 1).round().clamp(0, 255).to(torch.uint8)
