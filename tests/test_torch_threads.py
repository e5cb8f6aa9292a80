"""Long-lived threads let go of torch's worker threads (pixelwise.device.release_torch_threads).

With more OpenMP worker threads in the process than cores, libgomp barely spins between parallel ops, and a
training's every op waits for a wake-up: the app's main thread kept the pool it built the page with, and a
Train live step at batch 10 took 1.75x as long (docs/training-speed.md, "Two pools of torch threads")."""
import inspect
import sys

import pytest
import torch

from pixelwise import device


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the OpenMP library is found through /proc/self/maps")
def test_a_thread_lets_go_of_its_pool_and_computes_the_same_after():
    a = torch.randn(256, 256, generator=torch.Generator().manual_seed(0))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        first = a @ a  # a parallel op: this thread now holds a pool
        assert device.release_torch_threads()
        assert device.release_torch_threads()  # nothing held: still fine
        assert torch.equal(a @ a, first)  # a new pool, the same numbers
    finally:
        torch.set_num_threads(before)


def counting_releases(monkeypatch) -> list:
    calls = []
    monkeypatch.setattr(device, "release_torch_threads", lambda: calls.append(len(calls)) or True)
    return calls


def test_a_generator_handler_lets_go_before_each_yield_and_at_its_end(monkeypatch):
    calls = counting_releases(monkeypatch)

    def handler(steps: int, request=None):
        for step in range(steps):
            yield step

    wrapped = device.releasing_torch_threads(handler)
    assert inspect.isgeneratorfunction(wrapped)  # Gradio streams it as the handler it wraps
    assert inspect.signature(wrapped) == inspect.signature(handler)  # gr.Request and defaults still seen
    seen = []
    for step in wrapped(3):
        seen.append((step, len(calls)))
    assert seen == [(0, 1), (1, 2), (2, 3)]  # released before each step was handed on
    assert len(calls) == 4  # and at the end


def test_a_plain_handler_lets_go_at_its_end_also_when_it_raises(monkeypatch):
    calls = counting_releases(monkeypatch)
    assert device.releasing_torch_threads(lambda x: x + 1)(1) == 2
    assert len(calls) == 1

    def broken():
        raise ValueError("refused")
    with pytest.raises(ValueError):
        device.releasing_torch_threads(broken)()
    assert len(calls) == 2


def test_every_heavy_handler_on_a_gradio_thread_lets_go(monkeypatch):
    """The heavy jobs that run on Gradio's worker threads release on those threads; Train live's trainings run on
    a thread of their own, which ends with them, and its redraws on Gradio's threads release too."""
    from ui import cost_section, inside_tab, segment_tab, train_tab

    handlers = [segment_tab.run_finetune, segment_tab.fine_tune, inside_tab.run_affine, inside_tab.affine_experiment,
                cost_section.run_cost, cost_section.fine_tune_cost, train_tab.start_training]
    assert [handler.__name__ for handler in handlers if not getattr(handler, "releases_torch_threads", False)] == []


def test_building_the_app_leaves_the_main_thread_without_a_pool(monkeypatch):
    import app

    released = []
    monkeypatch.setattr(app, "release_torch_threads", lambda: released.append(True) or True)
    app.build_app()
    assert released
