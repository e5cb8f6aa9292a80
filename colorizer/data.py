"""CIFAR-10 images of one category, decoded once and cached as uint8 tensors.

Two sources:
- an image folder laid out like ``../shared/data/cifar10`` (``train/<class>/*.jpg``,
  ``test/<class>/*.jpg``), or
- torchvision's ``CIFAR10(root, download=True)`` when no folder is given (into
  ``pixelwise.settings.cache_dir()``; the default folder is ``pixelwise.settings.cifar_root()``).
"""
import functools
import threading
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pixelwise.errors import DataUnavailable
from pixelwise.network import url_reachable
from pixelwise.settings import cache_dir

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


ALL_CATEGORIES = "all"  # every class, in CIFAR-10 label order


def category_name(category: str | int) -> str:
    """'horse', 'Horse', 7 or '7' -> 'horse'; 'all' stays 'all'."""
    text = str(category).strip().lower()
    if text == ALL_CATEGORIES:
        return text
    if text.isdigit() and int(text) < len(CIFAR10_CLASSES):
        return CIFAR10_CLASSES[int(text)]
    if text not in CIFAR10_CLASSES:
        raise ValueError(f"unknown CIFAR-10 category {category!r}; choose from {', '.join(CIFAR10_CLASSES)}")
    return text


def _read_folder(folder: Path) -> torch.Tensor:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataUnavailable(f"no .jpg/.png images in {folder}")
    arrays = [np.asarray(Image.open(p).convert("RGB").resize((32, 32))) for p in files]
    return torch.from_numpy(np.stack(arrays))


_DOWNLOAD_LOCK = threading.Lock()  # two app requests must not download into one folder at once


def _read_torchvision(split: str, category: str, root: Path) -> torch.Tensor:
    from torchvision.datasets import CIFAR10

    extracted = root / CIFAR10.base_folder
    if not extracted.is_dir() and not url_reachable(CIFAR10.url):
        raise DataUnavailable(
            f"CIFAR-10 is not in {root} and {CIFAR10.url} cannot be reached (offline?). Get it with "
            "`python -m pixelwise.fetch cifar10` where there is internet, or give a local image folder: "
            "--data PATH (or PIXELWISE_DATA=PATH) laid out as PATH/train/CLASS/*.jpg and PATH/test/CLASS/*.jpg."
        )
    try:
        with _DOWNLOAD_LOCK:
            dataset = CIFAR10(str(root), train=(split == "train"), download=True)
    except Exception as error:  # no network, proxy, broken archive...
        raise DataUnavailable(
            f"could not download CIFAR-10 into {root} ({type(error).__name__}: {error}). "
            "Give a local image folder instead: --data PATH (or PIXELWISE_DATA=PATH) laid out "
            "as PATH/train/CLASS/*.jpg and PATH/test/CLASS/*.jpg."
        ) from None
    label = CIFAR10_CLASSES.index(category)
    keep = np.asarray(dataset.targets) == label
    return torch.from_numpy(np.ascontiguousarray(dataset.data[keep]))


@functools.lru_cache(maxsize=12)
def load_category(category: str | int = "horse", data_root: str | Path | None = None,
                  split: str = "train") -> torch.Tensor:
    """uint8 RGB images of one category and split, N x 32 x 32 x 3 (cached per process)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    name = category_name(category)
    if name == ALL_CATEGORIES:
        return torch.cat([load_category(one, data_root, split) for one in CIFAR10_CLASSES])
    if data_root is None:
        return _read_torchvision(split, name, cache_dir())
    folder = Path(data_root) / split / name
    if not folder.is_dir():
        raise DataUnavailable(f"{folder} does not exist; expected DATA/{{train,test}}/CLASS/*.jpg. "
                              "Get CIFAR-10 with `python -m pixelwise.fetch cifar10`, or point PIXELWISE_DATA at a copy.")
    return _read_folder(folder)


def to_grey(rgb_uint8: torch.Tensor) -> torch.Tensor:
    """N x H x W x 3 uint8 -> N x 1 x H x W float in [0, 1]: the mean of R, G and B."""
    return rgb_uint8.float().mean(dim=-1).unsqueeze(1) / 255.0
