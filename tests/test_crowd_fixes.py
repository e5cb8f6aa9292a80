"""Issue 21: one Space, a whole class. Each test here failed before its fix (nothing crosses between
people, and results stay reproducible while other requests run at the same time)."""
import threading

import pytest
import torch

from colorizer.models import ModelConfig, build_model
from pixelwise.settings import REPO_ROOT
from colorizer.trainer import ColourData, TrainConfig, initial_model


def _tiny_data(num_colours: int = 6) -> ColourData:
    generator = torch.Generator().manual_seed(0)
    grey = torch.rand(8, 1, 32, 32, generator=generator)
    labels = torch.randint(0, num_colours, (8, 32, 32), generator=generator)
    palette = torch.rand(num_colours, 3, generator=generator)
    return ColourData(palette, grey, labels, grey, labels, torch.zeros(8, 32, 32, 3, dtype=torch.uint8))


def _reseed_constantly(stop: threading.Event) -> None:
    """What the app's other threads did: reseed the shared generator and draw from it."""
    seed = 0
    while not stop.is_set():
        torch.manual_seed(seed)
        torch.rand(64)
        seed += 1


def test_models_are_built_from_their_own_generator_while_other_threads_reseed():
    torch.manual_seed(7)
    reference = build_model("unet", ModelConfig(3, 8, 6, 1)).state_dict()  # what a lone process builds
    stop = threading.Event()
    noise = [threading.Thread(target=_reseed_constantly, args=(stop,)) for _ in range(2)]
    for thread in noise:
        thread.start()
    built = []
    try:
        def build():
            for _ in range(5):
                built.append(initial_model(TrainConfig(model="unet", num_filters=8, seed=7), _tiny_data()).state_dict())
        builders = [threading.Thread(target=build) for _ in range(3)]
        for thread in builders:
            thread.start()
        for thread in builders:
            thread.join()
    finally:
        stop.set()
        for thread in noise:
            thread.join()
    assert len(built) == 15
    for state in built:
        assert all(torch.equal(state[name], reference[name]) for name in reference)


def test_building_a_model_leaves_the_shared_generator_alone():
    torch.manual_seed(3)
    expected = torch.rand(5)
    torch.manual_seed(3)
    initial_model(TrainConfig(model="cnn", num_filters=8, seed=11), _tiny_data())
    assert torch.equal(torch.rand(5), expected)


def test_each_thread_gets_back_its_own_torch_thread_count():
    """Overlapping one-thread inferences: the first one out used to leave its thread on one thread for good."""
    from pixelwise.device import PROCESS_THREADS, one_torch_thread

    if PROCESS_THREADS < 2:
        pytest.skip("torch runs on one thread here: nothing to restore")

    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    after = {}

    def first():
        torch.set_num_threads(PROCESS_THREADS)
        with one_torch_thread():
            first_in.set()
            second_in.wait(10)
        after["first"] = torch.get_num_threads()
        first_out.set()

    def second():  # first uses torch during the other one's inference: begins on one thread
        first_in.wait(10)
        with one_torch_thread():
            second_in.set()
            first_out.wait(10)
        after["second"] = torch.get_num_threads()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert after == {"first": PROCESS_THREADS, "second": PROCESS_THREADS}


def test_a_new_press_stops_the_pages_running_training_and_the_old_one_writes_no_more(monkeypatch):
    """Start, then Train again on one page: the first worker must stop, and its handler must not overwrite
    the page's state with its own session (Stop then reached whichever wrote last)."""
    import queue
    from types import SimpleNamespace

    from ui import train_tab

    started = []

    def fake_start(config, batch_sizes, stop, sample_count, retrain=False):
        events = queue.Queue()
        started.append((events, stop))
        return events, SimpleNamespace(join=lambda timeout=None: None)

    monkeypatch.setattr(train_tab, "start_live_run", fake_start)
    page = SimpleNamespace(session_hash="one-page")
    first = train_tab.start_training("CNN", [50], 1, 1e-3, 8, "horse", 0, 100, 100, None, request=page)
    first_session = next(first)["session"]
    second = train_tab.start_training("CNN", [50], 1, 1e-3, 8, "horse", 0, 100, 100, first_session,
                                      retrain=True, request=page)
    second_session = next(second)["session"]
    assert second_session is not first_session
    assert started[0][1].stop.is_set() and not started[1][1].stop.is_set()  # the first worker was told to stop
    assert train_tab.LIVE["one-page"] is second_session
    from runs.events import Done

    started[0][0].put(Done())
    assert [view.get("session") for view in first] in ([], [None])  # nothing more written into the page's state
    assert train_tab.stop_training(second_session) == "Stopping after the current batch..." and started[1][1].stop.is_set()
    train_tab.LIVE.pop("one-page", None)


# ---------------------------------------------------------------- files: one private folder per request

@pytest.fixture
def system_temp(tmp_path, monkeypatch):
    """The system temp folder as another user on a shared machine may have left it."""
    import tempfile

    from pixelwise import tempfiles

    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setattr(tempfiles, "_process_dir", None, raising=False)
    yield folder
    tempfiles.remove_process_dir()


def test_a_planted_symlink_in_the_temp_folder_deletes_nothing_elsewhere(system_temp, tmp_path):
    import os
    import time

    from pixelwise import tempfiles

    elsewhere = tmp_path / "someone-elses"
    elsewhere.mkdir()
    (elsewhere / "thesis.tex").write_text("years of work")
    os.utime(elsewhere / "thesis.tex", (time.time() - 10**6,) * 2)
    (system_temp / "pixelwise-downloads").symlink_to(elsewhere)  # planted before the app's first download
    folder = tempfiles.request_dir()
    assert (elsewhere / "thesis.tex").exists()
    assert not folder.resolve().is_relative_to(elsewhere.resolve())


def test_another_users_folder_of_the_same_name_does_not_break_downloads(system_temp):
    from pixelwise import tempfiles

    (system_temp / "pixelwise-downloads").write_text("not a folder")  # what a foreign owner leaves in the way
    folder = tempfiles.request_dir()
    (folder / "mask.png").write_bytes(b"x")
    assert (system_temp / "pixelwise-downloads").read_text() == "not a folder"  # theirs, untouched
    assert folder.is_dir() and (folder / "mask.png").read_bytes() == b"x"
    assert (folder.stat().st_mode & 0o777) == 0o700  # a private folder of this process's own


def test_each_request_gets_its_own_private_folder_and_stale_ones_go_whole(system_temp):
    import os
    import stat
    import time

    from pixelwise import tempfiles

    first, second = tempfiles.request_dir(), tempfiles.request_dir()
    assert first != second and first.parent == second.parent
    assert stat.S_IMODE(first.parent.stat().st_mode) == 0o700  # the process's folder: its owner's only
    (first / "photo_cnn_640x480.png").write_bytes(b"one person's result")
    old = time.time() - tempfiles.downloads_max_age_s() - 5
    os.utime(first / "photo_cnn_640x480.png", (old, old))
    os.utime(first, (old, old))
    tempfiles.remove_stale_requests()
    assert not first.exists() and second.exists()  # the stale folder went whole, not only its files
    tempfiles.remove_process_dir()
    assert not second.parent.exists()


def test_a_layer_trace_sees_only_its_own_image_while_colourize_uses_the_same_model():
    """layer_outputs traced the cached model that Colourize runs at the same moment: the other forward
    passes fired the trace's hooks and their outputs leaked into it."""
    from inside.anatomy import trace

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_model("unet", ModelConfig(3, 8, 6, 1)).eval()
    mine = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    alone = [(step.name, step.output.clone()) for step in trace(model, mine)]
    stop = threading.Event()

    def colourize_meanwhile():
        other = torch.zeros(1, 1, 32, 32)
        with torch.no_grad():
            while not stop.is_set():
                model(other)

    others = [threading.Thread(target=colourize_meanwhile) for _ in range(2)]
    for thread in others:
        thread.start()
    try:
        traces = [trace(model, mine) for _ in range(30)]
    finally:
        stop.set()
        for thread in others:
            thread.join()
    for steps in traces:
        assert [step.name for step in steps] == [name for name, _ in alone]
        assert all(torch.equal(step.output, output) for step, (_, output) in zip(steps, alone))


def test_a_saved_checkpoint_holds_no_server_path(tmp_path):
    """Checkpoints saved from the app (and offered for download) carried the server's data folder."""
    from pixelwise.settings import REPO_ROOT
    from colorizer.trainer import TrainResult

    data_root = REPO_ROOT.parent / "shared" / "data" / "cifar10"
    config = TrainConfig(model="cnn", num_filters=8, data_root=str(data_root))
    result = TrainResult(config, initial_model(config, _tiny_data()), torch.rand(6, 3))
    result.save(tmp_path / "mine.pt")
    raw = (tmp_path / "mine.pt").read_bytes()
    assert str(REPO_ROOT.parent).encode() not in raw
    assert torch.load(tmp_path / "mine.pt", weights_only=True)["meta"]["data_source"] == "../shared/data/cifar10"


class FakeClock:
    """pixelwise.device's clock, moved by the test: waits are decided by events, never by the machine's speed."""

    def __init__(self, monkeypatch):
        from pixelwise import device

        self.now, self.device, self.read = 0.0, device, threading.Event()
        monkeypatch.setattr(device, "_clock", self.time)
        monkeypatch.setattr(device, "_last_served", -float("inf"))

    def time(self) -> float:
        self.read.set()
        return self.now

    def advance_to(self, when: float) -> None:
        self.now = when
        with self.device._serving:
            self.device._serving.notify_all()  # a waiting training looks at the time again


def _yielding_in_a_thread(clock: FakeClock, **kwargs):
    """yield_to_requests(**kwargs) in a thread, returned once it has read its start time: (its answer, a list;
    an Event set when it returns)."""
    from pixelwise.device import yield_to_requests

    waited, resumed = [], threading.Event()
    clock.read.clear()
    threading.Thread(target=lambda: (waited.append(yield_to_requests(**kwargs)), resumed.set())).start()
    assert clock.read.wait(60)
    return waited, resumed


def _request_in_a_thread():
    """A request held inside one_torch_thread until the function returned is called, which returns once the
    request has ended (at the clock's time then)."""
    from pixelwise.device import one_torch_thread

    entered, release, ended = threading.Event(), threading.Event(), threading.Event()

    def request():
        with one_torch_thread():
            entered.set()
            release.wait(60)
        ended.set()

    threading.Thread(target=request).start()
    assert entered.wait(60)
    return lambda: (release.set(), ended.wait(60))


def test_a_training_waits_between_batches_while_an_inference_runs(monkeypatch):
    """Serving stays quick while a model trains: the worker yields to running requests between batches."""
    from pixelwise.device import yield_to_requests

    clock = FakeClock(monkeypatch)
    assert yield_to_requests(quiet_s=0) == 0.0  # nobody waiting: no pause
    end = _request_in_a_thread()
    waited, resumed = _yielding_in_a_thread(clock, longest_s=100.0, quiet_s=0)
    clock.advance_to(0.5)
    assert not resumed.wait(0.2)  # a request runs: the training waits, whatever the clock says meanwhile
    end()
    assert resumed.wait(60) and waited == [0.5]  # on again as soon as the request ended
    end = _request_in_a_thread()
    waited, resumed = _yielding_in_a_thread(clock, longest_s=0.2, quiet_s=0)
    clock.advance_to(0.8)
    assert resumed.wait(60) and waited == [pytest.approx(0.3)]  # a longer request: on after longest_s all the same
    end()


def test_a_training_does_not_slip_a_batch_into_the_gap_between_two_requests(monkeypatch):
    """A burst reaches the handlers a few at a time: between one request's end and the next one's start
    nothing runs for a moment, and a training that went on then ran a whole batch inside the burst."""
    clock = FakeClock(monkeypatch)
    end_first = _request_in_a_thread()
    waited, resumed = _yielding_in_a_thread(clock, longest_s=100.0, quiet_s=1.0)
    clock.advance_to(2.0)
    end_first()  # the first request ends at 2.0
    clock.advance_to(2.5)  # the queue hands the next request to a worker
    assert not resumed.wait(0.2)  # the gap: no batch slips in
    end_second = _request_in_a_thread()
    clock.advance_to(3.0)
    end_second()  # the second ends at 3.0
    clock.advance_to(3.9)
    assert not resumed.wait(0.2)  # not quiet for quiet_s yet
    clock.advance_to(4.0)
    assert resumed.wait(60) and waited == [4.0]  # quiet for a whole second: the training goes on


def test_a_request_counts_as_serving_from_its_first_moment(monkeypatch):
    """Decoding the upload and loading the checkpoints come before the first forward pass (2.8 s on a fresh
    app): a training must yield during them too, not only while a model runs."""
    from pixelwise import device
    from ui import colourize_tab

    seen = []

    def record(*args, **kwargs):
        seen.append(device._serving_count)
        raise colourize_tab.ImageError("stop here")

    monkeypatch.setattr(colourize_tab, "colourize_upload_panels", record)
    assert "refused" in colourize_tab.on_colourize_upload("photo.png", "cnn.pt", "unet.pt", "colour_hints.pt")
    assert seen == [1] and device._serving_count == 0


def test_an_upload_walks_the_checkpoint_folders_once(monkeypatch, tmp_path):
    """Colourizing an upload looks up three checkpoints by name: one walk of each folder, not one per model."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from pixelwise import settings
    from ui import colourize_tab

    monkeypatch.setenv("PIXELWISE_TRAINED", str(tmp_path / "trained"))
    (tmp_path / "trained").mkdir()
    walks, rglob = [], Path.rglob
    monkeypatch.setattr(Path, "rglob", lambda self, *args, **kwargs: walks.append(self) or rglob(self, *args, **kwargs))
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    out = colourize_tab.on_colourize_upload(str(tmp_path / "a.png"), "cnn.pt", "unet.pt", "colour_hints.pt")
    assert out["cnn"] is not None and out["unet"] is not None
    assert sorted(map(str, walks)) == sorted([str(settings.checkpoint_dir()), str(tmp_path / "trained")])


def test_inspect_pixel_takes_its_image_through_the_upload_guards(tmp_path):
    """The inspector API's optional image reaches the handler as the untouched upload (as the Colourize
    upload does): a broken file is named as the person named it, never by its server path, and the
    image is decoded once, by pixelwise.images with its pixel limit, not first re-encoded by Gradio."""
    import gradio as gr
    from gradio.data_classes import FileData

    from ui import colourize_tab
    from ui.inspector import add_inspect_api

    broken = tmp_path / "gradio" / "5e1f" / "holiday photo.png"  # where Gradio keeps the upload
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not a picture" * 20)
    with gr.Blocks() as demo:
        add_inspect_api(gr.State(), lambda path: colourize_tab.colourize_upload_panels(
            path, {"cnn": "cnn.pt", "unet": "unet.pt", "beyond": None}).snapshot())
    event = next(fn for fn in demo.fns.values() if fn.api_name == "inspect_pixel")
    path = event.inputs[1].preprocess(FileData(path=str(broken), orig_name="holiday photo.png"))
    answer, _ = event.fn(None, path, 5, 5, 3)
    assert answer["error"].startswith("holiday photo.png: ") and str(tmp_path) not in answer["error"], answer


def test_every_stale_file_of_the_apps_gradio_cache_goes_except_the_components_defaults(tmp_path, monkeypatch):
    """Gradio's delete_cache misses the copies it makes for a session's own components; the app's sweep
    removes every stale file of its own cache folder, and the folders left empty, but not what Gradio keeps
    for the app's life, nor a file written since (a copy handed out again is touched)."""
    import os
    import time

    from pixelwise import tempfiles

    monkeypatch.setenv("PIXELWISE_DOWNLOADS_MAX_AGE_S", "60")
    old = time.time() - 120
    files = {name: tmp_path / name / "image.webp" for name in ("untracked", "default", "fresh")}
    for path in files.values():
        path.parent.mkdir()
        path.write_bytes(b"RIFF")
    for name in ("untracked", "default"):
        os.utime(files[name], (old, old))
    tempfiles.sweep_gradio_cache(tmp_path, keep=lambda: [str(files["default"])])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["default", "fresh"]
    assert files["default"].is_file() and files["fresh"].is_file()


def test_api_calls_keep_nothing_in_the_session_and_page_states_expire():
    """A gradio_client session never sends the page's unload, so whatever an API call writes into session
    state stayed for the life of the process (memory_sessions: +66 MB a session at 2000 px). The public
    endpoints now write no gr.State, and the pages' photo-sized states expire like the files they name."""
    import gradio as gr

    from ui.colourize_tab import build_colourize_tab
    from pixelwise.settings import downloads_max_age_s
    from ui.segment_tab import build_segment_tab

    with gr.Blocks() as demo:
        with gr.Tab("Colourize"):
            build_colourize_tab()
        with gr.Tab("Segment"):
            build_segment_tab()
    public = {"colourize", "colourize_test_image", "segment"}
    endpoints = [dep for dep in demo.fns.values() if dep.api_name in public]
    assert {dep.api_name for dep in endpoints} == public
    for dep in endpoints:
        assert not [block for block in dep.outputs if isinstance(block, gr.State)], dep.api_name
    photo_states = [block for block in demo.blocks.values()
                    if isinstance(block, gr.State) and block.time_to_live != float("inf")]  # inf: kept for good
    assert len(photo_states) >= 4  # Colourize's view and inspection, Segment's test image and shown photo
    assert all(block.time_to_live == downloads_max_age_s() for block in photo_states)


def test_the_apps_warm_up_loads_the_default_colourizers_so_the_first_request_does_not(monkeypatch):
    """A fresh app's first colourization checked every checkpoint, loaded three and ran their first passes
    (2.8 s, and a burst at start-up did it four times at once); app.py's warm-up does it before anyone asks,
    then prepares the default press."""
    import app
    from colorizer import pipeline
    from runs import presets
    from ui import colourize_tab

    pipeline._load.cache_clear()
    colourize_tab.warm_up()
    defaults = [name for name in colourize_tab.default_checkpoints().values() if name]
    assert len(defaults) == 3 and pipeline._load.cache_info().currsize == len(defaults)
    misses = pipeline._load.cache_info().misses
    colourize_tab.colourize_upload_panels(str(REPO_ROOT / "examples" / "coffee.jpg"), colourize_tab.default_checkpoints())
    assert pipeline._load.cache_info().misses == misses  # the first request loads nothing

    done = []
    monkeypatch.setattr(colourize_tab, "warm_up", lambda: done.append("colourizers"))
    monkeypatch.setattr(presets, "warm_up", lambda data_root: done.append("press"))
    app.warm_up()
    assert done == ["colourizers", "press"]


def test_usable_cores_follow_a_containers_quota(tmp_path):
    """A Space's container may have 2 vCPUs on a 32-core host: events run at once by the quota, not the host."""
    import os

    from pixelwise.device import usable_cores

    affinity = len(os.sched_getaffinity(0))
    quota = tmp_path / "cpu.max"
    quota.write_text("max 100000\n")
    assert usable_cores(str(quota)) == affinity
    quota.write_text("150000 100000\n")  # one and a half cores: two threads can use them
    assert usable_cores(str(quota)) == min(affinity, 2)
    quota.write_text("50000 100000\n")
    assert usable_cores(str(quota)) == 1
    assert usable_cores(str(tmp_path / "none")) == affinity
