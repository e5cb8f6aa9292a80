"""Uploads of every awkward kind become RGB arrays or a clear ImageError; photos keep their size."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import UNet, colourize, colourize_photo, predict_classes
from colorizer.inference import long_side_size
from pixelwise.images import ImageError, has_colour, load_rgb, open_image, to_rgb


def png_bytes(image: Image.Image, format="PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def test_sixteen_bit_grey_is_scaled_not_clipped_to_white():
    ramp = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16)  # 0 .. 65520
    rgb = load_rgb(png_bytes(Image.fromarray(ramp, mode="I;16")))
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255 and 100 < rgb[32, 0, 0] < 160


def test_a_dark_sixteen_bit_image_stays_dark():
    dark = np.full((4, 4), 200, dtype=np.uint16)  # 200 / 65535: nearly black, not mid-grey
    assert load_rgb(png_bytes(Image.fromarray(dark, mode="I;16"))).max() == 1


def test_transparency_is_composited_on_white():
    rgba = Image.new("RGBA", (8, 6), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    rgb = load_rgb(png_bytes(rgba))
    assert tuple(rgb[0, 0]) == (255, 0, 0) and tuple(rgb[1, 1]) == (255, 255, 255)


@pytest.mark.parametrize("mode", ["L", "1", "P", "CMYK", "LA", "F", "I", "YCbCr"])
def test_every_mode_becomes_rgb(mode):
    image = Image.new("RGB", (10, 7), (30, 120, 200)).convert(mode)
    rgb = to_rgb(image)
    assert rgb.shape == (7, 10, 3) and rgb.dtype == np.uint8


@pytest.mark.parametrize("array", [np.zeros((5, 6), np.float32) + 0.5, np.zeros((5, 6, 4), np.uint8),
                                   np.full((5, 6, 3), 40000, np.uint16), np.zeros((5, 6, 1), np.uint8)])
def test_arrays_become_rgb(array):
    assert to_rgb(array).shape == (5, 6, 3)


def _huge_png() -> bytes:
    """A PNG whose header declares 8000 x 7000 pixels (56 MP): refused before any pixel is decoded."""
    return png_bytes(Image.new("L", (8000, 7000)))


BAD_UPLOADS = {  # kind -> (file content, words the message must contain)
    "empty": (lambda: b"", "empty"),
    "truncated JPEG": (lambda: png_bytes(Image.new("RGB", (50, 50), (200, 30, 30)), "JPEG")[:300], "cut short"),
    "truncated PNG": (lambda: png_bytes(Image.new("RGB", (50, 50)))[:60], "cut short"),
    "text as .png": (lambda: b"hello, I am a shopping list\neggs\nmilk\n", "holds text"),
    "SVG": (lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>', "SVG"),
    "unknown format": (lambda: bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8)),
                       "not an image format"),
    "PDF": (lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
    "1x1": (lambda: png_bytes(Image.new("RGB", (1, 1))), "1 × 1 pixels"),
    "over the pixel limit": (_huge_png, "megapixels"),
}
LIBRARY_WORDS = ("/tmp", "PIL", "cannot identify", "Errno", "codec", "Traceback", "decoder", "truncated", "0x")


@pytest.mark.parametrize("kind", list(BAD_UPLOADS))
def test_each_bad_upload_gets_a_plain_message_naming_the_file(tmp_path, kind):
    content, words = BAD_UPLOADS[kind]
    server_path = tmp_path / "gradio" / "3f9a0c" / "upload.png"  # where the server keeps it
    server_path.parent.mkdir(parents=True)
    server_path.write_bytes(content())
    with pytest.raises(ImageError) as caught:
        open_image(server_path, name="Holiday photo.png")  # the name the person gave it
    message = str(caught.value)
    assert message.startswith("Holiday photo.png: ") and words in message, message
    assert not any(word in message for word in LIBRARY_WORDS) and str(tmp_path) not in message, message


def test_a_large_jpeg_is_decoded_small_when_only_a_small_copy_is_wanted():
    big = png_bytes(Image.new("RGB", (1600, 1200), (10, 200, 30)), "JPEG")
    image = open_image(big, max_side=300)
    assert image.size == (400, 300) and image.full_size == (1600, 1200)  # DCT scaling: 1/4, never below 300
    assert load_rgb(big, max_side=300).shape == (225, 300, 3)
    assert to_rgb(open_image(big)).shape == (1200, 1600, 3)


def test_has_colour_tells_grey_from_colour():
    assert not has_colour(np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2))
    assert has_colour(np.asarray(Image.new("RGB", (4, 4), (200, 30, 30))))


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return UNet(num_filters=4, num_colours=24).eval(), torch.rand(24, 3)


@pytest.mark.parametrize("size", [(37, 23), (640, 480), (3, 5)])
def test_photo_comes_back_at_its_own_size(tiny_model, size):
    model, palette = tiny_model
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    result = colourize_photo(model, palette, photo, long_side=32)
    for image in (result.colour, result.class_map, result.grey):
        assert image.shape == (size[1], size[0], 3)
    assert result.work_size[0] % 4 == 0 and max(result.work_size) <= max(32, 4)


def test_full_resolution_keeps_the_original_luminance(tiny_model):
    model, palette = tiny_model
    grey = np.tile(np.linspace(0, 255, 200, dtype=np.uint8), (120, 1))
    result = colourize_photo(model, palette, grey, long_side=32)
    luminance = np.asarray(Image.fromarray(result.colour).convert("L")).astype(int)
    assert result.original is None  # a grey input has no colour truth to show
    assert np.abs(luminance - grey.astype(int)).mean() < 12  # sharp: the luminance is the input's own


def test_colourize_pads_any_size(tiny_model):
    model, palette = tiny_model
    grey = np.random.default_rng(1).random((30, 19))
    rgb, classes = colourize(model, palette, grey), predict_classes(model, grey)
    assert rgb.shape == (30, 19, 3) and classes.shape == (30, 19) and classes.max() < 24
    assert np.array_equal(rgb, (palette[classes] * 255).round().numpy().astype(np.uint8))


def test_working_size_never_enlarges():
    assert long_side_size(1024, 768, 96) == (96, 72)
    assert long_side_size(20, 12, 96) == (20, 12)


def test_colourize_photo_decodes_as_the_tab_does_by_default(tiny_model):
    """One set of defaults (colorizer.pipeline): a script calling colourize_photo gets the tab's colours."""
    import inspect

    from colorizer.inference import prepare_photo
    from colorizer.pipeline import Colourizer, Settings
    from ui import colourize_tab

    model, palette = tiny_model
    photo = np.random.default_rng(2).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    tab = inspect.signature(colourize_tab.colourize_upload_panels).parameters
    settings = Settings(tab["decoding"].default, tab["temperature"].default, tab["work_size"].default)
    assert settings == Settings()
    script = colourize_photo(model, palette, photo).colour
    assert np.array_equal(script, Colourizer(model, palette).run(prepare_photo(photo, None), settings).colour)
    assert not np.array_equal(script, colourize_photo(model, palette, photo, decoding="mode").colour)
