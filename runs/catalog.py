"""Which colourizer checkpoints there are: the shipped ones, ones trained in the app, and ones
fetched from a Hugging Face model repo (``PIXELWISE_HF_REPO``) when missing locally.

Also each listed checkpoint loaded by name (load_colourizer: colorizer.pipeline's Colourizer, read once per
process), and the removal of interrupted saves at start-up (remove_interrupted_saves; listing only reads).
"""
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from pixelwise.checkpoints import CheckpointError, read_checkpoint_dict
from pixelwise.network import url_reachable
from pixelwise.settings import checkpoint_dir, trained_dir, trained_keep
from pixelwise.tempfiles import remove_stale

from colorizer.checkpoint import check_colourizer_checkpoint, check_weights_fit
from colorizer.models import ARCH_NAMES, ARCHITECTURES
from colorizer.pipeline import Colourizer

SHIPPED_NAMES = ("cnn.pt", "unet.pt")
# Descriptions remembered: each a few hundred bytes, so far more than the trained folder keeps (trained_keep)
# plus the shipped files; a listing then never re-reads a file it has seen, readable or not.
DESCRIBED_MAX = 4096
HUB_PROBE_TIMEOUT_S = 3.0  # hf_hub_download retries for ~25 s when offline; we check reachability first


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    arch: str  # a key of ARCH_NAMES
    label: str  # what a person sees in a dropdown
    name: str  # how the app and its API name it (checkpoint_name): never a server path


def checkpoint_name(path: str | Path) -> str:
    """A checkpoint's name: its path under checkpoint_dir() (``unet.pt``, ``session/unet_horse_….pt``), or
    ``session/<file>`` for one saved by Train live into a PIXELWISE_TRAINED folder elsewhere."""
    path = Path(path)
    for folder, prefix in ((checkpoint_dir(), ""), (trained_dir(), "session/")):
        if path.is_relative_to(folder):
            return prefix + path.relative_to(folder).as_posix()
    return path.name


def _describe(path: str, name: str) -> CheckpointInfo | None:
    """None for a valid checkpoint of another kind of model (e.g. segmenter's flowers_deeplab.pt)."""
    checkpoint = read_checkpoint_dict(path, ("arch",), "PixelWise")  # read once, checked below
    if isinstance(checkpoint["arch"], str) and checkpoint["arch"] not in ARCHITECTURES:
        return None
    check_weights_fit(check_colourizer_checkpoint(checkpoint, path), path)  # unfit weights: not offered
    meta = checkpoint["meta"]  # its shown fields' types and bounds were checked above
    details = [ARCH_NAMES[checkpoint["arch"]], meta.get("category")]
    if meta.get("batch_size"):
        details.append(f"bs {meta['batch_size']}")
    if isinstance(meta.get("val_acc"), float):
        details.append(f"val acc {100 * meta['val_acc']:.1f}%")
    return CheckpointInfo(Path(path), checkpoint["arch"], f"{name} ({', '.join(d for d in details if d)})", name)


_described: OrderedDict[tuple, CheckpointInfo | None | str] = OrderedDict()  # str: why it was refused
_described_lock = threading.Lock()


def describe_checkpoint(path: str | Path) -> CheckpointInfo | None:
    """Arch and a one-line label of a colourizer checkpoint file; None for another model's checkpoint;
    CheckpointError if it is no usable checkpoint at all. Each answer, refusals included, is remembered by
    (path, mtime, size, name): a file is read again only once it changes."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise CheckpointError(f"{path}: no such checkpoint file") from None
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    key = (str(path), stat.st_mtime_ns, stat.st_size, checkpoint_name(path))  # the name depends on the settings
    with _described_lock:
        answer = _described.get(key, _described)
        if answer is not _described:
            _described.move_to_end(key)
    if answer is _described:
        try:
            answer = _describe(str(path), key[3])
        except CheckpointError as error:
            answer = str(error)
        except Exception as error:  # a check this module lacks: the file is refused, the listing goes on
            answer = f"{path}: cannot be used as a checkpoint ({type(error).__name__})"
        with _described_lock:
            _described[key] = answer
            while len(_described) > DESCRIBED_MAX:
                _described.popitem(last=False)
    if isinstance(answer, str):
        raise CheckpointError(answer)  # a fresh one each time: a shared exception's traceback would keep growing
    return answer


def list_checkpoints(*folders: str | Path) -> tuple[list[CheckpointInfo], list[str]]:
    """Every readable colourizer checkpoint (*.pt, recursively) in ``folders`` (default: checkpoint_dir() and
    trained_dir()), sorted by path, plus one message per file that could not be read."""
    found, problems, seen = [], [], set()
    for folder in folders or (checkpoint_dir(), trained_dir()):
        for path in sorted(Path(folder).rglob("*.pt")) if Path(folder).is_dir() else []:
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            try:
                info = describe_checkpoint(path)
            except CheckpointError as error:  # named as the app names it: no server path in the page
                problems.append(str(error).replace(str(path), checkpoint_name(path)))
                continue
            if info is not None:  # checkpoints of other models (the flower segmenter) are not listed
                found.append(info)
    return found, problems


def remove_interrupted_saves(*folders: str | Path) -> list[Path]:
    """Delete interrupted saves' leftovers (older than pixelwise.tempfiles.STALE_AFTER_S) in ``folders``
    (default: checkpoint_dir() and trained_dir()); returns them. Called once at the app's start-up: listing
    checkpoints only reads."""
    return [path for folder in folders or (checkpoint_dir(), trained_dir()) for path in remove_stale(folder)]


def save_trained(save: Callable[[Path], object], model: str, category: str, batch_size: int,
                  folder: Path | None = None) -> Path:
    """Save a run trained in the app under a name no other save has taken (``{model}_{category}_bs{n}_{time}.pt``,
    then ``…-2.pt``, ``…-3.pt`` for saves in the same second): ``save(path)`` must refuse an existing path
    (FileExistsError), so two savers never overwrite each other. Then the folder keeps its newest trained_keep()."""
    folder = Path(folder or trained_dir())
    stem = f"{model}_{category}_bs{batch_size}_{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    for number in range(1, 10_000):
        path = folder / (f"{stem}.pt" if number == 1 else f"{stem}-{number}.pt")
        try:
            save(path)
        except FileExistsError:
            continue
        prune_trained(folder, keep_also=path)
        return path
    raise CheckpointError(f"no free name for {stem}.pt in the trained folder")


def prune_trained(folder: Path | None = None, keep: int | None = None, keep_also: Path | None = None) -> list[Path]:
    """Delete the oldest checkpoints of the trained folder beyond ``keep`` (default trained_keep()); returns them.
    ``keep_also``: a file never deleted (the save just made, even if its clock is behind)."""
    folder = Path(folder or trained_dir())
    keep = trained_keep() if keep is None else keep

    def age(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:  # deleted meanwhile (another save's prune)
            return float("-inf")

    files = sorted((path for path in folder.glob("*.pt") if path != keep_also), key=age, reverse=True)
    removed = files[max(0, keep - (keep_also is not None)):]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def find_checkpoint(name: str, listed: list[CheckpointInfo] | None = None) -> Path:
    """The file of a listed checkpoint, by name (checkpoint_name); CheckpointError for any other name, so
    callers of the app's API can reach only the checkpoints the app lists, never an arbitrary path.
    ``listed``: list_checkpoints()'s list when the caller has it (several look-ups, one walk of the folders)."""
    found = list_checkpoints()[0] if listed is None else listed
    for info in found:
        if info.name == name:
            return info.path
    names = ", ".join(info.name for info in found) or "none"
    raise CheckpointError(f"no checkpoint named {name!r} (available: {names})")


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
                "using the local checkpoints only."]
    from huggingface_hub import hf_hub_download

    notes = []
    for name in missing:
        try:
            hf_hub_download(repo, name, local_dir=folder, etag_timeout=5)
            notes.append(f"Fetched {name} from Hugging Face repo {repo}.")
        except Exception as error:  # missing file, private repo, network drop...
            notes.append(f"Could not fetch {name} from {repo} ({type(error).__name__}); using local checkpoints.")
    return notes


def load_checkpoint_cached(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, torch.Tensor]:
    """load_checkpoint, but each file is read once per process (again if it changes on disk): Colourizer.load.
    The model is shared between callers: use it for inference only."""
    colourizer = Colourizer.load(path, device)
    return colourizer.model, colourizer.palette


def load_colourizer(name: str, device: str | torch.device = "cpu", listed: list[CheckpointInfo] | None = None) -> Colourizer:
    """The listed checkpoint called ``name`` (checkpoint_name), loaded once per process; CheckpointError for
    a name the app does not list. ``listed``: as find_checkpoint's."""
    return Colourizer.load(find_checkpoint(name, listed), device)
