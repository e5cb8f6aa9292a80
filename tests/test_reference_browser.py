"""A reference photo in the browser (issue 32): choose an example as the reference and the Beyond picture's
colours move toward its palette (measured: their ab-class histogram intersection rises); Clear restores
the automatic colour."""
import re

import numpy as np
import pytest
import torch

from colorizer import reference
from tests.helpers import CHECKPOINTS, REPO, requires_cifar
from tests.test_hints_browser import picture

REFERENCE_MODEL = CHECKPOINTS / "colour_reference.pt"
pytestmark = [requires_cifar, pytest.mark.skipif(not REFERENCE_MODEL.is_file(), reason=f"{REFERENCE_MODEL} is not in this checkout")]
CAPTION = r"^Beyond the handout \(colour_reference\.pt\) · annealed mean T=0.38"


def test_an_example_as_the_reference_moves_the_beyond_colours_toward_it(page, shots):
    from PIL import Image

    centres = torch.load(REFERENCE_MODEL, weights_only=True)["ab_centres"]
    rocket = np.asarray(Image.open(REPO / "examples" / "rocket.jpg").convert("RGB"))
    wanted, _ = reference.photo_palette(rocket, centres)
    overlap = lambda rgb: 100 * float(torch.minimum(reference.photo_palette(rgb.astype(np.uint8), centres)[0],  # noqa: E731
                                                    wanted).sum())
    page.get_by_role("tab", name="Colourize", exact=True).click()
    page.locator("input[type=file]").first.set_input_files(str(REPO / "examples" / "chelsea_cat.jpg"))
    page.get_by_text(re.compile(r"^Beyond the handout \(colour_hints\.pt\) · annealed mean T=0.38, \d+×\d+$")).wait_for(timeout=180_000)
    before = picture(page, "colourize-beyond")
    page.locator("#reference-examples").get_by_text("Rocket launch", exact=True).click()
    page.get_by_text(re.compile(CAPTION + r", reference colours at 100%, \d+×\d+$")).wait_for(timeout=180_000)
    page.wait_for_timeout(500)
    after = picture(page, "colourize-beyond")
    page.locator("#reference-controls").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "reference_colours.png"), full_page=True)
    assert page.locator("#reference-palette .reference-swatch").count() >= 2  # the palette is shown
    assert overlap(after) > overlap(before) + 20, (overlap(before), overlap(after))
    page.locator("#reference-clear").click()
    page.get_by_text(re.compile(CAPTION + r", \d+×\d+$")).wait_for(timeout=180_000)
    assert page.locator("#reference-palette .reference-swatch").count() == 0
