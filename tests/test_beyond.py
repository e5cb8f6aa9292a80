"""The shipped beyond-the-handout colourizer reproduces the numbers recorded in results/colourizers.json."""
import json

import pytest

from colorizer import metrics
from colorizer.checkpoint import load_checkpoint
from colorizer.data import load_category
from scripts.compare_colourizers import cifar_outputs
from tests.helpers import CHECKPOINTS, CIFAR, REPO, requires_cifar

SHIPPED = CHECKPOINTS / "colour_mobile_unet.pt"
RESULTS = REPO / "results" / "colourizers.json"


def recorded(model: str, decoding: str) -> dict:
    rows = [row for row in json.loads(RESULTS.read_text()) if row["model"] == model and row["decoding"] == decoding]
    assert len(rows) == 1, f"{RESULTS} has no single row for {model} / {decoding}"
    return rows[0]


@requires_cifar
@pytest.mark.skipif(not SHIPPED.is_file(), reason=f"{SHIPPED} is not in this checkout")
def test_shipped_lab_model_reproduces_its_recorded_handout_metric_on_the_test_horses():
    model, palette = load_checkpoint(SHIPPED)
    _, reference = load_checkpoint(CHECKPOINTS / "unet.pt")
    assert model.colour_space == "lab" and model.ab_centres.shape == (model.config.num_colours, 2)
    horses = load_category("horse", CIFAR, "test")
    accuracy = metrics.palette_accuracy(cifar_outputs(model, palette, horses, ("annealed",))["annealed"], horses, reference)
    assert accuracy == pytest.approx(recorded(SHIPPED.name, "annealed")["horses_acc"], abs=0.005)


def test_colour_metrics_on_hand_made_cases():
    import numpy as np

    errors = np.array([0.0, 10.0, 200.0, 200.0])
    assert metrics.ab_error_auc(errors) == pytest.approx((1 + 141 / 151) / 4, abs=1e-9)  # 1 always in, 1 from t = 10 on
    weights = metrics.inverse_frequency_weights(np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [50.0, 50.0]]))
    assert weights.tolist() == [1 / 3, 1 / 3, 1 / 3, 1.0]  # (1, 1) falls in the (0, 0) cell
    grey = np.full((4, 4, 3), 128, np.uint8)
    assert metrics.colourfulness(grey) == 0.0
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    assert metrics.colourfulness(red) == pytest.approx(0.3 * np.hypot(255, 127.5))  # no spread, all mean
    assert metrics.ab_psnr(np.zeros((3, 2)), np.zeros((3, 2))) > 100
