"""Train live at classroom scale: the fast trainer paths, any batch size, the replay cache, the training line."""
import os
import queue
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from helpers import CIFAR, requires_cifar

from colorizer.models import ModelConfig, build_model
from colorizer.trainer import TrainConfig, data_for, prepare_model, train, training_step
from pixelwise.device import one_torch_thread
from runs import live, runcache
from runs.events import Finished, LiveEvent, Notice, Progressed, Samples, Status, Waiting
from runs.scheduler import Job, Scheduler

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parent.parent


def small_config(**overrides) -> TrainConfig:
    values = dict(model="unet", data_root=str(CIFAR), epochs=2, batch_size=50, num_filters=8, train_limit=200,
                  val_limit=50, seed=0, device="cpu", precision="fp32")
    return TrainConfig(**{**values, **overrides})


def numbers(result) -> list[tuple]:
    """Every number a run's history holds except its wall-clock times."""
    return [(e.kind, e.epoch, e.step, e.total_steps, e.train_loss, e.val_loss, e.val_acc) for e in result.history]


def epoch_losses(result) -> list[tuple]:
    return [(event.train_loss, event.val_loss, event.val_acc) for event in result.history if event.kind == "epoch"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PIXELWISE_RUN_CACHE", str(tmp_path / "runs"))
    return tmp_path / "runs"


def press(config: TrainConfig, batch_sizes, retrain=False, scheduler=None, events=None) -> list[LiveEvent]:
    """One panel press through the live worker, in this thread; every event it pushed."""
    events = events or queue.Queue()
    live.run_batch_sizes(config, batch_sizes, events, threading.Event(), sample_count=2, retrain=retrain,
                         scheduler=scheduler or Scheduler(cores=2))
    return [events.get() for _ in range(events.qsize())]


def running(scheduler: Scheduler, estimate_s: float) -> Job:
    """Someone else's training, holding the scheduler's one slot."""
    job = scheduler.join(Job("someone else's training", estimate_s=estimate_s))
    assert scheduler.wait_turn(job, timeout=0)
    return job


class LeaveWhenWaiting(queue.Queue):
    """The press's events; the job ahead ends as soon as the press says it waits (no timer)."""

    def __init__(self, scheduler: Scheduler, ahead: Job, before_leaving=lambda: None) -> None:
        super().__init__()
        self.scheduler, self.ahead, self.before_leaving = scheduler, ahead, before_leaving

    def put(self, event, *args, **kwargs):
        super().put(event, *args, **kwargs)
        if isinstance(event, Waiting) and self.ahead is not None:
            self.before_leaving()
            self.scheduler.leave(self.ahead)
            self.ahead = None


def layout(result) -> dict:
    """The run's memory format and compile setting (its speedups, less the precision)."""
    return {name: result.speedups[name] for name in ("channels_last", "compile")}


def finished(events) -> dict[int, Finished]:
    return {event.batch_size: event for event in events if isinstance(event, Finished)}


# ---------------------------------------------------------------- the trainer's speed paths

@requires_cifar
@pytest.mark.parametrize("model, fast", [("cnn", dict(channels_last=True)), ("unet", dict(channels_last=True)),
                                         ("cnn", dict(compile=True))])
def test_fast_paths_give_the_plain_paths_losses(model, fast):
    config = small_config(model=model, epochs=1, batch_size=25, train_limit=100, channels_last=False, compile=False)
    plain, other = train(config), train(replace(config, **fast))
    assert layout(other) == {"channels_last": False, "compile": False, **fast}
    for a, b in zip(epoch_losses(plain), epoch_losses(other), strict=True):
        assert a[0] == b[0] or a[0] == pytest.approx(b[0], rel=1e-3)
        assert a[1] == pytest.approx(b[1], rel=1e-3) and a[2] == pytest.approx(b[2], abs=0.01)


@pytest.mark.parametrize("model", ["cnn", "unet"])
def test_channels_last_step_copies_no_activation(model):
    """The loss takes channels_last logits as pixel rows and the grey batch gets NHWC strides, so no
    N x C x H x W tensor is re-laid out in a step (before: two per step in the UNet, ~13% of its time)."""
    torch.manual_seed(0)
    data = SimpleNamespace(class_weights=None)
    net, forward = prepare_model(build_model(model, ModelConfig(num_colours=24)), torch.device("cpu"),
                                 {"channels_last": True, "compile": False})
    step = training_step(forward, torch.optim.Adam(net.parameters()), data)
    x, y = torch.rand(8, 1, 32, 32), torch.randint(0, 24, (8, 32, 32))
    step(x, y)
    with torch.profiler.profile(record_shapes=True) as profile:
        step(x, y)
    copies = [event.input_shapes for event in profile.events() if event.name == "aten::copy_"]
    big = [shapes for shapes in copies if shapes and len(shapes[0]) == 4 and shapes[0][0] == 8]
    assert copies and not big, big


@requires_cifar
def test_channels_last_is_the_cpu_default_and_runs_stay_deterministic():
    formats = []
    first = train(small_config(epochs=1), on_progress=lambda event: formats.append(
        event.model.downconv2[0].weight.is_contiguous(memory_format=torch.channels_last)))
    second = train(small_config(epochs=1))
    assert layout(first) == {"channels_last": True, "compile": False} and all(formats)
    assert first.speedups["precision"] == "fp32"  # as small_config asks
    assert first.model.downconv2[0].weight.is_contiguous()  # handed back in the ordinary format
    assert numbers(first) == numbers(second)


@requires_cifar
@pytest.mark.parametrize("batch_size", [1, 7, 200, 500])
def test_any_batch_size_trains(batch_size):
    result = train(small_config(epochs=1, batch_size=batch_size, max_steps=3))
    steps = min(3, -(-200 // min(batch_size, 200)))
    assert result.final.step == steps and result.final.epoch == pytest.approx(steps / -(-200 // min(batch_size, 200)))
    assert torch.isfinite(torch.tensor(result.final.val_loss))


# ---------------------------------------------------------------- the replay cache

@requires_cifar
def test_a_second_identical_press_replays_exactly_the_recorded_history(cache):
    config = small_config()
    trained = finished(press(config, [50, 100]))
    assert all(event.replay is None for event in trained.values()) and len(list(cache.glob("*.pt"))) == 2
    events = press(config, [50, 100])
    replayed = finished(events)
    for batch_size in (50, 100):
        assert replayed[batch_size].replay.startswith("trained ") and " on cpu" in replayed[batch_size].replay
        assert replayed[batch_size].result.history == trained[batch_size].result.history
        assert replayed[batch_size].result.seconds == trained[batch_size].result.seconds
        weights, kept = trained[batch_size].result.model.state_dict(), replayed[batch_size].result.model.state_dict()
        assert weights.keys() == kept.keys() and all(torch.equal(weights[name], kept[name]) for name in weights)
    strips = [event for event in events if isinstance(event, Samples) and event.batch_size == 50]
    # the whole curve at once, then the last strip only (the panel shows the latest strip)
    assert [event.epoch for event in strips] == [2.0] and strips[0].samples[0][0].shape == (32, 32, 3)
    assert not any(isinstance(event, Waiting) for event in events)  # a replay needs no turn at training


@requires_cifar
def test_train_again_bypasses_the_cache_and_gives_the_same_numbers(cache):
    config = small_config(epochs=1)
    first = finished(press(config, [50]))[50]
    again = finished(press(config, [50], retrain=True))[50]
    assert again.replay is None and numbers(again.result) == numbers(first.result)


@requires_cifar
@pytest.mark.parametrize("change", [dict(seed=1), dict(learning_rate=2e-3), dict(epochs=3), dict(num_filters=16)])
def test_a_changed_setting_misses_the_cache(change):
    config = small_config()
    data = data_for(config)
    assert runcache.run_key(config, data) == runcache.run_key(replace(config, data_root="x"), data)  # content, not folder
    changed = replace(config, **change)
    assert runcache.run_key(changed, data_for(changed)) != runcache.run_key(config, data)


@requires_cifar
def test_a_corrupt_entry_gives_a_clear_message_and_trains_again(cache):
    config = small_config(epochs=1)
    first = finished(press(config, [50]))[50]
    (entry,) = cache.glob("*.pt")
    entry.write_bytes(b"PK\x03\x04 not a run at all")
    events = press(config, [50])
    notices = [event.message for event in events if isinstance(event, Notice)]
    assert len(notices) == 1 and "could not be read" in notices[0] and "trained again" in notices[0]
    again = finished(events)[50]
    assert again.replay is None and numbers(again.result) == numbers(first.result)
    assert finished(press(config, [50]))[50].replay  # the retrained run was kept again


@requires_cifar
def test_a_stopped_run_is_never_kept_nor_replayed(cache):
    config = small_config(epochs=1)
    data = data_for(config)
    key = runcache.run_key(config, data)
    stopped = train(config, data, should_stop=lambda: True)
    assert stopped.stopped and runcache.store(key, stopped, []) is None and runcache.load(key) is None
    complete = train(config, data)
    runcache.store(key, complete, [])
    assert runcache.store(key, stopped, []) is None
    assert not runcache.load(key).stopped


@requires_cifar
def test_a_run_its_owner_stopped_is_trained_again_by_the_next_press(cache):
    config = small_config(epochs=1)
    events, stop = queue.Queue(), threading.Event()

    class StopAtFirstBatch(queue.Queue):
        def put(self, event, *args, **kwargs):
            if isinstance(event, Progressed) and event.progress.step > 0:
                stop.set()
            events.put(event)

    live.run_batch_sizes(config, [50], StopAtFirstBatch(), stop, sample_count=2, scheduler=Scheduler(cores=2))
    first = [events.get() for _ in range(events.qsize())]
    assert finished(first)[50].result.stopped
    later = finished(press(config, [50]))[50]
    assert later.replay is None and not later.result.stopped  # trained to its end, not the stopped one replayed


@requires_cifar
def test_a_press_queued_behind_an_identical_one_replays_it_once_its_turn_comes(cache):
    config = small_config(epochs=1)
    data = data_for(config)
    complete = train(config, data)
    scheduler = Scheduler(cores=2)
    ahead = running(scheduler, 100.0)

    def identical_press_files_it():  # the press ahead: trained the same run, filed it, then leaves the line
        runcache.store(runcache.run_key(config, data), complete, [])

    events = press(config, [50], scheduler=scheduler,
                   events=LeaveWhenWaiting(scheduler, ahead, identical_press_files_it))
    assert any(isinstance(event, Waiting) for event in events)
    replayed = finished(events)[50]
    assert replayed.replay and numbers(replayed.result) == numbers(complete)
    assert not any(isinstance(event, Status) and event.message.startswith("Training") for event in events)


def test_the_size_limit_removes_the_least_recently_used(tmp_path):
    import os
    for index, name in enumerate(("old", "mid", "new")):
        (tmp_path / f"{name}.pt").write_bytes(b"x" * 400_000)
        os.utime(tmp_path / f"{name}.pt", (1000 + index, 1000 + index))
    removed = runcache.prune(tmp_path, limit_mb=1.0)
    assert [path.stem for path in removed] == ["old"]
    assert sorted(path.stem for path in tmp_path.glob("*.pt")) == ["mid", "new"]


# ---------------------------------------------------------------- waiting for a turn

@requires_cifar
def test_a_press_behind_another_training_reports_waiting_then_trains(cache):
    scheduler = Scheduler(cores=2, clock=lambda: 0.0)  # the running job has run no time: 100 s left
    ahead = running(scheduler, 100.0)
    events = press(small_config(epochs=1), [50], scheduler=scheduler, events=LeaveWhenWaiting(scheduler, ahead))
    waiting = [event for event in events if isinstance(event, Waiting)]
    assert waiting and "number 2 in line" in waiting[0].message and waiting[0].wait_s == 100.0
    assert finished(events)[50].result.final.epoch == 1.0


def test_importing_the_packages_changes_nothing_process_wide():
    """Huge pages, the profiler's log level, malloc's options: the entry points set them (pixelwise.process),
    not an import of pixelwise (which set THP_MEM_ALLOC_ENABLE) or a call of train() (which called mallopt)."""
    env = {key: value for key, value in os.environ.items() if key not in ("THP_MEM_ALLOC_ENABLE", "KINETO_LOG_LEVEL")}
    code = ("import os, torch, pixelwise, colorizer, segmenter, inside, pixelwise.layercost, pixelwise.memory\n"
            "from colorizer.trainer import ColourData, TrainConfig, train\n"
            "g = torch.Generator().manual_seed(0); grey = torch.rand(8, 1, 8, 8, generator=g)\n"
            "labels = torch.randint(0, 4, (8, 8, 8), generator=g)\n"
            "data = ColourData(torch.rand(4, 3, generator=g), grey, labels, grey, labels, torch.zeros(8, 8, 8, 3))\n"
            "train(TrainConfig(model='cnn', epochs=1, batch_size=4, num_filters=2, device='cpu'), data)\n"
            "print(os.environ.get('THP_MEM_ALLOC_ENABLE'), os.environ.get('KINETO_LOG_LEVEL'), pixelwise.memory._kept)")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-3:] == ["None", "None", "False"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="torch's huge pages: Linux only")
@pytest.mark.parametrize("preset, expected", [(None, "1"), ("0", "0")])
def test_a_training_command_starts_itself_again_with_huge_pages(preset, expected):
    """torch reads THP_MEM_ALLOC_ENABLE once, at its first allocation, which importing colorizer already
    makes: a training command line starts itself again with it, and leaves a value the user chose alone."""
    env = {key: value for key, value in os.environ.items() if key != "THP_MEM_ALLOC_ENABLE"}
    if preset is not None:
        env["THP_MEM_ALLOC_ENABLE"] = preset
    code = ("import os, colorizer; from pixelwise.process import huge_pages_for_training; huge_pages_for_training(); "
            "print(os.environ['THP_MEM_ALLOC_ENABLE'])")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == expected


def test_the_profiler_says_nothing_on_stderr_when_the_entry_point_quieted_it():
    """84 "USDT … profiler_start/stop" lines per cost measurement, and "External init callback must run in same
    thread as registerClient" when a worker thread profiled first, filled the app's log."""
    env = {key: value for key, value in os.environ.items() if key != "KINETO_LOG_LEVEL"}
    code = ("import sys, threading, torch\n"
            "if sys.argv[1] == 'quiet':\n"
            "    from pixelwise.process import quiet_profiler; quiet_profiler()\n"
            "from pixelwise.layercost import step_peak_bytes\n"
            "work = lambda: [step_peak_bytes(lambda: torch.ones(1000).sum(), torch.device('cpu')) for _ in range(3)]\n"
            "thread = threading.Thread(target=work); thread.start(); thread.join(); work()\n")
    for mode, quiet in (("loud", False), ("quiet", True)):
        done = subprocess.run([sys.executable, "-c", code, mode], env=env, cwd=REPO, capture_output=True, text=True,
                              check=True)
        assert ("USDT" not in done.stderr and "registerClient" not in done.stderr) == quiet, done.stderr[-500:]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
@pytest.mark.parametrize("setting, expected", [(None, "True"), ("0", "False")])
def test_training_keeps_freed_memory_unless_switched_off(setting, expected):
    """pixelwise.memory turns off malloc's per-block mmap (so big batches reuse memory), once per process,
    and PIXELWISE_KEEP_FREED_MEMORY=0 leaves glibc's defaults alone."""
    env = {key: value for key, value in os.environ.items() if key != "PIXELWISE_KEEP_FREED_MEMORY"}
    if setting is not None:
        env["PIXELWISE_KEEP_FREED_MEMORY"] = setting
    code = "from pixelwise.memory import keep_freed_memory_for_training as keep; print(keep(), keep())"
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.split() == [expected, expected]


def test_training_worker_started_during_an_upload_keeps_the_process_threads(monkeypatch):
    """A thread starts with torch's thread count of that moment and keeps it: a press started while an upload
    runs its one-thread inference must still train on the scheduler's threads (runs.scheduler)."""
    seen = []
    monkeypatch.setattr(live, "run_batch_sizes", lambda *arguments: seen.append(torch.get_num_threads()))
    scheduler = Scheduler(cores=2)
    scheduler.threads = 2
    try:
        with one_torch_thread():
            _, worker = live.start_live_run(small_config(), [50], threading.Event(), scheduler=scheduler)
            worker.join()
    finally:
        torch.set_num_threads(1)  # this module's setting, for the threads later tests start
    assert seen == [2]


# ---------------------------------------------------------------- the cache beside other presses (issue 30)

def test_an_entry_pruned_while_it_is_read_is_a_miss_not_a_corrupt_entry(tmp_path, monkeypatch):
    entry = runcache.entry_path("k" * 32, tmp_path)
    entry.write_bytes(b"a run another press's prune removes now")
    real_load = torch.load

    def pruned_meanwhile(path, *args, **kwargs):
        Path(path).unlink()
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(torch, "load", pruned_meanwhile)
    assert runcache.load("k" * 32, tmp_path) is None  # was CorruptEntry "could not be read …, it was removed"


def test_a_garbled_entry_is_still_reported_and_removed(tmp_path):
    entry = runcache.entry_path("g" * 32, tmp_path)
    entry.write_bytes(b"PK\x03\x04 not a run at all")
    with pytest.raises(runcache.CorruptEntry, match="could not be read"):
        runcache.load("g" * 32, tmp_path)
    assert not entry.exists()


def test_prune_skips_entries_another_press_removed_meanwhile(tmp_path, monkeypatch):
    for index, name in enumerate(("old", "new")):
        (tmp_path / f"{name}.pt").write_bytes(b"x" * 600_000)
        os.utime(tmp_path / f"{name}.pt", (1000 + index, 1000 + index))
    real_glob = Path.glob
    monkeypatch.setattr(Path, "glob", lambda self, pattern: [*real_glob(self, pattern), self / "gone.pt"])
    assert [path.stem for path in runcache.prune(tmp_path, limit_mb=1.0)] == ["old"]  # FileNotFoundError before


def test_the_key_covers_the_code_and_the_photos_a_run_depends_on(tmp_path):
    from pixelwise.settings import REPO_ROOT

    for name in runcache.CODE:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((REPO_ROOT / name).read_bytes())
    before = runcache.code_fingerprint(tmp_path)
    assert before == runcache.code_fingerprint()
    for name in ("colorizer/hints.py", "colorizer/photos.py", "pixelwise/seeding.py", "pixelwise/precision.py"):
        original = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(original + b"\n# changed\n")
        assert runcache.code_fingerprint(tmp_path) != before, name  # left out of the key before
        (tmp_path / name).write_bytes(original)
    assert "train_limit" not in runcache.NOT_IN_KEY
    from colorizer.trainer import ColourData

    def photo_data(photos: int) -> ColourData:
        generator = torch.Generator().manual_seed(0)
        grey, labels = torch.rand(2, 1, 8, 8, generator=generator), torch.zeros(2, 8, 8, dtype=torch.long)
        return ColourData(torch.rand(4, 3, generator=generator), grey[:0], labels[:0], grey, labels,
                          torch.zeros(2, 8, 8, 3, dtype=torch.uint8), colour_space="lab",
                          train_photos=torch.randint(0, 255, (photos, 16, 16, 3), dtype=torch.uint8, generator=generator))

    assert runcache.data_fingerprint(photo_data(3)) != runcache.data_fingerprint(photo_data(5))  # equal before
