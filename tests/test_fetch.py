"""pixelwise.fetch on archives the test builds itself: everything but the network."""
import io
import socket
import tarfile
import time

import numpy as np
import pytest
from PIL import Image

from pixelwise import fetch
from segmenter.data import list_ids, load_pair

IDS_WITH_MAP = (1, 81, 1357)  # species 1, 2 and 17
ID_WITHOUT_MAP = 2


def _add(tar: tarfile.TarFile, name: str, image: Image.Image, **save) -> None:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG" if name.endswith(".png") else "JPEG", **save)
    info = tarfile.TarInfo(name)
    info.size = buffer.tell()
    buffer.seek(0)
    tar.addfile(info, buffer)


def _trimap(width: int, height: int) -> tuple[Image.Image, np.ndarray]:
    """A palette trimap with the official colours: sky / background / leaves bands, a flower, an uncertain band."""
    classes = np.full((height, width), 3, np.uint8)
    classes[: height // 8] = 4
    classes[-height // 8 :] = 2
    classes[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 0
    classes[height // 4 + 4 : 3 * height // 4 - 4, width // 4 + 4 : 3 * width // 4 - 4] = 1
    image = Image.fromarray(classes, mode="L").convert("P")
    image.putpalette(fetch.voc_palette())
    return image, classes


@pytest.fixture
def archives(tmp_path):
    """17flowers.tgz (4 photos of odd sizes, one without a map) and trimaps.tgz laid out like the official ones."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "archives"
    folder.mkdir()
    truth = {}
    with tarfile.open(folder / "17flowers.tgz", "w:gz") as photos, \
            tarfile.open(folder / "trimaps.tgz", "w:gz") as trimaps:
        for image_id in (*IDS_WITH_MAP, ID_WITHOUT_MAP):
            width, height = 300 + image_id % 7 * 20, 200 + image_id % 5 * 30
            pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            _add(photos, f"jpg/image_{image_id:04d}.jpg", Image.fromarray(pixels), quality=90)
            if image_id != ID_WITHOUT_MAP:
                trimap, classes = _trimap(width, height)
                _add(trimaps, f"trimaps/image_{image_id:04d}.png", trimap)
                truth[image_id] = classes
        info = tarfile.TarInfo("jpg/files.txt")
        photos.addfile(info, io.BytesIO())
    return folder, truth


def test_archives_become_the_shared_layout(archives, tmp_path):
    folder, truth = archives
    out = fetch.fetch_flowers(tmp_path / "root", tmp_path / "cache", source=str(folder))
    assert out == tmp_path / "root" / "data" / "flowers17"
    assert list_ids(out) == sorted(IDS_WITH_MAP)  # the photo without a map is left out
    for image_id, classes in truth.items():
        photo = Image.open(out / "images" / f"image_{image_id:04d}.jpg")
        mask = Image.open(out / "masks" / f"image_{image_id:04d}.png")
        assert (photo.mode, photo.size, mask.mode, mask.size) == ("RGB", (256, 256), "P", (256, 256))
        assert mask.getpalette() == fetch.voc_palette()
        values = np.asarray(mask)
        assert set(np.unique(values)) == set(np.unique(classes))  # nearest resize: no new values
        assert values[128, 128] == 1 and values[0, 128] == 4 and values[255, 128] == 2 and values[128, 5] == 3
        rgb, labels = load_pair(image_id, out)  # the segmenter reads it as it reads ../shared
        assert rgb.shape == (256, 256, 3) and labels[128, 128] == 1
    assert fetch.verify_manifest(out) == []
    assert not (tmp_path / "root" / "data" / "flowers17.partial").exists()


def test_archives_from_a_file_url_and_reuse(archives, tmp_path, capsys):
    folder, _ = archives
    out = fetch.fetch_flowers(tmp_path / "root", tmp_path / "cache", source=folder.as_uri() + "/")
    assert (tmp_path / "cache" / "trimaps.tgz").is_file()  # downloaded through urllib
    assert "trimaps.tgz: sha256 " in capsys.readouterr().out
    fetch.fetch_flowers(tmp_path / "root", tmp_path / "cache", source=folder.as_uri())
    assert "complete (SHA256SUMS verified)" in capsys.readouterr().out
    (out / "masks" / "image_0081.png").write_bytes(b"damaged")
    assert fetch.verify_manifest(out) == ["masks/image_0081.png"]


def test_a_wrong_checksum_is_refused(archives, tmp_path):
    folder, _ = archives
    with pytest.raises(fetch.FetchError, match="does not match the expected"):
        fetch.download((folder / "trimaps.tgz").as_uri(), tmp_path / "t.tgz", sha256="0" * 64)
    assert not (tmp_path / "t.tgz").exists() and not (tmp_path / "t.tgz.part").exists()


def test_rgb_trimaps_map_to_the_same_classes():
    trimap, classes = _trimap(40, 32)
    assert np.array_equal(fetch.trimap_classes(trimap.convert("RGB")), classes)
    with pytest.raises(fetch.FetchError, match="not the VOC colours"):
        fetch.trimap_classes(Image.new("RGB", (8, 8), (10, 20, 30)))


def _unreachable(monkeypatch):
    """Make every TCP connection fail at once, as on a machine without internet."""
    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)


def test_offline_every_item_says_what_it_tried_and_what_to_do(tmp_path, monkeypatch, capsys):
    _unreachable(monkeypatch)
    monkeypatch.setenv("PIXELWISE_CACHE", str(tmp_path / "cache"))
    start = time.monotonic()
    assert fetch.main(["--root", str(tmp_path / "root")]) == 1
    assert time.monotonic() - start < 10
    err = capsys.readouterr().err
    assert "cifar10: FAILED: CIFAR-10: cannot reach https://www.cs.toronto.edu" in err and "PIXELWISE_DATA" in err
    assert "flowers17: FAILED: Oxford 17 Flowers: cannot reach www.robots.ox.ac.uk" in err
    assert "--archives DIR" in err and "PIXELWISE_FLOWERS" in err
    assert "mobilenet_v2: FAILED: MobileNetV2: cannot reach https://download.pytorch.org" in err
    assert "TORCH_HOME" in err


def test_cifar_split_is_numbered_per_class_in_dataset_order(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    fetch.write_cifar_split(images, [7, 0, 7, 9, 7], tmp_path / "train")
    assert sorted(p.name for p in (tmp_path / "train" / "horse").iterdir()) == ["0000.jpg", "0001.jpg", "0002.jpg"]
    third_horse = np.asarray(Image.open(tmp_path / "train" / "horse" / "0002.jpg"), dtype=float)
    assert np.abs(third_horse - images[4]).mean() < np.abs(third_horse - images[2]).mean()
    assert (tmp_path / "train" / "truck" / "0000.jpg").is_file() and not any((tmp_path / "train" / "cat").iterdir())
