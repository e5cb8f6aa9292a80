"""pixelwise.zerogpu: a no-op off ZeroGPU Spaces, spaces.GPU(duration=...) on them."""
import json
import os
import subprocess
import sys
import types

from pixelwise import zerogpu
from pixelwise.settings import REPO_ROOT


def _double(x):
    return 2 * x


def test_a_no_op_off_spaces(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert zerogpu.gpu(30)(_double) is _double
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")  # the flag alone is not enough without the package
    monkeypatch.setitem(sys.modules, "spaces", None)
    monkeypatch.setattr(zerogpu.importlib.util, "find_spec", lambda name: None)
    assert not zerogpu.on_zerogpu() and zerogpu.gpu(30)(_double) is _double


def test_on_zerogpu_it_wraps_with_the_duration(monkeypatch):
    calls = []
    fake = types.ModuleType("spaces")

    def GPU(duration):
        def wrap(fn):
            calls.append((fn, duration))
            return lambda *args: ("on gpu", fn(*args))
        return wrap

    fake.GPU = GPU
    monkeypatch.setitem(sys.modules, "spaces", fake)
    monkeypatch.setattr(zerogpu.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setenv("SPACES_ZERO_GPU", "false")
    assert zerogpu.gpu(30)(_double) is _double
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    wrapped = zerogpu.gpu(zerogpu.INFERENCE_S)(_double)
    assert wrapped(4) == ("on gpu", 8) and calls == [(_double, zerogpu.INFERENCE_S)]



FAKE_SPACES = """
import json, os
def GPU(duration):
    def wrap(fn):
        with open(os.environ["WRAPPED_LOG"], "a") as log:
            log.write(json.dumps([fn.__name__, duration]) + "\\n")
        return fn
    return wrap
"""


def test_the_ui_asks_for_the_gpu_on_zerogpu(tmp_path):
    """Import the tabs in a fresh process that looks like a ZeroGPU Space (flag + a fake `spaces`)."""
    (tmp_path / "spaces.py").write_text(FAKE_SPACES)
    log = tmp_path / "wrapped.jsonl"
    env = dict(os.environ, SPACES_ZERO_GPU="true", WRAPPED_LOG=str(log),
               PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO_ROOT)]))
    # the inspector's API is made per tab (add_inspect_api): build one
    code = ("import gradio as gr, ui.colourize_tab, ui.segment_tab, ui.train_tab, ui.inside_tab, ui.cost_section\n"
            "from ui.inspector import add_inspect_api\n"
            "with gr.Blocks():\n    add_inspect_api(gr.State(), str)")
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, check=True, timeout=300)
    wrapped = dict(json.loads(line) for line in log.read_text().splitlines())
    assert wrapped == {"on_colourize_upload": zerogpu.INFERENCE_S, "on_colourize_test": zerogpu.INFERENCE_S,
                       "on_full_size": zerogpu.INFERENCE_S, "run_segment": zerogpu.INFERENCE_S, "run_finetune": zerogpu.TRAINING_S,
                       "fine_tune": zerogpu.TRAINING_S,
                       "start_training": zerogpu.TRAINING_S,
                       # every other handler that runs a model (issue 21): the inspector with an image, the layer
                       # view, the affine experiment and the fine-tuning cost, page and API alike
                       "inspect_pixel": zerogpu.INFERENCE_S, "layer_outputs": zerogpu.INFERENCE_S,
                       "run_affine": zerogpu.TRAINING_S, "affine_experiment": zerogpu.TRAINING_S,
                       "run_cost": zerogpu.TRAINING_S, "fine_tune_cost": zerogpu.TRAINING_S}
