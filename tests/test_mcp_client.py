"""An agent's session, as the official `mcp` client (streamable HTTP) has it with a running `python app.py`: it lists
the 15 tools and calls every one with real inputs (photos as data: URLs, colourize with a hint, a training of a
second), checking the answers: pictures as MCP image content, values as JSON text, no server path outside a URL."""
import asyncio
import concurrent.futures
import base64
import io
import json
import re

import numpy as np
import pytest
from jsonschema import Draft202012Validator
from PIL import Image

from tests.helpers import requires_cifar, requires_flowers, requires_mobilenet
from tests.test_api import PUBLIC, absolute_paths_in

pytestmark = requires_cifar  # the app's tiny beyond model, the test images and the trainings read CIFAR-10
mcp = pytest.importorskip("mcp", reason="needs the mcp package: pip install 'gradio[mcp]' (requirements.txt has it)")
URL = re.compile(r"https?://\S+")


async def _session(app_url: str, work):
    from mcp.client.streamable_http import streamable_http_client

    async with streamable_http_client(app_url + "gradio_api/mcp/") as (read, write, _):
        async with mcp.ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)


def in_own_loop(coroutine):
    """Run ``coroutine`` to its end on a thread of its own: an earlier test in the run (Playwright's sync API)
    may leave an event loop running on this thread, where asyncio.run refuses to start."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def call(app_url: str, tool: str, arguments: dict, progress: list | None = None) -> list:
    """The tool's answer as a list of ("image", PIL image) and ("text", str); an error fails the test. With
    ``progress``, the call asks for progress notifications (Gradio's streaming path) and collects them there."""
    async def work(session):
        listen = (lambda done, total, message: progress.append(message)) if progress is not None else None
        return await session.call_tool(tool, arguments, progress_callback=listen)

    result = in_own_loop(_session(app_url, work))
    texts = [item.text for item in result.content if item.type == "text"]
    assert not result.isError, f"{tool}: {texts}"
    for text in texts:  # a file's URL names Gradio's cache; nothing else may show a path of the server
        assert not absolute_paths_in(URL.sub("", text)), f"{tool} shows a server path: {text[:300]}"
    return [("image", Image.open(io.BytesIO(base64.b64decode(item.data)))) if item.type == "image"
            else ("text", item.text) for item in result.content]


def failed_call(app_url: str, tool: str, arguments: dict) -> str:
    result = in_own_loop(_session(app_url, lambda session: session.call_tool(tool, arguments)))
    assert result.isError
    return " ".join(item.text for item in result.content if item.type == "text")


def images(answer: list) -> list:
    return [value for kind, value in answer if kind == "image"]


def texts(answer: list) -> list[str]:
    """The answer's texts, less the "Image URL: …" line that follows each picture."""
    return [value for kind, value in answer if kind == "text" and not value.startswith("Image URL: ")]


def data_url(rgb: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def colourful(width: int = 96, height: int = 64) -> str:
    y, x = np.mgrid[0:height, 0:width]
    return data_url(np.stack([x * 255 // width, y * 255 // height, 255 - x * 255 // width], axis=2))


def grey(width: int = 180, height: int = 120) -> str:
    y, x = np.mgrid[0:height, 0:width]
    return data_url(np.stack([96 + 60 * np.sin(x / 23.0) * np.cos(y / 31.0)] * 3, axis=2))


def test_an_agent_sees_every_tool_with_a_valid_schema(app_url):
    listed = in_own_loop(_session(app_url, lambda session: session.list_tools())).tools
    assert {tool.name for tool in listed} == PUBLIC
    for tool in listed:
        Draft202012Validator.check_schema(tool.inputSchema)
        assert tool.description, tool.name
    colourize = next(tool for tool in listed if tool.name == "colourize")
    assert "data: URL" in colourize.description and "upload_file_to_gradio" not in colourize.description


def test_colourize_with_a_hint_as_an_agent_does(app_url):
    plain = call(app_url, "colourize", {"image": grey()})
    hinted = call(app_url, "colourize", {"image": grey(), "hints": [{"x": 40, "y": 60, "colour": "#ff0000"}]})
    for answer in (plain, hinted):  # grey, CNN, UNet, beyond as pictures at the photo's size; no original
        assert [picture.size for picture in images(answer)] == [(180, 120)] * 4 and texts(answer) == ["null"]
    before, after = (np.asarray(images(answer)[3].convert("RGB")).astype(int) for answer in (plain, hinted))
    assert after[50:70, 30:50, 0].mean() > before[50:70, 30:50, 0].mean() + 10  # redder where the hint is


def two_discs() -> tuple[str, np.ndarray, np.ndarray]:
    """A 192 x 128 photo: a dark disc on the left, a light one on the right, on grey (a data: URL), and the
    two discs' masks."""
    y, x = np.mgrid[0:128, 0:192]
    left, right = (x - 50) ** 2 + (y - 64) ** 2 < 35 ** 2, (x - 142) ** 2 + (y - 64) ** 2 < 35 ** 2
    rgb = np.full((128, 192, 3), 128, np.uint8)
    rgb[left], rgb[right] = (70, 8, 8), (190, 220, 255)
    return data_url(rgb), left, right


def test_an_object_hint_and_a_stroke_as_an_agent_sends_them(app_url):
    """One object-reach click on the left disc recolours it and leaves the right one; a stroke across the right
    disc at object reach recolours that one (issue 29's hints for agents)."""
    photo, left, right = two_discs()
    beyond = lambda hints: np.asarray(images(call(app_url, "colourize", {"image": photo, "hints": hints}))[3]  # noqa: E731
                                      .convert("RGB")).astype(int)
    plain = beyond([])
    clicked = beyond([{"x": 50, "y": 64, "colour": "#00c000", "reach": "object"}])
    stroked = beyond([{"stroke": [[125, 64], [160, 64]], "colour": "#00c000", "reach": "object"}])
    change = lambda picture, mask: np.abs(picture - plain).sum(axis=2)[mask].mean()  # noqa: E731
    assert change(clicked, left) > 15 and change(clicked, right) < 2
    assert change(stroked, right) > 15 and change(stroked, left) < 2
    greener = lambda picture, mask: (picture[..., 1] - picture[..., 0])[mask].mean()  # noqa: E731
    assert greener(clicked, left) > greener(plain, left) and greener(stroked, right) > greener(plain, right)


def test_colourize_a_test_image_and_at_full_size(app_url):
    shown = images(call(app_url, "colourize_test_image", {"category": "horse", "index": 3}))
    assert [picture.size for picture in shown] == [(256, 256)] * 5  # 32 x 32, shown 8x
    full = images(call(app_url, "colourize_full_size", {"image": colourful()}))
    assert [(picture.format, picture.size) for picture in full] == [("PNG", (96, 64))] * 3


def test_inspect_a_pixel(app_url):
    (answer,) = texts(call(app_url, "inspect_pixel", {"image": colourful(), "x": 10, "y": 20, "top": 3}))
    found = json.loads(answer)
    assert found["picture_size"] == [96, 64] and len(found["models"]) == 3
    for model in found["models"]:
        assert (model["x"], model["y"]) == (10, 20) and len(model["classes"]) == 3
        assert 0 < sum(entry["p"] for entry in model["classes"]) <= 1 + 1e-6


def test_segment(app_url):
    overlay, mask, labels = images(call(app_url, "segment", {"image": colourful()}))
    assert overlay.size == mask.size == labels.size == (96, 64)
    assert set(np.unique(np.asarray(labels))) <= {0, 1}


def test_train_save_and_train_again(app_url):
    tiny = {"model": "CNN", "batch_sizes": [50], "epochs": 1, "num_filters": 8, "category": "horse",
            "train_images": 100, "val_images": 100, "seed": 11}
    assert texts(call(app_url, "stop", {})) == ["Nothing is training."]  # no state between MCP calls of stop
    (answer,) = texts(call(app_url, "train", tiny))
    (row,) = json.loads(answer)["table"]
    assert row["batch size"] == 50 and row["epochs done"] == 1.0 and row["stopped?"] == "no"
    message, checkpoint = texts(call(app_url, "save_checkpoint", {"batch_size": 50}))
    assert message.startswith("Saved `") and re.match(r"File URL: http://\S+/cnn_horse_bs50_[\d-]+\.pt$", checkpoint)
    progress = []
    (again,) = texts(call(app_url, "train_again", tiny, progress=progress))  # Gradio's streaming path
    (retrained,) = json.loads(again)["table"]
    assert retrained["source"] == "trained now" and retrained["val loss"] == row["val loss"]  # same seed
    assert progress  # the client heard the queue and the processing


def test_the_inside_tools(app_url):
    (totals, layers, chart) = texts(call(app_url, "layer_counts", {"arch": "unet"}))
    assert "weights" in totals and json.loads(layers)["data"] and json.loads(chart)
    summary, table = texts(call(app_url, "writeup_terms", {"nf": 32, "nc": 24, "kernel": 3}))
    assert re.search(r"\*\*\d+ of \d+ transcribed terms are right\*\*", summary) and json.loads(table)["data"]
    answer = call(app_url, "layer_outputs", {"checkpoint": "unet.pt", "source": "my upload", "upload": colourful()})
    blocks, *captions, steps = texts(answer)
    rows = json.loads(steps)["data"]
    assert f"**{len(rows)} steps**" in blocks and len(images(answer)) == len(captions) == len(rows)


def test_affine_experiment(app_url):
    (answer,) = texts(call(app_url, "affine_experiment", {"checkpoint": "unet.pt", "pairs": "1,0 2,0", "steps": 0,
                                                          "test_images": 10, "train_images": 100}))
    control, doubled = json.loads(answer)["rows"]
    assert control["changed_eval"] == 0.0 and doubled["changed_eval"] > 0.5


def test_fine_tune_cost(app_url):
    (answer,) = texts(call(app_url, "fine_tune_cost", {"model": "Colourization UNet (the handout's, 6 blocks)",
                                                       "sizes": "64² and 128² (seconds)", "batch": 2}))
    result = json.loads(answer)
    assert {row["size"] for row in result["rows"]} == {64, 128} and result["report"]


@requires_flowers
@requires_mobilenet
def test_fine_tune(app_url):
    (answer,) = texts(call(app_url, "fine_tune", {"modes": ["last"], "epochs": 1, "train_images": 16}))
    (run,) = json.loads(answer)["runs"]
    assert run["mode"] == "last" and [epoch["epoch"] for epoch in run["epochs"]] == [1]


def test_bad_inputs_are_refused_plainly_and_the_app_stays_up(app_url):
    """A local URL (Gradio fetches an http(s) image only from a public host, its guard against server-side request
    forgery; docs/api.md says to send a data: URL), a hint outside the photo, hints that are not a list."""
    message = failed_call(app_url, "colourize", {"image": app_url + "gradio_api/file=examples/flower.jpg"})
    assert "127.0.0.1 failed validation" in message
    outside = failed_call(app_url, "colourize", {"image": grey(), "hints": [{"x": 180, "y": 0, "colour": "#ff0000"}]})
    assert "outside the 180 x 120 image" in outside
    assert "is not of type 'array'" in failed_call(app_url, "colourize", {"image": grey(), "hints": "red on top"})
    assert images(call(app_url, "segment", {"image": colourful()}))
