"""Bad inputs answered plainly, in process (issue 30): NaN / infinite numbers, refusals logged as one line,
the upload size limit, the Segment tab's upload box after an example, layer_outputs without an upload.
No data needed; tests/test_battery.py throws the same at the running app."""
import asyncio
import logging
import math
import socket
import urllib.error
import urllib.request

import gradio as gr
import numpy as np
import pytest
import torch

NOT_NUMBERS = [math.nan, math.inf, -math.inf, "lots"]


def _refused(call, words: str, caplog) -> gr.Error:
    """Run ``call``; it must raise the app's refusal: plain words, no traceback printed, one log line."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pixelwise.refused"):
        with pytest.raises(gr.Error) as raised:
            call()
    assert words in raised.value.message, raised.value.message
    assert raised.value.print_exception is False  # Gradio prints a crash's traceback otherwise
    assert [record.getMessage() for record in caplog.records] == [f"refused: {raised.value.message}"]
    return raised.value


@pytest.mark.parametrize("top", NOT_NUMBERS)
def test_inspect_pixel_answers_a_bad_top_with_an_error_not_an_exception(top):
    from pixelwise.perpixel import Scores, Snapshot
    from ui.inspector import inspect_pixel_json

    snapshot = Snapshot({"m": Scores("model", torch.zeros(24, 8, 8), np.zeros((24, 3), np.uint8))}, shown=(8, 8))
    assert "classes" in str(inspect_pixel_json(snapshot, 2, 2, 3))  # the good call answers
    answer = inspect_pixel_json(snapshot, 2, 2, top)  # int(nan) raised a raw ValueError before
    assert answer.keys() == {"error"} and "top must be a whole number" in answer["error"]
    for x in (math.nan, math.inf):
        assert "x must be a number" in inspect_pixel_json(snapshot, x, 2, 3)["error"]


@pytest.mark.parametrize("batch", NOT_NUMBERS + [10**9])
def test_fine_tune_cost_refuses_a_bad_batch_plainly(batch, caplog):
    from ui.common import refusing_plainly
    from ui.cost_section import COST_MODELS, SIZE_CHOICES, fine_tune_cost

    call = refusing_plainly(fine_tune_cost)  # as api_endpoint wires it
    _refused(lambda: call(next(iter(COST_MODELS)), next(iter(SIZE_CHOICES)), batch, None,
                          progress=lambda *a, **k: None), "Batch size must be a whole number from 2 to 8", caplog)


@pytest.mark.parametrize("field", ["steps", "test_images", "train_images"])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_affine_experiment_refuses_nan_and_infinite_numbers_plainly(field, value, caplog):
    from ui.inside_tab import affine_experiment

    numbers = {"steps": 10, "test_images": 20, "train_images": 100, field: value}
    _refused(lambda: affine_experiment("unet.pt", "1,0", **numbers, progress=lambda *a, **k: None),
             "must be a whole number", caplog)


def test_writeup_terms_refusal_is_one_log_line_not_a_crash(caplog):
    from ui.common import named_outputs
    from ui.inside_tab import writeup_view

    call = named_outputs(writeup_view, {"writeup_summary": None, "writeups": None}, "writeup_terms")  # as wired
    _refused(lambda: call(math.nan, 24, 3), "must be a whole number", caplog)  # a plain ValueError escaped before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post_upload(url: str, size: int) -> int:
    """HTTP status of a multipart POST of ``size`` bytes to Gradio's upload route."""
    boundary = "pixelwise-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + b"\0" * size + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url + "gradio_api/upload", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_uploads_above_the_size_limit_are_refused(monkeypatch):
    import app

    port = _free_port()
    monkeypatch.setenv("PIXELWISE_MAX_UPLOAD_MB", "1")
    monkeypatch.setenv("GRADIO_SERVER_PORT", str(port))
    options = app.launch_options() | {"mcp_server": False, "theme": None}
    with gr.Blocks() as demo:
        gr.File()
    demo.launch(**options)
    try:
        url = f"http://127.0.0.1:{port}/"
        assert _post_upload(url, 2**20 - 1000) == 200  # room for the form's own bytes
        assert _post_upload(url, 2**20 + 1) == 413  # accepted and stored before (no max_file_size)
    finally:
        demo.close()


def _photo_upload_after_an_example(tmp_path, content: bytes, name: str) -> dict:
    """The Segment tab in one session: an example button clicked, then ``content`` uploaded as ``name``."""
    from gradio.state_holder import SessionState

    from ui.segment_tab import FLOWER_MODEL, build_segment_tab

    with gr.Blocks() as demo:
        build_segment_tab()
    state = SessionState(demo)
    example = next(fn for fn in demo.fns.values() if fn.inputs and isinstance(fn.inputs[0], gr.Dataset))
    values = [0, FLOWER_MODEL, 0.5, None][:len(example.inputs)]
    asyncio.run(demo.process_api(example, values, state=state, explicit_call=True))
    upload = next(fn for fn in demo.fns.values() if fn.targets and fn.targets[0][1] == "upload"
                  and fn.inputs[0].elem_id == "segment-photo")
    (tmp_path / name).write_bytes(content)
    payload = {"path": str(tmp_path / name), "orig_name": name, "meta": {"_type": "gradio.FileData"}}
    answer = asyncio.run(demo.process_api(upload, [payload, None, FLOWER_MODEL, 0.5, None], state=state,
                                          explicit_call=True))  # raised "Could not preprocess input…" before
    return dict(zip([block.elem_id for block in upload.outputs], answer["data"]))


@pytest.mark.parametrize("content, words", [(b"my notes, not a picture\n", "holds text"), (b"", "empty")])
def test_segment_refuses_a_bad_file_after_an_example_and_keeps_the_result(tmp_path, content, words):
    answer = _photo_upload_after_an_example(tmp_path, content, "photo.png")
    assert "pw-notice" in answer["segment-notice"] and words in answer["segment-notice"]
    assert "/tmp/" not in answer["segment-notice"]
    assert answer["segment-overlay"] == {"__type__": "update"}  # the example's result stays on screen


def test_layer_outputs_takes_a_cifar_image_without_an_upload_through_the_api():
    from ui.inside_tab import build_inside_tab

    with gr.Blocks() as demo:
        build_inside_tab()
    parameters = demo.get_api_info()["named_endpoints"]["/layer_outputs"]["parameters"]
    optional = {parameter["parameter_name"]: parameter["parameter_has_default"] for parameter in parameters}
    assert optional["upload"] and optional["all_channels"]  # upload was required: MCP refused the CIFAR source


def test_every_pixelwise_variable_is_read_in_settings_only_and_listed_in_setup():
    import re

    from pixelwise.settings import REPO_ROOT

    reads = re.compile(r"""(?:environ\.get\(|environ\[|getenv\()\s*["']PIXELWISE_""")
    code = [path for folder in ("pixelwise", "colorizer", "segmenter", "inside", "runs", "ui")
            for path in (REPO_ROOT / folder).rglob("*.py")] + [REPO_ROOT / "app.py"]
    outside = [str(path.relative_to(REPO_ROOT)) for path in code
               if path.name != "settings.py" and reads.search(path.read_text())]
    assert outside == []  # pixelwise/device.py and pixelwise/tempfiles.py read theirs before
    named = set(re.findall(r"PIXELWISE_[A-Z_]+", (REPO_ROOT / "pixelwise" / "settings.py").read_text()))
    listed = set(re.findall(r"`(PIXELWISE_[A-Z_]+)`", (REPO_ROOT / "docs" / "setup.md").read_text()))
    assert named - listed == set()  # docs/setup.md's table is the complete list
