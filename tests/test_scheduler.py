"""The one scheduler of heavy jobs (runs.scheduler, issue 30): turns, places and estimates, stop flags tied to
pages and clients, the thread budget, the rate calibration as a job, and the bounded work of an API call.
Deterministic: events and an injected clock, no wall-clock windows."""
import threading
from types import SimpleNamespace

import gradio as gr
import pytest
import torch

from runs import rates
from runs.scheduler import BACKGROUND, PAGE, SCRIPT, Job, Scheduler


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def started(scheduler: Scheduler, job: Job) -> Job:
    scheduler.join(job)
    assert scheduler.wait_turn(job, timeout=0)
    return job


def in_thread(scheduler: Scheduler, job: Job, ran: list, release: threading.Event) -> threading.Thread:
    """Run ``job`` in its own thread: wait its turn, note it in ``ran``, hold the turn until ``release``."""
    def body():
        scheduler.run(job, lambda job: (ran.append(job.what), release.wait(30)))
    thread = threading.Thread(target=body)
    thread.start()
    return thread


def wait_until_waiting(scheduler: Scheduler, count: int) -> None:
    with scheduler._changed:
        scheduler._changed.wait_for(lambda: len(scheduler._waiting) >= count, timeout=30)


# ---------------------------------------------------------------- turns

def test_two_heavy_jobs_never_run_at_once_on_two_cores():
    scheduler = Scheduler(cores=2)
    assert scheduler.slots == 1 and scheduler.threads <= 2
    first = started(scheduler, Job("first"))
    ran, release = [], threading.Event()
    second = in_thread(scheduler, Job("second"), ran, release)
    wait_until_waiting(scheduler, 1)
    assert ran == [] and scheduler.jobs()[0] == [first]  # the second waits while the first holds the cores
    scheduler.leave(first)
    release.set()
    second.join(30)
    assert ran == ["second"] and scheduler.idle()


def test_two_run_at_once_where_the_cores_allow_it_but_an_exclusive_job_runs_alone():
    scheduler = Scheduler(cores=8)
    assert scheduler.slots == 2 and scheduler.threads == min(4, scheduler.threads)
    first, second = started(scheduler, Job("first")), started(scheduler, Job("second"))
    assert len(scheduler.jobs()[0]) == 2
    timing = scheduler.join(Job("cost measurement", exclusive=True))
    scheduler.leave(first)
    assert not scheduler.wait_turn(timing, timeout=0)  # a slot is free, but its timings must share no cores
    scheduler.leave(second)
    assert scheduler.wait_turn(timing, timeout=0)
    behind = scheduler.join(Job("training"))
    assert not scheduler.wait_turn(behind, timeout=0)  # nothing starts beside an exclusive job


def test_a_page_goes_before_a_script_and_the_calibration_last_each_in_order_of_arrival():
    scheduler = Scheduler(cores=2)
    running = started(scheduler, Job("running"))
    jobs = [scheduler.join(Job(what, priority=priority)) for what, priority in
            (("calibration", BACKGROUND), ("script 1", SCRIPT), ("page 1", PAGE), ("script 2", SCRIPT), ("page 2", PAGE))]
    assert [job.what for job in scheduler.jobs()[1]] == ["page 1", "page 2", "script 1", "script 2", "calibration"]
    scheduler.leave(running)
    assert not scheduler.wait_turn(jobs[1], timeout=0)  # a script does not overtake the pages
    assert scheduler.wait_turn(jobs[2], timeout=0)


# ---------------------------------------------------------------- place and estimate

def test_a_waiting_job_is_told_its_place_and_an_estimate_from_what_runs_and_waits_ahead():
    clock = Clock()
    scheduler = Scheduler(cores=2, clock=clock)
    running = started(scheduler, Job("UNet press: batch sizes 10, 20", owner="them", estimate_s=100.0))
    ahead = scheduler.join(Job("segmenter fine-tuning (last)", estimate_s=30.0))
    mine = scheduler.join(Job("affine experiment", owner="me", estimate_s=20.0))
    place = scheduler.place(mine)
    assert place.number == 3 and place.wait_s == 130.0
    clock.now = 40.0  # the running job has no report yet: its estimate less the time it ran
    assert scheduler.place(mine).wait_s == 90.0
    running.remaining_s = 10.0  # then it reports what it has left
    message = scheduler.message(scheduler.place(mine), "me")
    assert message == ("Waiting for your turn: number 3 in line. Running now: another visitor's UNet press: batch "
                       "sizes 10, 20, about 10 s left; 1 more waiting before yours. Yours starts in about 40 s (estimate).")
    assert "your own UNet press" in scheduler.message(scheduler.place(ahead), "them")


def test_a_waiting_press_ahead_is_estimated_at_the_pace_the_running_press_goes():
    """The estimates before a job starts come from the calibration; once a press trains, its pace against its
    own estimate (the machine's load now) scales the presses waiting ahead too."""
    scheduler = Scheduler(cores=2)
    running = started(scheduler, Job("press 1", estimate_s=100.0, kind="press"))
    scheduler.join(Job("press 2", estimate_s=100.0, kind="press"))
    scheduler.join(Job("fine-tune", estimate_s=10.0, kind="fine-tune"))
    mine = scheduler.join(Job("press 3", estimate_s=100.0, kind="press"))
    running.remaining_s, running.pace = 80.0, 2.0  # going at twice its estimate
    assert scheduler.place(mine).wait_s == 80.0 + 2 * 100.0 + 10.0


def test_the_pace_so_far_stands_in_for_a_job_that_reports_only_its_share_done():
    clock = Clock()
    scheduler = Scheduler(cores=2, clock=clock)
    running = started(scheduler, Job("measurement", estimate_s=None))
    mine = scheduler.join(Job("mine", estimate_s=5.0))
    assert scheduler.place(mine).wait_s is None  # nothing to go by yet: the message says an estimate follows
    assert "An estimate follows" in scheduler.message(scheduler.place(mine))
    clock.now, running.done = 30.0, 0.25
    assert scheduler.place(mine).wait_s == 90.0


# ---------------------------------------------------------------- stopping

def test_a_job_whose_client_is_gone_stops_waiting_and_running():
    scheduler = Scheduler(cores=2)
    running = started(scheduler, Job("running"))
    client = {"there": True}
    waiting = Job("waiting", gone=lambda: not client["there"])
    notes = []
    turns = scheduler.turns(waiting, poll_s=0)
    notes.append(next(turns))  # still there: it is told its place
    client["there"] = False  # the script was killed, the MCP call dropped
    assert list(turns) == [] and waiting.started is None and waiting.stop.is_set()
    scheduler.leave(waiting)
    assert notes[0].number == 2
    running.gone = lambda: True
    assert running.should_stop()  # a running job ends at its next batch


def test_a_job_stopped_while_waiting_does_not_hold_up_those_behind_it():
    scheduler = Scheduler(cores=2)
    running = started(scheduler, Job("running"))
    stopped, behind = scheduler.join(Job("stopped")), scheduler.join(Job("behind"))
    stopped.stop.set()  # its thread has not left the line yet
    scheduler.leave(running)
    assert scheduler.wait_turn(behind, timeout=0) and not scheduler.wait_turn(stopped, timeout=0)


def test_a_closed_page_stops_only_its_own_jobs_and_a_stop_button_only_its_kind():
    scheduler = Scheduler(cores=2)
    press = started(scheduler, Job("press", owner="mine", kind="press"))
    fine_tune = scheduler.join(Job("fine-tune", owner="mine", kind="fine-tune"))
    theirs = scheduler.join(Job("theirs", owner="theirs", kind="fine-tune"))
    scheduler.stop_owner("mine", "fine-tune")  # Segment's Stop
    assert fine_tune.stopped() and not press.stopped() and not theirs.stopped()
    scheduler.stop_owner("mine")  # the page closed
    assert press.stopped() and not theirs.stopped()


def test_the_unload_hook_and_the_client_probe_reach_the_scheduler(monkeypatch):
    """ui.page_jobs: the app's one unload hook stops the page's jobs; ``client_gone`` reads Gradio's own mark
    of a dead event (set when the client's stream closes), for pages and scripts alike."""
    from ui import page_jobs

    scheduler = Scheduler(cores=2)
    monkeypatch.setattr(page_jobs, "SCHEDULER", scheduler)
    job = scheduler.join(Job("affine experiment", owner="page"))
    page_jobs.stop_page_jobs(SimpleNamespace(session_hash="page"))
    assert job.stopped()

    event = SimpleNamespace(alive=True)
    queue = SimpleNamespace(active_jobs=[None, [event]])
    raw = SimpleNamespace(app=SimpleNamespace(get_blocks=lambda: SimpleNamespace(_queue=queue)))
    event.request = raw
    gone = page_jobs.client_gone(gr.Request(request=raw, session_hash="script"))
    assert not gone()
    event.alive = False  # Gradio's clean_events: the client's stream closed
    assert gone()
    assert not page_jobs.client_gone(None)()  # a direct call (tests, command lines): never gone


# ---------------------------------------------------------------- the thread budget (defect 11)

def test_torch_threads_are_capped_to_the_containers_cpu_quota(tmp_path):
    from pixelwise import device

    quota = tmp_path / "cpu.max"
    quota.write_text("100000 100000\n")  # one CPU's worth, on a host of any size
    before = torch.get_num_threads()
    try:
        assert device.cap_torch_threads(str(quota)) == 1 and torch.get_num_threads() == 1
    finally:
        device.PROCESS_THREADS = device.torch_threads()
        torch.set_num_threads(before)
    assert device.torch_threads(str(tmp_path / "none")) == min(device._TORCH_DEFAULT_THREADS, device.usable_cores())
    scheduler = Scheduler(cores=1)
    assert scheduler.slots == 1 and scheduler.threads == 1


def test_a_job_computes_on_its_share_of_the_cores():
    scheduler = Scheduler(cores=2)
    before = torch.get_num_threads()
    try:
        job = started(scheduler, Job("training", yields=False))
        assert torch.get_num_threads() == job.threads == scheduler.threads
        torch.set_num_threads(1)  # a Gradio generator's next step on a pool thread left on one
        job.should_stop()
        assert torch.get_num_threads() == scheduler.threads
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------- the rate calibration (defect 10)

@pytest.fixture
def fresh_rates(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(rates, "_costs", {})
    monkeypatch.setattr(rates, "_measured_at", {})
    monkeypatch.setattr(rates, "_pending", set())
    monkeypatch.setattr(rates, "clock", clock)
    return clock


def test_a_page_never_calibrates_on_its_own_thread_it_asks_the_scheduler(fresh_rates, monkeypatch):
    from runs import presets

    scheduler = Scheduler(cores=2)
    monkeypatch.setattr(rates, "SCHEDULER", scheduler)
    calibrated_on, release = [], threading.Event()
    monkeypatch.setattr(rates, "calibrate", lambda config: (calibrated_on.append(threading.current_thread()),
                                                            rates.StepCost(0.02, 0.001))[1])
    running = started(scheduler, Job("someone's training"))
    assert presets.button_label(presets.QUICK) == "Quick press (1,000 images, 12 epochs, measuring its time here)"
    wait_until_waiting(scheduler, 1)
    calibration = scheduler.jobs()[1][0]
    assert calibration.exclusive and calibration.priority == BACKGROUND and not calibrated_on
    assert presets.press_seconds(presets.QUICK) is None  # asked once, not once per page load
    assert len(scheduler.jobs()[1]) == 1
    scheduler.leave(running)  # the machine is free of heavy work: the calibration runs, alone
    with scheduler._changed:
        scheduler._changed.wait_for(scheduler.idle, timeout=30)
    assert len(calibrated_on) == 1 and calibrated_on[0] is not threading.current_thread()
    assert presets.press_seconds(presets.QUICK) > 0


def test_an_old_figure_is_measured_again_when_the_scheduler_is_idle(fresh_rates, monkeypatch):
    scheduler = Scheduler(cores=2)
    asked = []
    monkeypatch.setattr(scheduler, "spawn", lambda target, *args, **kwargs: asked.append(args))
    config = rates.TrainConfig(model="unet", precision="fp32", device="cpu")
    rates._costs[rates.rate_key(config)] = rates.StepCost(0.5, 0.05)  # taken under contention, long ago
    rates._measured_at[rates.rate_key(config)] = 0.0
    assert not rates.measure_later(config, scheduler)  # fresh: kept
    fresh_rates.now = rates.REFRESH_S + 1
    busy = started(scheduler, Job("training"))
    assert not rates.measure_later(config, scheduler)  # not while a heavy job runs: it would be contended again
    scheduler.leave(busy)
    assert rates.measure_later(config, scheduler) and len(asked) == 1


# ---------------------------------------------------------------- bounded work per API call (defect 3)

@pytest.mark.parametrize("pairs, steps, test_images, train_images, words", [
    (" ".join(["1,0"] * 13), 100, 200, 5000, r"number of \(a, b\) pairs .* 1 to 12"),
    ("1,0 2,0", 10**6, 200, 5000, "Fine-tuning steps"),
    ("1,0 2,0", 100, 10**6, 5000, "Test images"),
    ("1,0 2,0", 100, 200, 10**7, "Training images"),
])
def test_the_affine_experiment_refuses_more_work_than_one_call_may_ask(pairs, steps, test_images, train_images, words):
    from ui import inside_tab

    with pytest.raises(inside_tab.Refused, match=words):
        inside_tab.affine_request("unet.pt", pairs, steps, test_images, train_images)
    config, test, train = inside_tab.affine_request("unet.pt", " ".join(["1,0"] * 12), 1000, 1000, 5000)
    assert len(config.pairs) == 12 and (config.finetune_steps, test, train) == (1000, 1000, 5000)


def test_the_heavy_endpoints_share_no_gradio_slot_named_training():
    """Gradio's concurrency group 'training' ran fine-tunes, the affine experiment and cost measurements beside
    Train live's line: the scheduler alone decides now."""
    import app

    demo = app.build_app()
    groups = {fn.concurrency_id for fn in demo.fns.values()}
    assert "training" not in groups and "heavy_jobs" in groups


# ---------------------------------------------------------------- Train live's entries (defect 13)

def test_a_press_from_a_client_without_heartbeat_leaves_nothing_behind(monkeypatch):
    """Raw HTTP and MCP clients never send the page's unload: their LIVE entry (the session, its models) must go
    when the press ends, and the press is a scheduler job of theirs, a script's priority."""
    import queue

    from runs.events import Done
    from ui import train_tab

    jobs = []

    def fake_start(config, batch_sizes, job, sample_count, retrain=False):
        jobs.append(job)
        events = queue.Queue()
        events.put(Done())
        return events, SimpleNamespace(join=lambda timeout=None: None)

    monkeypatch.setattr(train_tab, "start_live_run", fake_start)
    client = SimpleNamespace(session_hash="mcp-client")
    outputs = list(train_tab.train("CNN", [50], 1, 1e-3, 8, "horse", 0, 100, 100, None, request=client))
    assert outputs and "mcp-client" not in train_tab.LIVE
    assert jobs[0].owner == "mcp-client" and jobs[0].priority == SCRIPT and jobs[0].kind == "press"
