"""The app as a script user and an agent see it: the running `python app.py` called with gradio_client
(as docs/api.md shows), its API page, its page config, and its MCP tools."""
import json
import os
import re
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelwise import settings
from tests.helpers import requires_cifar, requires_flowers, requires_mobilenet

pytestmark = requires_cifar  # the app's test images and the tiny beyond model need CIFAR-10

PUBLIC = {"colourize", "colourize_test_image", "colourize_full_size", "inspect_pixel", "train", "train_again", "stop",
          "save_checkpoint", "segment", "fine_tune", "fine_tune_cost", "layer_counts", "layer_outputs", "writeup_terms",
          "affine_experiment"}


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def server_paths() -> list[str]:
    """Absolute paths of this server's files that must not show through: the checkout, the data, home, the
    working and temporary folders (Gradio's cache, GRADIO_TEMP_DIR)."""
    paths = {settings.REPO_ROOT, settings.SHARED_ROOT.resolve(), settings.SHARED_ROOT, settings.checkpoint_dir(),
             settings.REPO_ROOT.home(), os.getcwd(), tempfile.gettempdir(), os.environ.get("GRADIO_TEMP_DIR")}
    return [str(path) for path in paths if path]


# "/tmp/…", "/work/…": an absolute path under one of this machine's top-level folders, not part of a URL
# ("http://host/usr/…") or of a path shown relative ("…/data/cifar10", "../shared").
TOP_LEVEL = sorted(name for name in os.listdir("/") if os.path.isdir(os.path.join("/", name)))
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/…~-])/(?:" + "|".join(map(re.escape, TOP_LEVEL)) + r")/")


def absolute_paths_in(text: str) -> list[str]:
    """Every server path in ``text``, with some context, for the assertion message."""
    found = [text[max(0, hit.start() - 40):hit.end() + 60] for hit in ABSOLUTE_PATH.finditer(text)]
    return found + [path for path in server_paths() if path in text]


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_the_api_lists_only_the_public_endpoints_and_no_server_path(app_url):
    info = get(app_url + "gradio_api/info")
    assert set(json.loads(info)["named_endpoints"]) == {f"/{name}" for name in PUBLIC}
    assert json.loads(info)["unnamed_endpoints"] == {}
    for name in ("train", "train_again", "fine_tune", "affine_experiment"):  # plain values: one JSON output each
        returns = json.loads(info)["named_endpoints"][f"/{name}"]["returns"]
        assert [value["component"] for value in returns] == ["Json"], name
    config = get(app_url + "config")
    assert '"samples"' in config  # the examples are in it, with their files
    for text, where in ((info, "API info"), (config, "page config")):
        assert not absolute_paths_in(text), f"server paths show in the {where}: {absolute_paths_in(text)[:5]}"


def test_gradio_client_colourizes_and_segments_by_name(client, tmp_path):
    from gradio_client import handle_file

    y, x = np.mgrid[0:120, 0:160]
    Image.fromarray(np.stack([x * 255 // 160, y * 255 // 120, 255 - x * 255 // 160], axis=2).astype(np.uint8)) \
        .save(tmp_path / "photo.png")
    # exactly the three lines in docs/api.md
    grey, cnn, unet, beyond, original = client.predict(handle_file(str(tmp_path / "photo.png")), api_name="/colourize")
    for path in (grey, cnn, unet, beyond, original):
        assert Image.open(path).size == (160, 120)
    assert np.asarray(Image.open(cnn).convert("RGB")).std(axis=2).mean() > 0  # colour, not grey

    overlay, mask, labels = client.predict(handle_file(str(tmp_path / "photo.png")), api_name="/segment")
    assert Image.open(overlay).size == Image.open(mask).size == (160, 120)
    ids = np.asarray(Image.open(labels))
    assert ids.shape == (120, 160) and set(np.unique(ids)) <= {0, 1}  # class ids of the flower model


def test_gradio_client_gets_a_clear_error_for_a_bad_name(client, tmp_path):
    from gradio_client import handle_file

    Image.new("RGB", (40, 30), "red").save(tmp_path / "red.png")
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="/etc/passwd is not in the list of choices"):  # names only, no paths
        client.predict(handle_file(str(tmp_path / "red.png")), "/etc/passwd", api_name="/colourize")
    counts = client.predict("unet", 8, 24, 3, 32, api_name="/layer_counts")
    assert re.search(r"weights \| .* \| [\d,]+ \|", counts[0])


def test_mcp_lists_the_public_endpoints_as_tools(app_url):
    pytest.importorskip("mcp", reason="needs the mcp package: pip install 'gradio[mcp]' (requirements.txt has it)")
    schema = json.loads(get(app_url + "gradio_api/mcp/schema"))
    tools = {tool["name"]: tool for tool in schema}
    assert {"colourize", "segment", "layer_counts"} <= set(tools) <= PUBLIC
    assert "annealed" in tools["colourize"]["description"] or "annealed" in json.dumps(tools["colourize"])


def has_page_updates(value) -> bool:
    """True when a returned value holds a Gradio page update ({'__type__': 'update'}) anywhere."""
    return "__type__" in json.dumps(value)


TINY_RUN = dict(model="CNN", batch_sizes=[50], epochs=1, learning_rate=1e-3, num_filters=8, category="horse",
                train_images=100, val_images=100)  # about a second of training


def test_train_returns_plain_values_and_saves_by_batch_size(client):
    result = client.predict(**TINY_RUN, seed=3, api_name="/train")
    assert not has_page_updates(result)
    assert set(result) == {"status", "running", "table", "points"} and result["running"] is False
    (row,) = result["table"]  # Table 2: one finished batch size
    assert row["batch size"] == 50 and row["epochs done"] == 1.0 and row["stopped?"] == "no"
    validation = [point for point in result["points"] if point["series"] == "bs 50 val"]
    assert [point["epoch"] for point in validation] == [0.0, 1.0]  # before training, after the epoch
    assert row["val acc (%)"] == round(100 * validation[-1]["val_acc"], 2)
    assert any(point["series"] == "bs 50 train" and point["val_acc"] is None for point in result["points"])

    message, checkpoint = client.predict(50, api_name="/save_checkpoint")  # the same Client: the same session
    assert re.match(r"Saved `.*cnn_horse_bs50_[\d-]+\.pt`", message) and Path(checkpoint).stat().st_size > 0
    assert not absolute_paths_in(message)


def test_a_client_stops_its_own_training(client):
    job = client.submit(**{**TINY_RUN, "epochs": 50, "train_images": 1000}, seed=4, api_name="/train")
    deadline = time.monotonic() + 120
    while not any(point["epoch"] >= 1 for output in job.outputs() for point in output["points"]):
        assert time.monotonic() < deadline and not job.done(), "no epoch within 2 minutes"
        time.sleep(0.2)
    assert client.predict(api_name="/stop") == "Stopping after the current batch..."
    result = job.result(timeout=120)
    assert result["status"].startswith("Stopped: the table keeps what was measured.")
    (row,) = result["table"]
    assert row["stopped?"] == "yes" and 1 <= row["epochs done"] < 50


def test_affine_experiment_returns_plain_values(client):
    result = client.predict("unet.pt", "1,0 2,0", 0, 10, 100, api_name="/affine_experiment")
    assert not has_page_updates(result)
    assert [(row["a"], row["b"]) for row in result["rows"]] == [(1.0, 0.0), (2.0, 0.0)]
    control, doubled = result["rows"]
    assert control["changed_eval"] == control["changed_batch"] == 0.0  # the control changes nothing
    assert doubled["changed_eval"] > 0.5 and control["changed_finetuned"] is None  # 0 steps: (iii) skipped
    assert 0 < result["reference_acc_eval"] < 1 and result["test_images"] == 10


@requires_flowers
@requires_mobilenet
def test_fine_tune_returns_plain_values(client):
    result = client.predict(["last"], 1, 16, api_name="/fine_tune")
    assert not has_page_updates(result)
    (run,) = result["runs"]
    assert run["mode"] == "last" and [epoch["epoch"] for epoch in run["epochs"]] == [1] and run["best_epoch"] == 1
    assert run["best_val_iou"] == run["epochs"][0]["val_iou"] and 0 <= run["initial_val_iou"] <= 1
    assert [loss["step"] for loss in run["losses"]] == list(range(1, len(run["losses"]) + 1)) and run["losses"]


HINT_MODEL = settings.REPO_ROOT / "checkpoints" / "colour_hints.pt"
requires_hint_model = pytest.mark.skipif(not HINT_MODEL.is_file(), reason=f"{HINT_MODEL} is not in this checkout")


@requires_hint_model
def test_colourize_takes_hints_in_the_uploads_own_pixels_and_refuses_bad_ones(client, tmp_path):
    from gradio_client import handle_file

    y, x = np.mgrid[0:240, 0:360]
    grey = (96 + 60 * np.sin(x / 23.0) * np.cos(y / 31.0)).astype(np.uint8)
    Image.fromarray(np.stack([grey] * 3, axis=2)).save(tmp_path / "grey.png")
    photo = handle_file(str(tmp_path / "grey.png"))
    plain = np.asarray(Image.open(client.predict(photo, api_name="/colourize")[3]).convert("RGB")).astype(int)
    hints = [{"x": 60, "y": 120, "colour": "#ff0000"}, {"x": 300, "y": 40, "colour": "#0000ff"}]
    hinted = np.asarray(Image.open(client.predict(photo, hints=hints, api_name="/colourize")[3]).convert("RGB")).astype(int)
    assert hinted.shape == plain.shape == (240, 360, 3)
    assert hinted[110:130, 50:70, 0].mean() > plain[110:130, 50:70, 0].mean() + 10  # redder where the red hint is
    assert hinted[30:50, 290:310, 2].mean() > plain[30:50, 290:310, 2].mean() + 10  # bluer where the blue one is
    for bad, words in (([{"x": 360, "y": 0, "colour": "#ff0000"}], "outside the 360 x 240 image"),
                       ([{"x": 1, "y": 1, "colour": "#ff00"}], "is not #rrggbb"),
                       ([{"x": 1, "y": 1, "colour": "#ff0000"}] * 201, "at most 200")):
        with pytest.raises(Exception, match=words):
            client.predict(photo, hints=bad, api_name="/colourize")
