"""Train live as a newcomer meets it: quick by default on a CPU, presets with measured minutes, Stop then Start,
the waiting line's words, and the charts' axes, legend and CSV (issue 24; issue 21's wait estimates).

The handlers are called directly (no browser); tests/test_newcomer_train_browser.py looks at the page."""
import queue
import threading
import time
from dataclasses import replace
from types import SimpleNamespace

import gradio as gr
import pandas as pd
import pytest
import torch

from colorizer import TrainConfig
from runs import live, presets, rates
from runs.scheduler import SCHEDULER, Job, Scheduler
from tests.helpers import CIFAR, plot_data, requires_cifar
from ui import curves, train_tab

torch.set_num_threads(1)


@pytest.fixture
def known_cost(monkeypatch):
    """Every model's step cost fixed (no calibration): 20 ms a step plus 1 ms an image, no runs measured yet."""
    cost = rates.StepCost(overhead_s=0.02, image_s=0.001)
    monkeypatch.setattr(rates, "step_cost", lambda config: cost)
    monkeypatch.setattr(rates, "known_cost", lambda config: cost)
    monkeypatch.setattr(rates, "measure_later", lambda config, scheduler=None: False)
    monkeypatch.setattr(rates, "_ratios", {})
    return cost


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PIXELWISE_RUN_CACHE", str(tmp_path / "runs"))
    monkeypatch.setenv("PIXELWISE_DATA", str(CIFAR))
    return tmp_path / "runs"


# ---------------------------------------------------------------- presets and the measured minutes

def test_the_quick_press_keeps_the_write_ups_steps_per_epoch_on_fewer_images():
    quick, full = presets.QUICK, presets.WRITE_UPS
    assert quick.train_images < full.train_images and quick.epochs < full.epochs
    steps = [[images // size for size in preset.batch_sizes] for preset, images in
             ((quick, quick.train_images), (full, full.train_images))]
    assert steps[0] == steps[1] == [100, 50, 10, 5]  # the batch-size effect: same steps per epoch at each size
    assert set(quick.batch_sizes) <= set(train_tab.PRESET_BATCH_SIZES)  # each one a tick box of the panel


def test_a_cpu_starts_on_the_quick_press_and_a_gpu_on_the_write_ups(known_cost):
    assert presets.default_preset("cpu") is presets.QUICK
    assert presets.default_preset("cuda") is presets.WRITE_UPS  # resolve_device names it; no GPU needed to ask
    with gr.Blocks():
        controls = train_tab._run_controls()
    preset = presets.default_preset()
    assert preset is presets.QUICK or torch.cuda.is_available()
    assert controls["epochs"].value == preset.epochs and controls["train_images"].value == preset.train_images
    assert controls["batch_sizes"].value == list(preset.batch_sizes)
    assert controls["val_images"].visible is not False  # in sight, not in a closed accordion


def test_the_preset_buttons_minutes_come_from_this_machines_rates(known_cost):
    full = presets.WRITE_UPS
    config = presets.press_config(full)
    assert config.precision == "fp32"  # the write-ups' press is the faithful one (issue 30, defect 14)
    seconds = sum(rates.modelled_s(replace(config, batch_size=size), 5000, 1000, known_cost) for size in full.batch_sizes)
    label = presets.button_label(full)
    assert label == f"Reproduce the write-ups (full data, 25 epochs, float32, about {round(seconds / 60)} minutes here)"
    # A run trained here took twice what the calibration predicts: the estimate doubles.
    run = replace(config, batch_size=50)
    rates.record(run, 5000, 1000, 2 * rates.modelled_s(run, 5000, 1000, known_cost))
    assert presets.press_seconds(full) == pytest.approx(2 * seconds)
    assert presets.button_label(presets.QUICK).startswith("Quick press (1,000 images, 12 epochs, about ")


def test_the_calibration_measures_a_step_cost_that_grows_with_the_batch():
    config = TrainConfig(model="cnn", num_filters=8, device="cpu", precision="fp32")
    cost = rates.calibrate(config)
    assert cost.image_s > 0 and cost.overhead_s >= 0
    assert cost.step_s(64) > cost.step_s(8)


def test_the_panel_names_the_preset_a_press_is():
    quick = presets.QUICK
    note = train_tab.preset_note(quick.model, list(quick.batch_sizes), quick.epochs, quick.train_images,
                                 quick.val_images, quick.num_filters, quick.learning_rate)
    assert note.startswith("the quick press (UNet, batch sizes 10, 20, 100, 200, 12 epochs on 1,000 training")
    assert train_tab.preset_note("UNet", [50], 3, 300, 100, 8, 1e-3) == "your own (not one of the presets)"


def test_a_preset_button_fills_every_control_it_sets():
    values = dict(zip(train_tab.PRESET_CONTROLS, train_tab.preset_values(presets.WRITE_UPS)))
    assert values == {"model": "UNet", "batch_sizes": [50, 100, 500, 1000], "other_batch_sizes": "", "epochs": 25,
                      "learning_rate": 1e-3, "num_filters": 32, "train_images": 5000, "val_images": 1000,
                      "precision": "fp32"}


# ---------------------------------------------------------------- the waiting line (issue 21)

def test_wait_estimates_count_the_batch_sizes_steps(known_cost):
    config = TrainConfig(model="unet", epochs=10)
    data = SimpleNamespace(train_grey=torch.zeros(1000, 1, 1, 1), val_grey=torch.zeros(200, 1, 1, 1))
    small, large = (live.estimate_s(replace(config, batch_size=size), data) for size in (10, 200))
    assert small > large  # 100 steps an epoch against 5: the fixed cost of a step counts
    assert small == pytest.approx(10 * 100 * known_cost.step_s(10) + 11 * 200 * known_cost.image_s / 3)
    assert live.estimate_s(replace(config, batch_size=10, epochs=20), data) > small


def test_a_waiter_is_told_what_it_waits_for_and_how_long():
    scheduler = Scheduler(cores=2)
    running = scheduler.join(Job("UNet press: batch sizes 50, 100, 25 epochs on 5,000 images", estimate_s=600.0))
    assert scheduler.wait_turn(running, timeout=0)
    running.remaining_s = 200.0
    scheduler.join(Job("CNN press: batch size 5, 1 epoch on 300 images", estimate_s=60.0))
    me = scheduler.join(Job("mine", estimate_s=30.0))
    message = scheduler.message(scheduler.place(me))
    assert "number 3 in line" in message
    assert "Running now: another visitor's UNet press: batch sizes 50, 100, 25 epochs on 5,000 images, " \
           "about 3 min left" in message
    assert "1 more waiting before yours" in message and "Yours starts in about 4 min" in message


def test_the_write_ups_press_asks_first_in_float32_and_offers_bfloat16_as_the_faster_option(known_cost, monkeypatch):
    """Issue 30, defects 10 and 14: minutes of training start only after a confirmation that says what, how
    long and in which precision; float32 (faithful) is the default, bfloat16 the faster option where native."""
    with gr.Blocks():
        controls = train_tab._run_controls()
    assert controls["preset_1"].variant != "primary"  # no long job from the page's primary button
    assert controls["confirm"].visible is False and controls["confirm_fp32"].value == "Start in float32 (faithful)"
    monkeypatch.setattr(presets, "faster_precision", lambda device="auto": "auto")
    shown, text = train_tab.ask_confirmation()
    assert shown["visible"] is True
    assert "in **float32** as the handout trained" in text and "**bfloat16**, the faster option" in text
    assert train_tab.preset_values(presets.WRITE_UPS, "auto")[-1] == "auto"
    monkeypatch.setattr(presets, "faster_precision", lambda device="auto": None)
    assert "bfloat16" not in train_tab.ask_confirmation()[1]  # not offered where it would not be faster


# ---------------------------------------------------------------- the charts, the table, the CSV

def fake_result(acc: float, stopped: bool = False) -> SimpleNamespace:
    final = SimpleNamespace(val_acc=acc, val_loss=1.5, epoch=2.0)
    return SimpleNamespace(final=final, stopped=stopped, seconds=3.0)


def test_the_model_to_save_is_the_best_finished_run():
    session = train_tab.TrainSession(batch_sizes=[50, 100, 500, 1000], started=time.perf_counter())
    session.results = {50: fake_result(0.50, stopped=True), 100: fake_result(0.45), 500: fake_result(0.41),
                       1000: fake_result(0.38)}
    assert train_tab._view(session)["save_choice"]["value"] == 100  # stopped runs last, then the highest accuracy


def test_the_epoch_axis_ends_at_the_last_epoch_and_the_legend_names_every_batch_size():
    session = train_tab.TrainSession(batch_sizes=[50, 100, 500, 1000], started=time.perf_counter())
    session.epochs = 25
    plots = train_tab.plot_updates(session, first_draw=False, legend=True)
    assert plots["loss_plot"]["x_lim"] == [0, 25] == plots["accuracy_plot"]["x_lim"]  # not the chart's "nice" 26
    # The legend lists one entry per batch size (the validation line; its title explains the light train line):
    # all twelve series in one row under the plot were cut off after bs 500.
    assert plots["loss_plot"]["colors_in_legend"] == ["bs 50 val", "bs 100 val", "bs 500 val", "bs 1000 val"]
    assert plots["accuracy_plot"]["colors_in_legend"] == ["bs 50", "bs 100", "bs 500", "bs 1000"]
    # sent once: the chart rebuilds at every legend list it receives, losing the data sent with it
    assert "colors_in_legend" not in train_tab.plot_updates(session)["loss_plot"]


def test_a_redraw_sends_only_the_data_while_the_plots_other_props_stay_the_same():
    """Every gr.update makes Gradio rebuild the component and its API schema on the event loop: during a press
    the redraws (about one a second) send a bare DataFrame unless colours, axis range or titles changed."""
    session = train_tab.TrainSession(batch_sizes=[50, 100], started=time.perf_counter(), epochs=2)
    session.rows = [{"epoch": 0.0, "loss": 3.1, "series": "bs 50 val", "batch_size": 50, "val_acc": 0.1}]
    draws = [train_tab._view(session) for _ in range(4)]
    sent = [[name for name in ("loss_plot", "accuracy_plot") if isinstance(draw[name], dict)] for draw in draws]
    assert sent[:3] == [["loss_plot", "accuracy_plot"]] * 3  # data, then the colour map and legend, then without it
    assert sent[3] == []  # nothing but data changed: bare frames
    assert isinstance(draws[3]["loss_plot"], pd.DataFrame) and draws[3]["loss_plot"]["loss"].notna().any()
    session.view = curves.CurveView(epochs=(0.5, 1.5))  # a zoom: the axis range goes out once more
    zoomed = train_tab._view(session)
    assert zoomed["loss_plot"]["x_lim"] == [0.5, 1.5] and isinstance(train_tab._view(session)["loss_plot"], pd.DataFrame)
    session.view = curves.CurveView(epochs=(0.5, 1.5), log_scale=True)  # the loss's y title changes: sent
    logged = train_tab._view(session)
    assert logged["loss_plot"]["y_title"] == "log10 of loss" and isinstance(logged["accuracy_plot"], pd.DataFrame)


def test_the_csv_gives_accuracy_in_percent_as_the_table_does():
    session = train_tab.TrainSession(batch_sizes=[50])
    session.rows = [{"epoch": 0.5, "loss": 2.0, "series": "bs 50 train", "batch_size": 50},
                    {"epoch": 1.0, "loss": 1.8, "val_acc": 0.4321, "series": "bs 50 val", "batch_size": 50}]
    points = pd.read_csv(curves.points_csv(session))
    assert "val acc (%)" in points.columns
    assert points["val acc (%)"].tolist()[1] == pytest.approx(43.21)


# ---------------------------------------------------------------- stop, start, replay, wait (real trainings)

def press(handler=train_tab.start_training, batch_sizes=(100, 300), epochs=1, stop_when=None) -> list[dict]:
    """One press of the panel (UNet NF 8, 300 / 100 images); ``stop_when(session)`` presses Stop."""
    outputs, stopped = [], False
    for output in handler("UNet", list(batch_sizes), epochs, 1e-3, 8, "horse", 0, 300, 100, None):
        outputs.append(output)
        session = output["session"]
        if stop_when and session.running and not stopped and stop_when(session):
            stopped = train_tab.stop_training(session).startswith("Stopping")
    return outputs


@requires_cifar
def test_after_stop_start_trains_only_what_did_not_finish(cache):
    stopped = press(stop_when=lambda session: 100 in session.results)[-1]  # Stop once bs 100 has finished
    assert stopped["table"]["stopped?"].tolist() == ["no", "yes"] or len(stopped["table"]) == 1
    assert stopped["status"].startswith("Stopped: the table keeps what was measured. **Start training** trains")
    again = press()[-1]
    assert again["table"]["batch size"].tolist() == [100, 300]
    source = again["table"]["source"].tolist()
    assert source[0].startswith("replay: trained ") and source[1] == "trained now"
    assert again["table"]["stopped?"].tolist() == ["no", "no"]


@requires_cifar
def test_a_replay_sends_the_whole_curve_at_once(cache):
    press(batch_sizes=(20, 33), epochs=2)
    replay = press(batch_sizes=(20, 33), epochs=2)
    with_points = [output for output in replay if plot_data(output["loss_plot"])["loss"].notna().any()]
    assert len(with_points) <= 4  # a redraw or two per batch size and the last, not one per epoch
    final = plot_data(with_points[-1]["loss_plot"]).dropna()  # NaN: the colour placeholders
    assert sorted(final[final["series"] == "bs 33 val"]["epoch"].tolist()) == [0, 1, 2]


@requires_cifar
def test_waiting_in_line_shows_no_countdown_and_stop_says_so(cache):
    press(batch_sizes=(100,), epochs=1)  # bs 100 is in the cache: it replays, bs 300 waits for its turn
    ahead = SCHEDULER.join(Job("UNet press: batch sizes 50, 100, 500, 1000, 25 epochs on 5,000 images",
                               estimate_s=300.0))
    assert SCHEDULER.wait_turn(ahead, timeout=0)
    try:
        outputs = press(batch_sizes=(100, 300), epochs=1,
                        stop_when=lambda session: session.status.startswith("Waiting") and 100 in session.results)
    finally:
        SCHEDULER.leave(ahead)
    waiting = [output["status"] for output in outputs if output["status"].startswith("Waiting for your turn")]
    assert waiting and "another visitor's UNet press: batch sizes 50, 100, 500, 1000" in waiting[0]
    assert not any("left (estimate)" in status for status in waiting)  # no clock counting down in line
    final = outputs[-1]["status"]
    assert final.startswith("Stopped while waiting in line: nothing was trained") and "Done" not in final


@requires_cifar
def test_the_apps_warm_up_prepares_the_default_press_so_its_first_point_needs_no_data_work(monkeypatch):
    """The first point of a fresh app's first press waited 6-9 s for the horses and the palette's k-means;
    app.py's warm-up does that work at start-up, so the press finds its data in the per-process cache."""
    from colorizer import trainer

    monkeypatch.setattr(rates, "measure", lambda *args, **kwargs: None)  # the calibration is not under test
    trainer.prepare_data.cache_clear()
    presets.warm_up(str(CIFAR))
    preset = presets.default_preset()
    press = live.live_config(preset.model, "horse", preset.epochs, preset.learning_rate, preset.num_filters, 0,
                             preset.train_images, preset.val_images, str(CIFAR))  # as ui/train_tab.py builds it
    hits = trainer.prepare_data.cache_info().hits
    trainer.data_for(press)
    assert trainer.prepare_data.cache_info().hits == hits + 1


def test_the_warm_up_does_nothing_without_the_data(tmp_path, monkeypatch):
    calibrated = []
    monkeypatch.setattr(presets, "button_label", lambda *args, **kwargs: calibrated.append(args))
    presets.warm_up(str(tmp_path / "no-cifar"))  # no exception: the press itself says what is missing
    assert calibrated == []  # nor a calibration of rates for data that is not there


def test_the_calibration_takes_its_quickest_step_not_the_mean(monkeypatch):
    """A step shared with other work is slower, and the calibration stands for the process's life: measured
    beside the app's start-up, the mean of three steps made the quick press's button say 3 minutes (it took 1)."""
    ticks = iter([0.0, 1.0, 2.0, 6.0, 7.0])  # one step of three slowed by other work

    def fake_train(run, data, on_progress):
        for _ in range(5):  # validation at epoch 0, a batch event after each step but the last, final validation
            on_progress(None)

    monkeypatch.setattr(rates, "train", fake_train)
    monkeypatch.setattr(rates, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))  # rates' clock only
    config = live.live_config("UNet", "horse", 1, 1e-3, 32, 0, 100, 100, None)
    assert rates._timed_step_s(config, 8) == 1.0
