"""Segmenter: offline weights, IoU, split, a short real fine-tune, the shipped checkpoint, costs, bad files."""
import os
import time

import numpy as np
import pytest
import torch

from pixelwise.checkpoints import CheckpointError
from pixelwise.network import url_reachable
from segmenter.data import IGNORE, list_ids, make_split, species_of
from segmenter.models import (MODES, SegmenterConfig, VOC_MODELS, WeightsUnavailable, build_flower_model,
                              load_flower_checkpoint, load_voc_model, save_flower_checkpoint, set_trainable,
                              trainable_parameter_count)
from segmenter.trainer import ConfusionMatrix, FineTuneConfig, fine_tune, foreground_iou
from tests.helpers import CHECKPOINTS, FLOWERS, MOBILENET, MOBILENET_REASON, requires_flowers

SHIPPED = CHECKPOINTS / "flowers_deeplab.pt"


@pytest.fixture(scope="session")
def seeded_torch_home(tmp_path_factory):
    """A temporary $TORCH_HOME with the shared ImageNet MobileNetV2 file in hub/checkpoints/."""
    if not MOBILENET.is_file():
        pytest.skip(MOBILENET_REASON)
    home = tmp_path_factory.mktemp("torch_home")
    (home / "hub" / "checkpoints").mkdir(parents=True)
    (home / "hub" / "checkpoints" / MOBILENET.name).symlink_to(MOBILENET.resolve())
    previous = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(home)
    yield home
    os.environ.pop("TORCH_HOME") if previous is None else os.environ.__setitem__("TORCH_HOME", previous)


@pytest.fixture
def no_downloads(monkeypatch):
    """Any attempt to download fails the test at once instead of touching the network."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"unexpected download: {args[:1]}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


# ------------------------------------------------------------------ weights


def test_weights_enum_loads_offline_from_seeded_torch_home(seeded_torch_home, no_downloads):
    from torchvision.models import MobileNet_V2_Weights, mobilenet_v2

    model = mobilenet_v2(weights=MobileNet_V2_Weights.IMAGENET1K_V1)
    reference = torch.load(MOBILENET, map_location="cpu", weights_only=True)
    assert torch.equal(model.features[0][0].weight, reference["features.0.0.weight"])
    flower = build_flower_model(SegmenterConfig())
    assert torch.equal(flower.backbone["17"].conv[0][0].weight, reference["features.17.conv.0.0.weight"])


@pytest.mark.parametrize("name", list(VOC_MODELS))
def test_coco_weights_offline_give_a_clear_message(name, tmp_path, monkeypatch, no_downloads):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsUnavailable) as caught:
        load_voc_model(name, allow_download=False)
    message = str(caught.value)
    assert "download.pytorch.org/models/" in message and ".pth" in message
    assert str(tmp_path / "hub" / "checkpoints") in message


def test_unreachable_host_fails_fast():
    started = time.perf_counter()
    assert not url_reachable("https://127.0.0.1:9/weights.pth", timeout=3)
    assert time.perf_counter() - started < 5


def test_voc_model_from_a_local_file(tmp_path, no_downloads):
    from torchvision.models.segmentation import deeplabv3_mobilenet_v3_large

    name = "DeepLabV3 MobileNetV3-Large (COCO, VOC labels)"
    torch.manual_seed(0)
    source = deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21, aux_loss=True)
    torch.save(source.state_dict(), tmp_path / "local.pth")
    model = load_voc_model(name, weights_file=tmp_path / "local.pth")
    assert torch.equal(model.classifier[4].weight, source.classifier[4].weight)
    (tmp_path / "bad.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_voc_model(name, weights_file=tmp_path / "bad.pth")
    with pytest.raises(WeightsUnavailable, match="no such weights file"):
        load_voc_model(name, weights_file=tmp_path / "missing.pth")


# ------------------------------------------------------------------ metrics and split


def test_iou_hand_computed_with_ignore_label():
    truth = torch.tensor([[1, 1, 0, 0], [1, IGNORE, 0, IGNORE]])
    prediction = torch.tensor([[1, 0, 0, 1], [1, 1, 0, 0]])
    # non-ignored pixels: truth 1 1 0 0 1 0 vs prediction 1 0 0 1 1 0 -> TP 2, FN 1, FP 1, TN 2
    assert foreground_iou(prediction, truth) == pytest.approx(2 / 4)
    matrix = ConfusionMatrix(2)
    matrix.update(truth, prediction)
    assert matrix.matrix.tolist() == [[2, 1], [1, 2]]
    assert matrix.iou()[0].item() == pytest.approx(2 / 4)
    assert matrix.pixel_accuracy() == pytest.approx(4 / 6)
    assert foreground_iou(torch.ones(3, 3), torch.ones(3, 3)) == 1.0
    assert foreground_iou(torch.zeros(2, 2), torch.tensor([[1, IGNORE], [IGNORE, IGNORE]])) == 0.0
    assert np.isnan(foreground_iou(torch.zeros(2, 2), torch.zeros(2, 2)))  # no flower anywhere: undefined


@requires_flowers
def test_split_is_fixed_disjoint_and_stratified():
    ids = list_ids(FLOWERS)
    split = make_split(ids)
    assert split == make_split(list(reversed(ids)))
    assert sorted(split["train"] + split["val"] + split["test"]) == ids
    assert not set(split["train"]) & set(split["test"]) and not set(split["val"]) & set(split["test"])
    assert 0.13 < len(split["test"]) / len(ids) < 0.17 and 0.13 < len(split["val"]) / len(ids) < 0.17
    species = {species_of(i) for i in ids}  # 16 of the 17: species 14 has no masks
    for name in split:
        assert {species_of(i) for i in split[name]} == species


# ------------------------------------------------------------------ modes and training


def test_trainable_counts_match_requires_grad():
    model = build_flower_model(SegmenterConfig(), pretrained_backbone=False)
    counts = {}
    for mode in MODES:
        set_trainable(model, mode)
        counts[mode] = sum(p.numel() for p in model.parameters() if p.requires_grad)
        assert counts[mode] == trainable_parameter_count(model, mode)
    assert counts["last"] == 256 * 2 + 2  # the final 1x1 conv
    assert counts["last"] < counts["head"] < counts["full"] == sum(p.numel() for p in model.parameters())


@requires_flowers
def test_short_head_fine_tune_beats_the_untrained_head(seeded_torch_home, no_downloads):
    torch.manual_seed(0)
    config = FineTuneConfig(mode="head", epochs=1, batch_size=8, train_limit=32, val_limit=12, seed=0,
                            data_root=str(FLOWERS), device="cpu")
    result = fine_tune(config)
    assert len(result.history) == 1
    assert result.history[0].val_iou > result.initial["iou"] + 0.05
    frozen = result.model.backbone["0"][0].weight
    reference = torch.load(MOBILENET, map_location="cpu", weights_only=True)["features.0.0.weight"]
    assert torch.equal(frozen, reference)  # head mode must leave the backbone untouched


def test_cost_accounting_per_mode():
    from segmenter.cost import MODE_BLOCKS, as_markdown, cost_table
    from segmenter.models import trainable_parameter_count

    rows = cost_table(sizes=(64,), batch=2, repeats=1)
    costs = dict(zip(MODES, rows))
    model = build_flower_model(SegmenterConfig(), pretrained_backbone=False)
    assert [row.n for row in rows] == [MODE_BLOCKS[mode] for mode in MODES]
    assert as_markdown(rows).count("| 64² ×2 |") == 3
    for mode, cost in costs.items():
        assert cost.trainable_params == trainable_parameter_count(model, mode)  # each mode is its n of the blocks
        assert cost.grad_bytes == 4 * cost.trainable_params
        assert cost.optimizer_bytes == 8 * cost.trainable_params  # AdamW: exp_avg + exp_avg_sq
    assert costs["last"].activation_bytes < costs["head"].activation_bytes < costs["full"].activation_bytes
    assert len({c.param_bytes for c in costs.values()}) == 1


# ------------------------------------------------------------------ checkpoints


@requires_flowers
@pytest.mark.skipif(not SHIPPED.is_file(), reason=f"{SHIPPED} not trained yet")
def test_shipped_checkpoint_reproduces_its_test_iou():
    from segmenter.evaluate import evaluate_checkpoint

    assert SHIPPED.stat().st_size < 25 * 2**20
    model = load_flower_checkpoint(SHIPPED)
    recorded = model.meta["test"]["iou"]
    assert model.meta["split"] == make_split(list_ids(FLOWERS))
    measured = evaluate_checkpoint(SHIPPED, "test", str(FLOWERS))
    assert measured["n_images"] == len(model.meta["split"]["test"])
    assert abs(measured["iou"] - recorded) < 0.01


def test_bad_checkpoints_raise_checkpoint_error(tmp_path):
    model = build_flower_model(SegmenterConfig(), pretrained_backbone=False)
    good = save_flower_checkpoint(tmp_path / "good.pt", model, {"note": "test"})
    assert load_flower_checkpoint(good).meta == {"note": "test"}
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "corrupt.pt").write_bytes(good.read_bytes()[: 5000])
    checkpoint = torch.load(good, weights_only=True)
    torch.save({**checkpoint, "config": {"num_classes": 3, "output_stride": 16}}, tmp_path / "shapes.pt")
    torch.save(checkpoint["state_dict"], tmp_path / "bare.pt")
    torch.save({**checkpoint, "arch": "cnn"}, tmp_path / "arch.pt")
    for name in ("empty", "corrupt", "shapes", "bare", "arch", "missing"):
        with pytest.raises(CheckpointError):
            load_flower_checkpoint(tmp_path / f"{name}.pt")


def test_segment_any_upload_size_and_mode(tmp_path):
    from PIL import Image

    from pixelwise.images import load_rgb
    from segmenter.inference import legend, mask_image, overlay, segment

    model = build_flower_model(SegmenterConfig(), pretrained_backbone=False).eval()
    Image.new("LA", (123, 77), (90, 200)).save(tmp_path / "odd.png")
    rgb = load_rgb(tmp_path / "odd.png")
    result = segment(model, rgb)
    assert result.labels.shape == (77, 123)
    assert overlay(rgb, result, 0.0).tolist() == rgb.tolist()
    assert overlay(rgb, result, 1.0).tolist() == mask_image(result).tolist()
    assert sum(share for _, _, share in legend(result)) == pytest.approx(1.0)


def test_huge_photo_is_segmented_at_a_capped_size_and_enlarged():
    from segmenter.inference import MAX_LONG_SIDE, segment

    model = build_flower_model(SegmenterConfig(), pretrained_backbone=False).eval()
    rgb = np.random.default_rng(0).integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
    result = segment(model, rgb)
    assert result.labels.shape == (3000, 4000) and result.labels.dtype == np.uint8
    # computed at most MAX_LONG_SIDE wide, then enlarged without smoothing: no column can differ from
    # its left neighbour more often than the small map has columns
    changes = (result.labels[:, 1:] != result.labels[:, :-1]).any(axis=0).sum()
    assert changes < MAX_LONG_SIDE


@requires_flowers
def test_test_image_iou_uses_the_truth_mask_and_its_ignore_band():
    from segmenter.data import load_pair
    from segmenter.inference import iou_against_truth

    _, truth = load_pair(2)
    perfect = np.where(truth == 1, 1, 0).astype(np.uint8)  # the ignore band may be labelled anything
    assert iou_against_truth(perfect, 2) == pytest.approx(1.0)
    assert iou_against_truth(np.zeros_like(perfect), 2) == 0.0
    assert iou_against_truth(np.zeros((10, 10), np.uint8), 2) is None  # not the data set's own image size


def test_segment_tab_offers_only_the_models_that_can_run(tmp_path, monkeypatch):
    """Issue 31: offline, the three VOC models were offered and each answered "not on this server". Offered: the
    flower model and any VOC model whose weights are here; the others named as needing the internet once."""
    from segmenter import models
    from ui import segment_tab

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(models, "SHARED_WEIGHTS", tmp_path / "shared")
    monkeypatch.setattr("pixelwise.weights.url_reachable", lambda url, timeout=3.0: False)  # offline
    mobile = "DeepLabV3 MobileNetV3-Large (COCO, VOC labels)"
    weights = VOC_MODELS[mobile][1].COCO_WITH_VOC_LABELS_V1
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / os.path.basename(weights.url)).write_bytes(b"present")
    runnable, offline = segment_tab.model_choices()
    assert runnable == [segment_tab.FLOWER_MODEL, mobile]
    assert offline == [name for name in VOC_MODELS if name != mobile]
    note = segment_tab.offline_models_note(offline)
    assert note.startswith("Needs the internet once") and "ResNet-101" in note and "ResNet-50" in note
    monkeypatch.setattr("pixelwise.weights.url_reachable", lambda url, timeout=3.0: True)  # online: all offered
    assert segment_tab.model_choices() == ([segment_tab.FLOWER_MODEL, *VOC_MODELS], [])
    assert segment_tab.offline_models_note([]) == ""


def test_the_head_s_dropout_follows_its_own_generator_not_the_global_seed():
    """ASPP's nn.Dropout drew from torch's shared generator: a fine-tune's head output changed with
    torch.manual_seed (issue 30). seeded_dropout draws each mask from the run's own generator."""
    from torchvision.models.segmentation.deeplabv3 import DeepLabHead

    from pixelwise.seeding import SeededDropout, seeded_dropout

    features = torch.rand(2, 320, 8, 8, generator=torch.Generator().manual_seed(0))
    outputs = []
    for global_seed in (1, 2):
        torch.manual_seed(0)
        head = DeepLabHead(320, 2).train()
        seeded_dropout(head, torch.Generator().manual_seed(7))
        torch.manual_seed(global_seed)  # another thread reseeding the shared generator
        outputs.append(head(features))
    assert torch.equal(outputs[0], outputs[1])
    assert [type(m) for m in head.modules() if isinstance(m, (torch.nn.Dropout, SeededDropout))] == [SeededDropout]
    head.eval()
    assert torch.equal(head(features), head(features))  # eval: no dropout


@requires_flowers
@pytest.mark.skipif(not MOBILENET.is_file(), reason=MOBILENET_REASON)
def test_a_head_fine_tune_gives_the_same_numbers_whatever_the_global_seed():
    from segmenter.trainer import fine_tune_iter

    runs = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        config = FineTuneConfig(mode="head", epochs=1, train_limit=16, val_limit=8, batch_size=8, data_root=str(FLOWERS))
        events = list(fine_tune_iter(config))
        runs.append([event.loss for event in events if hasattr(event, "loss")] + [events[-1].history[0].val_iou])
    assert runs[0] == runs[1]


def test_the_fine_tune_status_says_the_iou_the_chart_draws(monkeypatch):
    """"untrained val IoU 0.000 → best 0.000" while the chart drew 0.006 → 0 on an axis scaled to it (issue 30):
    one rounding for both, on a fixed 0-100 % axis."""
    from types import SimpleNamespace

    from segmenter.trainer import EpochResult, FineTuneResult
    from ui import segment_tab

    events = [EpochResult(1, 0.7, 0.68, 0.00012, 0.79, 5.0)]
    events.append(FineTuneResult(None, None, {}, history=events[:], initial={"iou": 0.00581}))
    monkeypatch.setattr(segment_tab, "fine_tune_iter", lambda config, should_stop: iter(events))
    job = SimpleNamespace(done=0.0, should_stop=lambda: False)
    rows = []
    *_, last = segment_tab._finetune_events(FineTuneConfig(mode="last"), job, [], rows, (0, 1))
    chart = last["iou_plot"].dropna()
    assert chart[segment_tab.IOU_AXIS].tolist() == [0.6, 0.0]
    assert last["status"].endswith("untrained val IoU 0.6% → best 0.0%")
