"""The colourizer's checkpoint format, on top of pixelwise.checkpoints (atomic save, checked read)::

    {"arch": "cnn" | "unet", "config": {kernel, num_filters, num_colours, in_channels},
     "palette": NC x 3 float RGB in [0, 1], "state_dict": ..., "meta": {...}}
"""
from pathlib import Path

import torch
from torch import nn

from pixelwise.checkpoints import (CheckpointError, load_state_dict_checked, read_checkpoint_dict, save_atomic,
                                  weights_mismatch)
from pixelwise.settings import shown_path

from .models import ARCH_NAMES, ARCHITECTURES, ModelConfig, build_model

COLOURIZER_KEYS = ("arch", "config", "palette", "state_dict", "meta")


def colourizer_checkpoint(model: nn.Module, palette: torch.Tensor, meta: dict, colour_targets: dict | None = None) -> dict:
    return {**(colour_targets or {}),
        "arch": model.arch,
        "config": model.config.as_dict(),
        "palette": palette.detach().float().cpu(),
        "state_dict": {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()},
        "meta": meta,
    }


def save_checkpoint(path: str | Path, model: nn.Module, palette: torch.Tensor, meta: dict,
                    colour_targets: dict | None = None) -> Path:
    """Write a colourizer checkpoint atomically; Lab models add {"colour_space": "lab", "ab_centres": NC x 2}."""
    return save_atomic(colourizer_checkpoint(model, palette, meta, colour_targets), path)


def check_colourizer_checkpoint(checkpoint: dict, path: str | Path) -> dict:
    """Raise CheckpointError unless ``checkpoint`` is a well-formed colourizer checkpoint dict."""
    name = shown_path(path)
    missing = [key for key in COLOURIZER_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{name}: not a PixelWise colourizer checkpoint (missing {', '.join(missing)})")
    if checkpoint["arch"] not in ARCHITECTURES:
        raise CheckpointError(f"{name}: unknown arch {checkpoint['arch']!r} (expected one of {sorted(ARCHITECTURES)})")
    config = checkpoint["config"]
    fields = set(ModelConfig.__dataclass_fields__)
    optional = {"depth", "global_hints"}  # added later: earlier checkpoints lack them
    if not (isinstance(config, dict) and fields - optional <= set(config) <= fields
            and all(isinstance(value, int) and (value > 0 or name == "global_hints" and value == 0)
                    for name, value in config.items()) and config["kernel"] % 2):
        raise CheckpointError(f"{name}: bad config {config!r} (want positive whole numbers "
                              f"{', '.join(ModelConfig.__dataclass_fields__)}, with an odd kernel)")
    palette = checkpoint["palette"]
    if not (isinstance(palette, torch.Tensor) and palette.is_floating_point()
            and palette.shape == (config["num_colours"], 3)):
        raise CheckpointError(f"{name}: palette must be a float {config['num_colours']} x 3 tensor")
    if checkpoint.get("colour_space", "rgb") not in ("rgb", "lab"):
        raise CheckpointError(f"{name}: colour_space must be 'rgb' or 'lab', not {checkpoint['colour_space']!r}")
    if checkpoint.get("colour_space") == "lab":
        centres = checkpoint.get("ab_centres")
        if not (isinstance(centres, torch.Tensor) and centres.shape == (config["num_colours"], 2)):
            raise CheckpointError(f"{name}: a Lab checkpoint needs ab_centres, a float {config['num_colours']} x 2 tensor")
    for key in ("state_dict", "meta"):
        if not isinstance(checkpoint[key], dict):
            raise CheckpointError(f"{name}: {key} is a {type(checkpoint[key]).__name__}, not a dict")
    return checkpoint


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
