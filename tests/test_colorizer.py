"""The colourization core on real CIFAR-10 horses (../shared/data/cifar10 or $PIXELWISE_DATA)."""
import json

import pytest
import torch
from helpers import CHECKPOINTS, CIFAR, requires_cifar

from colorizer import (CNN, TrainConfig, UNet, kmeans_palette, load_category, load_checkpoint, nearest_colour_labels,
                       read_checkpoint, save_checkpoint, train)
from colorizer.evaluate import evaluate_checkpoint
from colorizer.sweep import markdown_table, sweep
from pixelwise.checkpoints import CheckpointError
from pixelwise.errors import DataUnavailable

pytestmark = requires_cifar


@pytest.fixture(scope="module")
def horses():
    return load_category("horse", str(CIFAR), "train")[:300]


def test_category_loads_as_uint8_32x32():
    train_rgb = load_category("horse", str(CIFAR), "train")
    test_rgb = load_category(7, str(CIFAR), "test")
    assert train_rgb.shape == (5000, 32, 32, 3) and test_rgb.shape == (1000, 32, 32, 3)
    assert train_rgb.dtype == torch.uint8


def test_missing_folder_names_the_expected_layout(tmp_path):
    with pytest.raises(DataUnavailable, match="train,test"):
        load_category("horse", str(tmp_path), "train")


def test_unknown_category_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown CIFAR-10 category"):
        load_category("unicorn", str(CIFAR), "train")


def test_palette_is_deterministic_for_a_seed(horses):
    first, second = kmeans_palette(horses, 24, seed=3), kmeans_palette(horses, 24, seed=3)
    assert first.shape == (24, 3) and torch.equal(first, second)
    assert not torch.equal(first, kmeans_palette(horses, 24, seed=4))
    assert first.min() >= 0 and first.max() <= 1


def test_every_label_is_the_true_nearest_colour(horses):
    palette = kmeans_palette(horses, 24, seed=0)
    labels = nearest_colour_labels(horses, palette)
    assert labels.shape == (300, 32, 32)
    pixels = horses.reshape(-1, 3).float() / 255.0
    sample = torch.randperm(len(pixels), generator=torch.Generator().manual_seed(0))[:20000]
    brute = torch.stack([((pixels[sample] - colour) ** 2).sum(dim=1) for colour in palette], dim=1).argmin(dim=1)
    assert torch.equal(labels.reshape(-1)[sample], brute)


@pytest.mark.parametrize("model_class", [CNN, UNet])
@pytest.mark.parametrize("size", [(32, 32), (24, 40)])
def test_models_output_one_logit_per_colour_per_pixel(model_class, size):
    model = model_class(kernel=3, num_filters=8, num_colours=24).eval()
    assert model(torch.rand(2, 1, *size)).shape == (2, 24, *size)


def test_unet_has_the_handout_skip_channels():
    model = UNet(kernel=5, num_filters=16, num_colours=10)
    assert model.upconv1[0].in_channels == 64 and model.upconv2[0].in_channels == 32
    assert model.finalconv.in_channels == 11 and model.finalconv.kernel_size == (5, 5)


def short_config(**overrides):
    values = dict(model="unet", data_root=str(CIFAR), epochs=2, batch_size=25, num_filters=16,
                  train_limit=300, val_limit=200, seed=0, precision="fp32")  # float32: as the handout
    return TrainConfig(**{**values, **overrides})


def test_short_training_lowers_val_loss_and_is_reproducible():
    first, second = train(short_config()), train(short_config())
    epochs = [event for event in first.history if event.kind == "epoch"]
    assert [event.epoch for event in epochs] == [0.0, 1.0, 2.0]
    assert epochs[-1].val_loss < epochs[0].val_loss - 0.3
    assert [e.val_loss for e in first.history if e.kind == "epoch"] == [e.val_loss for e in second.history if e.kind == "epoch"]
    assert any(event.kind == "batch" for event in first.history)  # life within the first epoch


def test_stop_request_ends_training_within_one_batch():
    seen = []
    result = train(short_config(epochs=5), on_progress=seen.append, should_stop=lambda: len(seen) >= 3)
    assert result.stopped
    assert result.history[-1].step <= result.history[2].step + 1
    assert result.final is not None  # what was measured is kept


def test_max_steps_limits_a_fine_tune():
    result = train(short_config(epochs=3, max_steps=5))
    assert result.history[-1].step == 5 and result.history[-1].kind == "epoch"


def test_sweep_table_has_one_row_per_batch_size():
    results = sweep(short_config(model="cnn", epochs=1, train_limit=100, val_limit=50), [50, 100])
    table = markdown_table(results)
    assert [result.config.batch_size for result in results] == [50, 100]
    assert table.count("\n") == 3 and "| 50 |" in table and "| 100 |" in table


def test_checkpoint_round_trip(tmp_path):
    result = train(short_config(epochs=1, train_limit=50, val_limit=20))
    path = tmp_path / "model.pt"
    result.save(path)
    model, palette = load_checkpoint(path)
    assert not model.training and torch.equal(palette, result.palette)
    assert read_checkpoint(path)["meta"]["val_acc"] == result.final.val_acc
    x = torch.rand(1, 1, 32, 32)
    assert torch.equal(model(x), result.model.eval()(x))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # the atomic write left no temporary file


def test_bad_checkpoint_files_give_clear_errors(tmp_path):
    empty, corrupt, wrong_shape, bare = (tmp_path / name for name in ("empty.pt", "corrupt.pt", "wrong.pt", "bare.pt"))
    empty.write_bytes(b"")
    corrupt.write_bytes(b"PK\x03\x04 this is not a zip archive at all" * 10)
    save_checkpoint(wrong_shape, UNet(num_filters=16), torch.rand(24, 3), {})
    checkpoint = torch.load(wrong_shape, weights_only=True)
    checkpoint["config"]["num_filters"] = 32  # the weights no longer fit the declared architecture
    torch.save(checkpoint, wrong_shape)
    torch.save(UNet().state_dict(), bare)
    for path, message in [(empty, "empty"), (corrupt, "cannot be read"), (wrong_shape, "do not fit"),
                          (bare, "missing arch"), (tmp_path / "absent.pt", "no such")]:
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(path)


@pytest.mark.parametrize("field, value, message", [
    ("meta", ["not", "a", "dict"], "meta is a list"),
    ("config", {"kernel": "3", "num_filters": 8, "num_colours": 24, "in_channels": 1}, "kernel must be a whole number"),
    ("config", {"kernel": 4, "num_filters": 8, "num_colours": 24, "in_channels": 1}, "kernel must be odd"),
    ("palette", torch.zeros(24, 3, dtype=torch.int64), "palette must be a float"),
    ("palette", torch.rand(10, 3), "palette must be a float 24 x 3"),
    ("state_dict", [1, 2], "state_dict is a list"),
])
def test_malformed_checkpoint_fields_are_refused_when_listed_and_loaded(tmp_path, field, value, message):
    from runs.catalog import list_checkpoints

    path = tmp_path / "odd.pt"
    save_checkpoint(path, UNet(num_filters=8), torch.rand(24, 3), {"category": "horse"})
    checkpoint = torch.load(path, weights_only=True)
    checkpoint[field] = value
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)
    found, problems = list_checkpoints(tmp_path)
    assert found == [] and len(problems) == 1 and "odd.pt" in problems[0]


@pytest.mark.parametrize("name", ["cnn", "unet"])
def test_shipped_checkpoint_reproduces_its_recorded_accuracy(name, capsys):
    path = CHECKPOINTS / f"{name}.pt"
    meta = read_checkpoint(path)["meta"]
    assert meta["epochs"] == 25 and meta["batch_size"] == 100 and meta["category"] == "horse"
    from colorizer.evaluate import main
    main([str(path), "--data", str(CIFAR)])
    measured = json.loads(capsys.readouterr().out)
    assert measured["n_images"] == 1000
    assert abs(measured["val_acc"] - meta["val_acc"]) <= 0.005
    assert abs(measured["val_loss"] - meta["val_loss"]) <= 0.01


def test_unet_beats_cnn():
    unet = evaluate_checkpoint(CHECKPOINTS / "unet.pt", str(CIFAR))
    cnn = evaluate_checkpoint(CHECKPOINTS / "cnn.pt", str(CIFAR))
    assert unet["val_acc"] > cnn["val_acc"] + 0.05


def test_offline_download_fails_fast_and_names_the_folder_option(tmp_path, monkeypatch):
    import torchvision.datasets

    from pixelwise import network

    def no_download(*args, **kwargs):
        raise AssertionError("offline: the download must not even be attempted")

    monkeypatch.setenv("PIXELWISE_CACHE", str(tmp_path))
    monkeypatch.setattr(network.socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "download", no_download)
    load_category.cache_clear()
    with pytest.raises(DataUnavailable, match="cannot be reached.*--data PATH"):
        load_category("horse", None, "test")

