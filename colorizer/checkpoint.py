"""Checkpoint files: written atomically, read with ``weights_only=True``, checked before use.

The two helpers at the top are shared with ``segmenter``; the rest is the
colourizer's own format::

    {"arch": "cnn" | "unet", "config": {kernel, num_filters, num_colours, in_channels},
     "palette": NC x 3 float RGB in [0, 1], "state_dict": ..., "meta": {...}}
"""
import os
import re
import tempfile
from pathlib import Path

import torch
from torch import nn

from .models import ARCHITECTURES, ModelConfig, build_model


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


COLOURIZER_KEYS = ("arch", "config", "palette", "state_dict", "meta")


def colourizer_checkpoint(model: nn.Module, palette: torch.Tensor, meta: dict) -> dict:
    return {
        "arch": model.arch,
        "config": model.config.as_dict(),
        "palette": palette.detach().float().cpu(),
        "state_dict": {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()},
        "meta": meta,
    }


def save_checkpoint(path: str | Path, model: nn.Module, palette: torch.Tensor, meta: dict) -> Path:
    """Write a colourizer checkpoint atomically."""
    return save_atomic(colourizer_checkpoint(model, palette, meta), path)


def check_colourizer_checkpoint(checkpoint: dict, path: str | Path) -> dict:
    """Raise CheckpointError unless ``checkpoint`` is a well-formed colourizer checkpoint dict."""
    missing = [key for key in COLOURIZER_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path}: not a PixelWise colourizer checkpoint (missing {', '.join(missing)})")
    if checkpoint["arch"] not in ARCHITECTURES:
        raise CheckpointError(f"{path}: unknown arch {checkpoint['arch']!r} (expected one of {sorted(ARCHITECTURES)})")
    config = checkpoint["config"]
    if not (isinstance(config, dict) and set(config) == set(ModelConfig.__dataclass_fields__)
            and all(isinstance(value, int) and value > 0 for value in config.values()) and config["kernel"] % 2):
        raise CheckpointError(f"{path}: bad config {config!r} (want positive whole numbers "
                              f"{', '.join(ModelConfig.__dataclass_fields__)}, with an odd kernel)")
    palette = checkpoint["palette"]
    if not (isinstance(palette, torch.Tensor) and palette.is_floating_point()
            and palette.shape == (config["num_colours"], 3)):
        raise CheckpointError(f"{path}: palette must be a float {config['num_colours']} x 3 tensor")
    for key in ("state_dict", "meta"):
        if not isinstance(checkpoint[key], dict):
            raise CheckpointError(f"{path}: {key} is a {type(checkpoint[key]).__name__}, not a dict")
    return checkpoint


def read_checkpoint(path: str | Path) -> dict:
    """The checked checkpoint dict (arch, config, palette, state_dict, meta)."""
    return check_colourizer_checkpoint(read_checkpoint_dict(path, COLOURIZER_KEYS, "PixelWise colourizer"), path)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, torch.Tensor]:
    """The model (eval mode, on ``device``) and its palette (NC x 3 float RGB in [0, 1])."""
    checkpoint = read_checkpoint(path)
    model = build_model(checkpoint["arch"], ModelConfig(**checkpoint["config"]))
    load_state_dict_checked(model, checkpoint["state_dict"], path, f"{checkpoint['arch']} model")
    model.meta = checkpoint["meta"]  # handy for the app's labels; not used by inference
    return model.to(device).eval(), checkpoint["palette"]
