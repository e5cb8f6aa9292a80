"""Per-layer counts measured on live modules vs the closed forms; the write-ups' terms; the affine experiment."""
import json

import pytest
import torch
from torch import nn

from colorizer.checkpoint import save_checkpoint
from colorizer.models import ModelConfig, build_model
from colorizer.trainer import TrainConfig, evaluate as evaluate_model, train
from inside.affine import AffineConfig, affine_experiment, colour_data, finetune, main as affine_main, predict
from inside.anatomy import anatomy, measure
from inside.formulas import (DU, LIANG, NC, NF, SCALING_CLAIMS, layer_formulas, layer_records, substitute, text,
                             total_records, totals, writeup_records, writeup_terms)
from tests.helpers import CIFAR, CIFAR_REASON, HAVE_CIFAR

# (NF, NC, k, S): odd kernels, sides divisible by 4, including the degenerate k=1 and S=4.
COMBOS = [(1, 2, 1, 4), (4, 3, 3, 8), (8, 24, 3, 32), (32, 24, 3, 32), (16, 10, 5, 16), (5, 7, 7, 12), (3, 5, 9, 20)]
ARCHS = ["cnn", "unet"]


def live(arch, nf, nc, kernel):
    torch.manual_seed(0)
    return build_model(arch, ModelConfig(kernel, nf, nc))


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("nf,nc,kernel,side", COMBOS)
def test_measured_totals_equal_closed_forms_and_parameter_count(arch, nf, nc, kernel, side):
    model = live(arch, nf, nc, kernel)
    measured = anatomy(model, side)
    for quantity, expr in totals(arch).items():
        assert measured.total(quantity) == substitute(expr, nf, nc, kernel, side), quantity
    assert measured.total("weights") == sum(p.numel() for p in model.parameters())
    running_stats = sum(b.numel() for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var")))
    assert measured.total("buffers") == running_stats
    # the formulas are per layer, so compare layer by layer too
    for row, layer in zip(measured.rows, layer_formulas(arch), strict=True):
        assert row.name == layer.name and row.kind == layer.kind
        for quantity in ("weights", "buffers", "outputs", "connections"):
            assert getattr(row, quantity) == substitute(layer.get(quantity), nf, nc, kernel, side), (row.name, quantity)


@pytest.mark.parametrize("nf", [1, 7, 32])
def test_3x3_conv_at_32x32_from_one_channel_has_9216_nf_connections(nf):
    conv_only = nn.Sequential(nn.Conv2d(1, nf, 3, padding=1))
    assert anatomy(conv_only, 32).total("connections") == 9216 * nf
    assert anatomy(live("cnn", nf, 24, 3), 32).rows[0].connections == 9216 * nf


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("nf,nc,kernel,side", [(8, 24, 3, 32), (5, 7, 5, 12), (2, 3, 1, 4)])
def test_doubling_the_side_keeps_weights_and_quadruples_outputs_and_connections(arch, nf, nc, kernel, side):
    model = live(arch, nf, nc, kernel)
    small, large = anatomy(model, side), anatomy(model, 2 * side)
    assert large.total("weights") == small.total("weights")
    assert large.total("outputs") == 4 * small.total("outputs")
    assert large.total("connections") == 4 * small.total("connections")
    for row_small, row_large in zip(small.rows, large.rows, strict=True):
        assert (row_large.weights, row_large.outputs, row_large.connections) == \
               (row_small.weights, 4 * row_small.outputs, 4 * row_small.connections)


def test_measured_on_meta_device_equals_measured_on_cpu():
    for arch in ARCHS:
        assert measure(arch, 6, 5, 3, 16).rows == anatomy(live(arch, 6, 5, 3), 16).rows


def test_layer_and_total_records_pair_formulas_with_measurements():
    for arch in ARCHS:
        assert all(row["match"] == "yes" for row in layer_records(arch, 12, 9, 5, 24))
        for row in total_records(arch, 12, 9, 5, 24):
            assert row["formula value"] == row["measured"]
            assert row["ratio 2S / S"] == ("1" if row["quantity"] in ("weights", "buffers") else "4")


def test_even_kernels_break_the_shapes_the_formulas_assume():
    rows = anatomy(live("cnn", 4, 3, 4), 32).rows
    assert rows[0].output_shape == (4, 33, 33)  # padding k//2 = 2 grows a 4x4 conv's output
    assert rows[-1].output_shape[1:] != (32, 32)
    with pytest.raises(ValueError, match="odd"):
        substitute(totals("cnn")["weights"], 4, 3, 4, 32)


def test_concatenation_shows_only_as_larger_c_in_of_the_unet_convs():
    cnn, unet = anatomy(live("cnn", 8, 6, 3), 32), anatomy(live("unet", 8, 6, 3), 32)
    assert [row.name for row in cnn.rows] == [row.name for row in unet.rows]  # no extra rows for torch.cat
    unet_rows = {row.name: row for row in unet.rows}
    assert unet_rows["upconv1.0"].weights == 9 * (2 * 8 + 2 * 8) * 8 + 8
    assert unet_rows["finalconv"].connections == 32 * 32 * 9 * (6 + 1) * 6


def find(writeup, label):
    return next(term for term in writeup_terms() if term.writeup == writeup and term.label == label)


def test_writeup_verdicts_come_from_the_closed_forms():
    # Du: BN gamma/beta (2 per channel) right; conv weights miss the biases; connections right.
    assert find(DU, "B2.BatchNorm weights").right
    assert find(DU, "B1.MyConv2D weights").difference() == -NF
    assert find(DU, "eq. 1.1 total weights").difference() == -6 * NF - 2 * NC
    assert find(DU, "eq. 1.2 total connections").right
    # Liang: 4 per BN channel (running stats are not weights), 1204 for 1024, right connections.
    assert find(LIANG, "ii. DownConv 2 BatchNorm weights").difference() == 4 * NF
    assert find(LIANG, "v. UpConv2 Upsample outputs").difference() == 180 * NC
    assert find(LIANG, "total connections").right
    assert find(LIANG, "total weights").difference() == 6 * NF
    assert find(LIANG, "total outputs as printed (2368NF + 2304NC)").right
    assert not find(LIANG, "total outputs as printed, against every layer").right
    assert all(claim.right for claim in SCALING_CLAIMS)


def test_writeup_records_agree_with_the_live_cnn():
    records = writeup_records(10, 7, 5)
    assert all(record["measured"] == record["true value"] for record in records)
    for record in records:
        assert (record["verdict"] == "right") == (record["their value"] == record["true value"]), record["term"]
    liang_total = next(r for r in records if r["write-up"] == "Liang" and r["term"] == "total weights")
    assert liang_total["their value"] - liang_total["measured"] == 6 * 10 and liang_total["k"] == 3
    assert text(find(DU, "B1.MyConv2D weights").truth()) == "NF·k^2 + NF"


# --- the affine experiment on a tiny, briefly trained model ------------------------------------
@pytest.fixture(scope="module")
def tiny_runs():
    if not HAVE_CIFAR:
        pytest.skip(CIFAR_REASON)
    root = CIFAR
    runs = {}
    for arch in ARCHS:
        config = TrainConfig(model=arch, data_root=str(root), train_limit=200, val_limit=40, num_filters=8,
                             num_colours=8, epochs=2, batch_size=50, device="cpu",
                             precision="fp32")  # float32: one bf16 run in CI (2026-12-07) gave a model x -> 1 - x left unchanged
        result = train(config)
        runs[arch] = (result.model, colour_data(result.palette, "horse", str(root), 200, 40))
    return runs


def test_affine_experiment_numbers_are_sane(tiny_runs):
    pairs = ((1.0, 0.0), (2.0, 0.0), (-1.0, 1.0))
    outcome = {}
    for arch, (model, data) in tiny_runs.items():
        before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
        result = affine_experiment(model, data, AffineConfig(pairs, finetune_steps=0, batch_size=20, device="cpu"))
        assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())  # untouched
        identity, double, invert = result.rows
        assert identity.changed_eval == 0 and identity.changed_batch == 0
        assert identity.acc_eval == result.acc_reference_eval
        assert result.acc_reference_eval == pytest.approx(evaluate_model(model, data.val_grey, data.val_labels)[1])
        assert invert.changed_eval > 0  # x -> 1 - x moves a model whose BN uses running statistics
        assert identity.changed_finetuned is None  # 0 steps skips (iii)
        for row in result.rows:
            for value in (row.changed_eval, row.acc_eval, row.changed_batch, row.acc_batch):
                assert 0.0 <= value <= 1.0
        outcome[arch] = double
    # y = 2x, no shift: conv -> max-pool -> batch-statistics BN cancels the scale exactly (up to eps), so
    # the CNN barely moves; the UNet feeds the raw input into its final conv, which nothing normalises.
    assert outcome["cnn"].changed_batch < 0.005
    assert outcome["unet"].changed_batch > outcome["cnn"].changed_batch


def test_batch_statistics_prediction_leaves_running_statistics_alone(tiny_runs):
    model, data = tiny_runs["cnn"]
    running_mean, mode = model.downconv1[2].running_mean.clone(), model.training
    predict(model, 3 * data.val_grey, batch_statistics=True, batch_size=20)
    assert torch.equal(model.downconv1[2].running_mean, running_mean) and model.training == mode


def test_finetuning_uses_a_copy_and_runs_the_asked_steps(tiny_runs):
    model, data = tiny_runs["unet"]
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    steps = []
    tuned = finetune(model, data, 0.5, 0.25, AffineConfig(finetune_steps=3, batch_size=50, device="cpu"),
                     on_step=steps.append)
    assert max(steps) == 3
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())
    assert not torch.equal(tuned.finalconv.weight, model.finalconv.weight)


def test_cli_prints_table_and_json(tiny_runs, tmp_path, capsys):
    model, data = tiny_runs["cnn"]
    checkpoint = save_checkpoint(tmp_path / "tiny.pt", model, data.palette, {"category": "horse"})
    out = tmp_path / "affine.json"
    affine_main(["--checkpoint", str(checkpoint), "--data", str(CIFAR), "--pairs", "1,0 -1,1",
                 "--steps", "2", "--train-limit", "100", "--test-limit", "20", "--device", "cpu",
                 "--json", str(out)])
    printed = capsys.readouterr().out
    assert "(i) eval" in printed
    saved = json.loads(out.read_text())
    assert [(row["a"], row["b"]) for row in saved["rows"]] == [(1.0, 0.0), (-1.0, 1.0)]
    assert saved["test_images"] == 20 and saved["train_images"] == 100
    assert 0.0 <= saved["rows"][1]["changed_finetuned"] <= 1.0


def test_a_stop_request_ends_the_experiment_within_one_batch(tiny_runs):
    """A closed page's stop flag: the fine-tuning of (iii) checks it before every batch, so a run of 1,000 steps
    asked to stop after its second step trains no further and returns the pairs finished before (none here)."""
    model, data = tiny_runs["cnn"]
    steps = []
    config = AffineConfig(((1.0, 0.0), (2.0, 0.0)), finetune_steps=1000, batch_size=50, device="cpu")
    result = affine_experiment(model, data, config, on_progress=lambda done, message: steps.append(message),
                               should_stop=lambda: any("step 2/" in message for message in steps))
    assert result.stopped and result.rows == []
    assert not any("step 3/" in message for message in steps)
    unstopped = affine_experiment(model, data, AffineConfig(((1.0, 0.0),), finetune_steps=0, device="cpu"))
    assert not unstopped.stopped and len(unstopped.rows) == 1
