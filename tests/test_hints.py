"""Hint planes (colorizer.hints), photo folders (colorizer.photos), the Imagenette fetcher and the
trainer's photo/hint options, on data the tests make themselves."""
import io
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import hints, inference, lab, photos
from colorizer.models import MobileUNet
from colorizer.trainer import TrainConfig, data_for, train
from pixelwise import fetch


# ------------------------------------------------------------------ the training-time sampler

def test_hint_count_is_geometric_with_p_one_eighth():
    generator = torch.Generator().manual_seed(0)
    counts = torch.tensor([hints.hint_count(generator) for _ in range(4000)]).float()
    assert counts.min() == 1
    assert counts.mean().item() == pytest.approx(8.0, abs=0.5)  # mean of Geometric(1/8) on 1, 2, ...
    assert (counts == 1).float().mean().item() == pytest.approx(1 / 8, abs=0.02)


def test_sampled_patches_have_sides_one_to_nine_and_lie_inside_the_image():
    generator = torch.Generator().manual_seed(1)
    patches = [patch for _ in range(500) for patch in hints.sample_patches(20, 30, generator)]
    sides = torch.tensor([rows for _, _, rows, columns in patches])
    assert set(sides.tolist()) == set(range(1, 10))
    assert all(rows == columns for _, _, rows, columns in patches)  # squares (none clipped at 20 x 30)
    assert all(0 <= top and top + rows <= 20 and 0 <= left and left + columns <= 30 for top, left, rows, columns in patches)
    shares = torch.bincount(sides, minlength=10)[1:].float() / len(sides)
    assert shares.min() > 0.08 and shares.max() < 0.14  # uniform: 1/9 each


def test_hint_planes_hold_the_patch_mean_ab_and_a_mask_and_no_hint_share_is_kept():
    generator = torch.Generator().manual_seed(2)
    ab = torch.randn(400, 16, 16, 2) * 30
    planes = hints.sample_hint_planes(ab, generator, no_hint_share=0.25)
    empty = (planes[:, 2].flatten(1).sum(1) == 0).float().mean().item()
    assert empty == pytest.approx(0.25, abs=0.06)
    hinted = planes[:, 2] == 1
    assert (planes[:, :2].abs().sum(1)[~hinted] == 0).all()  # no colour where there is no hint
    # an image with exactly one patch: its planes hold that patch's mean ab / 110
    generator = torch.Generator().manual_seed(3)
    one = torch.zeros(1, 16, 16, 2)
    one[0, :, :, 0] = torch.arange(16.0)[None, :]  # a varies along x
    for _ in range(200):
        state = generator.get_state()
        if torch.rand(1, generator=generator).item() >= 0.1 and hints.hint_count(generator) == 1:
            break
    generator.set_state(state)
    planes = hints.sample_hint_planes(one, generator, no_hint_share=0.1)[0]
    rows, columns = torch.nonzero(planes[2], as_tuple=True)
    assert planes[0, rows, columns].allclose(torch.full((len(rows),), columns.float().mean().item() / hints.AB_SCALE))


def test_sampling_is_deterministic_for_a_seed():
    ab = torch.randn(8, 12, 12, 2)
    first = hints.sample_hint_planes(ab, torch.Generator().manual_seed(5))
    second = hints.sample_hint_planes(ab, torch.Generator().manual_seed(5))
    assert torch.equal(first, second)


# ------------------------------------------------------------------ user hints

@pytest.mark.parametrize("size", [(300, 100), (100, 300), (640, 480), (97, 61)])
def test_a_hint_lands_on_the_model_pixel_that_covers_it_for_any_aspect_ratio(size):
    work = inference.long_side_size(*size, 96)
    for x, y in [(0, 0), (size[0] - 1, size[1] - 1), (size[0] // 2, size[1] // 3), (size[0] - 1, 0)]:
        column, row = hints.model_pixel(x, y, size, work)
        # the model pixel's footprint in the upload contains (x, y)
        assert column * size[0] / work[0] <= x < (column + 1) * size[0] / work[0]
        assert row * size[1] / work[1] <= y < (row + 1) * size[1] / work[1]
        planes = hints.hint_planes([hints.Hint(x, y, (255, 0, 0))], size, work, patch=1)
        assert planes[2].sum() == 1 and planes[2, row, column] == 1
        red_ab = lab.rgb_to_lab(torch.tensor([255, 0, 0], dtype=torch.uint8))[1:] / hints.AB_SCALE
        assert planes[:2, row, column].allclose(red_ab)


def test_colours_parse_in_every_form_a_person_or_gradio_gives_them():
    assert hints.parse_colour("#ff8000") == (255, 128, 0)
    assert hints.parse_colour("#F80") == (255, 136, 0)
    assert hints.parse_colour("rgba(10, 20, 30, 1)") == (10, 20, 30)
    assert hints.parse_colour([1, 2, 3]) == (1, 2, 3)
    for bad in ("#12345", "red", "#gg0000", (1, 2), (0, 0, 256), None):
        with pytest.raises(hints.HintError):
            hints.parse_colour(bad)


def test_bad_hints_get_plain_messages():
    with pytest.raises(hints.HintError, match="outside the 100 x 50 image"):
        hints.checked_hints([{"x": 100, "y": 0, "colour": "#ff0000"}], (100, 50))
    with pytest.raises(hints.HintError, match="at most"):
        hints.checked_hints([(1, 1, "#000000")] * (hints.MAX_HINTS + 1), (100, 50))
    with pytest.raises(hints.HintError, match="needs x, y and colour"):
        hints.checked_hints([{"x": 1}], (100, 50))
    with pytest.raises(hints.HintError, match="whole pixel numbers"):
        hints.checked_hints([("a", 1, "#000000")], (100, 50))
    assert hints.checked_hints([{"x": 3, "y": 4, "color": "#010203"}], (10, 10)) == [hints.Hint(3, 4, (1, 2, 3))]


def _hint_model(seed=0):
    torch.manual_seed(seed)
    model = MobileUNet(num_filters=8, num_colours=12, in_channels=4).eval()
    torch.nn.init.normal_(model.hint_conv.weight, std=0.5)  # an untrained but hint-sensitive model
    model.colour_space, model.ab_centres = "lab", torch.randn(12, 2) * 40
    return model


def test_zero_hints_through_the_hint_model_equal_the_automatic_path():
    model = _hint_model()
    photo = inference.prepare_photo(np.random.default_rng(0).integers(0, 256, (70, 130, 3), dtype=np.uint8))
    automatic = inference.colourize_prepared(model, torch.zeros(12, 3), photo, decoding="annealed")
    empty = inference.colourize_prepared(model, torch.zeros(12, 3), photo, decoding="annealed", hints=[])
    assert torch.equal(automatic.logits, empty.logits) and np.array_equal(automatic.colour, empty.colour)
    hinted = inference.colourize_prepared(model, torch.zeros(12, 3), photo, decoding="annealed",
                                          hints=[(65, 35, "#00ff00")])
    assert not torch.equal(hinted.logits, automatic.logits)


def test_models_without_hint_planes_refuse_hints():
    from colorizer.models import UNet
    model = UNet().eval()
    photo = inference.prepare_photo(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(hints.HintError, match="takes no hints"):
        inference.colourize_prepared(model, torch.rand(24, 3), photo, hints=[(1, 1, "#ff0000")])


# ------------------------------------------------------------------ photo folders and the fetcher

def _photo_folder(root, counts=(("train", 6), ("val", 3))):
    rng = np.random.default_rng(0)
    for split, count in counts:
        for index in range(count):
            folder = root / split / f"n0000000{index % 2}"
            folder.mkdir(parents=True, exist_ok=True)
            size = (40 + 13 * index, 30 + 7 * index)  # any size and aspect
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            image = Image.fromarray(pixels)
            if index % 3 == 1:
                image = image.convert("P")  # odd modes decode to RGB too
            image.save(folder / f"photo_{index}.{'png' if index % 3 == 1 else 'JPEG'}")
    return root


def test_photo_folders_of_any_size_decode_once_to_square_crops(tmp_path):
    root = _photo_folder(tmp_path / "photos")
    train = photos.load_photos(str(root), "train", 32)
    assert train.shape == (6, 32, 32, 3) and train.dtype == torch.uint8
    assert photos.load_photos(str(root), "train", 32) is train  # cached
    assert photos.load_photos(str(root), "val", 32).shape == (3, 32, 32, 3)
    mixed = photos.load_photo_sources(f"{root},{root}", "train", 32)
    assert mixed.shape[0] == 12
    crops = photos.random_crops(train, 24, torch.Generator().manual_seed(0))
    again = photos.random_crops(train, 24, torch.Generator().manual_seed(0))
    assert crops.shape == (6, 24, 24, 3) and torch.equal(crops, again)
    with pytest.raises(Exception, match="does not exist"):
        photos.load_photos(str(tmp_path / "nowhere"), "train", 32)


def test_training_on_photos_with_hints_is_deterministic_and_records_its_settings(tmp_path):
    root = _photo_folder(tmp_path / "photos", (("train", 8), ("val", 2)))
    config = TrainConfig(model="deep_unet", data_root=str(root), photo_size=16, photo_cache_side=24, target="lab_grid",
                         rebalance=0.5, hints=True, hflip=True, epochs=2, batch_size=4, num_filters=4, depth=2,
                         loss_pixel_share=0.5, precision="fp32", device="cpu")
    data = data_for(config)
    assert data.train_count == 8 and data.val_grey.shape == (2, 4, 16, 16)  # L + empty hint planes
    first, second = train(config, data), train(config, data)
    assert first.model.config.in_channels == 4
    assert [event.train_loss for event in first.history] == [event.train_loss for event in second.history]
    meta = first.meta()
    assert meta["photo_size"] == 16 and meta["hints"] is True and meta["precision"] == "fp32"


def _tgz_with(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, image in members:
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG")
            info = tarfile.TarInfo(name)
            info.size = buffer.tell()
            buffer.seek(0)
            tar.addfile(info, buffer)


def test_imagenette_archive_becomes_the_shared_layout_without_grey_photos(tmp_path):
    rng = np.random.default_rng(0)
    colour = Image.fromarray(rng.integers(0, 256, (160, 213, 3), dtype=np.uint8))
    grey = Image.fromarray(rng.integers(0, 256, (160, 160), dtype=np.uint8))
    archive = tmp_path / "imagenette2-160.tgz"
    _tgz_with(archive, [("imagenette2-160/train/n01440764/a.JPEG", colour),
                        ("imagenette2-160/train/n01440764/b.JPEG", grey),
                        ("imagenette2-160/val/n02102040/c.JPEG", colour)])
    out = tmp_path / "data" / "imagenette160"
    assert fetch.build_imagenette(archive, out) == (2, 1)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.JPEG")) == [
        "train/n01440764/a.JPEG", "val/n02102040/c.JPEG"]
    assert (out / "SHA256SUMS").is_file() and not fetch.verify_manifest(out)
    assert photos.load_photos(str(out), "val", 32).shape == (1, 32, 32, 3)


def test_imagenette_fetch_offline_fails_fast_with_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "url_reachable", lambda url, *a, **k: False)
    with pytest.raises(fetch.FetchError, match="PIXELWISE_IMAGENETTE"):
        fetch.fetch_imagenette(tmp_path, tmp_path / "cache")
