"""Browser check of the Segment tab: pick a flower test image (it is segmented at once), see the overlay, legend
and IoU."""
import re

import pytest
from playwright.sync_api import expect

from tests.helpers import CHECKPOINTS, requires_flowers

pytestmark = [
    requires_flowers,
    pytest.mark.skipif(not (CHECKPOINTS / "flowers_deeplab.pt").is_file(), reason="flower checkpoint not trained yet"),
]


def test_segment_a_flower_test_image(page):
    page.get_by_role("tab", name="Segment").click()
    page.locator("#segment-test-pick input").click()
    page.get_by_role("option").first.click()
    expect(page.locator("#segment-photo img").first).to_be_visible(timeout=60_000)
    iou = page.locator("#segment-iou")
    expect(iou).to_contain_text("Flower IoU vs truth", timeout=120_000)
    value = float(re.search(r"truth \(image_\d{4}\): ([0-9.]+)", iou.inner_text()).group(1))
    assert 0.5 < value <= 1.0  # the shipped model segments test flowers well (~0.9 on average)
    expect(page.locator("#segment-overlay img").first).to_be_visible()
    expect(page.locator("#segment-mask img").first).to_be_visible()
    expect(page.locator("#segment-legend")).to_contain_text("flower")
    expect(page.locator("#segment-label-mask")).to_contain_text(re.compile(r"label_mask\s*\.png"))  # take-home class ids


def test_a_segment_example_in_one_click(page):
    page.get_by_role("tab", name="Segment").click()
    page.locator("#segment-examples").get_by_text("Flower", exact=True).click()  # the examples render, labelled
    expect(page.locator("#segment-legend")).to_contain_text("flower", timeout=120_000)
    expect(page.locator("#segment-overlay img").first).to_be_visible()
    expect(page.locator("#segment-iou")).to_contain_text("flower test images only")  # an example has no truth
