"""Fetch the data the app and the tests read, from the official sources, into the folder they look in.

    python -m pixelwise.fetch                      # all three items into ../shared (beside the repo)
    python -m pixelwise.fetch flowers17 --root DIR # one item, another folder (then set the variables printed)
    python -m pixelwise.fetch flowers17 --archives ~/Downloads   # archives downloaded by hand

- cifar10: torchvision's CIFAR10 download (md5-checked by torchvision) into the app's cache
  ($PIXELWISE_CACHE, default ~/.cache/pixelwise), written out as ROOT/data/cifar10/{train,test}/<class>/NNNN.jpg
  (JPEG quality 75, 4:2:0, the encoding of the shared copy; class order = dataset order).
- flowers17: the VGG archives 17flowers.tgz (1,360 photos) and trimaps.tgz (the segmented subset), only
  photos with a map kept, resized to 256x256 as ROOT/data/flowers17/images/image_NNNN.jpg (quality 95) and
  masks/image_NNNN.png (palette PNG, values 0 uncertain, 1 flower, 2 leaves, 3 background, 4 sky; nearest-
  neighbour resize so no new values appear), plus SHA256SUMS over every file written.
- mobilenet_v2: torchvision's ImageNet MobileNetV2 weights (hash-checked) into ROOT/weights/.
- imagenette: fast.ai's imagenette2-160.tgz (10 ImageNet classes, short side 160) as
  ROOT/data/imagenette160/{train,val}/<wnid>/<name>.JPEG, the shared copy's layout; greyscale photos
  (mode L, or R = G = B everywhere) are left out, as there, and SHA256SUMS is written over every file.

Offline every item fails within seconds and says what it tried and which folder or variable to use instead.
"""
import argparse
import hashlib
import io
import re
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
from PIL import Image
from tqdm import tqdm

from .network import url_reachable
from .settings import SHARED_ROOT as DEFAULT_ROOT, cache_dir

FLOWERS_URL = "https://www.robots.ox.ac.uk/~vgg/data/flowers/17/"
FLOWERS_ARCHIVES = ("17flowers.tgz", "trimaps.tgz")
# sha256 of the official archives: not pinned yet (they could not be downloaded where this was written);
# a download prints its sha256 so it can be pinned here, after which a mismatch is an error.
FLOWERS_SHA256 = {"17flowers.tgz": None, "trimaps.tgz": None}
FLOWER_SIZE = 256
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGENETTE_URL = "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz"
ITEMS = ("cifar10", "flowers17", "mobilenet_v2", "imagenette")


class FetchError(RuntimeError):
    """One item could not be fetched; the message says what was tried and what to do instead."""


# ------------------------------------------------------------------ downloading


def _reachable(url: str) -> bool:
    return urlparse(url).scheme not in ("http", "https") or url_reachable(url)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, sha256: str | None = None) -> Path:
    """Fetch ``url`` (http(s) or file://) to ``dest`` with a progress bar; reuse a complete earlier copy."""
    if dest.is_file() and (sha256 is None or sha256_of(dest) == sha256):
        return dest
    if not _reachable(url):
        raise FetchError(f"cannot reach {urlparse(url).hostname} for {url} (offline?)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
    except OSError as error:
        part.unlink(missing_ok=True)
        raise FetchError(f"downloading {url} failed ({type(error).__name__}: {error})") from None
    if sha256 is not None and digest.hexdigest() != sha256:
        part.unlink(missing_ok=True)
        raise FetchError(f"{url}: sha256 {digest.hexdigest()} does not match the expected {sha256}")
    part.replace(dest)
    print(f"{dest.name}: sha256 {digest.hexdigest()}")
    return dest


# ------------------------------------------------------------------ Oxford 17 Flowers


def voc_palette() -> list[int]:
    """The PASCAL VOC colour map (index 1 = dark red, 2 = green, ...), the palette of the shared masks."""
    palette = []
    for index in range(256):
        rgb, c = [0, 0, 0], index
        for bit in range(8):
            for channel in range(3):
                rgb[channel] |= ((c >> channel) & 1) << (7 - bit)
            c >>= 3
        palette += rgb
    palette[-3:] = [0, 0, 0]  # index 255 is unused; black, as in the shared masks' palette
    return palette


def trimap_classes(trimap: Image.Image) -> np.ndarray:
    """H x W uint8 class values of an official trimap (a VOC-palette PNG, or the same colours as RGB)."""
    voc = voc_palette()
    if trimap.mode == "P" and trimap.getpalette()[:15] == voc[:15]:
        return np.asarray(trimap, dtype=np.uint8)
    rgb = np.asarray(trimap.convert("RGB"), dtype=np.uint32)
    codes = rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]
    colour_to_class = {r << 16 | g << 8 | b: i for i, (r, g, b) in enumerate(zip(voc[0::3], voc[1::3], voc[2::3]))}
    lookup = np.vectorize(lambda code: colour_to_class.get(int(code), 255), otypes=[np.uint8])
    unique, inverse = np.unique(codes, return_inverse=True)
    classes = lookup(unique)[inverse].reshape(codes.shape)
    if (classes == 255).mean() > 0.5:
        raise FetchError(f"trimap colours {sorted(set(unique.tolist()))[:8]} are not the VOC colours expected")
    classes[classes == 255] = 0  # an unknown colour is as good as uncertain
    return classes


def _members(tar: tarfile.TarFile, suffix: str) -> dict[int, tarfile.TarInfo]:
    pattern = re.compile(rf"(?:^|/)image_(\d{{4}})\.{suffix}$")
    found = {}
    for member in tar.getmembers():
        match = pattern.search(member.name)
        if member.isfile() and match:
            found[int(match.group(1))] = member
    return found


def build_flowers(images_tgz: Path, trimaps_tgz: Path, out: Path, size: int = FLOWER_SIZE) -> int:
    """Turn the two official archives into out/images/*.jpg + out/masks/*.png (ids with a trimap only).

    Writes into a temporary sibling folder and renames it at the end, so a broken run never leaves a
    half-filled folder that would look like data. Returns the number of pairs written."""
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "images").mkdir(parents=True)
    (tmp / "masks").mkdir()
    palette = voc_palette()
    with tarfile.open(trimaps_tgz) as trimaps_tar, tarfile.open(images_tgz) as images_tar:
        trimaps, photos = _members(trimaps_tar, "png"), _members(images_tar, "jpg")
        ids = sorted(set(trimaps) & set(photos))
        if not ids:
            raise FetchError(f"no image_NNNN.jpg in {images_tgz.name} has an image_NNNN.png in {trimaps_tgz.name}")
        for image_id in tqdm(ids, desc="flowers17", unit="img"):
            name = f"image_{image_id:04d}"
            photo = Image.open(io.BytesIO(images_tar.extractfile(photos[image_id]).read())).convert("RGB")
            photo.resize((size, size), Image.LANCZOS).save(tmp / "images" / f"{name}.jpg", quality=95)
            trimap = Image.open(io.BytesIO(trimaps_tar.extractfile(trimaps[image_id]).read()))
            mask = Image.fromarray(trimap_classes(trimap), mode="L").resize((size, size), Image.NEAREST)
            mask = mask.convert("P")
            mask.putpalette(palette)
            mask.save(tmp / "masks" / f"{name}.png")
    write_manifest(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return len(ids)


def write_manifest(folder: Path) -> None:
    lines = [f"{sha256_of(p)}  {p.relative_to(folder).as_posix()}"
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "SHA256SUMS"]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def verify_manifest(folder: Path) -> list[str]:
    """Files under ``folder`` whose sha256 differs from SHA256SUMS (missing files included)."""
    bad = []
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        path = folder / name
        if not path.is_file() or sha256_of(path) != digest:
            bad.append(name)
    return bad


def fetch_flowers(root: Path, cache: Path, source: str = FLOWERS_URL) -> Path:
    """Download (or take from ``source``, a folder or URL prefix) both archives and build the folder."""
    out = root / "data" / "flowers17"
    if (out / "SHA256SUMS").is_file() and not verify_manifest(out):
        print(f"flowers17: {out} is complete (SHA256SUMS verified)")
        return out
    archives = []
    for name in FLOWERS_ARCHIVES:
        local = Path(source).expanduser() / name
        if "://" not in source and local.is_file():
            archives.append(local)
            continue
        url = source if "://" in source else FLOWERS_URL
        try:
            archives.append(download(url.rstrip("/") + "/" + name, cache / name, FLOWERS_SHA256[name]))
        except FetchError as error:
            raise FetchError(
                f"Oxford 17 Flowers: {error}. Instead download {FLOWERS_URL}17flowers.tgz and "
                f"{FLOWERS_URL}trimaps.tgz by hand and run `python -m pixelwise.fetch flowers17 --archives DIR`, "
                "or set PIXELWISE_FLOWERS to a folder laid out as images/image_NNNN.jpg + masks/image_NNNN.png"
            ) from None
    count = build_flowers(*archives, out)
    print(f"flowers17: {count} photos with masks in {out}")
    return out


# ------------------------------------------------------------------ Imagenette


def _is_grey(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        if image.mode in ("L", "LA", "1", "I", "I;16"):
            return True
        rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
        return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def build_imagenette(archive: Path, out: Path) -> tuple[int, int]:
    """imagenette2-160.tgz -> out/{train,val}/<wnid>/<name>.JPEG (colour photos only, bytes as in the archive).
    Written into a .partial sibling and renamed at the end. Returns (photos written, greyscale left out)."""
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    pattern = re.compile(r"(?:^|/)(train|val)/(n\d{8})/([^/]+\.jpe?g)$", re.IGNORECASE)
    written = grey = 0
    with tarfile.open(archive) as tar:
        for member in tqdm(tar.getmembers(), desc="imagenette", unit="file"):
            match = pattern.search(member.name)
            if not (member.isfile() and match):
                continue
            data = tar.extractfile(member).read()
            if _is_grey(data):
                grey += 1
                continue
            dest = tmp / match.group(1) / match.group(2) / match.group(3)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            written += 1
    if not written:
        raise FetchError(f"{archive.name} holds no train/WNID/*.JPEG or val/WNID/*.JPEG photos")
    write_manifest(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return written, grey


def fetch_imagenette(root: Path, cache: Path, url: str = IMAGENETTE_URL) -> Path:
    out = root / "data" / "imagenette160"
    if (out / "SHA256SUMS").is_file():
        print(f"imagenette: {out} already written")
        return out
    try:
        archive = download(url, cache / Path(urlparse(url).path).name)
    except FetchError as error:
        raise FetchError(f"Imagenette: {error}. Instead download {IMAGENETTE_URL} by hand and put it in {cache}, "
                         "or set PIXELWISE_IMAGENETTE to a folder laid out as train/WNID/*.JPEG and val/WNID/*.JPEG") from None
    written, grey = build_imagenette(archive, out)
    print(f"imagenette: {written} colour photos in {out} ({grey} greyscale left out)")
    return out


# ------------------------------------------------------------------ CIFAR-10 and MobileNetV2


def write_cifar_split(images: np.ndarray, targets, out: Path) -> None:
    """N x 32 x 32 x 3 uint8 + labels -> out/<class>/NNNN.jpg, numbered per class in dataset order."""
    counts = dict.fromkeys(range(len(CIFAR_CLASSES)), 0)
    for name in CIFAR_CLASSES:
        (out / name).mkdir(parents=True, exist_ok=True)
    for image, label in zip(tqdm(images, desc=out.name, unit="img"), targets):
        label = int(label)
        Image.fromarray(image).save(out / CIFAR_CLASSES[label] / f"{counts[label]:04d}.jpg", quality=75)
        counts[label] += 1


def fetch_cifar10(root: Path, cache: Path) -> Path:
    from torchvision.datasets import CIFAR10

    out = root / "data" / "cifar10"
    if (out / "SHA256SUMS").is_file():
        print(f"cifar10: {out} already written")
        return out
    extracted = cache / CIFAR10.base_folder
    if not extracted.is_dir() and not _reachable(CIFAR10.url):
        raise FetchError(f"CIFAR-10: cannot reach {CIFAR10.url} (offline?). Instead set PIXELWISE_DATA to an "
                         "image folder laid out as train/CLASS/*.jpg and test/CLASS/*.jpg")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for split in ("train", "test"):
        dataset = CIFAR10(str(cache), train=split == "train", download=True)  # md5-checked by torchvision
        write_cifar_split(dataset.data, dataset.targets, tmp / split)
    write_manifest(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(f"cifar10: 60,000 images in {out} (the original archive stays in {cache})")
    return out


def fetch_mobilenet_v2(root: Path) -> Path:
    """Into ROOT/weights for the default root (where segmenter looks), else torch's own hub cache."""
    import torch
    from torchvision.models import MobileNet_V2_Weights

    url = MobileNet_V2_Weights.IMAGENET1K_V1.url
    default = root.resolve() == DEFAULT_ROOT.resolve()
    weights_dir = root / "weights" if default else Path(torch.hub.get_dir()) / "checkpoints"
    dest = weights_dir / Path(urlparse(url).path).name
    if not dest.is_file() and not _reachable(url):
        raise FetchError(f"MobileNetV2: cannot reach {url} (offline?). Instead download it by hand and put "
                         f"{dest.name} in {weights_dir} or in $TORCH_HOME/hub/checkpoints")
    torch.hub.load_state_dict_from_url(url, model_dir=str(weights_dir), progress=True, check_hash=True,
                                       weights_only=True)
    print(f"mobilenet_v2: {dest} (sha256 prefix checked by torch.hub)")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("items", nargs="*", metavar="ITEM", help=f"any of {', '.join(ITEMS)} (default: all)")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT,
                        help="writes ROOT/data/cifar10, ROOT/data/flowers17, ROOT/data/imagenette160, ROOT/weights (default: ../shared)")
    parser.add_argument("--archives", default=FLOWERS_URL,
                        help="folder (or URL prefix) holding 17flowers.tgz and trimaps.tgz")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.items) - set(ITEMS))
    if unknown:
        parser.error(f"unknown item(s) {', '.join(unknown)}; choose from {', '.join(ITEMS)}")
    cache = cache_dir()
    failed = []
    for item in args.items or ITEMS:
        try:
            if item == "cifar10":
                fetch_cifar10(args.root, cache)
            elif item == "flowers17":
                fetch_flowers(args.root, cache, args.archives)
            elif item == "imagenette":
                fetch_imagenette(args.root, cache)
            else:
                fetch_mobilenet_v2(args.root)
        except FetchError as error:
            print(f"{item}: FAILED: {error}", file=sys.stderr)
            failed.append(item)
    if args.root.resolve() != DEFAULT_ROOT.resolve():
        print(f"Not the default folder: export PIXELWISE_DATA={args.root / 'data' / 'cifar10'} "
              f"PIXELWISE_FLOWERS={args.root / 'data' / 'flowers17'} "
              f"PIXELWISE_IMAGENETTE={args.root / 'data' / 'imagenette160'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
