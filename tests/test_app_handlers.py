"""The app's handler functions, called directly (no browser, no server).

Tiny checkpoints (NF 8, one epoch on 100 images) are trained once for the module so these tests
do not depend on the shipped ones; they measure the plumbing, not colourization quality.
"""
import re
import shutil
import time

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import TrainConfig, load_checkpoint, nearest_colour_labels, predict_classes, train
from colorizer import lab
from pixelwise import settings
from runs import catalog
from tests.helpers import CIFAR, REPO, plot_data, requires_cifar
from ui import colourize_tab, train_tab

pytestmark = requires_cifar
torch.set_num_threads(1)


TINY = {"cnn": {}, "unet": {}, "beyond": {"model": "mobile_unet", "target": "lab_grid", "rebalance": 0.5,
                                           "pretrained": False, "train_limit": 200, "val_limit": 50}}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """{"cnn": "cnn.pt", "unet": "unet.pt", "beyond": "colour_hints.pt"}: the names of tiny checkpoints
    in a folder that PIXELWISE_CHECKPOINTS points at for the module."""
    folder = tmp_path_factory.mktemp("checkpoints")
    names = {}
    for slot, options in TINY.items():
        options = {"model": slot, "train_limit": 100, "val_limit": 20, **options}
        config = TrainConfig(data_root=str(CIFAR), epochs=1, batch_size=50, num_filters=8, device="cpu", **options)
        names[slot] = colourize_tab.SLOTS[slot][2]
        train(config).save(folder / names[slot])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXELWISE_CHECKPOINTS", str(folder))
        patch.setenv("PIXELWISE_TRAINED", str(folder / "session"))
        patch.setenv("PIXELWISE_RUN_CACHE", str(folder / "runs"))
        patch.setenv("PIXELWISE_DATA", str(CIFAR))
        patch.delenv("PIXELWISE_HF_REPO", raising=False)
        yield names


def path_of(name: str) -> str:
    return str(settings.checkpoint_dir() / name)


def upload(checkpoints, path, class_map=False, decoding="mode", temperature=0.38):
    """Run the upload handler; returns a dict of its outputs by name."""
    return colourize_tab.on_colourize_upload(str(path), checkpoints["cnn"], checkpoints["unet"], checkpoints["beyond"],
                                             decoding, temperature, class_map, 96)


def refreshed():
    """The Colourize tab's refreshed (cnn dropdown, unet dropdown, notes); the beyond one goes unchecked here."""
    out = colourize_tab.refresh_checkpoints()
    return out["cnn_checkpoint"], out["unet_checkpoint"], out["checkpoint_notes"]


def photo(size=(640, 480), seed=0) -> Image.Image:
    """A smooth colourful test picture (gradients), not noise."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([255 * x / width, 255 * y / height, 128 + 100 * np.sin(x / 37 + seed)], axis=2)
    return Image.fromarray(rgb.clip(0, 255).astype(np.uint8))


# ---------------------------------------------------------------- uploads

@pytest.mark.parametrize("kind", ["rgb", "grey", "rgba", "grey16", "cmyk", "palette"])
def test_every_kind_of_upload_comes_back_at_its_own_size(checkpoints, tmp_path, kind):
    image = photo()
    image = {"rgb": image, "grey": image.convert("L"), "rgba": image.convert("RGBA"),
             "grey16": Image.fromarray((np.asarray(image.convert("L")).astype(np.uint16) * 257)),
             "cmyk": image.convert("CMYK"), "palette": image.convert("P")}[kind]
    path = tmp_path / f"upload.{'jpg' if kind == 'cmyk' else 'png'}"
    image.save(path)
    out = upload(checkpoints, path)
    for name in ("grey", "cnn", "unet", "beyond"):
        assert out[name].shape == (480, 640, 3), name
    assert out["slider"]["value"][1].shape == (480, 640, 3)
    has_colour = kind != "grey" and kind != "grey16"
    assert out["original"]["visible"] is has_colour
    assert "640×480" in out["cnn_caption"] and "CNN (cnn.pt) · mode" in out["cnn_caption"]
    assert "UNet" in out["unet_caption"] and f"Beyond the handout ({checkpoints['beyond']})" in out["beyond_caption"]
    if kind == "grey16":  # 16-bit must be scaled, not clipped to white
        expected = np.asarray(photo().convert("L"), dtype=np.float32)
        assert abs(out["grey"][..., 0].mean() - expected.mean()) < 2


def test_full_resolution_output_keeps_the_uploads_detail(checkpoints, tmp_path):
    image = photo((800, 600))
    image.save(tmp_path / "big.png")
    out = upload(checkpoints, tmp_path / "big.png", decoding="annealed")
    # luminance comes from the original: the output's brightness follows the input pixel for pixel
    out_y = np.asarray(Image.fromarray(out["unet"]).convert("L"), dtype=np.float32)
    in_y = np.asarray(image.convert("L"), dtype=np.float32)
    assert np.abs(out_y - in_y).mean() < 8
    # the Lab model keeps the photo's own L (up to the clipping of colours outside sRGB)
    out_l, in_l = (lab.rgb_to_lab(torch.from_numpy(np.asarray(x)))[..., 0].numpy() for x in (out["beyond"], image))
    assert np.abs(out_l - in_l).mean() < 1


def test_annealed_mean_at_small_temperature_is_the_mode_for_every_model(checkpoints, tmp_path):
    # Trained models (the tiny ones' logits are too flat: their two best classes differ by ~0.002)
    shipped = {slot: REPO / "checkpoints" / colourize_tab.SLOTS[slot][2] for slot in colourize_tab.SLOTS}
    shipped = {slot: path for slot, path in shipped.items() if path.is_file()}
    if not {"cnn", "unet"} <= set(shipped):
        pytest.skip("needs the shipped checkpoints/cnn.pt and unet.pt")
    names = {slot: f"shipped/{path.name}" for slot, path in shipped.items()}
    for slot, path in shipped.items():
        (settings.checkpoint_dir() / names[slot]).parent.mkdir(exist_ok=True)
        shutil.copyfile(path, settings.checkpoint_dir() / names[slot])
    photo().save(tmp_path / "x.png")
    try:
        run = lambda decoding, temperature=0.38: colourize_tab.on_colourize_upload(
            str(tmp_path / "x.png"), names["cnn"], names["unet"], names.get("beyond"), decoding, temperature)
        mode, annealed, mean = run("mode"), run("annealed", 0.001), run("mean")
    finally:
        shutil.rmtree(settings.checkpoint_dir() / "shipped")
    for slot in names:
        same = (np.abs(mode[slot].astype(int) - annealed[slot]) <= 1).all(axis=2).mean()
        # only pixels whose two best classes nearly tie may differ; the hint model's 229 ab classes tie more often
        assert same > (0.98 if slot == "beyond" else 0.99), slot
        assert (np.abs(mode[slot].astype(int) - mean[slot]) > 1).any(), slot  # the decoding is applied
        assert "annealed mean T=0.001" in annealed[f"{slot}_caption"] and "· mean," in mean[f"{slot}_caption"]


def test_class_map_shows_only_palette_colours(checkpoints, tmp_path):
    photo().save(tmp_path / "x.png")
    out = upload(checkpoints, tmp_path / "x.png", class_map=True)
    _, palette = load_checkpoint(path_of(checkpoints["unet"]))
    colours = np.unique(out["unet"].reshape(-1, 3), axis=0)
    assert len(colours) <= len(palette)
    assert "class map" in out["unet_caption"]


def test_corrupt_or_empty_upload_gives_one_plain_notice_and_keeps_the_last_result(checkpoints, tmp_path):
    """Issue 24: one notice (no warning toast beside an error toast), plain words, and the panels keep the last
    good result (the page's answer leaves them out)."""
    import warnings

    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    for path, words in ((bad, "broken.png: the PNG file is damaged or cut short"), (empty, "empty")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a gr.Warning toast is a UserWarning here: none
            out = colourize_tab.page_answer(upload(checkpoints, path))
        assert set(out) == {"notice"}, "the pictures, captions and view must keep the last good result"
        assert words in out["notice"] and "**" not in out["notice"] and str(tmp_path) not in out["notice"]
        assert out["notice"].count("pw-notice") == 1


def test_messages_name_the_file_as_the_person_named_it_never_the_server_path(checkpoints, tmp_path):
    from ui.common import UploadedPath

    cached = tmp_path / "gradio" / "5e1f" / "image.png"  # Gradio's cache path for the upload
    cached.parent.mkdir(parents=True)
    cached.write_text("<svg xmlns='http://www.w3.org/2000/svg'></svg>")
    path = UploadedPath(cached)
    path.orig_name = "logo (final).svg.png"
    out = colourize_tab.on_colourize_upload(path, checkpoints["cnn"], checkpoints["unet"], checkpoints["beyond"])
    assert "logo (final).svg.png: this is an SVG" in out["refused"] and str(tmp_path) not in out["refused"]


def test_a_server_folder_or_markdown_never_reaches_a_notice():
    from ui.common import notice, plain

    text = plain("**No CIFAR-10 test images:** `/srv/app/shared/data/cifar10` does not exist")
    assert text == "No CIFAR-10 test images: cifar10 does not exist"
    assert notice("") == "" and "&lt;b&gt;" in notice("<b>")  # cleared; escaped, never markup


def test_a_large_upload_is_shown_capped_and_its_full_size_is_a_png_download(checkpoints, tmp_path):
    from pixelwise.images import DISPLAY_LONG_SIDE

    photo((2600, 1300)).save(tmp_path / "wide.jpg", quality=92)
    out = upload(checkpoints, tmp_path / "wide.jpg")
    assert out["unet"].shape == (DISPLAY_LONG_SIDE // 2, DISPLAY_LONG_SIDE, 3)
    assert "2600×1300" in out["unet_caption"] and "Full-size PNGs" in out["notes"]
    files = colourize_tab.on_full_size(str(tmp_path / "wide.jpg"), checkpoints["cnn"], checkpoints["unet"],
                                       checkpoints["beyond"], "mode")
    assert [Image.open(file).size for file in files] == [(2600, 1300)] * 3  # CNN, UNet, and the Lab model
    assert all(file.endswith(".png") for file in files)
    for file, slot in zip(files, ("cnn", "unet", "beyond")):  # each download is the shown result at full size
        shown = np.asarray(Image.open(file).resize((DISPLAY_LONG_SIDE, DISPLAY_LONG_SIDE // 2)), dtype=np.float32)
        assert np.abs(shown - out[slot]).mean() < 6, slot


def test_out_of_range_numbers_are_refused_clearly(checkpoints, tmp_path):
    import gradio as gr

    photo().save(tmp_path / "x.png")
    out = colourize_tab.on_colourize_upload(str(tmp_path / "x.png"), checkpoints["cnn"], checkpoints["unet"],
                                            checkpoints["beyond"], "mode", 0.38, False, 10**6)
    assert "Model working size must be a whole number from 32 to 256" in out["refused"]
    for seed in (2**80, -1, float("nan")):
        run = train_tab.start_training("UNet", [50], 1, 1e-3, 8, "horse", seed, 100, 100, None)
        with pytest.raises(gr.Error, match="Seed must be a whole number from 0 to 4,294,967,295"):
            next(run)


def test_no_upload_is_a_notice_for_the_page_and_an_error_for_the_api(checkpoints):
    import gradio as gr

    out = colourize_tab.page_answer(colourize_tab.on_colourize_upload(None, checkpoints["cnn"], checkpoints["unet"],
                                                                      checkpoints["beyond"]))
    assert "Upload an image first" in out["notice"]
    with pytest.raises(gr.Error, match="Upload an image first"):
        colourize_tab.colourize(None, checkpoints["cnn"], checkpoints["unet"], checkpoints["beyond"])


def test_a_missing_checkpoint_is_reported_and_the_other_model_still_runs(checkpoints, tmp_path):
    photo().save(tmp_path / "x.png")
    values = colourize_tab.on_colourize_upload(str(tmp_path / "x.png"), "gone.pt", checkpoints["unet"],
                                               path_of(checkpoints["beyond"]))  # a server path is no name
    assert values["cnn"] is None and "unavailable" in values["cnn_caption"]
    assert values["beyond"] is None and "unavailable" in values["beyond_caption"]
    assert values["unet"].shape == (480, 640, 3)
    assert "no checkpoint named 'gone.pt'" in values["notes"]
    assert "no checkpoint named '/" in values["notes"]  # paths are refused, not opened


# ---------------------------------------------------------------- CIFAR-10 test images

def test_test_image_shows_each_models_pixel_accuracy(checkpoints):
    values = colourize_tab.on_colourize_test("horse", 7, checkpoints["cnn"], checkpoints["unet"], checkpoints["beyond"],
                                             "mode")
    rgb = colourize_tab.test_images("horse")[7]
    grey = rgb.astype(np.float32).mean(axis=2) / 255
    assert re.search(r"· mode · pixel accuracy [\d.]+%", values["beyond_caption"])
    for arch, caption in (("cnn", values["cnn_caption"]), ("unet", values["unet_caption"])):
        shown = float(re.search(r"pixel accuracy ([\d.]+)%", caption).group(1))
        model, palette = load_checkpoint(path_of(checkpoints[arch]))
        truth = nearest_colour_labels(torch.from_numpy(rgb), palette).numpy()
        expected = 100 * (predict_classes(model, grey) == truth).mean()
        assert shown == pytest.approx(expected, abs=0.051)
    assert values["original"]["visible"] is True  # CIFAR images have colour: the original is shown
    assert values["grey"].shape == (256, 256, 3)  # 32 x 32 shown 8x


def test_random_test_image_is_a_valid_index(checkpoints):
    indices = {colourize_tab.random_index("horse") for _ in range(20)}
    assert all(0 <= index < 1000 for index in indices) and len(indices) > 1


def test_without_data_the_test_image_path_says_so(checkpoints, tmp_path, monkeypatch):
    monkeypatch.setenv("PIXELWISE_DATA", str(tmp_path / "nothing-here"))
    values = colourize_tab.on_colourize_test("horse", 0, checkpoints["cnn"], checkpoints["unet"],
                                             checkpoints["beyond"])
    assert values["refused"].startswith("No CIFAR-10 test images") and "does not exist" in values["refused"]
    assert str(tmp_path) not in colourize_tab.page_answer(values)["notice"]  # no server folder on the page


# ---------------------------------------------------------------- checkpoint lists and the Hub

def test_dropdowns_list_each_arch_and_skip_unreadable_files(checkpoints, tmp_path):
    folder = settings.checkpoint_dir()
    (folder / "junk.pt").write_bytes(b"not a checkpoint")
    try:
        cnn, unet, notes = refreshed()
    finally:
        (folder / "junk.pt").unlink()
    assert [name for _, name in cnn["choices"]] == [checkpoints["cnn"]]  # names, not server paths
    assert cnn["value"] == checkpoints["cnn"] and unet["value"] == checkpoints["unet"]
    beyond = colourize_tab.refresh_checkpoints()["beyond_checkpoint"]
    assert [name for _, name in beyond["choices"]] == [checkpoints["beyond"]] == [beyond["value"]]
    assert "junk.pt" in notes and str(folder) not in notes
    assert "No " not in notes  # every column has a checkpoint: no "No Deep UNet checkpoint" and the like


def test_other_models_checkpoints_are_not_listed_or_complained_about(checkpoints):
    from pixelwise.checkpoints import save_atomic

    other = settings.checkpoint_dir() / "flowers.pt"
    save_atomic({"arch": "deeplabv3_mobilenet_v2", "config": {}, "state_dict": {}, "meta": {}}, other)
    try:
        cnn, unet, notes = refreshed()
    finally:
        other.unlink()
    assert [name for _, name in cnn["choices"]] == [checkpoints["cnn"]]
    assert "flowers.pt" not in str(notes)


def test_hub_fetch_offline_fails_fast_and_keeps_local_checkpoints(checkpoints, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("PIXELWISE_HF_REPO", "pixelwise/colourizers")
    (tmp_path / "cnn.pt").write_bytes(open(path_of(checkpoints["cnn"]), "rb").read())
    monkeypatch.setenv("PIXELWISE_CHECKPOINTS", str(tmp_path))
    colourize_tab._hub_notes.cache_clear()
    start = time.perf_counter()
    cnn, unet, notes = refreshed()
    assert time.perf_counter() - start < 5
    assert "Offline" in notes and "unet.pt" in notes
    assert [name for _, name in cnn["choices"]] == ["cnn.pt"]
    assert unet["choices"] == [] and "No UNet checkpoint" in notes
    colourize_tab._hub_notes.cache_clear()


def test_hub_unreachable_host_is_detected_quickly(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "https://127.0.0.1:9")  # nothing listens there
    start = time.perf_counter()
    assert catalog.hub_reachable(timeout=1) is False
    assert time.perf_counter() - start < 3


def test_hub_fetch_downloads_only_missing_files(tmp_path, monkeypatch):
    fetched = []

    def fake_download(repo, name, local_dir, etag_timeout):
        fetched.append((repo, name))
        (local_dir / name).write_bytes(b"x")
        return str(local_dir / name)

    import huggingface_hub

    monkeypatch.setattr(catalog, "hub_reachable", lambda: True)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    (tmp_path / "cnn.pt").write_bytes(b"local")
    notes = catalog.fetch_missing_checkpoints("me/models", tmp_path)
    assert fetched == [("me/models", "unet.pt")]
    assert notes == ["Fetched unet.pt from Hugging Face repo me/models."]


# ---------------------------------------------------------------- Train live

def run_training(epochs, batch_sizes=(50, 100), stop_after_first_epoch=False, other="", handler=None):
    outputs, stopped = [], False
    generator = (handler or train_tab.start_training)("UNet", list(batch_sizes), epochs, 1e-3, 8, "horse", 0, 300, 100,
                                                      None, other)
    for output in generator:
        outputs.append(output)
        session = output["session"]
        if stop_after_first_epoch and not stopped and any(row.get("val_acc") is not None and row["epoch"] >= 1
                                                          for row in session.rows):
            assert train_tab.stop_training(session) == "Stopping after the current batch..."
            stopped = True
    assert train_tab.stop_training(outputs[-1]["session"]) == "Nothing is training."
    return outputs


def val_epochs_seen(output, batch_size):
    """Epochs with a validation point for ``batch_size`` in one yielded loss plot."""
    frame = plot_data(output["loss_plot"])
    points = frame[(frame["series"] == f"bs {batch_size} val") & frame["loss"].notna()]  # NaN: colour placeholder
    return sorted(points["epoch"].round(3).tolist())


def test_training_streams_every_epoch_of_every_batch_size_and_ends_with_the_table(checkpoints):
    outputs = run_training(epochs=2)
    for batch_size in (50, 100):
        states = {tuple(val_epochs_seen(output, batch_size)) for output in outputs}
        # a redraw was sent after epoch 0 (before training), 1 and 2 of each batch size
        assert {(0.0,), (0.0, 1.0), (0.0, 1.0, 2.0)} <= states, states
    final = outputs[-1]
    table = final["table"]
    assert table["batch size"].tolist() == [50, 100]
    assert table["epochs done"].tolist() == [2.0, 2.0] and table["stopped?"].tolist() == ["no", "no"]
    session = final["session"]
    for row in table.itertuples():
        result = session.results[row[1]]
        assert row[3] == round(100 * result.final.val_acc, 2) and 0 < row[3] < 100
    strips = [final[train_tab.strip_name(slot)] for slot in range(train_tab.MAX_RUNS)]  # a slot per batch size of the run
    assert [strip["visible"] for strip in strips] == [True, True] + [False] * (train_tab.MAX_RUNS - 2)
    assert "bs 50 · epoch 2" == strips[0]["label"]
    assert "Done" in final["status"]
    accuracy = plot_data(final["accuracy_plot"])
    assert set(accuracy["series"]) == {"bs 50", "bs 100"}


def test_a_second_identical_press_replays_and_train_again_retrains(checkpoints):
    first = run_training(epochs=1, batch_sizes=(20,), other="33")[-1]
    assert first["table"]["batch size"].tolist() == [20, 33]
    assert first["table"]["source"].tolist() == ["trained now", "trained now"]
    start = time.perf_counter()
    replay = run_training(epochs=1, batch_sizes=(20,), other="33")
    assert time.perf_counter() - start < 30
    table = replay[-1]["table"]
    assert all(source.startswith("replay: trained ") for source in table["source"])
    assert table["val loss"].tolist() == first["table"]["val loss"].tolist()
    assert "replayed from the cache" in replay[-1]["status"]
    assert any(re.search(r"epoch 1, .* · replay, trained ", output["status"]) for output in replay)
    again = run_training(epochs=1, batch_sizes=(20,), other="33", handler=train_tab.start_retraining)[-1]
    assert again["table"]["source"].tolist() == ["trained now", "trained now"]
    assert again["table"]["val loss"].tolist() == first["table"]["val loss"].tolist()  # deterministic


@pytest.mark.parametrize("chosen, other, message", [
    ([], "", "Choose at least one batch size"),
    ([50], "7, x", "'x' is not a whole number"),
    ([50], "0", r"from 1 to the number of training images \(300\), not \[0\]"),
    ([1000], "", r"not \[1000\]"),
    (train_tab.PRESET_BATCH_SIZES[:6], "1, 2, 3", "At most 8 batch sizes"),
])
def test_batch_sizes_outside_the_range_are_refused_clearly(chosen, other, message):
    import gradio as gr

    with pytest.raises(gr.Error, match=message):
        train_tab.parse_batch_sizes(chosen, other, 300)


def test_any_batch_size_in_range_is_accepted():
    assert train_tab.parse_batch_sizes([5, 1000], "1 7;64, 7", 1000) == [1, 5, 7, 64, 1000]


def test_every_batch_size_of_a_run_has_its_own_colour_blind_safe_colour():
    """Issue 31: batch sizes 10, 20 and 100 were near-identical brown and orange lines. Each size of a run gets its
    own Okabe-Ito colour (presets keep theirs; other sizes take the colours left free), train a lighter tint."""
    everyone = train_tab.run_colours(train_tab.PRESET_BATCH_SIZES)
    assert sorted(everyone.values()) == sorted(train_tab.OKABE_ITO.values())  # eight sizes, eight colours
    mixed = train_tab.run_colours([7, 10, 20, 64, 100])
    assert len(set(mixed.values())) == 5 and mixed[10] == everyone[10] and mixed[100] == everyone[100]
    loss, accuracy = train_tab.colour_maps([10, 20, 100])
    assert accuracy == {"bs 10": "#0072b2", "bs 20": "#e69f00", "bs 100": "#d55e00"}
    assert loss["bs 10 val"] == "#0072b2" and loss["bs 10 train"] not in accuracy.values()


def test_stop_ends_training_early_and_keeps_what_was_measured(checkpoints):
    start = time.perf_counter()
    outputs = run_training(epochs=40, stop_after_first_epoch=True)
    assert time.perf_counter() - start < 60
    final = outputs[-1]
    table = final["table"]
    assert table["batch size"].tolist() == [50]  # bs 100 never started
    assert table["stopped?"].tolist() == ["yes"] and 1 <= table["epochs done"][0] < 40
    assert "Stopped" in final["status"]


def test_a_run_saved_as_checkpoint_appears_in_the_colourize_dropdown(checkpoints):
    session = run_training(epochs=1, batch_sizes=(100,))[-1]["session"]
    message = train_tab.save_run(session, 100)
    assert "UNet checkpoint list" in message
    saved = sorted((settings.trained_dir()).glob("unet_horse_bs100_*.pt"))
    assert len(saved) == 1
    model, _ = load_checkpoint(saved[0])  # weights_only load works on what the app writes
    assert model.meta["batch_size"] == 100
    cnn, unet, _ = refreshed()
    assert f"session/{saved[0].name}" in [name for _, name in unet["choices"]]
    assert unet["value"] == checkpoints["unet"]  # the shipped default stays selected


def test_saving_before_training_is_refused():
    import gradio as gr

    with pytest.raises(gr.Error, match="Train first"):
        train_tab.save_run(None, 50)


def test_training_without_data_reports_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PIXELWISE_DATA", str(tmp_path / "nothing-here"))
    with pytest.warns(UserWarning, match="does not exist"):
        outputs = list(train_tab.start_training("CNN", [50], 1, 1e-3, 8, "horse", 0, 100, 100, None))
    assert "Training failed" in outputs[-1]["status"]


def test_progress_events_carry_the_model_being_trained():
    config = TrainConfig(model="cnn", data_root=str(CIFAR), epochs=1, batch_size=50, num_filters=8,
                         train_limit=100, val_limit=20, device="cpu")
    seen = []
    result = train(config, on_progress=seen.append)
    assert seen and all(event.model is result.model for event in seen)


# ---------------------------------------------------------------- curves and take-home files

def test_curves_csv_has_one_row_per_logged_point_and_table2_downloads(checkpoints):
    import pandas as pd

    from ui import curves

    session = run_training(epochs=2, batch_sizes=(50,))[-1]["session"]
    points = pd.read_csv(curves.points_csv(session))
    assert len(points) == len(session.rows) > 4
    assert list(points.columns) == curves.CSV_COLUMNS
    assert points["loss"].tolist() == pytest.approx([row["loss"] for row in session.rows])
    table = pd.read_csv(curves.table_csv(train_tab.results_table(session)))
    assert table["batch size"].tolist() == [50] and table["epochs done"].tolist() == [2.0]


def test_curves_smooth_train_loss_keep_raw_points_and_zoom(checkpoints):
    from ui import curves

    session = run_training(epochs=2, batch_sizes=(50,))[-1]["session"]
    session.view = curves.CurveView(smoothing=0.9, log_scale=True, epochs=(0.5, 1.5))
    plots = train_tab.plot_updates(session)
    frame = plots["loss_plot"]["value"].dropna()
    raw = frame[frame["series"] == "bs 50 train · raw"]["loss"].to_numpy()
    smooth = frame[frame["series"] == "bs 50 train"]["loss"].to_numpy()
    measured = np.log10([row["loss"] for row in session.rows if row["series"] == "bs 50 train"])
    assert raw == pytest.approx(measured, abs=1e-9)  # raw points kept (log10 of the loss on the log scale)
    assert np.abs(np.diff(smooth)).sum() < np.abs(np.diff(raw)).sum()  # smoothed: a calmer line
    assert smooth[0] == pytest.approx(raw[0])  # debiased: the EMA starts at the first point, not at 0
    assert plots["loss_plot"]["x_lim"] == [0.5, 1.5] == plots["accuracy_plot"]["x_lim"]
    assert plots["loss_plot"]["y_title"] == "log10 of loss"
    assert "bs 50 train · raw" in plots["loss_plot"]["color_map"]
    session.view.epochs = None  # double-click: every epoch again, 0 to the press's last
    assert train_tab.plot_updates(session)["loss_plot"]["x_lim"] == [0, 2]
    assert curves.zoomed({}, None)["x_lim"] == [None, None]  # no press yet: Gradio drops a None prop, so a pair
    assert curves.ema(np.array([1.0, np.nan, 3.0]), 0.0)[2] == 3.0  # weight 0: the raw values


def test_saved_checkpoint_comes_back_as_a_file_to_take_home(checkpoints):
    session = run_training(epochs=1, batch_sizes=(50,))[-1]["session"]
    message, path = train_tab.save_checkpoint(session, 50)
    assert "Saved" in message and path.endswith(session.saved.name) and str(settings.REPO_ROOT) not in message
    model, _ = load_checkpoint(path)
    assert model.meta["batch_size"] == 50
    session.release()  # what the page's unload does: the worker stops, models and points are dropped
    assert session.stop.is_set() and not session.results and not session.rows


# ---------------------------------------------------------------- every control acts on what is shown (issue 24)

def arrays_in(value, seen=None) -> list:
    """Every numpy array and torch tensor inside ``value`` (dicts, lists, dataclasses), each storage once."""
    seen = {} if seen is None else seen
    if isinstance(value, np.ndarray):
        seen.setdefault(id(value), value)
    elif isinstance(value, torch.Tensor):
        seen.setdefault(value.untyped_storage().data_ptr(), value)
    elif isinstance(value, dict):
        for item in value.values():
            arrays_in(item, seen)
    elif isinstance(value, (list, tuple)):
        for item in value:
            arrays_in(item, seen)
    elif hasattr(value, "__dict__"):
        arrays_in(vars(value), seen)
    return list(seen.values())


def test_a_control_redraws_the_shown_upload_from_its_kept_logits(checkpoints, tmp_path, monkeypatch):
    from colorizer import inference

    photo().save(tmp_path / "x.png")
    chosen = (checkpoints["cnn"], checkpoints["unet"], checkpoints["beyond"])
    view = colourize_tab.page_answer(colourize_tab.on_colourize_upload(str(tmp_path / "x.png"), *chosen))["view"]
    runs = []
    real = inference.photo_logits
    monkeypatch.setattr(inference, "photo_logits", lambda *args, **kwargs: runs.append(1) or real(*args, **kwargs))
    redrawn = colourize_tab.on_redraw(view, *chosen, "mode", 0.38, False, 96, None)
    assert runs == [], "a decoding change ran the models again instead of decoding their kept logits"
    assert "CNN (cnn.pt) · mode, 640×480" in redrawn["cnn_caption"] and "· mode," in redrawn["beyond_caption"]
    fresh = colourize_tab.on_colourize_upload(str(tmp_path / "x.png"), *chosen, "mode")
    for slot in ("cnn", "unet", "beyond"):
        assert np.array_equal(redrawn[slot], fresh[slot]), slot
    runs.clear()
    class_map = colourize_tab.on_redraw(view, *chosen, "mode", 0.38, True, 96, None)
    assert runs == [] and "class map (mode)" in class_map["unet_caption"]
    smaller = colourize_tab.on_redraw(view, *chosen, "mode", 0.38, False, 48, None)
    assert len(runs) == 3 and smaller["notes"].count("ran at 48×36") == 3  # a new working size: every model runs


def test_a_control_redraws_the_shown_test_image_and_nothing_shown_is_no_error(checkpoints):
    chosen = (checkpoints["cnn"], checkpoints["unet"], checkpoints["beyond"])
    view = colourize_tab.page_answer(colourize_tab.on_colourize_test("horse", 3, *chosen))["view"]
    redrawn = colourize_tab.on_redraw(view, *chosen, "mode", 0.38, True, 96, None)
    assert "class map (mode)" in redrawn["unet_caption"] and "horse #3" in redrawn["notes"]
    _, palette = load_checkpoint(path_of(checkpoints["unet"]))
    assert len(np.unique(redrawn["unet"].reshape(-1, 3), axis=0)) <= len(palette)
    assert colourize_tab.on_redraw(None, *chosen) == {} and colourize_tab.page_answer({}) == {}


def test_the_pages_view_keeps_the_working_size_logits_not_the_pictures(checkpoints, tmp_path):
    """Issue 21: a 2000 px upload kept ~45 MB per session (every picture, twice); the view keeps only
    what a click or a redraw reads."""
    photo((2000, 1500)).save(tmp_path / "big.png")
    chosen = (checkpoints["cnn"], checkpoints["unet"], checkpoints["beyond"])
    out = colourize_tab.page_answer(colourize_tab.on_colourize_upload(str(tmp_path / "big.png"), *chosen))
    kept = arrays_in(out["view"])
    assert kept and all(array.shape[-2:] == (72, 96) or array.shape[-1] == 3 and array.ndim == 2 for array in kept), \
        [tuple(array.shape) for array in kept]  # logits / true classes at the working size, class colours
    assert sum(array.nbytes for array in kept) < 2000 * 1500 * 3  # less than one of the pictures it used to keep


def test_shown_pictures_are_files_named_after_the_photo_and_the_model(checkpoints, tmp_path):
    photo().save(tmp_path / "Holiday photo.png")
    chosen = (checkpoints["cnn"], checkpoints["unet"], checkpoints["beyond"])
    views = [colourize_tab.on_colourize_upload(str(tmp_path / "Holiday photo.png"), *chosen) for _ in range(2)]
    first, second = (colourize_tab.page_answer(view) for view in views)
    for slot in ("grey", "cnn", "unet", "beyond", "original"):
        assert first[slot].endswith(f"/Holiday-photo_{slot}.jpg") and Image.open(first[slot]).size == (640, 480)
    assert first["unet"] != second["unet"]  # each request its own folder: nobody's file is overwritten
    assert first["view"]["slider"]["value"] == (first["grey"], first["beyond"])


def test_a_handler_that_answers_nothing_keeps_every_output_as_it_is():
    """Without the data a first example answers {} ("nothing to show"); Gradio read that as one value for
    several outputs and every page open showed "didn't return enough output values" toasts."""
    import gradio as gr

    from ui.common import named_outputs

    first, second = gr.Markdown(), gr.Image()
    answer = named_outputs(lambda: {}, {"first": first, "second": second})()
    assert set(answer) == {first, second} and all(value == gr.skip() for value in answer.values())
