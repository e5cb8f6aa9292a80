"""How long a Train live run takes here, from what this machine measured: the waiting line's estimates and
the presets' "about N minutes here" (runs.presets).

A training step at batch size B costs ``overhead_s + B * image_s`` (a small batch pays the step's fixed
cost, its Python and optimiser work, per few images; a big one mostly per image), and validation, forward
only, about a third of a training image per image. The two numbers come from a quick calibration: a few
steps of the same model through the same ``train()`` at two batch sizes, on random 32 x 32 inputs (about a
second, once per model, width, device and precision in a process). Every run this process then trains
scales the model by how its measured time compared with the model's prediction (the median ratio), which
folds in the machine's load, the validation strips and everything else a press does.

The calibration is a job of the scheduler's (runs.scheduler): it runs alone, so no other heavy job shares
its cores, and a figure older than REFRESH_S is measured again once the scheduler is idle. Nothing that
serves a page calibrates on its own thread: it reads what is known (``known_cost``) and asks for a
measurement (``measure_later``); only a job holding its turn measures in place (``step_cost``).
"""
import math
import statistics
import threading
import time
from dataclasses import dataclass, replace

import torch

from pixelwise.device import resolve_device

from colorizer.trainer import ColourData, TrainConfig, run_precision, train

from .scheduler import BACKGROUND, SCHEDULER, Job, Scheduler

CALIBRATION_BATCH_SIZES = (8, 64)  # a step's fixed cost shows at the first, the cost per image at the second
CALIBRATION_STEPS = 3  # timed steps per batch size, after one untimed step that warms the kernels up
VALIDATION_SHARE = 1 / 3  # a validation image (forward only) against a training image (forward and backward)
REFRESH_S = 600.0  # a calibration older than this is measured again when the scheduler is idle: load changes
clock = time.monotonic  # when a calibration was made (tests set their own)


@dataclass(frozen=True)
class StepCost:
    """Seconds of one optimiser step at batch size B: overhead_s + B * image_s."""
    overhead_s: float
    image_s: float

    def step_s(self, batch_size: int) -> float:
        return self.overhead_s + batch_size * self.image_s


_costs: dict[tuple, StepCost] = {}
_measured_at: dict[tuple, float] = {}  # clock() when each cost was calibrated
_ratios: dict[tuple, list[float]] = {}  # measured / predicted seconds of the runs this process trained
_pending: set[tuple] = set()  # calibrations asked for and not yet made
_calibration_s = [5.0]  # how long the latest calibration took: its estimate for whoever waits behind it
_lock = threading.Lock()


def rate_key(config: TrainConfig) -> tuple:
    """What a cost holds for: the model, its width and kernel, the device and the precision it runs in."""
    device = resolve_device(config.device)
    return config.model, config.num_filters, config.kernel, str(device), run_precision(config, device)[0]


def _noise(count: int, num_colours: int, generator: torch.Generator) -> ColourData:
    """Random grey inputs and labels of CIFAR's size: the step's cost does not depend on the pixels."""
    grey = torch.rand(count, 1, 32, 32, generator=generator)
    labels = torch.randint(num_colours, (count, 32, 32), generator=generator)
    palette = torch.rand(num_colours, 3, generator=generator)
    return ColourData(palette, grey, labels, grey[:1], labels[:1], torch.zeros(1, 32, 32, 3, dtype=torch.uint8))


def _timed_step_s(config: TrainConfig, batch_size: int) -> float:
    """Seconds per step of ``config``'s model at ``batch_size``: the quickest of CALIBRATION_STEPS steps after a
    warm-up step. The quickest, not the mean: a step shared with other work (the app building its page, a
    request) is slower, and the calibration stands for the process's life (a mean made at start-up promised
    the quick press in 3 minutes where it took one)."""
    steps = CALIBRATION_STEPS + 1
    data = _noise(batch_size * steps, config.num_colours, torch.Generator().manual_seed(0))
    marks = []
    run = replace(config, batch_size=batch_size, epochs=1, report_every=1, max_steps=None, resume_path=None,
                  init_from=None, train_limit=None, val_limit=None)
    train(run, data, on_progress=lambda event: marks.append(time.perf_counter()))
    # marks: validation at epoch 0, a batch event after each step but the last, the final validation (1 image)
    return min(later - earlier for earlier, later in zip(marks[1:], marks[2:]))


def calibrate(config: TrainConfig) -> StepCost:
    """Measure the step cost of ``config``'s model here (a second or so), once per rate_key."""
    small, large = CALIBRATION_BATCH_SIZES
    small_s, large_s = _timed_step_s(config, small), _timed_step_s(config, large)
    image_s = max((large_s - small_s) / (large - small), large_s / large / 10)  # noise must not make it ~0
    return StepCost(overhead_s=max(0.0, small_s - small * image_s), image_s=image_s)


def known_cost(config: TrainConfig) -> StepCost | None:
    """The step cost of ``config``'s model if it has been calibrated; None (and nothing measured) if not."""
    with _lock:
        return _costs.get(rate_key(config))


def _calibrated(config: TrainConfig) -> StepCost:
    started = time.perf_counter()
    cost = calibrate(config)
    with _lock:
        key = rate_key(config)
        _costs[key], _measured_at[key] = cost, clock()
        _calibration_s[0] = time.perf_counter() - started
    return cost


def step_cost(config: TrainConfig) -> StepCost:
    """The step cost of ``config``'s model, calibrated in place on first use: for a job holding its turn in the
    scheduler (a press about to train) and for command lines, never for a thread that serves a page."""
    return known_cost(config) or _calibrated(config)


def measure(config: TrainConfig, scheduler: Scheduler | None = None, priority: int = BACKGROUND) -> StepCost | None:
    """Calibrate ``config``'s model as a job of the scheduler's: alone, after the jobs ahead; returns the cost."""
    scheduler = scheduler or SCHEDULER
    job = Job(f"speed measurement ({config.model}, a few seconds)", priority=priority,
              estimate_s=_calibration_s[0], exclusive=True, yields=False)  # a pause would count in its timings
    try:
        return scheduler.run(job, lambda job: _calibrated(config))
    finally:
        with _lock:
            _pending.discard(rate_key(config))


def measure_later(config: TrainConfig, scheduler: Scheduler | None = None) -> bool:
    """Ask for a calibration of ``config``'s model in the background, once: when it has none, or when its
    figure is older than REFRESH_S and the scheduler is idle (a quiet machine). True if one was asked for."""
    scheduler = scheduler or SCHEDULER
    key = rate_key(config)
    with _lock:
        stale = key in _costs and clock() - _measured_at.get(key, -math.inf) > REFRESH_S and scheduler.idle()
        if key in _pending or (key in _costs and not stale):
            return False
        _pending.add(key)
    scheduler.spawn(measure, config, scheduler, name="pixelwise-calibration", daemon=False)
    return True


def modelled_s(config: TrainConfig, train_images: int, val_images: int, cost: StepCost) -> float:
    """Seconds of one run under ``cost``: its steps, and a validation before training and after each epoch."""
    batch_size = max(1, min(config.batch_size, train_images))
    steps = config.epochs * math.ceil(train_images / batch_size)
    validations = (config.epochs + 1) * val_images * VALIDATION_SHARE * cost.image_s
    return steps * cost.step_s(batch_size) + validations


def run_seconds(config: TrainConfig, train_images: int, val_images: int, cost: StepCost | None = None) -> float:
    """Seconds the run should take here: the calibrated model, scaled by how this process's runs compared."""
    ratios = _ratios.get(rate_key(config))
    scale = statistics.median(ratios) if ratios else 1.0
    return scale * modelled_s(config, train_images, val_images, cost or step_cost(config))


def record(config: TrainConfig, train_images: int, val_images: int, seconds: float) -> None:
    """A whole run trained here took ``seconds``: later estimates follow this machine as it is now."""
    if seconds <= 0:
        return
    predicted = modelled_s(config, train_images, val_images, step_cost(config))
    with _lock:
        ratios = _ratios.setdefault(rate_key(config), [])
        ratios.append(seconds / predicted)
        del ratios[:-9]  # the latest runs: the machine's load changes


def press_seconds(config: TrainConfig, batch_sizes, train_images: int, val_images: int) -> float | None:
    """Seconds of a whole press (every batch size of ``config`` one after another), from what is known: None
    while its model is not calibrated (a calibration is then asked for), and a stale figure is refreshed."""
    measure_later(config)
    if (cost := known_cost(config)) is None:
        return None
    return sum(run_seconds(replace(config, batch_size=batch_size), train_images, val_images, cost)
               for batch_size in batch_sizes)


# The other heavy jobs (fine-tunes, the affine experiment, cost measurements): seconds per unit of their work
# (a kind's own unit: images times epochs, pairs times images and steps), as this process measured them.
_job_rates: dict[str, list[float]] = {}


def job_seconds(kind: str, units: float, guess_per_unit: float) -> float:
    """Seconds a job of ``kind`` with ``units`` of work should take here: the median of this process's
    measured pace, or ``guess_per_unit`` (the development machine's) before any was measured."""
    with _lock:
        paces = _job_rates.get(kind)
        return units * (statistics.median(paces) if paces else guess_per_unit)


def record_job(kind: str, units: float, seconds: float) -> None:
    """A whole job of ``kind`` took ``seconds`` here: later estimates follow this machine as it is now."""
    if units > 0 and seconds > 0:
        with _lock:
            paces = _job_rates.setdefault(kind, [])
            paces.append(seconds / units)
            del paces[:-9]
