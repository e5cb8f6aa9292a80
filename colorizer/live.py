"""Training several batch sizes in a background thread and streaming what happens, for a live UI.

The batch sizes train one after another (smallest first) through ``colorizer.sweep.iter_sweep``, so
with the same seed, data and palette, exactly as the sweep command line does. Each run pushes ``LiveEvent``s
into a queue: progress events, a few validation predictions after every epoch, and its result.
No Gradio here: the app drains the queue and draws.
"""
import queue
import threading
import time
import traceback
from dataclasses import dataclass

import numpy as np
from torch import nn

from pixelwise.errors import DataUnavailable

from .inference import colourize, grey_to_rgb
from .sweep import iter_sweep
from .trainer import ColourData, Progress, TrainConfig, TrainResult, data_for


@dataclass
class LiveEvent:
    kind: str  # "status" | "progress" | "samples" | "finished" | "error" | "done"
    batch_size: int | None = None
    progress: Progress | None = None
    samples: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None  # (grey, truth, prediction) RGB uint8
    epoch: float | None = None
    result: TrainResult | None = None
    message: str = ""
    time: float = 0.0  # time.perf_counter() when it happened


def sample_predictions(model: nn.Module, data: ColourData, count: int = 4) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(grey, truth, prediction) for the first ``count`` validation images, each 32 x 32 x 3 uint8."""
    samples = []
    for index in range(min(count, len(data.val_grey))):
        grey = data.val_grey[index, 0].cpu().numpy()
        prediction = colourize(model, data.palette, grey)
        samples.append((grey_to_rgb(grey), data.val_rgb[index].numpy(), prediction))
    return samples


def run_batch_sizes(config: TrainConfig, batch_sizes: list[int], events: queue.Queue, stop: threading.Event,
                    sample_count: int = 4) -> None:
    """colorizer.sweep over the batch sizes (smallest first), pushing LiveEvents into ``events``.
    Always ends with a 'done' event (after an 'error' one if something failed)."""
    def push(kind: str, **fields) -> None:
        events.put(LiveEvent(kind, time=time.perf_counter(), **fields))

    try:
        push("status", message="Preparing data (decoding images, k-means palette)...")
        data = data_for(config)

        def reporter_for(run_config: TrainConfig):
            batch_size = run_config.batch_size
            push("status", batch_size=batch_size, message=f"Training batch size {batch_size}...")

            def on_progress(event: Progress) -> None:
                push("progress", batch_size=batch_size, progress=event)
                if event.kind == "epoch":
                    push("samples", batch_size=batch_size, epoch=event.epoch,
                         samples=sample_predictions(event.model, data, sample_count))
            return on_progress

        for result in iter_sweep(config, sorted(batch_sizes), data, reporter_for, should_stop=stop.is_set):
            push("finished", batch_size=result.config.batch_size, result=result)
    except (DataUnavailable, ValueError) as error:
        push("error", message=str(error))
    except Exception as error:  # keep the app up and say what broke
        traceback.print_exc()
        push("error", message=f"{type(error).__name__}: {error}")
    finally:
        push("done")


def start_live_run(config: TrainConfig, batch_sizes: list[int], stop: threading.Event,
                   sample_count: int = 4) -> tuple[queue.Queue, threading.Thread]:
    """Start ``run_batch_sizes`` in a daemon thread; returns its event queue and the thread."""
    events: queue.Queue = queue.Queue()
    thread = threading.Thread(target=run_batch_sizes, args=(config, batch_sizes, events, stop, sample_count),
                              name="pixelwise-live-training", daemon=True)
    thread.start()
    return events, thread
