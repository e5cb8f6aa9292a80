"""Checkpoint files of any PixelWise model: written atomically, read with ``weights_only=True``,
checked before use. Each package's own format (colorizer/checkpoint.py, segmenter/models.py) builds on these."""
import os
import re
import tempfile
from pathlib import Path

import torch
from torch import nn


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint of the expected kind."""


def save_atomic(obj: dict, path: str | Path) -> Path:
    """torch.save to a temporary file beside ``path``, then rename: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes 0600; a checkpoint is an ordinary shareable file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read_checkpoint_dict(path: str | Path, required_keys: tuple[str, ...], kind: str) -> dict:
    """Load a checkpoint dict safely; raise CheckpointError naming the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty, not a {kind} checkpoint")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt zip, pickle with forbidden globals, truncated file...
        message = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()  # torch colours parts of its messages
        reason = message.splitlines()[0][:200] if message else type(error).__name__
        if "Weights only load failed" in message:
            reason = "it holds Python objects, not just tensors and plain data; they are not unpickled, for safety"
        raise CheckpointError(f"{path}: cannot be read as a {kind} checkpoint ({reason})") from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: holds a {type(checkpoint).__name__}, not a {kind} checkpoint dict")
    missing = [key for key in required_keys if key not in checkpoint]
    if missing:
        raise CheckpointError(
            f"{path}: not a {kind} checkpoint (missing {', '.join(missing)}; "
            f"a bare state_dict is not enough: the file must also say its architecture and config)"
        )
    return checkpoint


def load_state_dict_checked(model: nn.Module, state_dict: dict, path: str | Path, kind: str) -> None:
    """load_state_dict(strict=True), turning size and key mismatches into one clear CheckpointError."""
    try:
        model.load_state_dict(state_dict, strict=True)
    except (RuntimeError, TypeError, AttributeError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = "; ".join(lines[1:4]) if len(lines) > 1 else (lines[0] if lines else type(error).__name__)
        raise CheckpointError(f"{path}: weights do not fit the {kind} it describes ({detail[:300]})") from None
