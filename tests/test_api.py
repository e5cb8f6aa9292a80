"""The app as a script user and an agent see it: the running `python app.py` called with gradio_client
(as README.md shows), its API page, its page config, and its MCP tools."""
import json
import os
import re
import tempfile
import urllib.request

import numpy as np
import pytest
from PIL import Image

from pixelwise import settings
from tests.helpers import requires_cifar

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
    config = get(app_url + "config")
    assert '"samples"' in config  # the examples are in it, with their files
    for text, where in ((info, "API info"), (config, "page config")):
        assert not absolute_paths_in(text), f"server paths show in the {where}: {absolute_paths_in(text)[:5]}"


def test_gradio_client_colourizes_and_segments_by_name(client, tmp_path):
    from gradio_client import handle_file

    y, x = np.mgrid[0:120, 0:160]
    Image.fromarray(np.stack([x * 255 // 160, y * 255 // 120, 255 - x * 255 // 160], axis=2).astype(np.uint8)) \
        .save(tmp_path / "photo.png")
    # exactly the README's three lines
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
