"""Finished training runs kept on disk, so an identical run is replayed instead of retrained.

Training is deterministic: the same configuration, data, palette, code, torch version and device give
the same numbers. A run's entry (its full history, the validation strips after each epoch, its final
weights, when and where it was trained and how long it took) is filed under a hash of all of those
(``run_key``). The folder is ``pixelwise.settings.run_cache_dir()``, its size limit
``run_cache_limit_mb()``; the least recently used entries go first. Fill it for the panel's default
press (or any other) from the command line:

    python -m runs.runcache fill                          # UNet, batch sizes 50 100 500 1000, 25 epochs
    python -m runs.runcache fill --model cnn --epochs 10  # any other press of the panel
    python -m runs.runcache list
"""
import hashlib
import json
import os
import weakref
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import torch

from pixelwise.checkpoints import save_atomic
from pixelwise.device import resolve_device
from pixelwise.settings import REPO_ROOT, run_cache_dir, run_cache_limit_mb

from colorizer.models import ModelConfig, build_model
from colorizer.trainer import ColourData, Progress, TrainConfig, TrainResult, run_precision, speedups

FORMAT = 1
# The code that decides a run's numbers, beyond torch itself: the loop (and its fused bf16 loss), the models, the
# Lab classes, the hint planes and photo crops of photo-folder runs, the models' own generators, the precision rule.
CODE = ("colorizer/trainer.py", "colorizer/fused_loss.py", "colorizer/models.py", "colorizer/lab.py",
        "colorizer/hints.py", "colorizer/photos.py", "pixelwise/seeding.py", "pixelwise/precision.py")
# Not in the key by name: where the data came from (its content is, data_fingerprint), how it ran (the device
# is described as it decides numbers). train_limit stays in: a photo-folder run reads its photos by it.
NOT_IN_KEY = ("resume_path", "data_root", "val_limit", "device", "channels_last", "compile")
_fingerprints: dict[int, tuple[weakref.ref, str]] = {}


class CorruptEntry(ValueError):
    """A cache file that cannot be read back as a run; it is removed and the run trained again."""


@dataclass
class CachedRun:
    config: dict
    history: list[dict]  # Progress fields, without the model
    samples: list[tuple[float, torch.Tensor]]  # (epoch, count x 3 x H x W x 3 uint8: grey, truth, prediction)
    stopped: bool
    seconds: float
    trained_at: str  # ISO time, local
    device: str
    state_dict: dict
    palette: torch.Tensor
    model_config: dict
    centres: torch.Tensor | None = None
    speedups: dict | None = None

    def result(self, config: TrainConfig) -> TrainResult:
        """The TrainResult the run produced: history, final weights (on the CPU), palette."""
        model = build_model(config.model, ModelConfig(**self.model_config))
        model.load_state_dict(self.state_dict)
        return TrainResult(config, model.eval(), self.palette, [Progress(**event) for event in self.history],
                           self.stopped, self.seconds, centres=self.centres, speedups=self.speedups or {})

    def describe(self) -> str:
        """'trained 2026-11-23 14:02 on cpu (AVX2) in 312 s'."""
        when = self.trained_at[:16].replace("T", " ")
        took = f"{self.seconds:.0f} s" if self.seconds >= 10 else f"{self.seconds:.1f} s"
        return f"trained {when} on {self.device} in {took}"


def describe_device(device: torch.device) -> str:
    """The device as it decides numbers: the GPU's name, or the CPU kernels torch picked (AVX2, AVX512...)."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"{device.type} ({torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads)"


def data_fingerprint(data: ColourData) -> str:
    """sha256 of the inputs, targets, palette and class weights a run sees (memoised per ColourData)."""
    known = _fingerprints.get(id(data))
    if known and known[0]() is data:
        return known[1]
    digest = hashlib.sha256()
    for name in ("train_grey", "train_labels", "val_grey", "val_labels", "palette", "centres", "class_weights",
                 "train_ab", "train_photos", "label_table"):
        tensor = getattr(data, name)
        if tensor is not None:
            digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
            digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    digest.update(data.colour_space.encode())
    _fingerprints[id(data)] = (weakref.ref(data), digest.hexdigest())
    return digest.hexdigest()


def code_fingerprint(root: Path = REPO_ROOT) -> str:
    """sha256 of the CODE files under ``root`` (the checkout)."""
    digest = hashlib.sha256()
    for name in CODE:
        digest.update(name.encode() + (root / name).read_bytes())
    return digest.hexdigest()


def key_fields(config: TrainConfig, data: ColourData) -> dict:
    """Everything that decides a run's numbers (the data by content, not by folder or image count)."""
    device = resolve_device(config.device)
    fields = {name: value for name, value in asdict(config).items() if name not in NOT_IN_KEY}
    fields["precision"] = run_precision(config, device)[0]  # what ran: "auto" means bf16 or fp32
    return {**fields, "speedups": speedups(config, device), "device": describe_device(device),
            "torch": str(torch.__version__), "data": data_fingerprint(data), "code": code_fingerprint(),
            "format": FORMAT}


def run_key(config: TrainConfig, data: ColourData) -> str:
    return hashlib.sha256(json.dumps(key_fields(config, data), sort_keys=True, default=str).encode()).hexdigest()[:32]


def entry_path(key: str, folder: Path | None = None) -> Path:
    return Path(folder or run_cache_dir()) / f"{key}.pt"


def load(key: str, folder: Path | None = None) -> CachedRun | None:
    """The cached run filed under ``key``, None when there is none. A file that cannot be read is
    removed and reported with CorruptEntry (the caller trains instead)."""
    path = entry_path(key, folder)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("format") != FORMAT:
            raise ValueError(f"format {state.get('format')!r}, expected {FORMAT}")
        run = CachedRun(**state["run"])
        [Progress(**event) for event in run.history]  # every event must still fit Progress
    except OSError:  # removed meanwhile (another press's prune) or unreadable for now: train, delete nothing
        return None
    except Exception as error:  # a truncated, foreign or garbled file (its content): say so, then retrain
        path.unlink(missing_ok=True)
        raise CorruptEntry(f"the cached run {path.name} could not be read ({type(error).__name__}: "
                           f"{str(error)[:120]}); it was removed and the run is trained again") from error
    if run.stopped:  # kept by an earlier version: not a run to replay
        return None
    try:
        os.utime(path)  # used now: the size limit removes the least recently used first
    except FileNotFoundError:  # pruned meanwhile: the run read is whole all the same
        pass
    return run


def store(key: str, result: TrainResult, samples: list[tuple[float, torch.Tensor]],
          folder: Path | None = None, limit_mb: float | None = None) -> Path | None:
    """File a finished run under ``key`` (atomically); returns its path. A stopped run is not kept (None): it
    would be replayed to the next person pressing the same settings as if it had finished."""
    path = entry_path(key, folder)
    if result.stopped:
        return None
    model = result.model
    run = CachedRun(
        config=asdict(result.config), stopped=result.stopped, seconds=result.seconds,
        history=[{name: value for name, value in event.__dict__.items() if name != "model"} for event in result.history],
        samples=samples, trained_at=datetime.now().isoformat(timespec="seconds"),
        device=describe_device(next(model.parameters()).device),
        state_dict={name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()},
        palette=result.palette.cpu(), model_config=asdict(model.config),
        centres=None if result.centres is None else result.centres.cpu(), speedups=result.speedups)
    save_atomic({"format": FORMAT, "key": key, "run": asdict(run)}, path)
    prune(path.parent, run_cache_limit_mb() if limit_mb is None else limit_mb)
    return path


def prune(folder: Path, limit_mb: float) -> list[Path]:
    """Remove the least recently used entries until the folder is within ``limit_mb``; returns what went.
    Another process or press may prune (or replace) entries meanwhile: a file gone is skipped."""
    entries = []
    for path in Path(folder).glob("*.pt"):
        try:
            entries.append((path.stat().st_mtime, path.stat().st_size, path))
        except FileNotFoundError:
            continue
    entries.sort()
    total = sum(size for _, size, _ in entries)
    removed = []
    for _, size, oldest in entries:
        if total <= limit_mb * 1e6:
            break
        total -= size
        oldest.unlink(missing_ok=True)
        removed.append(oldest)
    return removed
