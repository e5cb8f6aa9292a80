"""Turning whatever a person uploads into a uint8 RGB array, or a clear ImageError.

Handles the modes PIL's plain ``convert("RGB")`` gets wrong: 16-bit and 32-bit
greys (which it clips to white), float images, and transparency (which it drops
onto black). Used by colorizer, segmenter and the app.
"""
import io
import math
import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 50_000_000  # ~7000 x 7000; bigger uploads are refused rather than exhausting memory
DISPLAY_LONG_SIDE = 2000  # shown results are at most this long (a full-size one is a download); a
# 4000 x 3000 JPEG then decodes at half scale (DCT), a quarter of the memory and time
MIN_SIDE = 4  # the models' smallest working size; a 1 x 1 upload holds no picture to colourize
READABLE = "PNG, JPEG, WebP, TIFF, BMP or GIF"

# First bytes of formats a person may try; (magic, offset, what it is, what to do)
_KNOWN_OTHERS = (
    (b"%PDF", 0, "a PDF document", "export the page as PNG or JPEG"),
    (b"ftypheic", 4, "an HEIC photo (the iPhone format)", "export it as JPEG (or set the camera to 'Most Compatible')"),
    (b"ftypheix", 4, "an HEIC photo (the iPhone format)", "export it as JPEG"),
    (b"ftypmif1", 4, "an HEIF/AVIF image", "export it as JPEG or PNG"),
    (b"ftypavif", 4, "an AVIF image", "export it as JPEG or PNG"),
    (b"PK\x03\x04", 0, "a zip archive (or an office document)", "unpack it and upload one image"),
    (b"8BPS", 0, "a Photoshop file", "export it as PNG or JPEG"),
)
_IMAGE_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF8", "GIF"), (b"BM", "BMP"),
                (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


class ImageError(ValueError):
    """An upload that cannot be used as an image, with a message fit to show the person."""


def _head(source) -> bytes:
    if isinstance(source, bytes):
        return source[:4096]
    if isinstance(source, (str, Path)):
        with open(source, "rb") as file:
            return file.read(4096)
    position = source.tell()
    head = source.read(4096)
    source.seek(position)
    return head


def _what_is_wrong(head: bytes) -> str:
    """Plain words for a file PIL could not read, judged from its first bytes."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:5].lower() == b"<?xml" and b"<svg" in head.lower() or stripped[:4].lower() == b"<svg":
        return "this is an SVG, a vector drawing rather than pixels; export it as PNG and upload that"
    for magic, offset, what, advice in _KNOWN_OTHERS:
        if head[offset:offset + len(magic)] == magic:
            return f"this is {what}, not an image this app reads ({READABLE}); {advice}"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" or any(head.startswith(m) for m, _ in _IMAGE_MAGIC):
        kind = "WebP" if head[:4] == b"RIFF" else next(k for m, k in _IMAGE_MAGIC if head.startswith(m))
        return f"the {kind} file is damaged or cut short (it ends before the picture does); upload the complete file"
    try:
        text = head.decode("utf-8")
        if text and sum(c.isprintable() or c.isspace() for c in text) > 0.95 * len(text):
            return f"this file holds text, not a picture; upload a {READABLE} image"
    except UnicodeDecodeError:
        pass
    return f"not an image format this app reads; upload a {READABLE} image"


def open_image(source: str | Path | bytes | io.IOBase, name: str | None = None,
               max_side: int | None = None) -> Image.Image:
    """Open and decode an image file, raising ImageError (naming the file as ``name``, default its file
    name) for empty, unreadable, tiny or huge files. ``max_side``: the caller will shrink the image so its
    long side is at most this, so a JPEG may be decoded at 1/2, 1/4 or 1/8 scale (PIL's draft)."""
    name = name or (Path(source).name if isinstance(source, (str, Path)) else "the upload")
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        head = _head(source)
    except OSError:
        raise ImageError(f"{name}: the file could not be read; upload it again") from None
    if not head:
        raise ImageError(f"{name}: the file is empty (0 bytes); upload the image itself")
    try:
        image = Image.open(source)
        check_size(image, name)
        declared = image.size
        if max_side and image.format == "JPEG":
            scale = max_side / max(image.size)
            if scale <= 0.5:  # DCT scaling decodes straight to a smaller size: less time, far less memory
                image.draft(None, (max(1, math.ceil(image.width * scale)), max(1, math.ceil(image.height * scale))))
        image.load()
        decoded = image.size
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(f"{name}: the image is too large (over {MAX_PIXELS / 1e6:.0f} megapixels); "
                         "shrink it and upload again") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError):
        raise ImageError(f"{name}: {_what_is_wrong(head)}") from None
    ImageOps.exif_transpose(image, in_place=True)  # in place: the default copies the whole image
    image.full_size = declared if image.size == decoded else declared[::-1]  # (width, height) before any draft
    return image


def check_size(image: Image.Image, name: str = "the image") -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(f"{name}: {width} × {height} pixels is more than this app takes "
                         f"({MAX_PIXELS / 1e6:.0f} megapixels); shrink it and upload again")
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"{name}: the image is only {width} × {height} pixels; "
                         f"upload one at least {MIN_SIDE} pixels on each side")


def _scale_to_uint8(values: np.ndarray) -> np.ndarray:
    """Integer colours of any range -> uint8; anything over 255 is read as 16-bit (or scaled by its peak)."""
    peak = float(values.max(initial=0))
    scale = 1.0 if peak <= 255 else 255.0 / (65535.0 if peak <= 65535 else peak)
    return np.clip(values.astype(np.float64) * scale, 0, 255).round().astype(np.uint8)


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    return (rgba[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)


def to_rgb(image: Image.Image | np.ndarray) -> np.ndarray:
    """Any PIL image or numpy array -> H x W x 3 uint8 RGB (transparency composited on white)."""
    if isinstance(image, Image.Image):
        if image.width * image.height > MAX_PIXELS:
            check_size(image)
        if image.mode.startswith("I;16"):  # 16-bit by declaration, however dark: 65535 is white
            array = np.asarray(image).astype(np.float64) * (255.0 / 65535.0)
            return to_rgb(np.clip(array, 0, 255).round().astype(np.uint8))
        if image.mode in ("I", "F"):  # 32-bit: no declared range, so judge by the values
            array = np.asarray(image)
            if image.mode == "F":
                array = array.astype(np.float32)
            return to_rgb(array if image.mode == "F" or array.max(initial=0) > 255 else array.astype(np.uint8))
        if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
            return _composite_on_white(np.asarray(image.convert("RGBA")))
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))  # RGB: no second copy
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or array.shape[0] * array.shape[1] == 0:
        raise ImageError(f"cannot use an array of shape {array.shape} as an image")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise ImageError(f"image too large: {array.shape[1]} x {array.shape[0]} is over {MAX_PIXELS:,} pixels")
    if array.dtype != np.uint8:
        array = _scale_to_uint8(array) if array.dtype.kind != "f" else _scale_float(array)
    return _composite_on_white(array) if array.shape[2] == 4 else np.ascontiguousarray(array)


def _scale_float(array: np.ndarray) -> np.ndarray:
    peak = np.nanmax(array, initial=0)
    scale = 255.0 if peak <= 1.0 else (255.0 / 65535.0 if peak > 255 else 1.0)
    return np.clip(np.nan_to_num(array.astype(np.float64) * scale), 0, 255).round().astype(np.uint8)


def load_rgb(source: str | Path | bytes | io.IOBase, name: str | None = None,
             max_side: int | None = None) -> np.ndarray:
    """open_image + to_rgb; with ``max_side``, shrunk (never enlarged) so its long side is at most that."""
    return to_rgb(shrink(open_image(source, name, max_side), max_side))


def shrink(image: Image.Image, max_side: int | None) -> Image.Image:
    """A copy whose long side is at most ``max_side`` (the image itself when it already fits)."""
    if not max_side or max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if image.mode not in ("RGB", "RGBA", "L", "LA", "F", "I"):  # palette, CMYK, 1-bit...: to RGB first
        image = Image.fromarray(to_rgb(image))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)


def has_colour(rgb: np.ndarray, tolerance: float = 3.0) -> bool:
    """True unless R, G and B are (nearly) equal everywhere: a grey photo saved as RGB has no colour to show."""
    rgb = rgb.astype(np.int16)
    spread = np.abs(rgb[..., 0] - rgb[..., 1]) + np.abs(rgb[..., 1] - rgb[..., 2])
    return float(spread.mean()) > tolerance
