"""Tab "Train live": train the CNN or UNet at several batch sizes and watch the curves grow.

The training runs in a worker thread (runs.live); the Gradio generator here drains its event
queue and redraws. Everything a run produces lives in a per-session TrainSession (gr.State), so two
people never see each other's curves. Runs already in the replay cache are replayed at once; the trainings
are jobs of the app's one scheduler (runs.scheduler): one runs at a time on a small machine, the others are
shown their place and an estimate.
"""
import queue
import re
import shutil
import threading
import time
from dataclasses import dataclass, field, replace

import gradio as gr
import pandas as pd

from colorizer import ARCH_NAMES, CIFAR10_CLASSES, TrainResult
from colorizer.trainer import data_for
from pixelwise.checkpoints import CheckpointError
from pixelwise.errors import DataUnavailable
from pixelwise import limits
from pixelwise.limits import OutOfRange, bounded
from pixelwise.pictures import image_grid
from pixelwise.settings import checkpoint_dir, shown_path
from pixelwise.zerogpu import heavy_request
from runs.events import Done, Failed, Finished, LiveEvent, Notice, Progressed, Samples, Status, Waiting
from runs import presets
from runs.catalog import list_checkpoints, load_checkpoint_cached, save_trained
from runs.live import live_config, sample_outputs, start_live_run
from runs.scheduler import PAGE, SCRIPT, Job
from ui import curves
from ui.api_types import typed_choices
from ui.common import api_endpoint, cifar_data_root, cifar_notice, named_outputs, refusal, take_home_path
from ui.inspector import INSPECT_CLASS, build_inspector, record_strip, strip_snapshot
from ui.page_jobs import client_gone, session_of

PRESET_BATCH_SIZES = [5, 10, 20, 50, 100, 200, 500, 1000]  # the write-ups' sizes, one click each
MAX_RUNS = 8  # batch sizes per press: each gets a curve colour and an image slot
LIVE_SESSIONS = 16  # Start handlers at once: replays need no turn, trainings wait in runs.scheduler
REDRAW_EVERY_S = 1.0  # at most one redraw a second between epoch ends: looks live, spares slow browsers
SAMPLE_COUNT = 4
# Okabe & Ito's colour-blind-safe palette, one colour per preset batch size (validation lines in it, train lines a
# lighter tint): black is swapped for grey (a black line vanishes in dark mode), and yellow, the faintest on white,
# goes to batch size 5, the slowest and least chosen. The old light/dark blues and oranges made 10, 20 and 100
# near-identical brown and orange lines.
OKABE_ITO = {5: "#f0e442", 10: "#0072b2", 20: "#e69f00", 50: "#009e73", 100: "#d55e00", 200: "#56b4e9",
             500: "#cc79a7", 1000: "#999999"}
TRAIN_TINT = 0.45  # how far a train line's colour goes towards white from its validation line's
TABLE_COLUMNS = ["batch size", "val loss", "val acc (%)", "seconds", "epochs done", "stopped?", "source"]


@dataclass
class TrainSession:
    """One browser session's training: its stop flag, what has been measured, the trained models."""
    stop: threading.Event = field(default_factory=threading.Event)
    rows: list[dict] = field(default_factory=list)  # plot points: epoch, loss, series, batch size...
    strips: dict[int, tuple] = field(default_factory=dict)  # batch size -> (image, caption)
    strip_scores: dict = field(default_factory=dict)  # batch size -> the final strip's logits (ui.inspector.record_strip)
    results: dict[int, TrainResult] = field(default_factory=dict)
    replays: dict[int, str] = field(default_factory=dict)  # batch size -> when/where/how long, for replayed runs
    batch_sizes: list[int] = field(default_factory=list)
    fraction_done: dict[int, float] = field(default_factory=dict)  # batch size -> optimiser steps done / planned
    started: float = 0.0
    training_started: float | None = None  # first progress event: the ETA leaves out data preparation
    status: str = ""
    precision: str = ""  # the number format the latest run computes in, and why (from the worker)
    running: bool = False
    changed: bool = True  # strips, table or saved-run list changed since the last redraw
    draws: int = 0  # redraws sent so far in this run
    sent_props: dict = field(default_factory=dict)  # plot name -> the props (all but the data) its last redraw sent
    view: curves.CurveView | None = None  # the page's smoothing, log scale and zoom (ui/curves.py)
    saved: object = None  # Path of the last checkpoint saved from this session
    superseded: bool = False  # a newer press on the same page took over: this one stops and writes no more
    epochs: int = 0  # of this press: the x axis runs from 0 to here
    preset: str = ""  # which preset the press is (runs.presets), or that its settings are the person's own
    waiting: bool = False  # in the training line behind someone else's press: no time-left clock
    stop_requested: bool = False  # the person pressed Stop (the worker's stop flag is also set at every end)

    def release(self) -> None:
        """The page closed: stop the worker and drop the models and measurements."""
        self.stop.set()
        self.results.clear(), self.rows.clear(), self.strips.clear()


# page or client session -> its press while it runs (a new press from the same session stops it); removed
# when the press ends, also for clients that never close a page (raw HTTP, MCP: no unload ever comes)
LIVE: dict[str, TrainSession] = {}


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


def run_colours(batch_sizes: list[int]) -> dict[int, str]:
    """One distinct colour per batch size of a run: a preset size keeps its own, any other takes the first colour
    the run leaves free (a run has at most MAX_RUNS = 8 sizes, as many as the palette's colours)."""
    palette = list(OKABE_ITO.values())
    free = [colour for colour in palette if colour not in {OKABE_ITO.get(bs) for bs in batch_sizes}]
    return {bs: OKABE_ITO.get(bs) or (free.pop(0) if free else palette[n % len(palette)])
            for n, bs in enumerate(batch_sizes)}


def colour_maps(batch_sizes: list[int]) -> tuple[dict, dict]:
    """The colours of one run's series."""
    loss, accuracy = {}, {}
    for batch_size, colour in run_colours(batch_sizes).items():
        loss |= {f"bs {batch_size} train": curves.tint(colour, TRAIN_TINT), f"bs {batch_size} val": colour}
        accuracy[f"bs {batch_size}"] = colour
    return loss, accuracy


def results_table(session: TrainSession) -> pd.DataFrame:
    """The write-ups' Table 2: one row per finished (or stopped) batch size."""
    rows = []
    for batch_size, result in sorted(session.results.items()):
        final = result.final
        rows.append([batch_size, round(final.val_loss, 4), round(100 * final.val_acc, 2), round(result.seconds, 1),
                     round(final.epoch, 2), "yes" if result.stopped else "no",
                     f"replay: {session.replays[batch_size]}" if batch_size in session.replays else "trained now"])
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def time_left(session: TrainSession, now: float) -> str:
    """' · about 40 s left (estimate)' while this press trains; nothing while it waits in line or replays."""
    trained = [bs for bs in session.batch_sizes if bs not in session.replays]
    # Every batch size pushes the same images through the same epochs, so the mean fraction of steps
    # done is the fraction of all training images done (replayed batch sizes take no time: left out).
    done = sum(session.fraction_done.get(bs, 0.0) for bs in trained) / max(1, len(trained))
    if not (session.running and not session.waiting and session.training_started and 0 < done < 1):
        return ""
    return f" · about {(now - session.training_started) * (1 - done) / done:.0f} s left (estimate)"


def status_text(session: TrainSession) -> str:
    now = time.perf_counter()
    preset = f"  \nSettings: {session.preset}" if session.preset else ""
    precision = f"  \nPrecision: {session.precision}" if session.precision else ""
    return f"{session.status}  \nElapsed {now - session.started:.0f} s{time_left(session, now)}{preset}{precision}"


def final_status(session: TrainSession) -> str:
    """What the status says once the press has ended: done, stopped (and what Start does next), or failed."""
    if session.status.startswith("**Training failed"):
        return session.status
    if session.stop_requested or any(result.stopped for result in session.results.values()):
        if session.waiting:
            replayed = f" ({len(session.replays)} replayed from the cache)" if session.replays else ""
            return f"Stopped while waiting in line: nothing was trained{replayed}."
        if not session.results:
            return "Stopped before any batch size finished: nothing to show."
        return ("Stopped: the table keeps what was measured. **Start training** trains the batch sizes that did "
                "not finish again; the finished ones replay from the cache.")
    replayed = (f" {len(session.replays)} of them replayed from the cache (see the table's source column; "
                f"**Train again** retrains them)." if session.replays else "")
    return f"Done: {len(session.results)} batch size(s).{replayed}"


def apply_event(session: TrainSession, event: LiveEvent) -> None:
    """Fold one event from the worker (runs.events) into the session."""
    match event:
        case Status(message=message, batch_size=bs, replay=replay):
            session.status, session.waiting = message, session.waiting and bs is None
            session.precision = event.precision or session.precision
            if replay:
                session.replays[bs] = replay
        case Waiting(message=message):
            session.status, session.waiting = message, True
        case Notice(message=message):
            session.status = message
            gr.Warning(message)
        case Progressed():
            apply_progress(session, event)
        case Samples(batch_size=bs, epoch=epoch, samples=samples):
            grid = image_grid([list(triple) for triple in samples])  # one row per image: grey, truth, prediction
            session.strips[bs] = (grid, f"bs {bs} · epoch {epoch:.0f}")
            session.changed = True
        case Finished(batch_size=bs, result=result):
            session.results[bs] = result
            record_strip(session, event)
            session.changed = True
        case Failed(message=message):
            session.status = f"**Training failed:** {message}"
            gr.Warning(message)


def apply_progress(session: TrainSession, event: Progressed) -> None:
    """A step or epoch of one batch size: the curves' points, how far it is, and after an epoch the status."""
    bs, progress = event.batch_size, event.progress
    if bs not in session.replays:  # the time-left clock starts with the first batch size trained now
        session.training_started = session.training_started or event.time
    session.fraction_done[bs] = progress.step / max(1, progress.total_steps)
    if progress.train_loss is not None:
        session.rows.append({"epoch": progress.epoch, "loss": progress.train_loss,
                             "series": f"bs {bs} train", "batch_size": bs})
    if progress.kind == "epoch":
        session.rows.append({"epoch": progress.epoch, "loss": progress.val_loss, "val_acc": progress.val_acc,
                             "series": f"bs {bs} val", "batch_size": bs})
        replay = f" · replay, {session.replays[bs]}" if bs in session.replays else ""
        session.status = (f"Batch size {bs}: epoch {progress.epoch:.0f}, val loss {progress.val_loss:.3f}, "
                          f"val acc {100 * progress.val_acc:.1f}%{replay}")


def plot_update(frame: pd.DataFrame, colours: dict, first_draw: bool, legend: list[str] | None = None) -> dict:
    """New data, plus (from the second draw of a run on) a colour map of exactly the run's series.

    Gradio's LinePlot fixes its colour domain when it rebuilds the chart, which a changed colour map
    triggers, and it may rebuild from the data it already holds. So the first draw only delivers data
    that names every series of the run (the NaN placeholders); the colour map follows in the next
    draw, and later data-only updates are cheap. The legend lists ``legend`` only (the chart lays it out
    in one row under the plot and cut off what did not fit: bs 1000 went missing); sent once per run, with
    the colour map, as the chart rebuilds itself whenever it receives a legend list, dropping data sent with it."""
    if first_draw:
        return gr.update(value=frame)
    present = set(frame["series"])
    shown = {} if legend is None else {"colors_in_legend": [series for series in legend if series in present]}
    return gr.update(value=frame, color_map={series: colour for series, colour in colours.items() if series in present},
                     **shown)


def strip_name(slot: int) -> str:
    return f"strip_{slot}"


def strip_updates(session: TrainSession) -> dict:
    """One image slot per batch size of the run, in order: the latest strip, or hidden."""
    updates = {}
    for slot in range(MAX_RUNS):
        batch_size = session.batch_sizes[slot] if slot < len(session.batch_sizes) else None
        image, caption = session.strips.get(batch_size, (None, f"bs {batch_size}"))
        updates[strip_name(slot)] = gr.update(value=image, label=caption, visible=batch_size in session.strips)
    return updates


def plot_updates(session: TrainSession | None, first_draw: bool = False, legend: bool = False) -> dict:
    """Both plots under the session's curve view: smoothing, log scale, zoom (ui/curves.py); the epoch axis
    from 0 to the press's epochs (left to the chart, it ran to 26 for 25)."""
    view, epochs = (session.view, session.epochs) if session else (None, None)
    batch_sizes = session.batch_sizes if session else []
    loss_colours, accuracy_colours = colour_maps(batch_sizes)
    loss = plot_update(curves.loss_view(loss_frame(session), view), curves.with_raw(loss_colours), first_draw,
                       [f"bs {bs} val" for bs in batch_sizes] if legend else None)
    accuracy = plot_update(accuracy_frame(session), accuracy_colours, first_draw,
                           list(accuracy_colours) if legend else None)
    return {"loss_plot": curves.zoomed(loss, view, loss=True, epochs=epochs),
            "accuracy_plot": curves.zoomed(accuracy, view, epochs=epochs)}


def _view(session: TrainSession) -> dict:
    first_draw, legend = session.draws == 0, session.draws == 1
    session.draws += 1
    plots = {name: data_only_if_unchanged(session, name, update)
             for name, update in plot_updates(session, first_draw, legend).items()}
    view = {**plots, "status": status_text(session), "session": session}
    if not session.changed:  # images and table are re-encoded on every send: leave them out when unchanged
        return view
    session.changed = False
    return {**view, **strip_updates(session), "table": results_table(session), "save_choice": save_choices(session)}


def data_only_if_unchanged(session: TrainSession, name: str, update: dict):
    """A redraw's plot: only its data when its other props (colours, axis range, titles) are those the last redraw
    sent. Gradio rebuilds a component and its API schema on the event loop for every gr.update, however small
    (pydantic's JSON schema, holding the GIL); a bare value is post-processed on a worker thread. During a press
    clicked in the browser, about one redraw a second, Gradio's post-processing held 17% of the GIL's samples
    (py-spy --gil), 6% of them building that schema, while the training beside it waited for the GIL."""
    props = {key: value for key, value in update.items() if key not in ("value", "__type__")}
    if session.sent_props.get(name) == props:
        return update["value"]
    session.sent_props[name] = props
    return update


def best_run(session: TrainSession) -> int | None:
    """The batch size whose run reached the best validation accuracy, finished runs before stopped ones."""
    runs = session.results.items()
    return max(runs, key=lambda run: (not run[1].stopped, run[1].final.val_acc), default=(None,))[0]


def save_choices(session: TrainSession) -> dict:
    """The runs to save, the best one chosen (the person most likely wants it, not the last trained)."""
    finished = [(f"bs {bs} (val acc {100 * r.final.val_acc:.1f}%{', stopped' if r.stopped else ''})", bs)
                for bs, r in sorted(session.results.items())]
    return gr.update(choices=finished, value=best_run(session))


def preset_note(model, batch_sizes, epochs, train_images, val_images, num_filters, learning_rate) -> str:
    return presets.settings_note(model, batch_sizes, epochs, train_images, val_images, num_filters, learning_rate)


def preset_labels() -> dict:
    """Each preset button's label, its minutes from what this machine measured (runs.rates)."""
    return {preset_name(index): gr.update(value=presets.button_label(preset))
            for index, preset in enumerate(presets.PRESETS)}


def preset_name(index: int) -> str:
    return f"preset_{index}"


PRESET_CONTROLS = ("model", "batch_sizes", "other_batch_sizes", "epochs", "learning_rate", "num_filters",
                   "train_images", "val_images", "precision")


def preset_values(preset: presets.Preset, precision: str | None = None) -> tuple:
    """The controls' values for ``preset`` (in ``precision``, default the preset's), in PRESET_CONTROLS order."""
    return (preset.model, list(preset.batch_sizes), "", preset.epochs, preset.learning_rate, preset.num_filters,
            preset.train_images, preset.val_images, precision or preset.precision)


def parse_batch_sizes(chosen, other: str | None, train_images) -> list[int]:
    """The ticked presets plus any typed ones ("7, 64"), each from 1 to the number of training images."""
    sizes = {int(b) for b in chosen or []}
    for word in re.split(r"[,;\s]+", (other or "").strip()):
        if word and not word.isdigit():
            raise refusal(f"Other batch sizes: {word!r} is not a whole number (write e.g. 7, 64).")
        sizes |= {int(word)} if word else set()
    limit = int(train_images)
    if not sizes:
        raise refusal("Choose at least one batch size.")
    if outside := sorted(b for b in sizes if not 1 <= b <= limit):
        raise refusal(f"Batch sizes go from 1 to the number of training images ({limit}), not {outside}.")
    if len(sizes) > MAX_RUNS:
        raise refusal(f"At most {MAX_RUNS} batch sizes per press ({len(sizes)} chosen).")
    return sorted(sizes)


def _checked_numbers(epochs, learning_rate, seed, train_images, val_images) -> tuple:
    """The numbers within their limits, or a gr.Error saying which is not."""
    try:  # Gradio checks each field's own bounds; API calls, NaN and huge numbers meet the same limits here
        return (bounded(epochs, "Epochs", limits.EPOCHS),
                bounded(learning_rate, "Learning rate", limits.LEARNING_RATE, whole=False),
                bounded(seed, "Seed", limits.SEED), bounded(train_images, "Training images", limits.TRAIN_IMAGES),
                bounded(val_images, "Validation images", limits.VAL_IMAGES))
    except OutOfRange as error:
        raise refusal(str(error)) from None


def _redraws(session: TrainSession, events: queue.Queue):
    """The session's views while the worker's events arrive, until Done: at once for samples and ends,
    otherwise at most every REDRAW_EVERY_S."""
    last_draw = 0.0
    while True:
        try:
            arrived = _arrived(events)
        except queue.Empty:
            if session.superseded:
                return
            yield _view(session)  # keeps elapsed time ticking during slow batches
            last_draw = time.perf_counter()
            continue
        for event in arrived:
            if not isinstance(event, Done):
                apply_event(session, event)
        if session.superseded:  # the page's state now holds the newer press's session
            return
        if isinstance(arrived[-1], Done):
            break
        urgent = any(isinstance(event, (Samples, Finished, Failed)) for event in arrived)
        if urgent or time.perf_counter() - last_draw >= REDRAW_EVERY_S:
            yield _view(session)
            last_draw = time.perf_counter()


def _arrived(events: queue.Queue) -> list[LiveEvent]:
    """The next event (waiting up to REDRAW_EVERY_S, else queue.Empty) and every one queued behind it, up to
    Done: a replay's whole curve arrives at once and is drawn in one redraw, not point by point."""
    arrived = [events.get(timeout=REDRAW_EVERY_S)]
    while not isinstance(arrived[-1], Done):
        try:
            arrived.append(events.get_nowait())
        except queue.Empty:
            break
    return arrived


def _supersede(session: TrainSession | None, request: gr.Request | None) -> None:
    """One training per page: a new press (Start, Train again, the API) stops the page's running one first."""
    for earlier in {id(old): old for old in (session, LIVE.get(session_of(request)))
                    if isinstance(old, TrainSession)}.values():
        earlier.superseded = True
        earlier.stop.set()


@heavy_request  # on ZeroGPU the worker thread runs inside this GPU call
def start_training(model, batch_sizes, epochs, learning_rate, num_filters, category, seed,
                   train_images, val_images, session: TrainSession | None, other_batch_sizes: str = "",
                   view: curves.CurveView | None = None, precision: str = "auto", retrain: bool = False,
                   api: bool = False, request: gr.Request = None):
    """Generator behind the Start button: runs the worker, yields redraws until it is done. Runs in
    the replay cache are replayed unless ``retrain`` (the Train again button). ``precision``: "auto" or "fp32"
    (pixelwise.precision); ``api``: a script's call, which waits behind the pages in the scheduler."""
    epochs, learning_rate, seed, train_images, val_images = _checked_numbers(epochs, learning_rate, seed,
                                                                             train_images, val_images)
    batch_sizes = parse_batch_sizes(batch_sizes, other_batch_sizes, train_images)
    if precision not in presets.PRECISIONS:
        raise refusal(f"Precision: one of {', '.join(presets.PRECISIONS)}, not {str(precision)[:20]!r}.")
    config = live_config(model, category, epochs, learning_rate, num_filters, seed, train_images, val_images,
                         cifar_data_root(), precision)
    _supersede(session, request)
    session = TrainSession(batch_sizes=batch_sizes, started=time.perf_counter(), running=True, view=view,
                           epochs=epochs, preset=preset_note(model, batch_sizes, epochs, train_images, val_images,
                                                             num_filters, learning_rate))
    owner = session_of(request)
    if owner is not None:
        LIVE[owner] = session
    job = Job("training", owner=owner, priority=SCRIPT if api else PAGE, stop=session.stop, gone=client_gone(request),
              kind="press")
    events, thread = start_live_run(config, batch_sizes, job, SAMPLE_COUNT, retrain=retrain)
    try:
        yield from _redraws(session, events)
    finally:
        session.stop.set()  # the page closed or the run ended: the worker must not go on alone
        if LIVE.get(owner) is session:
            del LIVE[owner]
        thread.join(timeout=30)
    session.running = False
    session.changed = True
    if session.superseded:
        return
    session.status, session.waiting = final_status(session), False
    yield {**_view(session), **preset_labels()}  # the labels' minutes follow what this press measured


def start_retraining(model, batch_sizes, epochs, learning_rate, num_filters, category, seed, train_images, val_images,
                     session: TrainSession | None, other_batch_sizes: str = "", view: curves.CurveView | None = None,
                     precision: str = "auto", request: gr.Request = None):
    """Train as Start does, bypassing the replay cache (the Train again button)."""
    yield from start_training(model, batch_sizes, epochs, learning_rate, num_filters, category, seed, train_images,
                              val_images, session, other_batch_sizes, view, precision, retrain=True, request=request)


def run_record(session: TrainSession) -> dict:
    """What a script gets from ``train``: the status line, Table 2 and every logged point, as plain values."""
    return {"status": session.status, "running": session.running,
            "table": results_table(session).to_dict("records"),
            "points": [dict(zip(("batch_size", "series", "epoch", "loss", "val_acc"), point))
                       for point in curves.points(session)]}


def _train_api(inputs: tuple, session: TrainSession | None, other_batch_sizes: str | None, precision: str | None,
               retrain: bool, request):
    for view in start_training(*inputs, session, other_batch_sizes or "", None, precision or "auto", retrain=retrain,
                               api=True, request=request):
        yield {"result": run_record(view["session"]), "session": view["session"]}


def train(model: str, batch_sizes: list[int], epochs: int, learning_rate: float, num_filters: int, category: str,
          seed: int, train_images: int, val_images: int, session: TrainSession | None, other_batch_sizes: str | None = None,
          precision: str | None = "auto", request: gr.Request = None):
    """Train the CNN or UNet colourizer at each batch size, one after another, as the Train live tab does (runs
    already trained with these settings are replayed from the cache).

    Result: a dict, streamed while training (gradio_client's submit) and final at the end: "status" (text),
    "running" (bool), "table" (Table 2: one dict per finished batch size with "batch size", "val loss",
    "val acc (%)", "seconds", "epochs done", "stopped?", "source") and "points" (every logged point: "batch_size",
    "series" ("bs 50 train" / "bs 50 val"), "epoch", "loss", "val_acc" (None for train points)).

    Args:
        model: "CNN" or "UNet".
        batch_sizes: batch sizes to train (the presets 5 to 1000); more in other_batch_sizes.
        epochs: epochs per batch size (1 to 50).
        learning_rate: Adam's learning rate.
        num_filters: NF, 8, 16, 32 or 64.
        category: the CIFAR-10 category, e.g. "horse".
        seed: random seed (same data, palette and initial weights for every batch size).
        train_images: training images used (100 to 5000).
        val_images: validation images used (100 to 1000).
        session: (kept by the client session) this session's training, which stop and save_checkpoint act on.
        other_batch_sizes: more batch sizes, e.g. "7, 64" (optional).
        precision: "auto" (bfloat16 where the CPU computes it natively, faster) or "fp32" (faithful to the handout).
    """
    inputs = (model, batch_sizes, epochs, learning_rate, num_filters, category, seed, train_images, val_images)
    yield from _train_api(inputs, session, other_batch_sizes, precision, False, request)


def train_again(model: str, batch_sizes: list[int], epochs: int, learning_rate: float, num_filters: int,
                category: str, seed: int, train_images: int, val_images: int, session: TrainSession | None,
                other_batch_sizes: str | None = None, precision: str | None = "auto", request: gr.Request = None):
    inputs = (model, batch_sizes, epochs, learning_rate, num_filters, category, seed, train_images, val_images)
    yield from _train_api(inputs, session, other_batch_sizes, precision, True, request)


# train's arguments and result, described once (the MCP tool's description is the docstring)
train_again.__doc__ = ("Train as ``train`` does, bypassing the replay cache (same arguments, same result)."
                       + train.__doc__[train.__doc__.index("\n\n"):])


def stop_training(session: TrainSession | None) -> str:
    if session is None or not session.running:
        return "Nothing is training."
    session.stop_requested = True
    session.stop.set()
    return "Stopping after the current batch..."


def save_run(session: TrainSession | None, batch_size) -> str:
    """Save one finished run's model as a checkpoint (atomically), listed in the Colourize tab."""
    if session is None or not session.results:
        raise refusal("Train first: there is no finished run to save.")
    if batch_size is None or int(batch_size) not in session.results:
        raise refusal("Choose which batch size's model to save.")
    result = session.results[int(batch_size)]
    path = save_trained(lambda path: result.save(path, overwrite=False), result.config.model,
                        result.config.category, int(batch_size))
    session.saved = path
    shown = path.relative_to(checkpoint_dir()) if path.is_relative_to(checkpoint_dir()) else shown_path(path)
    return f"Saved `{shown}`: it is now in the Colourize tab's {ARCH_NAMES[result.config.model]} checkpoint list."


def stop(session: TrainSession | None) -> str:
    """Stop this session's training after the current batch; what was measured is kept."""
    return stop_training(session)


def save_checkpoint(session: TrainSession | None, batch_size: float | None):
    """Save the model trained at ``batch_size`` in this session as a checkpoint (listed in Colourize).

    Args:
        session: (the page's own) this session's training.
        batch_size: which finished run to save.

    Returns:
        What was saved, and the checkpoint file to take home.
    """
    message = save_run(session, batch_size)
    copy = take_home_path(session.saved.name)
    shutil.copyfile(session.saved, copy)
    return message, str(copy)


EXAMPLE_CHECKPOINT = "unet.pt"  # the shipped handout UNet: what a finished run's strip looks like


def shipped_example() -> dict:
    """As the page opens, what a finished run shows: the shipped UNet's colours for the default press's first
    validation horses in the first strip, captioned as the example it is (the strips were blank until a press).
    The first press's strips replace it. Without the data or the checkpoint: nothing (no notice: nobody asked)."""
    preset = presets.default_preset()
    config = live_config(preset.model, "horse", preset.epochs, preset.learning_rate, preset.num_filters, 0,
                         preset.train_images, preset.val_images, cifar_data_root())
    try:
        info = next(info for info in list_checkpoints()[0] if info.name == EXAMPLE_CHECKPOINT)
        model, palette = load_checkpoint_cached(info.path)
        data = data_for(config)
    except (StopIteration, CheckpointError, DataUnavailable, OSError):
        return {}
    samples, _ = sample_outputs(model, replace(data, palette=palette), SAMPLE_COUNT)  # drawn in the model's own palette
    return {strip_name(0): gr.update(value=image_grid([list(triple) for triple in samples]), visible=True,
                                     label=f"Example, before any press: {info.label}")}


@dataclass
class TrainTab:
    checkpoint_saved: list  # the save events (page, API); app.py refreshes the Colourize dropdowns after them
    preset_buttons: dict  # their labels' minutes follow what this machine measured: relabelled at every page load
    strips: dict  # the validation strips' images by name (strip_name)

    def show_example_on(self, trigger) -> None:
        """On ``trigger`` (app.py: demo.load), the shipped UNet's strip as an example (shipped_example)."""
        trigger(named_outputs(shipped_example, self.strips), None, list(self.strips.values()),
                show_progress="hidden", api_visibility="private")

    def label_presets_on(self, trigger) -> None:
        """Relabel the preset buttons on ``trigger`` (app.py: demo.load), privately: no API endpoint."""
        trigger(named_outputs(preset_labels, self.preset_buttons), None, list(self.preset_buttons.values()),
                show_progress="hidden", api_visibility="private")


INTRO = ("Train the colourizer at several batch sizes with everything else equal (same seed, data and "
         "palette). **The batch sizes train one after another, smallest first**, through the same "
         "trainer as the command line (`python -m colorizer.sweep`). A run already trained with exactly "
         "these settings on this machine is **replayed** from the cache in seconds (**Train again** "
         "retrains). Heavy jobs (trainings, fine-tunes, measurements) take turns on this server; if "
         "someone else's runs you see your place in line and an estimate of the wait.")


def _setter(preset: presets.Preset, precision: str | None = None):
    def set_preset() -> tuple:
        return preset_values(preset, precision)
    return set_preset


def _preset_buttons() -> dict:
    """One button per preset (runs.presets), the label's minutes measured here. The quick one sets the
    controls and starts; the write-ups' long one first asks (``_confirmation``)."""
    buttons = {}
    with gr.Row():
        for index, preset in enumerate(presets.PRESETS):
            buttons[preset_name(index)] = gr.Button(
                presets.button_label(preset), size="sm", elem_id=f"train-{preset_name(index)}", variant="secondary")
    return buttons


def _confirmation() -> dict:
    """What the write-ups' press asks before its long training: float32 (faithful) or the faster bfloat16."""
    with gr.Group(visible=False, elem_id="train-confirm") as group:
        text = gr.Markdown(elem_id="train-confirm-text")
        with gr.Row():
            faithful = gr.Button("Start in float32 (faithful)", variant="primary", size="sm", elem_id="train-confirm-fp32")
            faster = gr.Button("Start in bfloat16 (faster)", size="sm", elem_id="train-confirm-bf16",
                               visible=presets.faster_precision() is not None)
            cancel = gr.Button("Cancel", size="sm", elem_id="train-confirm-cancel")
    return {"confirm": group, "confirm_text": text, "confirm_fp32": faithful, "confirm_faster": faster,
            "confirm_cancel": cancel}


def ask_confirmation() -> tuple:
    return gr.update(visible=True), presets.confirmation(presets.WRITE_UPS)


def _run_controls() -> dict:
    """Model, batch sizes, epochs and the other training settings (the default preset's: runs.presets), with
    the preset buttons, Start, Train again and Stop."""
    preset = presets.default_preset()
    c = {**_preset_buttons(), **_confirmation(), "model": gr.Radio(["CNN", "UNet"], value=preset.model, label="Model"),
         "batch_sizes": typed_choices(gr.CheckboxGroup(PRESET_BATCH_SIZES, value=list(preset.batch_sizes),
                                                        label="Batch sizes")),
         "other_batch_sizes": gr.Textbox(label="Other batch sizes",
                                         placeholder="e.g. 7, 64 (1 to the training images)"),
         "epochs": gr.Slider(*limits.EPOCHS, value=preset.epochs, step=1, label="Epochs")}
    with gr.Row():
        c["learning_rate"] = gr.Number(preset.learning_rate, label="Learning rate", minimum=limits.LEARNING_RATE[0],
                                       maximum=limits.LEARNING_RATE[1])
        c["num_filters"] = typed_choices(gr.Dropdown([8, 16, 32, 64], value=preset.num_filters, label="NF (filters)"))
    with gr.Row():
        c["category"] = gr.Dropdown(list(CIFAR10_CLASSES), value="horse", label="Category")
        c["seed"] = gr.Number(0, label="Seed", precision=0, minimum=limits.SEED[0], maximum=limits.SEED[1])
    c["precision"] = gr.Radio([("float32 (faithful to the handout)", "fp32"),
                               ("auto: bfloat16 where this CPU computes it natively (faster)", "auto")],
                              value=preset.precision, label="Precision")
    c["train_images"] = gr.Slider(*limits.TRAIN_IMAGES, value=preset.train_images, step=100, label="Training images")
    c["val_images"] = gr.Slider(*limits.VAL_IMAGES, value=preset.val_images, step=100, label="Validation images")
    gr.Markdown(cifar_notice("Training images"))
    with gr.Row():
        c["start"] = gr.Button("Start training", variant="primary")
        c["again"] = gr.Button("Train again", min_width=100)
        c["stop_button"] = gr.Button("Stop", variant="stop")
    return c


def _results_column(session: gr.State) -> tuple[dict, object, gr.State, dict]:
    """Status, the two curves, the validation strips (with their inspector), the results table, the curve
    controls and saving a run: (outputs, inspector, the curves' view, save controls)."""
    status = gr.Markdown("Press **Start training**, or a preset above.", elem_id="train-status")
    epochs = dict(x_axis_format="~g")  # "2", "2.5", not "2.0": shorter tick labels stay apart on a narrow page
    loss_plot = gr.LinePlot(loss_frame(), x="epoch", y="loss", **epochs,
                            color="series", title="Loss per pixel (cross-entropy)", elem_id="train-loss-plot",
                            color_title="light: train, dark: validation", height=300)
    accuracy_plot = gr.LinePlot(accuracy_frame(), x="epoch", **epochs,
                                y="val acc (%)", color="series", title="Validation pixel accuracy", elem_id="train-accuracy-plot",
                                color_title="batch size",
                                height=220)
    gr.Markdown("Validation images after the latest epoch (columns: grey input, truth, prediction):")
    with gr.Row(elem_id="train-strips"):  # their captions sit above them, whole (app.py's PAGE_CSS)
        strips = {strip_name(slot): gr.Image(format="png", interactive=False, visible=False, min_width=120,
                                             elem_classes=INSPECT_CLASS)
                  for slot in range(MAX_RUNS)}
    inspector = build_inspector(session, elem_id="inspector-train", read=strip_snapshot)
    table = gr.Dataframe(pd.DataFrame(columns=TABLE_COLUMNS), label="Results per batch size (Table 2)",
                         interactive=False, elem_id="train-table")
    view = curves.build_controls(session, {"loss_plot": loss_plot, "accuracy_plot": accuracy_plot},
                                 plot_updates, results_table)
    with gr.Row():
        saving = {"save_choice": gr.Dropdown([], label="Model to save", scale=2),
                  "save": gr.Button("Save as checkpoint", scale=1)}
    saving["save_note"] = gr.Markdown()
    saving["saved_file"] = gr.File(label="Saved checkpoint (download)", height=60, elem_id="train-saved-file")
    outputs = {"loss_plot": loss_plot, "accuracy_plot": accuracy_plot, "status": status, **strips, "table": table,
               "save_choice": saving["save_choice"], "session": session}
    return outputs, inspector, view, saving


def _wire_training(c: dict, outputs: dict, session: gr.State, inspector, view: gr.State) -> None:
    """Start and Train again on the page, the presets (the long one after a confirmation), train and
    train_again for scripts, Stop."""
    inputs = [*(c[name] for name in ("model", "batch_sizes", "epochs", "learning_rate", "num_filters", "category",
                                     "seed", "train_images", "val_images")),
              session, c["other_batch_sizes"], view, c["precision"]]
    live = dict(concurrency_limit=LIVE_SESSIONS, concurrency_id="train_live")
    trained = [button.click(named_outputs(handler, outputs), inputs, list(outputs.values()), api_visibility="private",
                            show_progress="minimal", **live)
               for button, handler in ((c["start"], start_training), (c["again"], start_retraining))]
    private = dict(queue=False, api_visibility="private", show_progress="hidden")
    starts = []  # (button, preset, precision): sets the controls, then Start
    for index, preset in enumerate(presets.PRESETS):
        if preset == presets.WRITE_UPS:  # minutes of training: say what and how long first, and offer both precisions
            c[preset_name(index)].click(ask_confirmation, None, [c["confirm"], c["confirm_text"]], **private)
            starts += [(c["confirm_fp32"], preset, "fp32"), (c["confirm_faster"], preset, presets.faster_precision())]
        else:
            starts.append((c[preset_name(index)], preset, None))
    c["confirm_cancel"].click(lambda: gr.update(visible=False), None, c["confirm"], **private)
    for button, preset, precision in starts:
        chosen = button.click(_setter(preset, precision), None, [c[name] for name in PRESET_CONTROLS], **private)
        if button in (c["confirm_fp32"], c["confirm_faster"]):
            chosen = chosen.then(lambda: gr.update(visible=False), None, c["confirm"], **private)
        trained.append(chosen.then(named_outputs(start_training, outputs), inputs, list(outputs.values()),
                                   api_visibility="private", show_progress="minimal", **live))
    api_inputs = [*inputs[:-2], c["precision"]]  # the page's curve view aside
    for handler in (train, train_again):  # the same runs for scripts and agents, answered with plain values
        api_endpoint(handler, api_inputs, handler.__name__, state=session, **live)
    inspector.watch([outputs[strip_name(slot)] for slot in range(MAX_RUNS)])  # the final strips answer clicks
    inspector.redraw_after(trained)
    c["stop_button"].click(stop, session, outputs["status"], concurrency_limit=None, queue=False, api_name="stop")


def _wire_saving(saving: dict, session: gr.State) -> list:
    """Save a run from the page's dropdown, or (for scripts) by batch size; returns both save events."""
    note_and_file = [saving["save_note"], saving["saved_file"]]
    saved = saving["save"].click(save_checkpoint, [session, saving["save_choice"]], note_and_file,
                                 api_name="save_chosen_run",
                                 api_visibility="private")  # own name: the public save_checkpoint is below
    # For scripts: a batch size by number, as the page's dropdown lists only what this page trained.
    batch_size = gr.Number(visible=False, precision=0, label="batch_size")
    saved_by_api = gr.Button(visible=False).click(save_checkpoint, [session, batch_size], note_and_file,
                                                  api_name="save_checkpoint")
    return [saved, saved_by_api]


def build_train_tab() -> TrainTab:
    gr.Markdown(INTRO)
    session = gr.State(None, delete_callback=lambda session: session and session.release())
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            controls = _run_controls()
        with gr.Column(scale=2):
            outputs, inspector, view, saving = _results_column(session)
    buttons = {preset_name(index): controls[preset_name(index)] for index in range(len(presets.PRESETS))}
    _wire_training(controls, outputs | buttons, session, inspector, view)
    strips = {strip_name(slot): outputs[strip_name(slot)] for slot in range(MAX_RUNS)}
    return TrainTab(checkpoint_saved=_wire_saving(saving, session), preset_buttons=buttons, strips=strips)
