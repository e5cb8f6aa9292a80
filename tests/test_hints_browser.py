"""Steering a colour in the browser: click a pixel of the hint model's picture, pick one of its suggested
colours, and the picture changes near the click and not far from it."""
import io
import re

import numpy as np
import pytest
from PIL import Image

from tests.helpers import CHECKPOINTS, requires_cifar

HINT_MODEL = CHECKPOINTS / "colour_hints.pt"
pytestmark = [requires_cifar, pytest.mark.skipif(not HINT_MODEL.is_file(), reason=f"{HINT_MODEL} is not in this checkout")]


def picture(page, elem_id: str) -> np.ndarray:
    """The picture as the page shows it, read back from the browser (the src the img element holds)."""
    data = page.evaluate("""(id) => new Promise(done => {
        const img = document.querySelector(`#${id} img`);
        const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
        c.getContext('2d').drawImage(img, 0, 0); done(c.toDataURL('image/png'));
    })""", elem_id)
    import base64
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1]))).convert("RGB")).astype(int)


def test_a_click_and_a_suggested_colour_steer_the_picture_near_the_click(page, tmp_path):
    y, x = np.mgrid[0:300, 0:400]
    grey = (110 + 50 * np.sin(x / 25.0) * np.cos(y / 35.0)).astype(np.uint8)
    Image.fromarray(np.stack([grey] * 3, axis=2)).save(tmp_path / "grey.png")
    page.get_by_role("tab", name="Colourize", exact=True).click()
    page.locator("input[type=file]").first.set_input_files(str(tmp_path / "grey.png"))
    page.get_by_text(re.compile(r"^Beyond the handout \(colour_hints\.pt\) · annealed mean T=0.38, 400×300$")).wait_for(timeout=120_000)
    before = picture(page, "colourize-beyond")
    box = page.locator("#colourize-beyond img").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.5)  # upload pixel ~ (100, 150)
    options = page.locator("#hint-suggestions label")
    options.first.wait_for(timeout=60_000)
    assert re.match(r"\d+%\s+#[0-9a-f]{6}", options.first.inner_text().strip())  # mass and colour of each mode
    # the likeliest colour is roughly what is shown already: pick the one that differs most from it
    page.locator("#hint-picker input").first.wait_for(state="attached")
    choices = [options.nth(i).inner_text().split()[-1] for i in range(options.count())]
    shown = before[150, 100]
    far = max(choices, key=lambda hex_: sum(abs(int(hex_[1 + 2 * k:3 + 2 * k], 16) - shown[k]) for k in range(3)))
    options.nth(choices.index(far)).click()
    page.get_by_text(re.compile(r"· annealed mean T=0.38, 1 hint, 400×300$")).wait_for(timeout=120_000)
    page.wait_for_timeout(500)
    after = picture(page, "colourize-beyond")
    # beside the marker (a dot of radius ~6 at (100, 150), its number to the right), 8-30 px to its left
    near = np.abs(after[135:165, 70:92] - before[135:165, 70:92]).sum(axis=2).mean()
    far_away = np.abs(after[:60, 320:] - before[:60, 320:]).sum(axis=2).mean()
    assert near > 15, "the picture did not change where the hint was put"
    assert near > 3 * far_away, f"the hint changed the far corner about as much as its own place ({near:.1f} vs {far_away:.1f})"
    assert page.locator("#hint-remove").is_visible()
