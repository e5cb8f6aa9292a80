"""Training several batch sizes in a background thread and streaming what happens, for a live UI.

The batch sizes train one after another (smallest first), with the same seed, data and palette, exactly
as the sweep command line does. A batch size whose identical run is in the replay cache
(``runs.runcache``) is replayed from it within seconds instead; the others wait for their turn in
the process's one scheduler of heavy jobs (``runs.scheduler``), seeing their place and an estimated wait, look
the cache up again (an identical press ahead may have trained them), then train; finished runs are kept.
Each run pushes typed events (``runs.events``) into a queue: progress, a
few validation predictions after every epoch, and its result. No Gradio here: the app drains the queue
and draws.
"""
import queue
import threading
import traceback
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from pixelwise.device import resolve_device
from pixelwise.errors import DataUnavailable
from pixelwise.precision import precision_names

from colorizer.inference import classes_to_rgb, grey_to_rgb, predict_logits
from colorizer.trainer import ColourData, Progress, TrainConfig, TrainResult, data_for, run_precision, train

from colorizer import ARCH_NAMES

from . import rates, runcache
from .events import Done, Failed, Finished, LiveEvent, Notice, Progressed, Samples, Status, Waiting
from .scheduler import SCHEDULER, Job, Scheduler

def live_config(model: str, category: str, epochs: int, learning_rate: float, num_filters: int, seed: int,
                train_images: int, val_images: int, data_root: str | None, precision: str = "auto") -> TrainConfig:
    """The TrainConfig of one panel press (also what ``python -m runs.runcache fill`` trains)."""
    return TrainConfig(model=model.lower(), category=category, data_root=data_root, epochs=int(epochs),
                       learning_rate=float(learning_rate), num_filters=int(num_filters), seed=int(seed),
                       train_limit=int(train_images), val_limit=int(val_images), precision=precision)


def sample_outputs(model: nn.Module, data: ColourData, count: int = 4):
    """(grey, truth, prediction) for the first ``count`` validation images, each 32 x 32 x 3 uint8, and
    the count x NC x 32 x 32 logits behind the predictions."""
    samples, logits = [], []
    for index in range(min(count, len(data.val_grey))):
        grey = data.val_grey[index, 0].cpu().numpy()
        logits.append(predict_logits(model, grey))
        prediction = classes_to_rgb(logits[-1].argmax(dim=0).numpy(), data.palette)
        samples.append((grey_to_rgb(grey), data.val_rgb[index].numpy(), prediction))
    return samples, torch.stack(logits)


def sample_predictions(model: nn.Module, data: ColourData, count: int = 4) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(grey, truth, prediction) for the first ``count`` validation images, each 32 x 32 x 3 uint8."""
    return sample_outputs(model, data, count)[0]


def estimate_s(config: TrainConfig, data: ColourData, measure: bool = True) -> float | None:
    """Seconds a run should take here: its batch size's steps, epochs and images at this machine's measured
    rates (runs.rates: calibrated, then scaled by the runs trained here). Without ``measure``, None where its
    model has not been calibrated yet (only a job holding its turn calibrates: runs.scheduler)."""
    if not measure and rates.known_cost(config) is None:
        return None
    return rates.run_seconds(config, len(data.train_grey), len(data.val_grey))


def describe_press(config: TrainConfig, batch_sizes: list[int], data: ColourData) -> str:
    """'UNet press: batch sizes 50, 100, 25 epochs on 5,000 images', for whoever waits behind it."""
    sizes = ", ".join(str(size) for size in batch_sizes)
    return (f"{ARCH_NAMES.get(config.model, config.model)} press: batch size{'s' if len(batch_sizes) > 1 else ''} "
            f"{sizes}, {config.epochs} epoch{'s' if config.epochs > 1 else ''} on {len(data.train_grey):,} images")


class _Run:
    """One worker's press: pushes events, replays what is cached, trains the rest in turn."""

    def __init__(self, config, batch_sizes, events, job: Job, sample_count, retrain, scheduler):
        self.config, self.events, self.job, self.stop = config, events, job, job.stop
        self.batch_sizes, self.sample_count, self.retrain, self.scheduler = sorted(batch_sizes), sample_count, retrain, scheduler

    def push(self, event: LiveEvent) -> None:
        self.events.put(event)

    def __call__(self) -> None:
        try:
            self.push(Status("Preparing data (decoding images, k-means palette)..."))
            data = data_for(self.config)
            runs = [replace(self.config, batch_size=batch_size) for batch_size in self.batch_sizes]
            keys = {run.batch_size: runcache.run_key(run, data) for run in runs}
            cached = {run.batch_size: self.lookup(keys[run.batch_size]) for run in runs}
            for run in runs:
                if cached[run.batch_size] and not self.job.stopped():
                    self.replay(run, cached[run.batch_size], data)
            missing = [run for run in runs if not cached[run.batch_size]]
            if missing and not self.job.stopped():
                self.train_in_turn(missing, data, keys)
        except (DataUnavailable, ValueError) as error:
            self.push(Failed(str(error)))
        except Exception as error:  # keep the app up and say what broke
            traceback.print_exc()
            self.push(Failed(f"{type(error).__name__}: {error}"))
        finally:
            self.push(Done())

    def lookup(self, key: str) -> runcache.CachedRun | None:
        if self.retrain:
            return None
        try:
            return runcache.load(key)
        except runcache.CorruptEntry as error:
            self.push(Notice(str(error)))
            return None

    def finished(self, result: TrainResult, data: ColourData, replay: str | None = None) -> None:
        """The Finished event, with the final model's logits on the strip's images: the Train live panel
        lets people click the final strip (after a stop mid-epoch the strip is the last epoch's)."""
        samples, logits = sample_outputs(result.model, data, self.sample_count)
        self.push(Finished(result.config.batch_size, result, samples, logits, data.palette, replay))

    def replay(self, run: TrainConfig, cached: runcache.CachedRun, data: ColourData) -> None:
        """The cached run's events, as training pushed them, all at once (the panel draws the whole curve in
        one redraw: point by point, a browser took half a minute to catch up), its last strip, its result."""
        batch_size = run.batch_size
        ran = (cached.speedups or {}).get("precision", "fp32")  # entries from before the setting ran in float32
        self.push(Status(f"Batch size {batch_size}: replaying ({cached.describe()})", batch_size, cached.describe(),
                         f"{precision_names(ran)} (the replayed run's)"))
        if self.stop.is_set():
            return
        for event in cached.history:
            self.push(Progressed(batch_size, Progress(**event)))
        if cached.samples:
            epoch, strip = cached.samples[-1]
            self.push(Samples(batch_size, epoch, [tuple(image.numpy() for image in triple) for triple in strip]))
        self.finished(cached.result(run), data, replay=cached.describe())

    def train_in_turn(self, runs: list[TrainConfig], data: ColourData, keys: dict) -> None:
        """Wait for the press's turn in the scheduler (its place and estimate pushed as Waiting), then train."""
        job, owner = self.job, self.job.owner
        estimates = [estimate_s(run, data, measure=False) for run in runs]
        job.what = describe_press(self.config, [run.batch_size for run in runs], data)
        job.estimate_s = None if None in estimates else sum(estimates)
        try:
            for place in self.scheduler.turns(job):
                self.push(Waiting(self.scheduler.message(place, owner), place.wait_s))
            if job.started is None:  # stopped while waiting
                return
            estimates = [estimate_s(run, data) for run in runs]  # its turn: a missing calibration runs now
            # Looked up again: an identical press ahead in the line may have filed these runs meanwhile.
            cached = {run.batch_size: self.lookup(keys[run.batch_size]) for run in runs}
            for index, run in enumerate(runs):
                if job.stopped():
                    return
                if cached[run.batch_size]:
                    self.replay(run, cached[run.batch_size], data)
                    continue
                result = self.train_one(run, data, keys[run.batch_size], estimates[index], sum(estimates[index + 1:]))
                if result.stopped:
                    return
        finally:
            self.scheduler.leave(job)

    def train_one(self, run: TrainConfig, data: ColourData, key: str, estimate_s: float, later_s: float) -> TrainResult:
        """Train one batch size; those waiting behind are told its time left at its own pace, and the batch
        sizes after it at the estimate scaled by how this one's pace compares (the machine's load now)."""
        batch_size, strips = run.batch_size, []
        precision, why = run_precision(run, resolve_device(run.device))
        self.push(Status(f"Training batch size {batch_size}...", batch_size, precision=f"{precision_names(precision)} ({why})"))

        def on_progress(event: Progress) -> None:
            self.push(Progressed(batch_size, event))
            if event.kind == "epoch":
                samples = sample_predictions(event.model, data, self.sample_count)
                strips.append((event.epoch, torch.from_numpy(np.stack([np.stack(triple) for triple in samples]))))
                self.push(Samples(batch_size, event.epoch, samples))
            done = event.step / max(1, event.total_steps)
            if done > 0:  # what the people waiting behind this training see
                whole = event.seconds / done  # what this batch size takes in all, at its pace so far
                self.job.pace = whole / max(estimate_s, 1e-9)
                self.job.remaining_s = whole * (1 - done) + later_s * self.job.pace

        result = train(run, data, on_progress=on_progress, should_stop=self.job.should_stop)
        if not result.stopped:  # what this machine takes now, for the next estimates and the preset button
            rates.record(run, len(data.train_grey), len(data.val_grey), result.seconds)
        try:
            if not result.stopped:  # only a finished run is replayed to whoever presses the same settings
                runcache.store(key, result, strips)
        except OSError as error:  # a full or read-only disk must not lose the run just shown
            self.push(Notice(f"This run could not be kept for replay: {error}"))
        self.finished(result, data)
        return result


def run_batch_sizes(config: TrainConfig, batch_sizes: list[int], events: queue.Queue, job: Job | threading.Event,
                    sample_count: int = 4, retrain: bool = False, scheduler: Scheduler = SCHEDULER) -> None:
    """Replay or train each batch size (smallest first), pushing runs.events into ``events``; the trainings take
    ``job``'s turn in ``scheduler`` (a bare stop Event: a job of nobody's page). ``retrain`` bypasses the replay
    cache. Always ends with Done (after Failed if something failed)."""
    job = job if isinstance(job, Job) else Job("training", stop=job)
    before = torch.get_num_threads()
    torch.set_num_threads(scheduler.threads)  # the threads it trains on: the replay keys name them (runs.runcache)
    try:
        _Run(config, batch_sizes, events, job, sample_count, retrain, scheduler)()
    finally:
        torch.set_num_threads(before)


def start_live_run(config: TrainConfig, batch_sizes: list[int], job: Job | threading.Event, sample_count: int = 4,
                   retrain: bool = False, scheduler: Scheduler = SCHEDULER) -> tuple[queue.Queue, threading.Thread]:
    """Start ``run_batch_sizes`` in a thread of the scheduler's; returns its event queue and the thread."""
    events: queue.Queue = queue.Queue()
    thread = scheduler.spawn(run_batch_sizes, config, batch_sizes, events, job, sample_count, retrain, scheduler,
                             name="pixelwise-live-training")
    return events, thread


def fill_cache(config: TrainConfig, batch_sizes: list[int], say=print) -> list[TrainResult]:
    """Replay or train every batch size of one press, as the panel does, so that it is in the cache."""
    events, thread = start_live_run(config, batch_sizes, threading.Event())
    results = []
    while not isinstance(event := events.get(), Done):
        match event:
            case Status(message=message) | Notice(message=message) | Failed(message=message):
                say(message)
            case Finished(batch_size=batch_size, result=result, replay=replay):
                results.append(result)
                final = result.final
                say(f"batch size {batch_size}: val loss {final.val_loss:.3f}, val acc {100 * final.val_acc:.1f}%, "
                    f"{replay or f'trained in {result.seconds:.0f} s'}")
            case Progressed(progress=progress) if progress.kind == "epoch":
                say(f"  epoch {progress.epoch:g}: val loss {progress.val_loss:.3f}")
    thread.join()
    return results
