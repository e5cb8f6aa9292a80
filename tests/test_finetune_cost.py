"""Fine-tuning cost against the number of layers trained (pixelwise.layercost, segmenter.cost, colorizer.cost):
row counts, monotone parameter and gradient curves, parameters independent of the image size, saved
activations ×4 for 2× height and width, the JSON's fields, and verdicts that follow the rows."""
import dataclasses
import json

import pytest
import torch

from colorizer.cost import UNET_BLOCKS, iter_unet_layer_costs
from colorizer.cost import main as unet_main
from pixelwise.layercost import LayerCost, spread
from pixelwise.layercost_report import findings, report_markdown
from segmenter.cost import flower_blocks, iter_flower_layer_costs
from segmenter.cost import main as flower_main
from segmenter.models import MODES, SegmenterConfig, build_flower_model, trainable_parameter_count

SIZES = (16, 32)  # the UNet needs multiples of 4
FIELDS = {field.name for field in dataclasses.fields(LayerCost)}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on a loaded 2-core machine a second one mostly spin-waits for the first."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def unet_rows(one_thread):
    return list(iter_unet_layer_costs(SIZES, batch=2, repeats=1))


def at(rows, size):
    return sorted((r for r in rows if r.size == size), key=lambda r: r.n)


def test_one_row_per_size_and_layer_count(unet_rows):
    assert [(r.size, r.n) for r in unet_rows] == [(s, n) for s in SIZES for n in range(1, 7)]
    assert [r.first_trained for r in at(unet_rows, 16)] == list(UNET_BLOCKS[::-1])


def test_trainable_parameters_and_gradients_grow_with_n_and_not_with_the_image(unet_rows):
    for size in SIZES:
        rows = at(unet_rows, size)
        assert all(a.trainable_params < b.trainable_params and a.grad_bytes < b.grad_bytes for a, b in zip(rows, rows[1:]))
        assert all(r.grad_bytes == 4 * r.trainable_params and r.optimizer_bytes == 8 * r.trainable_params for r in rows)
        assert rows[-1].trainable_params * 4 == rows[-1].param_bytes  # n = all: every weight trains
        assert len({r.param_bytes for r in rows}) == 1  # frozen weights are held all the same
    assert [r.trainable_params for r in at(unet_rows, 16)] == [r.trainable_params for r in at(unet_rows, 32)]


def test_saved_activations_grow_with_n_and_about_4x_with_twice_the_side(unet_rows):
    small, big = at(unet_rows, 16), at(unet_rows, 32)
    assert all(a.activation_bytes < b.activation_bytes for a, b in zip(small, small[1:]))
    for a, b in zip(small, big):
        assert 3.8 < b.activation_bytes / a.activation_bytes <= 4.0
        assert b.peak_bytes > a.peak_bytes
        assert a.peak_bytes >= a.grad_bytes  # the gradients are allocated during the step and kept
        assert min(a.forward_s, a.backward_s, a.optimizer_s) > 0


def test_the_flower_model_blocks_match_the_fine_tune_modes():
    model = build_flower_model(SegmenterConfig(), pretrained_backbone=False)
    blocks = flower_blocks(model)
    assert len(blocks) == 21 and list(blocks)[-3:] == ["ASPP", "3x3 conv", "classifier"]
    head = sum(p.numel() for name in ("ASPP", "3x3 conv", "classifier") for p in blocks[name].parameters())
    counted = {mode: trainable_parameter_count(model, mode) for mode in MODES}
    rows = list(iter_flower_layer_costs((32, 64), batch=2, repeats=1, points=3))
    assert [(r.size, r.n) for r in rows] == [(s, n) for s in (32, 64) for n in (1, 11, 21)]
    by_n = {r.n: r for r in rows if r.size == 32}
    assert by_n[1].trainable_params == counted["last"] and by_n[21].trainable_params == counted["full"]
    assert head == counted["head"]  # n = 3 is the head mode
    assert by_n[1].first_trained == "classifier" and by_n[21].first_trained == "features.0"
    for n in (1, 11, 21):
        a, b = [r for r in rows if r.n == n]
        assert a.trainable_params == b.trainable_params
        assert 3.5 < b.activation_bytes / a.activation_bytes <= 4.0


def test_spread_keeps_both_ends():
    assert spread(21) == list(range(1, 22))
    assert spread(21, 12)[0] == 1 and spread(21, 12)[-1] == 21 and len(spread(21, 12)) == 12
    assert 3 in spread(21, 12)  # the head mode


def test_the_json_rows_have_every_field(capsys):
    unet_main(["--sizes", "8", "16", "--repeats", "1", "--json"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 12 and all(set(row) == FIELDS for row in rows)
    assert [row["n"] for row in rows] == [1, 2, 3, 4, 5, 6] * 2


def test_the_flower_cli_keeps_its_mode_table_and_has_vs_layers(capsys):
    flower_main(["--sizes", "32", "--repeats", "1"])
    table = capsys.readouterr().out
    assert all(f"| {mode} | 32² ×2 |" in table for mode in MODES)
    flower_main(["--vs-layers", "--sizes", "32", "64", "--repeats", "1", "--points", "2"])
    out = capsys.readouterr().out
    assert "| 21 | features.0 | 64² ×2 | 5,108,994 |" in out and "(d) memory" in out and "(e)" in out


def test_the_verdicts_follow_the_rows(unet_rows):
    report = report_markdown(unet_rows)
    f = findings(unet_rows)
    assert f"{f['activation_bytes_size_ratio'][0]:.2f}" in report
    assert "parameters: holds" in report
    # The same rows with a forward pass that grows tenfold with n: the write-up's "freezing does not
    # shorten the forward" must now read as not holding.
    grown = [dataclasses.replace(r, forward_s=r.forward_s * (1 + 9 * (r.n - 1))) for r in unet_rows]
    assert "does not hold for the forward pass" in report_markdown(grown)
    flat = [dataclasses.replace(r, forward_s=0.1, backward_s=0.01 * r.n) for r in unet_rows]
    assert "holds for the forward pass" in report_markdown(flat) and "does shrink" in report_markdown(flat)
