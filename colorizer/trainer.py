"""The one training loop and the one evaluation function (CLI, app, tests and benchmarks all use them).

The command-line front end is ``python -m colorizer.train`` (colorizer/train.py).
"""
import argparse
import functools
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from pixelwise.checkpoints import save_atomic
from pixelwise.device import resolve_device
from pixelwise.precision import add_precision_argument, autocast, resolve_precision
from pixelwise.seeding import own_generator
from pixelwise.settings import shown_path

from . import hints as hint_planes_module, lab, photos, reference
from .checkpoint import save_checkpoint
from .data import category_name, load_category, to_grey
from .fused_loss import pixel_cross_entropy
from .models import ModelConfig, UpBlock, build_model, find_mobilenet_weights, load_imagenet_encoder
from .palette import distinct_colours, kmeans_palette, nearest_colour_labels

TARGETS = ("palette", "lab_grid", "lab_kmeans")  # handout RGB k-means | Zhang's ab grid | k-means over ab


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
    crop_pad: int = 0  # pad by this many pixels (reflect) and crop back at a random offset per image
    # Beyond the handout (Zhang et al. 2016). "palette": the handout's grey = mean RGB in, RGB k-means classes out.
    # "lab_grid" / "lab_kmeans": lightness L in, ab classes out (10 x 10 grid cells, or num_colours k-means centres).
    target: str = "palette"
    rebalance: float | None = None  # Zhang's lambda (0.5): class weights ((1 - l) p~ + l / Q)^-1; None: unweighted
    soft_targets: bool = False  # Zhang's soft encoding: 5 nearest ab centres, Gaussian sigma 5
    depth: int = 3  # levels of deep_unet
    pretrained: bool = True  # mobile_unet: start the encoder from ImageNet MobileNetV2
    resume_path: str | None = None  # write a resumable checkpoint here after every epoch; resume from it if present
    # Speed only (the numbers agree within float rounding). None = where measured faster: channels_last
    # on the CPU (benchmarks/bench_trainer.py), torch.compile nowhere yet (its compile time outweighs it on
    # CPU; not measured on CUDA). True / False force either.
    channels_last: bool | None = None  # NHWC activations: faster convolutions on CPU (oneDNN)
    compile: bool | None = None  # torch.compile the model's forward and backward (one compile per batch shape)
    # Real photos (beyond CIFAR): data_root names photo folders (several: comma-separated), decoded once at
    # photo_cache_side and trained as random-resized crops of photo_size; lab targets only.
    photo_size: int | None = None  # None: CIFAR-10 categories at 32 px, as the handout
    photo_cache_side: int = 160
    hints: bool = False  # SIGGRAPH 2017: L plus simulated hint planes in (colorizer.hints); the model takes 4 planes
    no_hint_share: float = 0.1  # share of training images given no hint at all
    loss_pixel_share: float = 1.0  # the loss on a random share of each batch's pixels (cheaper on big crops)
    # Autocast of the forward pass: "auto" = bf16 where the hardware computes it natively, else fp32
    # (pixelwise/precision.py); "fp32" reproduces the handout's checkpoints; "fp16" on CUDA, with a grad scaler.
    precision: str = "auto"
    init_from: str | None = None  # start from these weights (a checkpoint or resumable state; see warm_start)
    # Global hints (colorizer.reference): the model also takes each crop's own palette, dropped for this share
    global_hints: bool = False
    global_drop_share: float = 0.3
    global_branch_lr: float | None = None  # the new branch's own rate (None: learning_rate): it starts from zero
    # Train the global-hint branch only: every other weight and batch-norm statistic stays as init_from left
    # it, so "no global hint" computes exactly the starting model (the branch is gated by its 'given' flag)
    freeze_trunk: bool = False
    epoch_images: int | None = None  # images per epoch, a fresh random subset each time (None: all of them)


@dataclass
class ColourData:
    """Everything a run needs, decoded and labelled once."""

    palette: torch.Tensor  # NC x 3 float RGB in [0, 1]
    train_grey: torch.Tensor  # N x 1 x H x W float in [0, 1]
    train_labels: torch.Tensor  # N x H x W int64
    val_grey: torch.Tensor
    val_labels: torch.Tensor
    val_rgb: torch.Tensor  # N x H x W x 3 uint8, for showing the truth
    colour_space: str = "rgb"  # "rgb": palette classes; "lab": ab classes (centres below), input L / 100
    centres: torch.Tensor | None = None  # Lab: NC x 2 ab centre of each class
    class_weights: torch.Tensor | None = None  # NC loss weights (rebalancing), None = unweighted
    train_ab: torch.Tensor | None = None  # Lab with soft targets: N x H x W x 2 true ab
    train_photos: torch.Tensor | None = None  # photo folders: N x S x S x 3 uint8, cropped per batch
    label_table: torch.Tensor | None = None  # photo folders: grid cell -> class index (colorizer.lab.grid_cell)

    @property
    def train_count(self) -> int:
        return len(self.train_photos) if self.train_photos is not None else len(self.train_grey)


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
    centres: torch.Tensor | None = None  # Lab models: the ab centre of each class
    speedups: dict = field(default_factory=dict)  # the channels_last / compile this run used
    earlier_seconds: float = 0.0  # a resumed run: the training time of the runs before it

    @property
    def final(self) -> Progress | None:
        epochs = [event for event in self.history if event.kind == "epoch"]
        return epochs[-1] if epochs else None

    def meta(self) -> dict:
        final = self.final
        return {
            # as the app may show it (relative to the checkout): checkpoints are downloaded, never a server path
            "data_source": shown_path(self.config.data_root) if self.config.data_root else "torchvision CIFAR10 download",
            "category": category_name(self.config.category),
            "epochs": self.config.epochs,
            "epochs_completed": final.epoch if final else 0,
            "batch_size": self.config.batch_size,
            "learning_rate": self.config.learning_rate,
            "seed": self.config.seed,
            "hflip": self.config.hflip,
            "crop_pad": self.config.crop_pad,
            "target": self.config.target,
            "rebalance": self.config.rebalance,
            "soft_targets": self.config.soft_targets,
            "pretrained": self.config.pretrained if self.config.model == "mobile_unet" else None,
            "photo_size": self.config.photo_size,
            "hints": self.config.hints,
            "global_hints": self.config.global_hints,
            "global_drop_share": self.config.global_drop_share if self.config.global_hints else None,
            "global_branch_lr": self.config.global_branch_lr,
            "freeze_trunk": self.config.freeze_trunk,
            "init_from": shown_path(self.config.init_from) if self.config.init_from else None,
            "no_hint_share": self.config.no_hint_share if self.config.hints else None,
            "loss_pixel_share": self.config.loss_pixel_share,
            "train_limit": self.config.train_limit,
            "epoch_images": self.config.epoch_images,
            "val_limit": self.config.val_limit,
            "val_loss": final.val_loss if final else None,
            "val_acc": final.val_acc if final else None,
            "train_seconds": round(self.seconds, 2),
            "device": str(next(self.model.parameters()).device),
            **self.speedups,
            "versions": {"torch": str(torch.__version__),  # TorchVersion would break weights_only loading
                         "python": platform.python_version()},
        }

    def save(self, path, overwrite: bool = True) -> Path:
        """The checkpoint, written atomically; ``overwrite=False``: FileExistsError when ``path`` exists."""
        return save_checkpoint(path, self.model, self.palette, self.meta(), self.colour_targets(), overwrite)

    def colour_targets(self) -> dict | None:
        """What the classes mean, for Lab models (ab centres); None for the handout's RGB palette."""
        if self.centres is None:
            return None
        return {"colour_space": "lab", "ab_centres": self.centres.float().cpu()}


@functools.lru_cache(maxsize=4)
def prepare_data(category: str = "horse", data_root: str | None = None, num_colours: int = 24, seed: int = 0,
                 train_limit: int | None = None, val_limit: int | None = None, target: str = "palette",
                 rebalance: float | None = None, soft_targets: bool = False) -> ColourData:
    """Decode, grey and label one category once; the classes come from the training pixels used."""
    train_rgb = load_category(category, data_root, "train")[:train_limit]
    val_rgb = load_category(category, data_root, "test")[:val_limit]
    if target == "palette":
        return labelled_data(train_rgb, val_rgb, kmeans_palette(train_rgb, num_colours, seed=seed))
    return lab_data(train_rgb, val_rgb, target, num_colours, seed, rebalance, soft_targets)


def lab_data(train_rgb: torch.Tensor, val_rgb: torch.Tensor, target: str, num_colours: int, seed: int,
             rebalance: float | None, soft_targets: bool) -> ColourData:
    """Lightness inputs, ab-class targets (grid or k-means bins) and, optionally, rebalancing weights."""
    if target not in TARGETS[1:]:
        raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
    # Work on the distinct colours (a few million at most), not on every one of the 51 M pixels.
    colours, counts, inverse = distinct_colours(train_rgb)
    colours_lab = lab.rgb_to_lab(colours)
    colours_ab = colours_lab[:, 1:]
    bins = lab.grid_bins(colours_ab) if target == "lab_grid" else lab.kmeans_bins(colours_ab, num_colours, seed,
                                                                                    weights=counts)
    colour_labels = bins.labels(colours_ab)
    shape = train_rgb.shape[:-1]
    train_labels = colour_labels[inverse].reshape(shape)
    train_ab = colours_ab[inverse].reshape(*shape, 2) if soft_targets else None
    weights = None
    if rebalance is not None:
        prior = lab.empirical_prior(colour_labels, len(bins), counts)
        weights = lab.rebalancing_weights(prior, bins.centres, mix=rebalance)
    val_colours, _, val_inverse = distinct_colours(val_rgb)
    val_lab = lab.rgb_to_lab(val_colours)
    return ColourData(
        palette=bins.display_palette(),
        train_grey=(colours_lab[inverse, 0] / 100).reshape(shape).unsqueeze(1), train_labels=train_labels,
        val_grey=(val_lab[val_inverse, 0] / 100).reshape(val_rgb.shape[:-1]).unsqueeze(1),
        val_labels=bins.labels(val_lab[:, 1:])[val_inverse].reshape(val_rgb.shape[:-1]),
        val_rgb=val_rgb, colour_space="lab", centres=bins.centres, class_weights=weights, train_ab=train_ab,
    )


def labelled_data(train_rgb: torch.Tensor, val_rgb: torch.Tensor, palette: torch.Tensor) -> ColourData:
    """Grey inputs and nearest-palette-colour targets for these images and this palette."""
    return ColourData(
        palette=palette,
        train_grey=to_grey(train_rgb), train_labels=nearest_colour_labels(train_rgb, palette),
        val_grey=to_grey(val_rgb), val_labels=nearest_colour_labels(val_rgb, palette),
        val_rgb=val_rgb,
    )


@functools.lru_cache(maxsize=2)
def prepare_photo_data(data_root: str, photo_size: int, cache_side: int = 160, val_limit: int | None = 500,
                       hints: bool = False, rebalance: float | None = 0.5, train_limit: int | None = None,
                       prior_images: int = 2000) -> ColourData:
    """Photo folders for Lab training: the photos decoded once; Zhang's ab grid and its prior from a sample of
    the training pixels; validation on whole held-out photos at ``photo_size`` (with empty hint planes)."""
    train_photos = photos.load_photo_sources(data_root, "train", cache_side, train_limit)
    sample = train_photos[torch.linspace(0, len(train_photos) - 1, min(prior_images, len(train_photos))).long()]
    sample_ab = lab.rgb_to_lab(sample[:, ::4, ::4])[..., 1:]
    bins = lab.grid_bins(sample_ab)
    table = lab.grid_label_table(bins)
    weights = None
    if rebalance is not None:
        prior = lab.empirical_prior(lab.grid_labels(sample_ab, table), len(bins))
        weights = lab.rebalancing_weights(prior, bins.centres, mix=rebalance)
    val_rgb = photos.resized(photos.load_photo_sources(data_root, "val", cache_side, val_limit), photo_size)
    val_lab = lab.rgb_to_lab(val_rgb)
    val_input = (val_lab[..., 0] / 100).unsqueeze(1)
    if hints:
        val_input = torch.cat([val_input, torch.zeros(len(val_input), hint_planes_module.HINT_PLANES,
                                                      *val_input.shape[-2:])], dim=1)
    return ColourData(palette=bins.display_palette(), train_grey=None, train_labels=None, val_grey=val_input,
                      val_labels=lab.grid_labels(val_lab[..., 1:], table), val_rgb=val_rgb, colour_space="lab",
                      centres=bins.centres, class_weights=weights, train_photos=train_photos, label_table=table)


def photo_batch(data: ColourData, indices: torch.Tensor, config: TrainConfig, generator: torch.Generator):
    """A training batch from photos: random crops -> Lab -> (L / 100 [+ hint planes], ab-class labels)."""
    rgb = photos.random_crops(data.train_photos[indices.cpu()], config.photo_size, generator, hflip=config.hflip)
    colour = lab.rgb_to_lab(rgb)
    x = (colour[..., 0] / 100).unsqueeze(1)
    if config.hints:
        planes = hint_planes_module.sample_hint_planes(colour[..., 1:], generator, config.no_hint_share)
        x = torch.cat([x, planes], dim=1)
    labels = lab.grid_labels(colour[..., 1:], data.label_table)
    if config.global_hints:  # the model input becomes (planes, global hints): see training_step
        x = (x, reference.sample_global_hints(labels, colour[..., 1:], data.centres, generator, config.global_drop_share))
    return x, labels


def data_for(config: TrainConfig) -> ColourData:
    if config.photo_size:
        if not config.data_root:
            raise ValueError("photo_size needs data_root: one or more photo folders (e.g. ../shared/data/imagenette160)")
        if config.target != "lab_grid" or config.soft_targets:
            raise ValueError("photo folders train Lab grid targets (--target lab_grid), without soft targets")
        return prepare_photo_data(str(config.data_root), config.photo_size, config.photo_cache_side,
                                  config.val_limit, config.hints, config.rebalance, config.train_limit)
    return prepare_data(category_name(config.category), config.data_root and str(config.data_root), config.num_colours,
                        config.seed, config.train_limit, config.val_limit, config.target, config.rebalance,
                        config.soft_targets)


@torch.no_grad()
def evaluate(model: nn.Module, grey: torch.Tensor, labels: torch.Tensor, batch_size: int | None = None,
             precision: str = "fp32") -> tuple[float, float]:
    """Mean per-pixel cross-entropy and pixel accuracy (predicted class == nearest palette colour).
    ``batch_size`` None: about 500 CIFAR-sized images' worth of pixels at a time."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    batch_size = batch_size or max(1, 500 * 32 * 32 // (grey.shape[-1] * grey.shape[-2]))
    loss_sum, correct, pixels = 0.0, 0, 0
    for start in range(0, len(grey), batch_size):
        x = grey[start:start + batch_size].to(device)
        y = labels[start:start + batch_size].to(device)
        with autocast(precision, device):
            logits = model(x)
        logits = logits.float()
        loss_sum += F.cross_entropy(pixel_rows(logits), y.reshape(-1), reduction="sum").item()
        correct += (logits.argmax(dim=1) == y).sum().item()
        pixels += y.numel()
    model.train(was_training)
    return loss_sum / pixels, correct / pixels


def random_hflip(grey: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
    """Mirror a random half of the batch (images and their per-pixel targets together)."""
    flip = (torch.rand(len(grey), generator=generator) < 0.5).to(grey.device)
    mask = flip.view(-1, *[1] * (labels.dim() - 1))
    return (torch.where(flip[:, None, None, None], grey.flip(-1), grey),
            torch.where(mask, labels.flip(2), labels))


def random_crop(grey: torch.Tensor, labels: torch.Tensor, pad: int, generator: torch.Generator):
    """Reflect-pad by ``pad`` and crop each image (and its targets) back at its own random offset."""
    height, width = grey.shape[-2:]
    padded_grey = F.pad(grey, (pad, pad, pad, pad), mode="reflect")
    target = labels.unsqueeze(1) if labels.dim() == 3 else labels.movedim(-1, 1)
    padded_target = F.pad(target.float(), (pad, pad, pad, pad), mode="reflect").to(labels.dtype)
    offsets = torch.randint(0, 2 * pad + 1, (len(grey), 2), generator=generator).tolist()
    grey_out = torch.stack([padded_grey[i, :, dy:dy + height, dx:dx + width] for i, (dy, dx) in enumerate(offsets)])
    target_out = torch.stack([padded_target[i, :, dy:dy + height, dx:dx + width] for i, (dy, dx) in enumerate(offsets)])
    return grey_out, (target_out.squeeze(1) if labels.dim() == 3 else target_out.movedim(1, -1))


def pixel_rows(logits: torch.Tensor) -> torch.Tensor:
    """N x C x H x W scores -> (N*H*W) x C, one row per pixel, as the handout's compute_loss lays them out.
    A view of channels_last logits, so the loss and its gradient need no layout copy."""
    return logits.movedim(1, -1).reshape(-1, logits.shape[1])


def pixel_loss(logits: torch.Tensor, target: torch.Tensor, data: ColourData,
               rows: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel cross-entropy, mean over pixels. ``target`` is class indices (N x H x W), or true ab
    (N x H x W x 2) for soft targets. With class weights each pixel's term is scaled by the weight of
    its (nearest) class, as Zhang's multinomial loss does. ``rows``: only these pixels (flat indices)
    count, an unbiased estimate of the whole mean at a share of the softmax's cost."""
    logits = logits.float()  # the loss in float32 whatever the forward pass ran in
    if rows is not None:
        hard = target.reshape(-1)[rows]
        per_pixel = F.cross_entropy(pixel_rows(logits)[rows], hard, reduction="none")
        if data.class_weights is not None:
            per_pixel = per_pixel * data.class_weights.to(logits.device)[hard]
        return per_pixel.mean()
    if target.is_floating_point():
        indices, soft = lab.soft_targets(target, data.centres.to(target.device))  # on the device: no host round trip
        log_p = F.log_softmax(logits.movedim(1, -1), dim=-1)  # N x H x W x Q, classes contiguous
        per_pixel = -(soft * log_p.gather(-1, indices)).sum(-1)
        hard = indices[..., 0]
    else:
        hard = target.reshape(-1)
        per_pixel = F.cross_entropy(pixel_rows(logits), hard, reduction="none")
    if data.class_weights is not None:
        per_pixel = per_pixel * data.class_weights.to(logits.device)[hard]
    return per_pixel.mean()


def initial_model(config: TrainConfig, data: ColourData) -> nn.Module:
    """A fresh model for ``config``; mobile_unet's encoder starts from ImageNet MobileNetV2 when asked.
    Its initial weights come from a generator of its own seeded with ``config.seed`` (pixelwise.seeding):
    other threads of the app reseed and draw from torch's shared one meanwhile."""
    in_channels = 1 + hint_planes_module.HINT_PLANES if config.hints else 1
    model_config = ModelConfig(config.kernel, config.num_filters, len(data.palette), in_channels, depth=config.depth,
                               global_hints=int(config.global_hints))
    with own_generator(config.seed):
        model = build_model(config.model, model_config)
    if config.model == "mobile_unet" and config.pretrained:
        load_imagenet_encoder(model, find_mobilenet_weights())
    if config.init_from:
        warm_start(model, config.init_from, data.centres)
    return model


def warm_start(model: nn.Module, path: str, centres: torch.Tensor | None = None) -> None:
    """Copy the weights of a checkpoint (or resumable state) into ``model``: tensors of the same shape as they
    are; a convolution that gained input channels since keeps its old ones first and zeros for the new ones,
    so the warm-started model computes exactly what the old one did until training moves the new weights.
    ``centres``: the run's ab classes; a checkpoint of other classes is refused (its outputs would mean others)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    old = state.get("ab_centres")
    if centres is not None and old is not None and (old.shape != centres.shape or not torch.equal(old, centres.float())):
        raise ValueError(f"{path} predicts {len(old)} other ab classes than this run's {len(centres)} "
                         "(they come from the training photos: train_limit changes them; epoch_images does not)")
    weights = state.get("state_dict") or state.get("model")
    own = model.state_dict()
    for name, tensor in weights.items():
        if name not in own:
            continue
        if tensor.shape == own[name].shape:
            own[name] = tensor
        elif tensor.dim() == 4 and tensor.shape[0] == own[name].shape[0] and tensor.shape[1] < own[name].shape[1]:
            grown = torch.zeros_like(own[name])
            grown[:, :tensor.shape[1]] = tensor
            own[name] = grown
    model.load_state_dict(own)


# auto keeps float32 for these even where bf16 is native: measured slower in bf16 (benchmarks/bench_precision.py)
AUTO_FP32_MODELS = {"mobile_unet": "MobileUNet's depthwise convolutions ran slower in bfloat16 here (0.87x)"}


def run_precision(config: TrainConfig, device: torch.device) -> tuple[str, str]:
    """(precision, why) a run computes in: pixelwise.precision's choice, except that ``auto`` keeps float32
    for the models that measured slower in bf16."""
    precision, why = resolve_precision(config.precision, device)
    if config.precision == "auto" and precision == "bf16" and config.model in AUTO_FP32_MODELS:
        return "fp32", f"auto: {AUTO_FP32_MODELS[config.model]}"
    return precision, why


def speedups(config: TrainConfig, device: torch.device) -> dict:
    """The config's channels_last / compile, with None resolved to what measured faster on this device."""
    channels_last = config.channels_last if config.channels_last is not None else device.type == "cpu"
    return {"channels_last": bool(channels_last), "compile": bool(config.compile)}


def prepare_model(model: nn.Module, device: torch.device, fast: dict) -> tuple[nn.Module, Callable]:
    """``model`` on ``device`` in the chosen memory format, and the forward to train with (compiled or not).
    Evaluation and checkpoints use the plain module; the compiled forward shares its parameters."""
    model = model.to(device)
    if fast["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    forward = torch.compile(model) if fast["compile"] else model
    return model, (lambda x, *more: forward(channels_last_input(x), *more)) if fast["channels_last"] else forward


def channels_last_input(x: torch.Tensor) -> torch.Tensor:
    """A batch in NHWC strides. Torch counts a contiguous 1-channel batch as channels_last already and
    leaves its strides alone, yet torch.cat then lays out the UNet's skip from the grey input (and the
    final convolution's input) as NCHW, which costs two copies of a 25-channel image per step. The
    handout gets NHWC strides by accident (numpy's keepdims mean); here they are set on purpose."""
    if x.shape[1] == 1 and x.is_contiguous():
        return x.as_strided(x.shape, (x.shape[2] * x.shape[3], 1, x.shape[3], 1))
    return x.contiguous(memory_format=torch.channels_last)


def adam(parameters, learning_rate: float, precision: str = "fp32", path: str = "fast") -> torch.optim.Adam:
    """The trainer's Adam. On the CPU torch's default updates each tensor with ~10 small ops in Python; the fast
    path uses the foreach form (the same ops in C++, bit for bit the same weights: float32 keeps the handout's
    numbers) and, for bf16 runs, the fused kernel (one pass per tensor; its rounding differs in the last bits)."""
    if path == "baseline":
        return torch.optim.Adam(parameters, lr=learning_rate)
    if precision == "bf16":
        return torch.optim.Adam(parameters, lr=learning_rate, fused=True)
    return torch.optim.Adam(parameters, lr=learning_rate, foreach=True)


# models whose input is read only by convolutions (and concatenations before one): autocast would cast it to
# bf16 anyway, so the step may hand it over in bf16 (MobileUNet normalises it in float32 first)
LOW_PRECISION_INPUT_MODELS = ("cnn", "unet", "deep_unet")


def set_step_layers(model: nn.Module, precision: str, path: str = "fast") -> bool:
    """The fast path's reduced-precision step runs each up-block's BN and ReLU before its upsampling, on a
    quarter of the pixels (colorizer.models.UpBlock: the same outputs); float32 and the baseline keep the
    handout's order (set both ways: a model trained again in float32, init_model, is exact again). Returns
    whether the step should give the model its input in the autocast dtype: under bf16 autocast a float32
    grey input made the UNet's last concatenation promote its 24 bf16 channels to float32, and the final
    convolution cast all 25 back, twice more in backward."""
    low = path == "fast" and precision != "fp32"
    for block in model.modules():
        if isinstance(block, UpBlock):
            block.normalise_first = low
    return low and getattr(model, "arch", None) in LOW_PRECISION_INPUT_MODELS


STEP_PATHS = ("fast", "baseline")  # baseline: the step as it was before issue 33, kept for benchmarks/bench_step.py


def training_step(forward: Callable, optimiser: torch.optim.Optimizer, data: ColourData, precision: str = "fp32",
                  device: torch.device = torch.device("cpu"), pixel_share: float = 1.0,
                  generator: torch.Generator | None = None, path: str = "fast", cast_input: bool = False) -> Callable:
    """One optimiser step on a batch; returns the detached loss without waiting for the device.
    The forward pass runs in ``precision`` (autocast), the loss and the optimiser in float32.
    ``path`` "fast": a bf16 step takes the fused loss (colorizer/fused_loss.py) where it applies (hard targets,
    unweighted, every pixel); float32 is the same in both paths, the handout's numbers exactly. ``cast_input``:
    a tensor input goes in in the autocast dtype (set_step_layers says where that computes the same)."""
    if path not in STEP_PATHS:
        raise ValueError(f"path must be one of {STEP_PATHS}, not {path!r}")
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None  # fp16 gradients underflow unscaled
    fused = path == "fast" and precision == "bf16" and data.class_weights is None and pixel_share >= 1.0
    low_dtype = torch.bfloat16 if precision == "bf16" else torch.float16

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if cast_input and not isinstance(x, tuple):
            x = x.to(low_dtype)
        with autocast(precision, device):
            logits = forward(*x) if isinstance(x, tuple) else forward(x)  # a tuple: planes and global hints
        rows = None
        if pixel_share < 1.0:
            pixels = y.numel() if not y.is_floating_point() else y[..., 0].numel()
            rows = torch.randint(pixels, (max(1, int(pixels * pixel_share)),), generator=generator).to(y.device)
        if fused and not y.is_floating_point():
            loss = pixel_cross_entropy(logits, y)
        else:
            loss = pixel_loss(logits, y, data, rows)
        optimiser.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            optimiser.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
        return loss.detach()
    return step


def train(config: TrainConfig, data: ColourData | None = None,
          on_progress: Callable[[Progress], None] | None = None,
          should_stop: Callable[[], bool] | None = None, init_model: nn.Module | None = None) -> TrainResult:
    """Adam + per-pixel cross-entropy. Emits an 'epoch' event before training (epoch 0) and after
    each epoch, and a 'batch' event every ``config.report_every`` steps. ``should_stop`` is checked
    before every batch, so a stop request ends the run within one batch; what was measured is kept.
    ``init_model`` continues training that model (in place) instead of a fresh one. Any batch size
    from 1 up works (larger than the training set: one batch per epoch)."""
    data = data or data_for(config)
    device = resolve_device(config.device)
    fast = speedups(config, device)
    precision, precision_reason = run_precision(config, device)
    fast["precision"], fast["precision_reason"] = precision, precision_reason
    model, forward = prepare_model(init_model or initial_model(config, data), device, fast)
    optimiser = adam(parameter_groups(model, config), config.learning_rate, precision)
    low_precision_input = set_step_layers(model, precision)
    if config.loss_pixel_share < 1.0 and config.soft_targets:
        raise ValueError("loss_pixel_share < 1 works with hard targets only")
    pixel_sampler = torch.Generator().manual_seed(config.seed + 1)
    step_on = training_step(forward, optimiser, data, precision, device, config.loss_pixel_share, pixel_sampler,
                            cast_input=low_precision_input)
    from_photos = data.train_photos is not None
    if not from_photos:
        train_grey = data.train_grey.to(device)
        train_labels = (data.train_ab if config.soft_targets else data.train_labels).to(device)
    val_grey, val_labels = data.val_grey.to(device), data.val_labels.to(device)
    shuffler = torch.Generator().manual_seed(config.seed)
    epoch_images = images_per_epoch(config, data)
    batch_size = max(1, min(config.batch_size, epoch_images))
    batches_per_epoch = -(-epoch_images // batch_size)
    total_steps = batches_per_epoch * config.epochs
    report_every = config.report_every or max(1, batches_per_epoch // 10)
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    result = TrainResult(config, model, data.palette, centres=data.centres, speedups=fast)
    start = time.perf_counter()
    first_epoch = resume(config, model, optimiser, shuffler, result)

    def emit(event: Progress) -> None:
        result.history.append(event)
        if on_progress:
            on_progress(event)

    def validate(epoch: float, step: int, train_loss: float | None) -> None:
        val_loss, val_acc = evaluate(model, val_grey, val_labels, precision=precision)
        emit(Progress("epoch", epoch, step, total_steps, train_loss, val_loss, val_acc, time.perf_counter() - start,
                      model))

    step = first_epoch * batches_per_epoch
    if first_epoch == 0:
        validate(0.0, 0, None)
    for epoch in range(first_epoch, config.epochs):
        set_training_mode(model, config)
        order = torch.randperm(data.train_count, generator=shuffler)[:epoch_images].to(device)
        epoch_loss, pending, batches_done = 0.0, [], 0
        for batch_index in range(min(batches_per_epoch, total_steps - step)):
            if should_stop and should_stop():
                result.stopped = True
                return finish(result, start)
            indices = order[batch_index * batch_size:(batch_index + 1) * batch_size]
            if from_photos:
                x, y = (to_device(part, device) for part in photo_batch(data, indices, config, shuffler))
            else:
                x, y = train_grey[indices], train_labels[indices]
                if config.hflip:
                    x, y = random_hflip(x, y, shuffler)
                if config.crop_pad:
                    x, y = random_crop(x, y, config.crop_pad, shuffler)
            pending.append(step_on(x, y))  # losses stay on the device until a report needs them
            step, batches_done = step + 1, batches_done + 1
            if len(pending) == report_every and batch_index + 1 < batches_per_epoch:
                losses = torch.stack(pending).tolist()  # the one wait for the device, every report_every steps
                epoch_loss, pending = sum(losses, epoch_loss), []  # added one by one, as the values came
                emit(Progress("batch", epoch + (batch_index + 1) / batches_per_epoch, step, total_steps,
                              sum(losses) / len(losses), seconds=time.perf_counter() - start, model=model))
        epoch_loss = sum(torch.stack(pending).tolist(), epoch_loss) if pending else epoch_loss
        validate(epoch + batches_done / batches_per_epoch, step, epoch_loss / batches_done)
        if config.resume_path and batches_done == batches_per_epoch:
            save_resumable(config, model, optimiser, shuffler, result, epoch + 1,
                           result.earlier_seconds + time.perf_counter() - start)
        if step == total_steps:
            break
    return finish(result, start)


def parameter_groups(model: nn.Module, config: TrainConfig) -> list[dict]:
    """All weights at ``learning_rate``, or the global-hint branch at ``global_branch_lr``: a new branch
    learns quickly while the trained weights move slowly (the automatic colour is kept)."""
    branch = getattr(model, "global_branch", None)
    if config.freeze_trunk:
        if branch is None:
            raise ValueError("freeze_trunk trains the global-hint branch only: use it with global_hints")
        for weight in model.parameters():
            weight.requires_grad_(False)
        for weight in branch.parameters():
            weight.requires_grad_(True)
        return [{"params": list(branch.parameters()), "lr": config.global_branch_lr or config.learning_rate}]
    if branch is None or config.global_branch_lr is None:
        return [{"params": list(model.parameters())}]
    own = {id(weight) for weight in branch.parameters()}
    return [{"params": [weight for weight in model.parameters() if id(weight) not in own]},
            {"params": list(branch.parameters()), "lr": config.global_branch_lr}]


def set_training_mode(model: nn.Module, config: TrainConfig) -> None:
    """Training mode for what trains: with ``freeze_trunk`` the rest stays in eval mode (its batch-norm
    statistics are not moved by the branch's training batches)."""
    model.train()
    if config.freeze_trunk:
        model.eval()
        model.global_branch.train()


def images_per_epoch(config: TrainConfig, data: ColourData) -> int:
    """All training images, or ``epoch_images`` of them (shorter epochs on a big photo folder: each epoch
    resumable, and the classes still those of the whole folder, unlike train_limit's)."""
    return min(data.train_count, config.epoch_images or data.train_count)


def to_device(part, device: torch.device):
    """A tensor, or a tuple of them (a model input with global hints), on ``device``."""
    return tuple(item.to(device) for item in part) if isinstance(part, tuple) else part.to(device)


def finish(result: TrainResult, start: float) -> TrainResult:
    """Stop the clock; hand back the model in the ordinary memory format, so that it computes exactly
    what the same weights loaded from its checkpoint compute."""
    result.seconds = result.earlier_seconds + time.perf_counter() - start
    result.model.to(memory_format=torch.contiguous_format)
    return result


def save_resumable(config: TrainConfig, model: nn.Module, optimiser, shuffler: torch.Generator,
                   result: TrainResult, epochs_done: int, seconds: float = 0.0) -> None:
    """Everything needed to continue this run exactly where it is (atomic, so a kill never loses it);
    ``seconds``: the training time so far, the resumed runs' included."""
    save_atomic({"config": asdict(config), "epochs_done": epochs_done, "seconds": seconds, "model": model.state_dict(),
                 "optimiser": optimiser.state_dict(), "shuffler": shuffler.get_state(),
                 "torch_rng": torch.get_rng_state(),
                 "history": [{name: value for name, value in event.__dict__.items() if name != "model"}
                             for event in result.history]}, config.resume_path)


def resume(config: TrainConfig, model: nn.Module, optimiser, shuffler: torch.Generator, result: TrainResult) -> int:
    """Load ``config.resume_path`` if it exists and belongs to this config; return the epochs already done."""
    path = config.resume_path and Path(config.resume_path)
    if not path or not path.is_file():
        return 0
    state = torch.load(path, map_location="cpu", weights_only=True)
    # A field added since the state was written counts as its default (an older state stays resumable).
    defaults, current = asdict(TrainConfig()), asdict(config)
    if any(state["config"].get(name, defaults[name]) != value for name, value in current.items()
           if name not in ("epochs", "resume_path")):
        raise ValueError(f"{path} was written by a different configuration; delete it or choose another path")
    model.load_state_dict(state["model"])
    optimiser.load_state_dict(state["optimiser"])
    shuffler.set_state(state["shuffler"])
    torch.set_rng_state(state["torch_rng"])
    result.history.extend(Progress(**event) for event in state["history"])
    result.earlier_seconds = float(state.get("seconds", 0.0))
    return state["epochs_done"]


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One --flag per TrainConfig field (shared by the train and sweep CLIs)."""
    defaults = TrainConfig()
    parser.add_argument("--model", choices=["cnn", "unet", "deep_unet", "mobile_unet"], default=defaults.model)
    parser.add_argument("--data", "--data-root", dest="data_root", default=None,
                        help="image-folder root (train/<class>/*.jpg, test/<class>/*.jpg); "
                             "omit to download CIFAR-10 with torchvision")
    for name in ("category", "epochs", "batch_size", "learning_rate", "num_filters", "kernel",
                 "num_colours", "seed", "device", "train_limit", "val_limit", "max_steps", "crop_pad", "depth",
                 "photo_size", "photo_cache_side", "no_hint_share", "loss_pixel_share", "global_drop_share",
                 "epoch_images"):
        default = getattr(defaults, name)
        kind = type(default) if default is not None else int
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=default)
    parser.add_argument("--hflip", action="store_true", help="mirror a random half of each batch")
    parser.add_argument("--target", choices=TARGETS, default=defaults.target,
                        help="palette: the handout's RGB k-means; lab_grid / lab_kmeans: L in, ab classes out")
    parser.add_argument("--rebalance", type=float, default=None, help="Zhang's lambda (0.5) for class rebalancing")
    parser.add_argument("--soft-targets", action="store_true", help="Zhang's soft encoding of the ab targets")
    parser.add_argument("--no-pretrained", dest="pretrained", action="store_false",
                        help="mobile_unet: start the encoder from random weights, not ImageNet")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                        help="NHWC memory format (default: on for the CPU, where it measured faster)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="torch.compile the model (default: off; its compile time outweighs the gain on CPU)")
    parser.add_argument("--hints", action="store_true",
                        help="train a hint model (SIGGRAPH 2017): L plus simulated user hints in")
    parser.add_argument("--global-hints", action="store_true",
                        help="mobile_unet with --hints: also take each crop's own palette as a global hint (colorizer.reference)")
    parser.add_argument("--freeze-trunk", action="store_true",
                        help="with --global-hints: train the global-hint branch only (no global hint = the --init-from model exactly)")
    parser.add_argument("--global-branch-lr", type=float, default=None,
                        help="the global-hint branch's own learning rate (default: --learning-rate)")
    add_precision_argument(parser, defaults.precision)
    parser.add_argument("--init-from", default=None,
                        help="start from the weights of this checkpoint or resumable state (grown convolutions padded with zeros)")
    parser.add_argument("--resume-path", default=None,
                        help="write a resumable state here after every epoch, and resume from it if it exists")


def config_from_arguments(arguments: argparse.Namespace, **overrides) -> TrainConfig:
    names = TrainConfig.__dataclass_fields__
    values = {name: getattr(arguments, name) for name in names if hasattr(arguments, name)}
    return TrainConfig(**{**values, **overrides})


def tqdm_reporter(config: TrainConfig, data: ColourData, description: str):
    """A progress callback that drives a tqdm bar over optimiser steps."""
    from tqdm import tqdm

    total = -(-images_per_epoch(config, data) // config.batch_size) * config.epochs
    bar = tqdm(total=min(total, config.max_steps or total), desc=description, unit="batch")

    def report(event: Progress) -> None:
        bar.update(event.step - bar.n)
        if event.kind == "epoch" and event.val_loss is not None:
            bar.set_postfix(epoch=int(event.epoch), val_loss=f"{event.val_loss:.3f}", val_acc=f"{event.val_acc:.3f}")
        if event.step == event.total_steps and event.kind == "epoch":
            bar.close()

    return report
