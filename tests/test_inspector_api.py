"""The public endpoints `inspect_pixel` and `layer_outputs`, called with gradio_client against the running
app (fixture `app_url` from tests/conftest.py), with the shipped checkpoints."""
import numpy as np
import pytest
from PIL import Image

from tests.helpers import HAVE_CIFAR


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_inspect_pixel_of_an_image_then_of_the_sessions_last_result(client, tmp_path):
    from gradio_client import handle_file

    y, x = np.mgrid[0:300, 0:400]
    Image.fromarray(np.stack([x * 255 // 400, y * 255 // 300, 255 - x * 255 // 400], 2).astype(np.uint8)).save(
        tmp_path / "photo.png")
    answer = client.predict(handle_file(str(tmp_path / "photo.png")), 200, 150, 5, api_name="/inspect_pixel")
    assert answer["picture_size"] == [400, 300]
    assert len(answer["models"]) >= 2  # every model column with a checkpoint
    for model in answer["models"]:
        assert len(model["classes"]) == 5 and model["true"] is not None
        assert sum(entry["p"] for entry in model["classes"]) + model["rest"]["p"] == pytest.approx(1, abs=1e-4)
        assert model["chosen"]["class"] == model["classes"][0]["class"]
    again = client.predict(None, 200, 150, 5, api_name="/inspect_pixel")  # no image: the last result
    assert again == answer
    assert "outside" in client.predict(None, 400, 10, 0, api_name="/inspect_pixel")["error"]


@pytest.mark.skipif(not HAVE_CIFAR, reason="needs CIFAR-10 test images: python -m pixelwise.fetch cifar10")
def test_layer_outputs_lists_every_step_with_its_shape(client):
    blocks, gallery, table = client.predict("unet.pt", "CIFAR-10 test image", "horse", 3, None, False,
                                            api_name="/layer_outputs")
    assert "23 steps" in blocks
    assert len(gallery) == 23 and gallery[0]["caption"].startswith("1. downconv1.0 · Conv2d · 32×32×32")
    assert any("concat → finalconv · 25×32×32" in item["caption"] for item in gallery)
