"""Pretrained weights on disk: found in torchvision's cache or a given folder, downloaded only when online,
and otherwise a clear message saying which file to put where (colorizer and segmenter both use this)."""
import os
from pathlib import Path
from urllib.parse import urlparse

import torch

from .network import url_reachable


class WeightsUnavailable(RuntimeError):
    """Pretrained weights that are neither cached nor downloadable here; the message says what to fetch."""


def weights_filename(weights) -> str:
    return os.path.basename(urlparse(weights.url).path)


def cached_weights_path(weights) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / weights_filename(weights)


def missing_weights_message(weights, extra_dirs: tuple[Path, ...] = ()) -> str:
    places = [str(cached_weights_path(weights).parent), *map(str, extra_dirs)]
    return (
        f"{type(weights).__name__}.{weights.name} is not on this machine and {urlparse(weights.url).hostname} "
        f"cannot be reached. Download {weights.url} and put {weights_filename(weights)} in "
        f"{' or '.join(places)} (or pass its path as a local weights file)."
    )


def resolve_weights(weights, extra_dirs: tuple[Path, ...] = (), allow_download: bool = True) -> Path | None:
    """Path of a local copy of ``weights`` (cache or extra_dirs), None if torchvision may download it, else raise."""
    for candidate in (cached_weights_path(weights), *(d / weights_filename(weights) for d in extra_dirs)):
        if candidate.is_file():
            return candidate
    if allow_download and url_reachable(weights.url):
        return None
    raise WeightsUnavailable(missing_weights_message(weights, extra_dirs))
