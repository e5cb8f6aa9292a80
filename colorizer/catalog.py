"""Which colourizer checkpoints there are: the shipped ones, ones trained in the app, and ones
fetched from a Hugging Face model repo (``PIXELWISE_HF_REPO``) when missing locally.

Also a small cache so the app loads each checkpoint file once (reloaded when the file changes).
"""
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from pixelwise.checkpoints import CheckpointError, read_checkpoint_dict
from pixelwise.network import url_reachable
from pixelwise.settings import checkpoint_dir

from .checkpoint import check_colourizer_checkpoint, load_checkpoint
from .models import ARCH_NAMES, ARCHITECTURES

SHIPPED_NAMES = ("cnn.pt", "unet.pt")
HUB_PROBE_TIMEOUT_S = 3.0  # hf_hub_download retries for ~25 s when offline; we check reachability first


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    arch: str  # "cnn" or "unet"
    label: str  # what a person sees in a dropdown


@functools.lru_cache(maxsize=256)
def _describe(path: str, mtime_ns: int) -> CheckpointInfo | None:
    """None for a valid checkpoint of another kind of model (e.g. segmenter's flowers_deeplab.pt)."""
    checkpoint = read_checkpoint_dict(path, ("arch",), "PixelWise")  # read once, checked below
    if isinstance(checkpoint["arch"], str) and checkpoint["arch"] not in ARCHITECTURES:
        return None
    check_colourizer_checkpoint(checkpoint, path)
    meta = checkpoint["meta"]
    details = [ARCH_NAMES[checkpoint["arch"]], meta.get("category")]
    if meta.get("batch_size"):
        details.append(f"bs {meta['batch_size']}")
    if isinstance(meta.get("val_acc"), float):
        details.append(f"val acc {100 * meta['val_acc']:.1f}%")
    name = os.path.relpath(path, checkpoint_dir()) if Path(path).is_relative_to(checkpoint_dir()) else path
    return CheckpointInfo(Path(path), checkpoint["arch"], f"{name} ({', '.join(d for d in details if d)})")


def describe_checkpoint(path: str | Path) -> CheckpointInfo | None:
    """Arch and a one-line label of a colourizer checkpoint file; None for another model's checkpoint;
    CheckpointError if it is no usable checkpoint at all."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    return _describe(str(path), path.stat().st_mtime_ns)


def list_checkpoints(*folders: str | Path) -> tuple[list[CheckpointInfo], list[str]]:
    """Every readable colourizer checkpoint (*.pt, recursively) in ``folders`` (default: checkpoint_dir()),
    sorted by path, plus one message per file that could not be read."""
    found, problems, seen = [], [], set()
    for folder in folders or (checkpoint_dir(),):
        for path in sorted(Path(folder).rglob("*.pt")) if Path(folder).is_dir() else []:
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            try:
                info = describe_checkpoint(path)
            except CheckpointError as error:
                problems.append(str(error))
                continue
            if info is not None:  # checkpoints of other models (the flower segmenter) are not listed
                found.append(info)
    return found, problems


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """False when HF_HUB_OFFLINE is set or the Hub's host cannot be reached within ``timeout`` seconds."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    return url_reachable(constants.ENDPOINT, timeout)


def fetch_missing_checkpoints(repo: str, folder: str | Path | None = None,
                              names: tuple[str, ...] = SHIPPED_NAMES) -> list[str]:
    """Download each of ``names`` missing from ``folder`` out of the Hugging Face model repo ``repo``.
    Never raises: returns one human-readable line per file fetched or not fetched (empty if none missing)."""
    folder = Path(folder or checkpoint_dir())
    missing = [name for name in names if not (folder / name).is_file()]
    if not missing:
        return []
    if not hub_reachable():
        return [f"Offline: could not reach the Hugging Face Hub to fetch {', '.join(missing)} from {repo}; "
                f"using the checkpoints in {folder} only."]
    from huggingface_hub import hf_hub_download

    notes = []
    for name in missing:
        try:
            hf_hub_download(repo, name, local_dir=folder, etag_timeout=5)
            notes.append(f"Fetched {name} from Hugging Face repo {repo}.")
        except Exception as error:  # missing file, private repo, network drop...
            notes.append(f"Could not fetch {name} from {repo} ({type(error).__name__}); using local checkpoints.")
    return notes


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, device: str) -> tuple[nn.Module, torch.Tensor]:
    return load_checkpoint(path, device)


def load_checkpoint_cached(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, torch.Tensor]:
    """load_checkpoint, but each file is read once per process (again if it changes on disk).
    The model is shared between callers: use it for inference only."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    return _load(str(path), path.stat().st_mtime_ns, str(device))
