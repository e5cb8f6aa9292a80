"""The real app in a real browser: `python app.py` on a free port, driven by Playwright on Debian's Chromium.

Screenshots go to a temporary folder (or $PIXELWISE_SCREENSHOT_DIR when set); the assertions are on
what a person would read on the page.
"""
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.helpers import requires_cifar

pytestmark = requires_cifar


def open_tab(page, name):
    page.get_by_role("tab", name=name, exact=True).click()


def test_every_tab_opens(page, shots):
    for name in ("Colourize", "Train live", "Segment", "Inside the models"):
        tab = page.get_by_role("tab", name=name, exact=True)
        tab.click()
        assert tab.get_attribute("aria-selected") == "true"
        panel = page.locator("[role=tabpanel]:visible").first
        assert len(panel.inner_text().strip()) > 20, f"tab {name!r} shows nothing"
        page.screenshot(path=shots / f"tab_{name.split()[0].lower()}.png", full_page=True)


def test_colourize_examples_in_one_click(page):
    examples = page.locator("#colourize-example-buttons").get_by_text(  # Segment's examples are drawn too
        re.compile(r"^(Astronaut|Rocket launch|Coffee|Cat|Cameraman|Coins)"))
    examples.first.wait_for()
    assert examples.count() == 6  # the examples render, labelled
    page.locator("#colourize-example-buttons").get_by_text("Cameraman (black and white)").click()
    page.wait_for_function("() => document.querySelector('#colourize-grey img').src.includes('camera_bw_')")
    for model in ("CNN", "UNet", "Beyond the handout"):
        page.get_by_text(re.compile(rf"^{model} \(.*\.pt\) · annealed mean T=0.38, 384×384$")).wait_for()
    # a black-and-white original; the note may be drawn just after the captions: waited for, not read at once
    expect(page.get_by_text("The upload has no colour")).to_be_visible(timeout=60_000)


def test_colourize_an_upload_and_a_test_image(page, shots, tmp_path):
    y, x = np.mgrid[0:480, 0:640]
    Image.fromarray(np.stack([x * 255 // 640, y * 255 // 480, 255 - x * 255 // 640], axis=2).astype(np.uint8)) \
        .save(tmp_path / "gradient.png")
    page.locator("input[type=file]").first.set_input_files(str(tmp_path / "gradient.png"))
    # uploading starts the colourization: the three models answer at the upload's own size, with the
    # default decoding named in each caption
    for model in ("CNN", "UNet", "Beyond the handout"):
        page.get_by_text(re.compile(rf"^{model} \(.*\.pt\) · annealed mean T=0.38, 640×480$")).wait_for()
    assert page.get_by_text("Original colour").first.is_visible()
    outputs = page.locator("#colourize-pictures [id^=colourize-] img")  # the grey input, the three models, the original
    assert outputs.count() == 5 and all(outputs.nth(i).is_visible() for i in range(5))

    page.get_by_text("mode (argmax, the handout's)").click()
    open_tab(page, "CIFAR-10 test image")
    page.get_by_role("button", name="Colourize test image").click()
    for model in ("CNN", "UNet", "Beyond the handout"):
        page.get_by_text(re.compile(rf"^{model} \(.*\) · mode · pixel accuracy \d+\.\d%$")).wait_for()
    assert page.get_by_text("CIFAR-10 test image horse #0").is_visible()
    # a new number acts at once, as every control does: no button
    page.get_by_label("number input for Test image number").fill("18")
    page.keyboard.press("Tab")
    page.get_by_text("CIFAR-10 test image horse #18").wait_for()
    page.get_by_role("button", name="Random test image").click()
    page.get_by_text(re.compile(r"CIFAR-10 test image horse #\d+")).wait_for()
    page.wait_for_timeout(500)  # let the images paint
    page.screenshot(path=shots / "colourize.png", full_page=True)


def lines_in_loss_plot(page) -> int:
    plot = page.locator(".vega-embed").first
    return plot.locator("g.mark-line path[stroke][d]").count()  # drawn lines: a path with points and a colour


def set_up_quick_training(page, ticked: tuple[str, ...], epochs: int, train_images: int = 300) -> None:
    """Train live with NF 8 on ``train_images``/100 images, ``epochs`` epochs, only the batch sizes ``ticked``."""
    open_tab(page, "Train live")
    for batch_size in ("5", "10", "20", "50", "100", "200", "500", "1000"):
        page.get_by_role("checkbox", name=batch_size, exact=True).set_checked(batch_size in ticked)
    page.get_by_label("number input for Epochs").fill(str(epochs))
    page.get_by_label("NF (filters)").click()
    page.get_by_role("option", name="8", exact=True).click()
    page.get_by_label("number input for Training images").fill(str(train_images))
    page.get_by_label("number input for Validation images").fill("100")
    page.keyboard.press("Tab")


def test_train_live_draws_curves_and_stops(page, shots):
    set_up_quick_training(page, ("50", "100"), epochs=50)  # long enough that Stop lands mid-run
    assert lines_in_loss_plot(page) == 0
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"Batch size 50: epoch [1-9]")).wait_for(timeout=120_000)
    page.wait_for_function("document.querySelectorAll('.vega-embed g.mark-line path[stroke][d]').length >= 2")
    assert lines_in_loss_plot(page) >= 2  # train and validation loss of batch size 50
    assert page.get_by_text(re.compile(r"Elapsed \d+ s")).is_visible()
    page.screenshot(path=shots / "train_running.png", full_page=True)
    assert page.get_by_text(re.compile(r"bs 50 · epoch \d+")).first.is_visible()  # validation image strip

    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Stopped: the table keeps what was measured.").wait_for(timeout=60_000)
    assert page.get_by_role("columnheader", name="stopped?").is_visible()
    assert page.get_by_role("gridcell", name="yes", exact=True).is_visible()  # the table row of the stopped run
    page.screenshot(path=shots / "train_stopped.png", full_page=True)

    page.get_by_role("button", name="Save as checkpoint").click()
    page.get_by_text(re.compile(r"^Saved .*unet_horse_bs\d+_.*\.pt")).wait_for()
    assert re.search(r"unet_horse_bs\d+_[\d-]+\s*\.pt", page.locator("#train-saved-file").inner_text())  # to take home
    open_tab(page, "Colourize")
    page.get_by_label("UNet checkpoint").click()
    assert page.get_by_role("option", name=re.compile(r"unet_horse_bs\d+_")).is_visible()


def test_click_a_pixel_to_see_every_models_distribution(page, shots):
    open_tab(page, "CIFAR-10 test image")
    page.get_by_role("button", name="Colourize test image").click()
    page.get_by_text(re.compile(r"^UNet \(.*\) · .* · pixel accuracy \d+\.\d%$")).wait_for()
    chart = page.locator("#inspector-colourize-chart")
    assert "Click any pixel" in chart.inner_text()
    picture = page.locator("#colourize-unet img")
    picture.wait_for()
    box = picture.bounding_box()  # a 256 x 256 picture (32 x 32 shown 8x), drawn as a centred square
    side = min(box["width"], box["height"])
    left, top = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2
    page.mouse.click(left + side * (10.5 / 32), top + side * (5.5 / 32))  # the middle of model pixel (10, 5)
    chart.locator(".pw-model").first.wait_for()
    text = chart.inner_text()
    assert "Pixel (10, 5) of the 32×32 input the models saw" in text
    models = chart.locator(".pw-model").count()
    assert models == text.count("entropy") and models >= 2  # one chart per model column that ran
    assert "bits" in text and "rest (" in text and "◀ true" in text  # a colour test image: the true class
    assert page.locator("[role=tabpanel] .pw-cross").count() >= 4  # the cross on every picture
    assert page.locator("#inspector-colourize-uncertainty img").is_visible()  # the uncertainty maps
    page.screenshot(path=shots / "inspector.png", full_page=True)


def plotted(plot, series: str) -> list[tuple[float, float]]:
    """(epoch, y) of every drawn point of ``series``, read from the chart's own accessible labels
    ("epoch: 0.5; loss: 3.13; series: bs 50 train"); the NaN colour placeholders are left out."""
    points = []
    for label in plot.locator("[aria-label^='epoch: ']").evaluate_all("marks => marks.map(m => m.ariaLabel)"):
        match = re.fullmatch(r"epoch: ([-\d.e]+); (?:log10 of )?loss: ([-\d.e]+|null); series: (.*)", label)
        if match and match[3] == series and match[2] != "null":
            points.append((float(match[1]), float(match[2])))
    return points


def axis_range(plot, axis: str) -> tuple[float, float]:
    """The domain an axis shows, from its label ("X-axis titled 'epoch' for a linear scale with values from 0 to 4")."""
    label = plot.locator(f"[aria-label^='{axis}-axis']").first.get_attribute("aria-label")
    low, high = re.search(r"values from ([-\d.e]+) to ([-\d.e]+)", label).groups()
    return float(low), float(high)


def until(check, what: str, timeout_s: float = 30):
    """Poll ``check()`` until it returns a true value (the page redraws after a round trip to the server)."""
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return value


def test_train_live_curves_smooth_switch_to_log_zoom_and_reset(page):
    set_up_quick_training(page, ("50",), epochs=4)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"^Done: 1 batch size")).wait_for(timeout=180_000)
    plot = page.locator(".vega-embed").first  # the loss plot
    until(lambda: [x for x, _ in plotted(plot, "bs 50 val")] == [0, 1, 2, 3, 4], "the validation points of 4 epochs")
    smooth, raw = plotted(plot, "bs 50 train"), plotted(plot, "bs 50 train · raw")
    assert len(raw) >= 8 and [x for x, _ in smooth] == [x for x, _ in raw]  # raw points kept beside the smoothed
    assert smooth != raw and smooth[0] == raw[0]  # default smoothing 0.6, debiased: the same first point
    assert axis_range(plot, "X") == (0, 4)

    slider = page.get_by_label("range slider for Smoothing (EMA of train loss)")
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    page.mouse.click(box["x"] + 1, box["y"] + box["height"] / 2)  # the left end: smoothing 0
    assert page.get_by_label("number input for Smoothing (EMA of train loss)").input_value() == "0"
    until(lambda: plotted(plot, "bs 50 train") == raw, "the smoothed line to become the raw points")

    val = plotted(plot, "bs 50 val")
    page.get_by_label("Log scale (loss)").check()
    logged = until(lambda: (points := plotted(plot, "bs 50 val")) != val and points, "log10 of the loss")
    assert [y for _, y in logged] == pytest.approx([np.log10(y) for _, y in val], abs=1e-6)
    until(lambda: "log10 of loss" in plot.locator("[aria-label^='Y-axis']").first.get_attribute("aria-label"),
          "the y axis title")

    plot.scroll_into_view_if_needed()
    line = plot.locator("g.mark-line path[stroke][d]").last.bounding_box()  # a validation line: epoch 0 to 4
    y = line["y"] + line["height"] / 2
    page.mouse.move(line["x"] + line["width"] * 0.25, y)
    page.mouse.down()
    page.mouse.move(line["x"] + line["width"] * 0.75, y, steps=8)  # brush epochs ~1 to ~3
    page.mouse.up()
    low, high = until(lambda: (shown := axis_range(plot, "X")) != (0, 4) and shown, "the zoom")
    assert 0.5 < low < 1.5 and 2.5 < high < 3.5
    page.mouse.dblclick(line["x"] + line["width"] * 0.5, y)
    until(lambda: axis_range(plot, "X") == (0, 4), "the double-click to show every epoch again")
