"""Turning whatever a person uploads into a uint8 RGB array, or a clear ImageError.

Handles the modes PIL's plain ``convert("RGB")`` gets wrong: 16-bit and 32-bit
greys (which it clips to white), float images, and transparency (which it drops
onto black). Used by colorizer, segmenter and the app.
"""
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 50_000_000  # ~7000 x 7000; bigger uploads are refused rather than exhausting memory


class ImageError(ValueError):
    """An upload that cannot be used as an image, with a message fit to show the person."""


def open_image(source: str | Path | bytes | io.IOBase) -> Image.Image:
    """Open and fully decode an image file, raising ImageError for empty, corrupt or huge files."""
    name = str(source) if isinstance(source, (str, Path)) else "upload"
    if isinstance(source, (str, Path)) and Path(source).is_file() and Path(source).stat().st_size == 0:
        raise ImageError(f"{Path(source).name}: the file is empty")
    if isinstance(source, bytes):
        if not source:
            raise ImageError("the upload is empty")
        source = io.BytesIO(source)
    try:
        image = Image.open(source)
        check_size(image)
        image.load()
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{Path(name).name}: not a readable image ({error})") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{Path(name).name}: image too large (over {MAX_PIXELS:,} pixels)") from None
    return ImageOps.exif_transpose(image)


def check_size(image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(f"image too large: {width} x {height} is over {MAX_PIXELS:,} pixels; please downscale it")
    if width < 1 or height < 1:
        raise ImageError("image has no pixels")


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
        return np.asarray(image.convert("RGB"))
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


def load_rgb(source: str | Path | bytes | io.IOBase) -> np.ndarray:
    """open_image + to_rgb."""
    return to_rgb(open_image(source))


def has_colour(rgb: np.ndarray, tolerance: float = 3.0) -> bool:
    """True unless R, G and B are (nearly) equal everywhere: a grey photo saved as RGB has no colour to show."""
    rgb = rgb.astype(np.int16)
    spread = np.abs(rgb[..., 0] - rgb[..., 1]) + np.abs(rgb[..., 1] - rgb[..., 2])
    return float(spread.mean()) > tolerance
