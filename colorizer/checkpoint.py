"""The colourizer's checkpoint format, on top of pixelwise.checkpoints (atomic save, checked read)::

    {"arch": "cnn" | "unet", "config": {kernel, num_filters, num_colours, in_channels},
     "palette": NC x 3 float RGB in [0, 1], "state_dict": ..., "meta": {...}}
"""
from pathlib import Path

import torch
from torch import nn

from pixelwise.checkpoints import (CheckpointError, check_whole_numbers, load_state_dict_checked, read_checkpoint_dict,
                                  save_atomic, weights_mismatch)
from pixelwise.settings import shown_path

from .models import ARCH_NAMES, ARCHITECTURES, ModelConfig, build_model

COLOURIZER_KEYS = ("arch", "config", "palette", "state_dict", "meta")
# The largest model a file may describe: well past every shipped one (32 filters, 247 colours, 4 inputs, depth 5),
# small enough that building it on the meta device and checking its weights stays instant.
CONFIG_BOUNDS = {"kernel": (1, 15), "num_filters": (1, 512), "num_colours": (2, 1024), "in_channels": (1, 8),
                 "depth": (1, 8)}
# The meta fields the app shows in its checkpoint labels (runs/catalog.py); others are only kept.
META_BOUNDS = {"batch_size": (1, 1_000_000), "epochs": (0, 100_000)}


def colourizer_checkpoint(model: nn.Module, palette: torch.Tensor, meta: dict, colour_targets: dict | None = None) -> dict:
    return {**(colour_targets or {}),
        "arch": model.arch,
        "config": model.config.as_dict(),
        "palette": palette.detach().float().cpu(),
        "state_dict": {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()},
        "meta": meta,
    }


def save_checkpoint(path: str | Path, model: nn.Module, palette: torch.Tensor, meta: dict,
                    colour_targets: dict | None = None, overwrite: bool = True) -> Path:
    """Write a colourizer checkpoint atomically; Lab models add {"colour_space": "lab", "ab_centres": NC x 2}.
    ``overwrite=False``: FileExistsError when ``path`` exists."""
    return save_atomic(colourizer_checkpoint(model, palette, meta, colour_targets), path, overwrite)


def check_colourizer_checkpoint(checkpoint: dict, path: str | Path) -> dict:
    """Raise CheckpointError unless ``checkpoint`` is a well-formed colourizer checkpoint dict."""
    name = shown_path(path)
    missing = [key for key in COLOURIZER_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{name}: not a PixelWise colourizer checkpoint (missing {', '.join(missing)})")
    if not (isinstance(checkpoint["arch"], str) and checkpoint["arch"] in ARCHITECTURES):
        raise CheckpointError(f"{name}: unknown arch {str(checkpoint['arch'])[:40]!r} "
                              f"(expected one of {sorted(ARCHITECTURES)})")
    config, fields = checkpoint["config"], set(ModelConfig.__dataclass_fields__)
    if not (isinstance(config, dict) and fields - {"depth"} <= set(config) <= fields):
        raise CheckpointError(f"{name}: bad config (want the whole numbers {', '.join(sorted(fields))})")
    check_whole_numbers(config, CONFIG_BOUNDS, f"{name}: config")
    if not config["kernel"] % 2:
        raise CheckpointError(f"{name}: config kernel must be odd, not {config['kernel']}")
    palette = checkpoint["palette"]
    if not (isinstance(palette, torch.Tensor) and palette.is_floating_point()
            and palette.shape == (config["num_colours"], 3)):
        raise CheckpointError(f"{name}: palette must be a float {config['num_colours']} x 3 tensor")
    if checkpoint.get("colour_space", "rgb") not in ("rgb", "lab"):
        raise CheckpointError(f"{name}: colour_space must be 'rgb' or 'lab', not {checkpoint['colour_space']!r}")
    if checkpoint.get("colour_space") == "lab":
        centres = checkpoint.get("ab_centres")
        if not (isinstance(centres, torch.Tensor) and centres.is_floating_point()
                and centres.shape == (config["num_colours"], 2)):
            raise CheckpointError(f"{name}: a Lab checkpoint needs ab_centres, a float {config['num_colours']} x 2 tensor")
    for key in ("state_dict", "meta"):
        if not isinstance(checkpoint[key], dict):
            raise CheckpointError(f"{name}: {key} is a {type(checkpoint[key]).__name__}, not a dict")
    check_meta(checkpoint["meta"], name)
    return checkpoint


def check_meta(meta: dict, name: str) -> None:
    """CheckpointError unless the meta fields the app shows have their types and bounds."""
    check_whole_numbers(meta, META_BOUNDS, f"{name}: meta")
    if not isinstance(meta.get("category", ""), (str, type(None))) or len(meta.get("category") or "") > 64:
        raise CheckpointError(f"{name}: meta category must be a short text")
    accuracy = meta.get("val_acc")
    if accuracy is not None and not (type(accuracy) is float and 0.0 <= accuracy <= 1.0):
        raise CheckpointError(f"{name}: meta val_acc must be a number from 0 to 1, not {str(accuracy)[:40]!r}")


def check_weights_fit(checkpoint: dict, path: str | Path) -> dict:
    """Raise CheckpointError unless the weights have exactly the names and shapes of the model that the
    checkpoint's arch and config build (built on the meta device: no memory, no time)."""
    with torch.device("meta"):
        model = build_model(checkpoint["arch"], ModelConfig(**checkpoint["config"]))
    problem = weights_mismatch(model.state_dict(), checkpoint["state_dict"])
    if problem:
        raise CheckpointError(f"{shown_path(path)}: its weights do not fit the {ARCH_NAMES[checkpoint['arch']]} "
                              f"its config describes ({problem}); not offered")
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
    model.colour_space = checkpoint.get("colour_space", "rgb")  # what the classes are: palette RGB or Lab ab
    model.ab_centres = checkpoint.get("ab_centres")
    return model.to(device).eval(), checkpoint["palette"]
