"""The one training loop and the one evaluation function (CLI, app, tests and benchmarks all use them).

The command-line front end is ``python -m colorizer.train`` (colorizer/train.py).
"""
import argparse
import functools
import platform
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from pixelwise.device import resolve_device

from .checkpoint import save_checkpoint
from .data import category_name, load_category, to_grey
from .models import ModelConfig, build_model
from .palette import kmeans_palette, nearest_colour_labels


@dataclass
class TrainConfig:
    model: str = "unet"  # "cnn" or "unet"
    category: str = "horse"
    data_root: str | None = None  # image-folder root; None downloads CIFAR-10 with torchvision
    epochs: int = 25
    batch_size: int = 100
    learning_rate: float = 1e-3
    num_filters: int = 32
    kernel: int = 3
    num_colours: int = 24
    seed: int = 0
    device: str = "auto"  # "auto" = CUDA when present, else CPU
    train_limit: int | None = None  # use only the first N training images (tests, quick demos)
    val_limit: int | None = None  # use only the first N test images for validation
    report_every: int | None = None  # batches between "batch" events; None: about 10 per epoch
    max_steps: int | None = None  # stop after this many optimiser steps (short fine-tunes)
    hflip: bool = False  # flip a random half of each batch left-right (the handout does not)


@dataclass
class ColourData:
    """Everything a run needs, decoded and labelled once."""

    palette: torch.Tensor  # NC x 3 float RGB in [0, 1]
    train_grey: torch.Tensor  # N x 1 x H x W float in [0, 1]
    train_labels: torch.Tensor  # N x H x W int64
    val_grey: torch.Tensor
    val_labels: torch.Tensor
    val_rgb: torch.Tensor  # N x H x W x 3 uint8, for showing the truth


@dataclass
class Progress:
    """One progress event: 'batch' (running train loss) or 'epoch' (with validation)."""

    kind: str
    epoch: float  # epochs completed, fractional for batch events
    step: int  # optimiser steps so far
    total_steps: int
    train_loss: float | None
    val_loss: float | None = None
    val_acc: float | None = None
    seconds: float = 0.0  # wall time since the run started
    model: nn.Module | None = field(default=None, repr=False, compare=False)  # the model being trained, live


@dataclass
class TrainResult:
    config: TrainConfig
    model: nn.Module
    palette: torch.Tensor
    history: list[Progress] = field(default_factory=list)
    stopped: bool = False
    seconds: float = 0.0

    @property
    def final(self) -> Progress | None:
        epochs = [event for event in self.history if event.kind == "epoch"]
        return epochs[-1] if epochs else None

    def meta(self) -> dict:
        final = self.final
        return {
            "data_source": self.config.data_root or "torchvision CIFAR10 download",
            "category": category_name(self.config.category),
            "epochs": self.config.epochs,
            "epochs_completed": final.epoch if final else 0,
            "batch_size": self.config.batch_size,
            "learning_rate": self.config.learning_rate,
            "seed": self.config.seed,
            "hflip": self.config.hflip,
            "train_limit": self.config.train_limit,
            "val_limit": self.config.val_limit,
            "val_loss": final.val_loss if final else None,
            "val_acc": final.val_acc if final else None,
            "train_seconds": round(self.seconds, 2),
            "device": str(next(self.model.parameters()).device),
            "versions": {"torch": str(torch.__version__),  # TorchVersion would break weights_only loading
                         "python": platform.python_version()},
        }

    def save(self, path) -> None:
        save_checkpoint(path, self.model, self.palette, self.meta())


@functools.lru_cache(maxsize=4)
def prepare_data(category: str = "horse", data_root: str | None = None, num_colours: int = 24, seed: int = 0,
                 train_limit: int | None = None, val_limit: int | None = None) -> ColourData:
    """Decode, grey and label one category once; the palette comes from the training pixels used."""
    train_rgb = load_category(category, data_root, "train")[:train_limit]
    val_rgb = load_category(category, data_root, "test")[:val_limit]
    return labelled_data(train_rgb, val_rgb, kmeans_palette(train_rgb, num_colours, seed=seed))


def labelled_data(train_rgb: torch.Tensor, val_rgb: torch.Tensor, palette: torch.Tensor) -> ColourData:
    """Grey inputs and nearest-palette-colour targets for these images and this palette."""
    return ColourData(
        palette=palette,
        train_grey=to_grey(train_rgb), train_labels=nearest_colour_labels(train_rgb, palette),
        val_grey=to_grey(val_rgb), val_labels=nearest_colour_labels(val_rgb, palette),
        val_rgb=val_rgb,
    )


def data_for(config: TrainConfig) -> ColourData:
    return prepare_data(category_name(config.category), config.data_root and str(config.data_root), config.num_colours,
                        config.seed, config.train_limit, config.val_limit)


@torch.no_grad()
def evaluate(model: nn.Module, grey: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> tuple[float, float]:
    """Mean per-pixel cross-entropy and pixel accuracy (predicted class == nearest palette colour)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    loss_sum, correct, pixels = 0.0, 0, 0
    for start in range(0, len(grey), batch_size):
        x = grey[start:start + batch_size].to(device)
        y = labels[start:start + batch_size].to(device)
        logits = model(x)
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(dim=1) == y).sum().item()
        pixels += y.numel()
    model.train(was_training)
    return loss_sum / pixels, correct / pixels


def random_hflip(grey: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
    """Mirror a random half of the batch (images and their labels together)."""
    flip = (torch.rand(len(grey), generator=generator) < 0.5).to(grey.device)
    return (torch.where(flip[:, None, None, None], grey.flip(-1), grey),
            torch.where(flip[:, None, None], labels.flip(-1), labels))


def train(config: TrainConfig, data: ColourData | None = None,
          on_progress: Callable[[Progress], None] | None = None,
          should_stop: Callable[[], bool] | None = None, init_model: nn.Module | None = None) -> TrainResult:
    """Adam + per-pixel cross-entropy. Emits an 'epoch' event before training (epoch 0) and after
    each epoch, and a 'batch' event every ``config.report_every`` steps. ``should_stop`` is checked
    before every batch, so a stop request ends the run within one batch; what was measured is kept.
    ``init_model`` continues training that model (in place) instead of a fresh one."""
    data = data or data_for(config)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model_config = ModelConfig(config.kernel, config.num_filters, config.num_colours, in_channels=1)
    model = (init_model or build_model(config.model, model_config)).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    train_grey, train_labels = data.train_grey.to(device), data.train_labels.to(device)
    val_grey, val_labels = data.val_grey.to(device), data.val_labels.to(device)
    shuffler = torch.Generator().manual_seed(config.seed)
    batches_per_epoch = -(-len(train_grey) // config.batch_size)
    total_steps = batches_per_epoch * config.epochs
    report_every = config.report_every or max(1, batches_per_epoch // 10)
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    result = TrainResult(config, model, data.palette)
    start = time.perf_counter()

    def emit(event: Progress) -> None:
        result.history.append(event)
        if on_progress:
            on_progress(event)

    def validate(epoch: float, step: int, train_loss: float | None) -> None:
        val_loss, val_acc = evaluate(model, val_grey, val_labels)
        emit(Progress("epoch", epoch, step, total_steps, train_loss, val_loss, val_acc, time.perf_counter() - start,
                      model))

    validate(0.0, 0, None)
    step = 0
    for epoch in range(config.epochs):
        model.train()
        order = torch.randperm(len(train_grey), generator=shuffler).to(device)
        epoch_loss, recent_loss, recent_count, batches_done = 0.0, 0.0, 0, 0
        for batch_index in range(min(batches_per_epoch, total_steps - step)):
            if should_stop and should_stop():
                result.stopped = True
                result.seconds = time.perf_counter() - start
                return result
            indices = order[batch_index * config.batch_size:(batch_index + 1) * config.batch_size]
            x, y = train_grey[indices], train_labels[indices]
            if config.hflip:
                x, y = random_hflip(x, y, shuffler)
            loss = F.cross_entropy(model(x), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            step, batches_done = step + 1, batches_done + 1
            loss_value = loss.item()  # once: each .item() waits for the device
            epoch_loss += loss_value
            recent_loss, recent_count = recent_loss + loss_value, recent_count + 1
            if recent_count == report_every and batch_index + 1 < batches_per_epoch:
                emit(Progress("batch", epoch + (batch_index + 1) / batches_per_epoch, step, total_steps,
                              recent_loss / recent_count, seconds=time.perf_counter() - start, model=model))
                recent_loss, recent_count = 0.0, 0
        validate(epoch + batches_done / batches_per_epoch, step, epoch_loss / batches_done)
        if step == total_steps:
            break
    result.seconds = time.perf_counter() - start
    return result


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One --flag per TrainConfig field (shared by the train and sweep CLIs)."""
    defaults = TrainConfig()
    parser.add_argument("--model", choices=["cnn", "unet"], default=defaults.model)
    parser.add_argument("--data", "--data-root", dest="data_root", default=None,
                        help="image-folder root (train/<class>/*.jpg, test/<class>/*.jpg); "
                             "omit to download CIFAR-10 with torchvision")
    for name in ("category", "epochs", "batch_size", "learning_rate", "num_filters", "kernel",
                 "num_colours", "seed", "device", "train_limit", "val_limit", "max_steps"):
        default = getattr(defaults, name)
        kind = type(default) if default is not None else int
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=default)
    parser.add_argument("--hflip", action="store_true", help="mirror a random half of each batch")


def config_from_arguments(arguments: argparse.Namespace, **overrides) -> TrainConfig:
    names = TrainConfig.__dataclass_fields__
    values = {name: getattr(arguments, name) for name in names if hasattr(arguments, name)}
    return TrainConfig(**{**values, **overrides})


def tqdm_reporter(config: TrainConfig, data: ColourData, description: str):
    """A progress callback that drives a tqdm bar over optimiser steps."""
    from tqdm import tqdm

    total = -(-len(data.train_grey) // config.batch_size) * config.epochs
    bar = tqdm(total=min(total, config.max_steps or total), desc=description, unit="batch")

    def report(event: Progress) -> None:
        bar.update(event.step - bar.n)
        if event.kind == "epoch" and event.val_loss is not None:
            bar.set_postfix(epoch=int(event.epoch), val_loss=f"{event.val_loss:.3f}", val_acc=f"{event.val_acc:.3f}")
        if event.step == event.total_steps and event.kind == "epoch":
            bar.close()

    return report
