"""Checkpoint files of any PixelWise model: written atomically, read with ``weights_only=True``,
checked before use. Each package's own format (colorizer/checkpoint.py, segmenter/models.py) builds on these."""
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from .settings import shown_path
from .tempfiles import partial_name


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint of the expected kind."""


def save_atomic(obj: dict, path: str | Path, overwrite: bool = True) -> Path:
    """torch.save to a temporary file beside ``path``, then rename: a crash never leaves half a file.
    ``overwrite=False``: FileExistsError when ``path`` exists (checked and taken in one step, by a hard link)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = partial_name(path)  # recognisable, so a killed save's leftover can be removed later
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; a checkpoint is an ordinary shareable file
        if overwrite:
            os.replace(temporary, path)
        else:  # link() fails if the name is taken: two savers of the same name never overwrite each other
            os.link(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    Path(temporary).unlink(missing_ok=True)
    return path


def check_whole_numbers(values: dict, bounds: dict[str, tuple[int, int]], where: str) -> None:
    """CheckpointError unless each of ``bounds``' keys present in ``values`` is a whole number (not a bool)
    within its (low, high): read before anything is built from them, so a file saying 10**12 filters is
    refused in plain words instead of reaching the allocator."""
    for key, (low, high) in bounds.items():
        value = values.get(key, low)
        if not (type(value) is int and low <= value <= high):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
            raise CheckpointError(f"{where}: {key} must be a whole number from {low} to {high}, not {shown}")


def _not_a_checkpoint(head: bytes) -> str | None:
    """Why a file is not one torch.save wrote (a zip archive, or the legacy pickle format), or None."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\x80"):
        return None
    try:
        text = head.decode("utf-8")
        if sum(c.isprintable() or c.isspace() for c in text) > 0.95 * len(text):
            return "it holds text"
    except UnicodeDecodeError:
        pass
    return "its bytes are not a file that torch.save writes"


def read_checkpoint_dict(path: str | Path, required_keys: tuple[str, ...], kind: str) -> dict:
    """Load a checkpoint dict safely; raise CheckpointError naming the file and saying in plain words what is wrong."""
    path, name = Path(path), shown_path(path)
    if not path.is_file():
        raise CheckpointError(f"{name}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{name}: the file is empty (0 bytes), not a {kind} checkpoint")
    with open(path, "rb") as file:
        reason = _not_a_checkpoint(file.read(512))
    if reason:
        raise CheckpointError(f"{name}: not a {kind} checkpoint ({reason})")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt zip, pickle with forbidden globals, truncated file...
        if "Weights only load failed" in str(error) and "GLOBAL" in str(error):
            raise CheckpointError(
                f"{name}: not loaded: it holds pickled Python objects (classes or functions), and unpickling "
                "them could run code; save only tensors and plain values (a state_dict with its config)") from None
        raise CheckpointError(f"{name}: cannot be read as a {kind} checkpoint: the file is damaged or cut "
                              "short (an interrupted save or an incomplete download?)") from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{name}: holds a {type(checkpoint).__name__}, not a {kind} checkpoint")
    missing = [key for key in required_keys if key not in checkpoint]
    if missing:
        raise CheckpointError(
            f"{name}: not a {kind} checkpoint (missing {', '.join(missing)}; "
            f"a bare state_dict is not enough: the file must also say its architecture and config)"
        )
    return checkpoint


def _shape(value) -> str:
    return "×".join(map(str, value.shape)) if value.dim() else "a single number"


def weights_mismatch(expected: dict, state_dict: dict) -> str | None:
    """Plain words for how ``state_dict`` differs from a model's ``expected`` state_dict (names and
    shapes, strict), or None when every weight fits."""
    missing = [key for key in expected if key not in state_dict]
    extra = [key for key in state_dict if key not in expected]
    if missing or extra:
        parts = [f"{len(missing)} missing (first: {missing[0]})" if missing else "",
                 f"{len(extra)} not in the model (first: {extra[0]})" if extra else ""]
        return "weights " + " and ".join(part for part in parts if part)
    for key, tensor in expected.items():
        value = state_dict[key]
        if not isinstance(value, torch.Tensor):
            return f"{key} is a {type(value).__name__}, not a tensor"
        if value.shape != tensor.shape:
            return f"{key} is {_shape(value)} in the file but {_shape(tensor)} in the model"
    return None


def load_state_dict_checked(model: nn.Module, state_dict: dict, path: str | Path, kind: str) -> None:
    """load_state_dict(strict=True), after checking names and shapes so a mismatch is one plain CheckpointError."""
    problem = weights_mismatch(model.state_dict(), state_dict)
    if problem:
        raise CheckpointError(f"{shown_path(path)}: its weights do not fit the {kind} it describes ({problem})")
    try:
        model.load_state_dict(state_dict, strict=True)
    except (RuntimeError, TypeError, AttributeError):
        raise CheckpointError(f"{shown_path(path)}: its weights do not fit the {kind} it describes") from None
