"""What Train live's worker (runs.live) tells the app, one small dataclass per kind of news.

The worker puts them in a queue; the app applies each with a ``match`` on its class. Every event
carries ``time`` (time.perf_counter() when it happened)."""
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from colorizer.trainer import Progress, TrainResult

Strip = list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # (grey, truth, prediction) RGB uint8, one per image


@dataclass(frozen=True)
class LiveEvent:
    time: float = field(default_factory=time.perf_counter, kw_only=True)


@dataclass(frozen=True)
class Status(LiveEvent):
    """What the worker is doing now; a replayed batch size's status says when and where it was trained."""
    message: str
    batch_size: int | None = None
    replay: str | None = None


@dataclass(frozen=True)
class Notice(LiveEvent):
    """Something the person should know that does not stop the run (a cache entry unreadable or unsaved)."""
    message: str


@dataclass(frozen=True)
class Waiting(LiveEvent):
    """This press's trainings wait behind others: their place and an estimate of the wait."""
    message: str
    wait_s: float


@dataclass(frozen=True)
class Progressed(LiveEvent):
    """One of the trainer's Progress events (a step or an epoch), trained now or replayed."""
    batch_size: int
    progress: Progress


@dataclass(frozen=True)
class Samples(LiveEvent):
    """The strip after an epoch: a few validation images' grey, truth and prediction."""
    batch_size: int
    epoch: float
    samples: Strip


@dataclass(frozen=True)
class Finished(LiveEvent):
    """A batch size's result, with the final model's strip and its logits (the pixel inspector reads them)."""
    batch_size: int
    result: TrainResult
    samples: Strip
    logits: torch.Tensor  # count x NC x 32 x 32
    palette: torch.Tensor
    replay: str | None = None  # a replayed run: when, where and how long it was trained


@dataclass(frozen=True)
class Failed(LiveEvent):
    """The run stopped on an error; the message says what broke."""
    message: str


@dataclass(frozen=True)
class Done(LiveEvent):
    """Always the last event of a press."""
