"""The one fine-tuning loop for the three modes (``last``, ``head``, ``full``) and its metrics, used by the
command line (``python -m segmenter.train``), the app and tests.

Frozen parts run under ``torch.no_grad`` once: in ``last``/``head`` mode the frozen features of every
training image and of its mirror image are cached (float16), so an epoch only runs the trainable part;
augmentation there is the random flip. ``full`` mode augments with flips and scale-crops every batch.
Metrics come from a confusion matrix over all val pixels, skipping the ignore label (the uncertain band).
"""
import copy
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from pixelwise.device import resolve_device
from pixelwise.precision import autocast, resolve_precision
from pixelwise.seeding import own_generator, seeded_dropout

from .data import IGNORE, FlowerSet, augment, list_ids, load_set, make_split
from .models import MODES, SegmenterConfig, build_flower_model, load_flower_checkpoint, set_trainable


class ConfusionMatrix:
    """Accumulates a num_classes x num_classes matrix (rows = truth, columns = prediction), ignoring IGNORE."""

    def __init__(self, num_classes: int = 2):
        self.num_classes = num_classes
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, target: torch.Tensor, prediction: torch.Tensor) -> None:
        target, prediction = target.flatten().long(), prediction.flatten().long()
        keep = (target != IGNORE) & (target >= 0) & (target < self.num_classes)
        index = target[keep] * self.num_classes + prediction[keep]
        self.matrix += torch.bincount(index, minlength=self.num_classes**2).view(self.num_classes, -1).cpu()

    def iou(self) -> torch.Tensor:
        """Per-class intersection over union; NaN for a class absent from truth and prediction."""
        m = self.matrix.double()
        union = m.sum(0) + m.sum(1) - m.diag()
        return m.diag() / union.where(union > 0, torch.tensor(float("nan")))

    def pixel_accuracy(self) -> float:
        total = int(self.matrix.sum())
        return float(self.matrix.diag().sum()) / total if total else float("nan")


def foreground_iou(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """IoU of class 1 (flower) over the non-ignored pixels of one or many masks."""
    matrix = ConfusionMatrix(2)
    matrix.update(target, prediction)
    return float(matrix.iou()[1])


def upsampled(logits: torch.Tensor, size) -> torch.Tensor:
    """Bilinear to label size, exactly as torchvision's DeepLabV3.forward does."""
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


@torch.no_grad()
def evaluate(trainable: nn.Module, inputs: Callable[[slice], torch.Tensor], labels: torch.Tensor,
             batch_size: int = 16, device="cpu", precision: str = "fp32") -> dict:
    """Loss, foreground IoU and pixel accuracy of ``trainable`` over inputs(slice) / labels (the forward
    in ``precision``, the loss in float32)."""
    if isinstance(trainable, nn.Module):
        trainable.eval()
    matrix, loss_sum, n = ConfusionMatrix(2), 0.0, len(labels)
    for start in range(0, n, batch_size):
        part = slice(start, start + batch_size)
        target = labels[part].to(device)
        with autocast(precision, torch.device(device)):
            scores = trainable(inputs(part).to(device).float())
        logits = upsampled(scores.float(), target.shape[-2:])
        loss_sum += float(F.cross_entropy(logits, target, ignore_index=IGNORE)) * len(target)
        matrix.update(target, logits.argmax(1))
    return {"loss": loss_sum / max(n, 1), "iou": float(matrix.iou()[1]), "pixel_acc": matrix.pixel_accuracy()}


@torch.no_grad()
def evaluate_model(model: nn.Module, data: FlowerSet, batch_size: int = 16, device="cpu") -> dict:
    """Full-model metrics on a FlowerSet (model(x)["out"] is already at input size)."""
    model.eval()
    return evaluate(lambda x: model(x)["out"], data.inputs, data.labels, batch_size, device)


@torch.no_grad()
def encode(frozen: nn.Module, images: Callable[[slice], torch.Tensor], n: int, batch_size: int = 16,
           flip: bool = False, device="cpu", precision: str = "fp32") -> torch.Tensor:
    """Frozen features of all n images (or of their mirror images), stored as float16."""
    frozen.eval()
    chunks = []
    for start in range(0, n, batch_size):
        x = images(slice(start, start + batch_size)).to(device)
        with autocast(precision, torch.device(device)):
            features = frozen(x.flip(-1) if flip else x)
        chunks.append(features.half().cpu())
    return torch.cat(chunks)


def train_step(trainable: nn.Module, optimizer, inputs: torch.Tensor, target: torch.Tensor,
               precision: str = "fp32") -> float:
    """One optimiser step: the forward in ``precision`` (autocast), the loss and optimiser in float32."""
    with autocast(precision, inputs.device):
        scores = trainable(inputs)
    logits = upsampled(scores.float(), target.shape[-2:])
    loss = F.cross_entropy(logits, target, ignore_index=IGNORE)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


DEFAULT_LR = {"last": 1e-2, "head": 1e-3, "full": 3e-4}


@dataclass
class FineTuneConfig:
    mode: str = "head"
    epochs: int = 10
    batch_size: int = 8
    learning_rate: float | None = None  # None: DEFAULT_LR[mode]; cosine-decayed per step
    weight_decay: float = 1e-4
    crop: int = 256  # full mode's training crop (frozen modes use whole 256^2 images and flips)
    output_stride: int = 16
    train_limit: int | None = None  # first N train ids (quick runs in tests and the app)
    val_limit: int | None = None
    init: str | None = None  # start from this flower checkpoint instead of a fresh head
    data_root: str | None = None
    seed: int = 0
    device: str = str(resolve_device())  # CUDA when present, else the CPU
    precision: str = "auto"  # pixelwise/precision.py: bf16 autocast where the hardware computes it natively

    def initial_learning_rate(self) -> float:
        return self.learning_rate if self.learning_rate is not None else DEFAULT_LR[self.mode]


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    val_loss: float
    val_iou: float
    val_pixel_acc: float
    seconds: float


@dataclass
class BatchLoss:
    epoch: int
    step: int
    steps_per_epoch: int
    loss: float


@dataclass
class FineTuneResult:
    model: nn.Module
    config: FineTuneConfig
    split: dict
    history: list[EpochResult] = field(default_factory=list)
    initial: dict = field(default_factory=dict)  # val metrics before training
    best_epoch: int = 0
    stopped: bool = False

    def meta(self) -> dict:
        return {
            "mode": self.config.mode,
            "finetune_config": asdict(self.config),
            "precision": resolve_precision(self.config.precision, torch.device(self.config.device))[0],  # what ran
            "split": self.split,
            "initial_val": self.initial,
            "history": [asdict(h) for h in self.history],
            "best_epoch": self.best_epoch,
            "stopped": self.stopped,
        }


def prepare(config: FineTuneConfig) -> tuple[nn.Module, dict, FlowerSet, FlowerSet]:
    split = make_split(list_ids(config.data_root))
    train_ids = split["train"][: config.train_limit] if config.train_limit else split["train"]
    val_ids = split["val"][: config.val_limit] if config.val_limit else split["val"]
    if config.init:
        model = load_flower_checkpoint(config.init)
    else:  # the new head's weights from a generator of its own: other threads use torch's shared one
        with own_generator(config.seed):
            model = build_flower_model(SegmenterConfig(output_stride=config.output_stride))
    return model, split, load_set(train_ids, config.data_root), load_set(val_ids, config.data_root)


def fine_tune_iter(config: FineTuneConfig, should_stop: Callable[[], bool] = lambda: False
                   ) -> Iterator[BatchLoss | EpochResult | FineTuneResult]:
    """Yields BatchLoss per step and EpochResult per epoch, then the FineTuneResult (best-val-IoU weights)."""
    if config.mode not in MODES:
        raise ValueError(f"unknown mode {config.mode!r}; expected one of {MODES}")
    model, split, train, val = prepare(config)
    device = torch.device(config.device)
    precision = resolve_precision(config.precision, device)[0]
    model.to(device).eval()  # frozen parts keep eval-mode BatchNorm
    frozen, trainable = set_trainable(model, config.mode)
    seeded_dropout(trainable, torch.Generator(device).manual_seed(config.seed + 1))  # ASPP's dropout (head, full)
    if config.mode == "full":
        train_inputs = lambda index: augment(train.inputs(index), train.labels[index], config.crop, generator)
        val_inputs = val.inputs
    else:
        cache = [encode(frozen, train.inputs, len(train), flip=f, device=device, precision=precision)
                 for f in (False, True)]
        val_cache = encode(frozen, val.inputs, len(val), device=device, precision=precision)
        train_inputs = lambda index: mirrored_batch(cache, train.labels[index], index, generator)
        val_inputs = lambda part: val_cache[part]

    result = FineTuneResult(model, config, split)
    result.initial = evaluate(trainable, val_inputs, val.labels, device=device, precision=precision)
    best_iou, best_state = -1.0, None
    steps_per_epoch = max(1, len(train) // config.batch_size)  # drop the ragged batch: BatchNorm needs > 1
    optimizer = torch.optim.AdamW([p for p in trainable.parameters()], lr=config.initial_learning_rate(),
                                  weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps_per_epoch * config.epochs)
    generator = torch.Generator().manual_seed(config.seed)
    for epoch in range(1, config.epochs + 1):
        started, losses = time.perf_counter(), []
        trainable.train()
        if config.mode == "full":
            model.backbone.apply(freeze_batchnorm_statistics)
        trainable.apply(average_batchnorm_over_epoch)
        order = torch.randperm(len(train), generator=generator)
        for step in range(steps_per_epoch):
            if should_stop():
                result.stopped = True
                break
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            inputs, target = train_inputs(index)
            losses.append(train_step(trainable, optimizer, inputs.to(device).float(), target.to(device), precision))
            schedule.step()
            yield BatchLoss(epoch, step + 1, steps_per_epoch, losses[-1])
        if result.stopped and not losses:
            break
        metrics = evaluate(trainable, val_inputs, val.labels, device=device, precision=precision)
        record = EpochResult(epoch, sum(losses) / len(losses), metrics["loss"], metrics["iou"], metrics["pixel_acc"],
                             time.perf_counter() - started)
        result.history.append(record)
        if record.val_iou > best_iou:
            best_iou, best_state, result.best_epoch = record.val_iou, copy.deepcopy(model.state_dict()), epoch
        yield record
        if result.stopped:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.requires_grad_(False)
    yield replace(result, model=model.eval())


def mirrored_batch(cache: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor, generator):
    """Cached features with a random half of the batch taken from the mirror-image cache (labels flipped too)."""
    flip = torch.rand(len(index), generator=generator) < 0.5
    features = torch.where(flip[:, None, None, None], cache[1][index], cache[0][index])
    return features, torch.where(flip[:, None, None], labels.flip(-1), labels)


def average_batchnorm_over_epoch(module: nn.Module) -> None:
    """Running statistics = plain average over this epoch's batches (momentum None), restarted every epoch:
    a short run of a few steps would otherwise evaluate with statistics still near their 0/1 initial values."""
    if isinstance(module, nn.BatchNorm2d) and module.training:
        module.reset_running_stats()
        module.momentum = None


def freeze_batchnorm_statistics(module: nn.Module) -> None:
    """Full mode trains every weight but keeps ImageNet BatchNorm statistics: batches of 8 are too small to re-estimate them."""
    if isinstance(module, nn.BatchNorm2d):
        module.eval()


def fine_tune(config: FineTuneConfig, on_event: Callable = lambda event: None,
              should_stop: Callable[[], bool] = lambda: False) -> FineTuneResult:
    for event in fine_tune_iter(config, should_stop):
        if isinstance(event, FineTuneResult):
            return event
        on_event(event)
    raise RuntimeError("fine_tune_iter ended without a result")
