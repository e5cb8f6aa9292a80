"""Tab "Train live": train the CNN or UNet at several batch sizes and watch the curves grow.

The training runs in a worker thread (colorizer.live); the Gradio generator here drains its event
queue and redraws. Everything a run produces lives in a per-session TrainSession (gr.State), so two
people never see each other's curves. One training runs at a time (concurrency_limit=1).
"""
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import gradio as gr
import pandas as pd

from colorizer import ARCH_NAMES, CIFAR10_CLASSES, TrainConfig, TrainResult
from colorizer.live import LiveEvent, start_live_run
from pixelwise.settings import checkpoint_dir, trained_dir
from pixelwise.zerogpu import TRAINING_S, gpu
from ui.common import cifar_data_root, cifar_notice, image_grid, named_outputs

BATCH_SIZES = [50, 100, 500, 1000]
REDRAW_EVERY_S = 1.0  # at most one redraw a second between epoch ends: looks live, spares slow browsers
SAMPLE_COUNT = 4
# one hue per batch size: light for train loss, dark for validation loss
HUES = [("#9ecae1", "#08519c"), ("#fdae6b", "#d94801"), ("#a1d99b", "#238b45"), ("#bcbddc", "#6a51a3"),
        ("#fa9fb5", "#ae017e"), ("#d9d9d9", "#525252")]
TABLE_COLUMNS = ["batch size", "val loss", "val acc (%)", "seconds", "epochs done", "stopped?"]


@dataclass
class TrainSession:
    """One browser session's training: its stop flag, what has been measured, the trained models."""
    stop: threading.Event = field(default_factory=threading.Event)
    rows: list[dict] = field(default_factory=list)  # plot points: epoch, loss, series, batch size...
    strips: dict[int, tuple] = field(default_factory=dict)  # batch size -> (image, caption)
    results: dict[int, TrainResult] = field(default_factory=dict)
    batch_sizes: list[int] = field(default_factory=list)
    fraction_done: dict[int, float] = field(default_factory=dict)  # batch size -> optimiser steps done / planned
    started: float = 0.0
    training_started: float | None = None  # first progress event: the ETA leaves out data preparation
    status: str = ""
    running: bool = False
    changed: bool = True  # strips, table or saved-run list changed since the last redraw
    draws: int = 0  # redraws sent so far in this run


def _frame(rows: list[tuple], y: str) -> pd.DataFrame:
    # Explicit dtypes: the plot reads a float epoch as a number axis, an empty object column as categories.
    frame = pd.DataFrame(rows, columns=["epoch", y, "series"])
    return frame.astype({"epoch": "float64", y: "float64", "series": "string"})


def _placeholders(session: TrainSession | None, kinds: tuple[str, ...]) -> list[tuple]:
    # One empty (NaN) point per series of the run, so the plot knows every series, and its colour,
    # from the first draw: Gradio fixes a plot's colour domain when it builds the chart.
    batch_sizes = session.batch_sizes if session else []
    return [(0.0, float("nan"), f"bs {bs}{kind}") for bs in batch_sizes for kind in kinds]


def loss_frame(session: TrainSession | None = None) -> pd.DataFrame:
    rows = [(row["epoch"], row["loss"], row["series"]) for row in (session.rows if session else [])
            if row["loss"] is not None]
    return _frame(_placeholders(session, (" train", " val")) + rows, "loss")


def accuracy_frame(session: TrainSession | None = None) -> pd.DataFrame:
    rows = [(row["epoch"], 100 * row["val_acc"], f"bs {row['batch_size']}") for row in (session.rows if session else [])
            if row.get("val_acc") is not None]
    return _frame(_placeholders(session, ("",)) + rows, "val acc (%)")


def colour_maps(batch_sizes: list[int]) -> tuple[dict, dict]:
    """Fixed colours per series, set once: a batch size keeps its hue whichever others are chosen."""
    loss, accuracy = {}, {}
    for i, batch_size in enumerate(batch_sizes):
        light, dark = HUES[i % len(HUES)]
        loss |= {f"bs {batch_size} train": light, f"bs {batch_size} val": dark}
        accuracy[f"bs {batch_size}"] = dark
    return loss, accuracy


LOSS_COLOURS, ACCURACY_COLOURS = colour_maps(BATCH_SIZES)


def results_table(session: TrainSession) -> pd.DataFrame:
    """The write-ups' Table 2: one row per finished (or stopped) batch size."""
    rows = []
    for batch_size, result in sorted(session.results.items()):
        final = result.final
        rows.append([batch_size, round(final.val_loss, 4), round(100 * final.val_acc, 2), round(result.seconds, 1),
                     round(final.epoch, 2), "yes" if result.stopped else "no"])
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def status_text(session: TrainSession) -> str:
    now = time.perf_counter()
    elapsed = now - session.started
    # Every batch size pushes the same images through the same epochs, so the mean fraction of steps
    # done is the fraction of all training images done.
    done = sum(session.fraction_done.values()) / max(1, len(session.batch_sizes))
    eta = ""
    if session.running and session.training_started and 0 < done < 1:
        eta = f" · about {(now - session.training_started) * (1 - done) / done:.0f} s left (estimate)"
    return f"{session.status}  \nElapsed {elapsed:.0f} s{eta}"


def apply_event(session: TrainSession, event: LiveEvent) -> None:
    """Fold one event from the worker into the session."""
    bs = event.batch_size
    if event.kind == "status":
        session.status = event.message
    elif event.kind == "progress":
        progress = event.progress
        session.training_started = session.training_started or event.time
        session.fraction_done[bs] = progress.step / max(1, progress.total_steps)
        if progress.train_loss is not None:
            session.rows.append({"epoch": progress.epoch, "loss": progress.train_loss,
                                 "series": f"bs {bs} train", "batch_size": bs})
        if progress.kind == "epoch":
            session.rows.append({"epoch": progress.epoch, "loss": progress.val_loss, "val_acc": progress.val_acc,
                                 "series": f"bs {bs} val", "batch_size": bs})
            session.status = (f"Batch size {bs}: epoch {progress.epoch:.0f}, val loss {progress.val_loss:.3f}, "
                              f"val acc {100 * progress.val_acc:.1f}%")
    elif event.kind == "samples":
        grid = image_grid([list(triple) for triple in event.samples])  # one row per image: grey, truth, prediction
        session.strips[bs] = (grid, f"bs {bs} · epoch {event.epoch:.0f}")
        session.changed = True
    elif event.kind == "finished":
        session.results[bs] = event.result
        session.changed = True
    elif event.kind == "error":
        session.status = f"**Training failed:** {event.message}"
        gr.Warning(event.message)


def plot_update(frame: pd.DataFrame, colours: dict, first_draw: bool) -> dict:
    """New data, plus (from the second draw of a run on) a colour map of exactly the run's series.

    Gradio's LinePlot fixes its colour domain when it rebuilds the chart, which a changed colour map
    triggers, and it may rebuild from the data it already holds. So the first draw only delivers data
    that names every series of the run (the NaN placeholders); the colour map follows in the next
    draw, and later data-only updates are cheap."""
    if first_draw:
        return gr.update(value=frame)
    present = set(frame["series"])
    return gr.update(value=frame, color_map={series: colour for series, colour in colours.items() if series in present})


def strip_name(batch_size: int) -> str:
    return f"strip_{batch_size}"


def strip_updates(session: TrainSession) -> dict:
    """One image slot per offered batch size: the latest strip, or hidden."""
    updates = {}
    for batch_size in BATCH_SIZES:
        image, caption = session.strips.get(batch_size, (None, f"bs {batch_size}"))
        updates[strip_name(batch_size)] = gr.update(value=image, label=caption, visible=batch_size in session.strips)
    return updates


def _view(session: TrainSession) -> dict:
    first_draw = session.draws == 0
    session.draws += 1
    view = {"loss_plot": plot_update(loss_frame(session), LOSS_COLOURS, first_draw),
            "accuracy_plot": plot_update(accuracy_frame(session), ACCURACY_COLOURS, first_draw),
            "status": status_text(session), "session": session}
    if not session.changed:  # images and table are re-encoded on every send: leave them out when unchanged
        return view
    session.changed = False
    finished = [(f"bs {bs} (val acc {100 * r.final.val_acc:.1f}%{', stopped' if r.stopped else ''})", bs)
                for bs, r in sorted(session.results.items())]
    return {**view, **strip_updates(session), "table": results_table(session),
            "save_choice": gr.update(choices=finished, value=finished[-1][1] if finished else None)}


@gpu(TRAINING_S)  # on ZeroGPU the worker thread runs inside this GPU call
def start_training(model, batch_sizes, epochs, learning_rate, num_filters, category, seed,
                   train_images, val_images, session: TrainSession | None):
    """Generator behind the Start button: runs the worker, yields redraws until it is done."""
    batch_sizes = sorted({int(b) for b in batch_sizes or []})
    if not batch_sizes:
        raise gr.Error("Choose at least one batch size.")
    config = TrainConfig(model=model.lower(), category=category, data_root=cifar_data_root(), epochs=int(epochs),
                         learning_rate=float(learning_rate), num_filters=int(num_filters), seed=int(seed),
                         train_limit=int(train_images), val_limit=int(val_images))
    session = TrainSession(batch_sizes=batch_sizes, started=time.perf_counter(), running=True)
    events, thread = start_live_run(config, batch_sizes, session.stop, SAMPLE_COUNT)
    last_draw = 0.0
    try:
        while True:
            try:
                event = events.get(timeout=REDRAW_EVERY_S)
            except queue.Empty:
                yield _view(session)  # keeps elapsed time ticking during slow batches
                last_draw = time.perf_counter()
                continue
            if event.kind == "done":
                break
            apply_event(session, event)
            urgent = event.kind in ("samples", "finished", "error")
            if urgent or time.perf_counter() - last_draw >= REDRAW_EVERY_S:
                yield _view(session)
                last_draw = time.perf_counter()
    finally:
        session.stop.set()  # the page closed or the run ended: the worker must not go on alone
        thread.join(timeout=30)
    session.running = False
    session.changed = True
    stopped = any(result.stopped for result in session.results.values())
    if not session.status.startswith("**Training failed"):
        session.status = ("Stopped: the table keeps what was measured." if stopped
                          else f"Done: {len(session.results)} batch size(s) trained.")
    yield _view(session)


def stop_training(session: TrainSession | None) -> str:
    if session is None or not session.running:
        return "Nothing is training."
    session.stop.set()
    return "Stopping after the current batch..."


def save_run(session: TrainSession | None, batch_size) -> str:
    """Save one finished run's model as a checkpoint (atomically), listed in the Colourize tab."""
    if session is None or not session.results:
        raise gr.Error("Train first: there is no finished run to save.")
    if batch_size is None or int(batch_size) not in session.results:
        raise gr.Error("Choose which batch size's model to save.")
    result = session.results[int(batch_size)]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = trained_dir() / f"{result.config.model}_{result.config.category}_bs{batch_size}_{stamp}.pt"
    result.save(path)
    shown = path.relative_to(checkpoint_dir()) if path.is_relative_to(checkpoint_dir()) else path
    return f"Saved `{shown}`: it is now in the Colourize tab's {ARCH_NAMES[result.config.model]} checkpoint list."


@dataclass
class TrainTab:
    checkpoint_saved: object  # the save event; app.py refreshes the Colourize dropdowns after it


def build_train_tab() -> TrainTab:
    gr.Markdown("Train the colourizer at several batch sizes with everything else equal (same seed, data and "
                "palette). **The batch sizes train one after another, smallest first**, through the same "
                "trainer as the command line (`python -m colorizer.sweep`). Only one training runs on this "
                "machine at a time; if someone else is training you wait in the queue.")
    session = gr.State(None)
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            model = gr.Radio(["CNN", "UNet"], value="UNet", label="Model")
            batch_sizes = gr.CheckboxGroup(BATCH_SIZES, value=BATCH_SIZES, label="Batch sizes")
            epochs = gr.Slider(1, 50, value=25, step=1, label="Epochs")
            with gr.Row():
                learning_rate = gr.Number(1e-3, label="Learning rate", minimum=1e-5, maximum=1.0)
                num_filters = gr.Dropdown([8, 16, 32, 64], value=32, label="NF (filters)")
            with gr.Row():
                category = gr.Dropdown(list(CIFAR10_CLASSES), value="horse", label="Category")
                seed = gr.Number(0, label="Seed", precision=0)
            with gr.Accordion("Quick demo: fewer images", open=False):
                train_images = gr.Slider(100, 5000, value=5000, step=100, label="Training images")
                val_images = gr.Slider(100, 1000, value=1000, step=100, label="Validation images")
            gr.Markdown(cifar_notice("Training images"))
            with gr.Row():
                start = gr.Button("Start training", variant="primary")
                stop = gr.Button("Stop", variant="stop")
        with gr.Column(scale=2):
            status = gr.Markdown("Press **Start training**.")
            loss_plot = gr.LinePlot(loss_frame(), x="epoch", y="loss",
                                    color="series", title="Loss per pixel (cross-entropy)",
                                    color_title="light: train, dark: validation", height=300)
            accuracy_plot = gr.LinePlot(accuracy_frame(), x="epoch",
                                        y="val acc (%)", color="series", title="Validation pixel accuracy",
                                        color_title="batch size",
                                        height=220)
            gr.Markdown("Validation images after the latest epoch (columns: grey input, truth, prediction):")
            with gr.Row():
                strips = {strip_name(batch_size): gr.Image(label=f"bs {batch_size}", format="png", interactive=False,
                                                           visible=False, min_width=120)
                          for batch_size in BATCH_SIZES}
            table = gr.Dataframe(pd.DataFrame(columns=TABLE_COLUMNS), label="Results per batch size (Table 2)",
                                 interactive=False)
            with gr.Row():
                save_choice = gr.Dropdown([], label="Model to save", scale=2)
                save = gr.Button("Save as checkpoint", scale=1)
            save_note = gr.Markdown()

    outputs = {"loss_plot": loss_plot, "accuracy_plot": accuracy_plot, "status": status, **strips, "table": table,
               "save_choice": save_choice, "session": session}
    start.click(named_outputs(start_training, outputs),
                [model, batch_sizes, epochs, learning_rate, num_filters, category, seed, train_images, val_images,
                 session],
                list(outputs.values()), concurrency_limit=1, concurrency_id="training", show_progress="minimal")
    stop.click(stop_training, session, status, concurrency_limit=None, queue=False)
    saved = save.click(save_run, [session, save_choice], save_note)
    return TrainTab(checkpoint_saved=saved)
