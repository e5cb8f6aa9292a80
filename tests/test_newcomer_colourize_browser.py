"""The Colourize tab as a newcomer meets it (issue 24), in Chromium at 1400 px, at 800 px and in dark mode:
an example is a result like any other (the inspector, the uncertainty maps, named downloads), every control
redraws what is shown without a button, a typed number acts like a slider move, and a corrupt file gives one
plain notice and keeps the last result. The assertions are on what is visible: boxes, text, pictures.
Screenshots go to $PIXELWISE_SCREENSHOT_DIR when set."""
import re
from pathlib import Path

import pytest

from tests.helpers import CHECKPOINTS, requires_cifar, wait_for_first_examples

HINT_MODEL = CHECKPOINTS / "colour_hints.pt"
pytestmark = [requires_cifar, pytest.mark.skipif(not HINT_MODEL.is_file(), reason=f"{HINT_MODEL} is not in this checkout")]
BEYOND = re.compile(r"^Beyond the handout \(colour_hints\.pt\) · annealed mean T=0.38, \d+×\d+$")
PICTURES = ("grey", "cnn", "unet", "beyond", "original")


def open_page(browser, app_url, width: int, dark: bool = False):
    context = browser.new_context(viewport={"width": width, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url + ("?__theme=dark" if dark else ""), wait_until="domcontentloaded")
    page.get_by_role("tab", name="Colourize", exact=True).wait_for()
    wait_for_first_examples(page)
    return page


def click_example(page, name: str = "Coffee") -> None:
    """Click an example and wait for its result (the page opens on another example, whose captions match too)."""
    from ui.colourize_tab import EXAMPLES

    stem = next(file for file, label in EXAMPLES if label == name).rsplit(".", 1)[0]
    page.locator("#colourize-example-buttons").get_by_text(name, exact=True).click()
    page.wait_for_function("(stem) => (document.querySelector('#colourize-beyond img') || {}).src?.includes(stem + '_')",
                           arg=stem, timeout=120_000)
    page.get_by_text(BEYOND).wait_for(timeout=120_000)


def overlap(a: dict, b: dict) -> float:
    """The area two bounding boxes share."""
    width = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    height = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    return max(0, width) * max(0, height)


def src(page, name: str) -> str:
    return page.locator(f"#colourize-{name} img").get_attribute("src")


def drawn_box(page, name: str) -> dict:
    """Where the picture itself is drawn inside its img element (object-fit: contain)."""
    return page.locator(f"#colourize-{name} img").evaluate("""img => { const b = img.getBoundingClientRect();
        const s = Math.min(b.width / img.naturalWidth, b.height / img.naturalHeight);
        const w = img.naturalWidth * s, h = img.naturalHeight * s;
        return {x: b.x + (b.width - w) / 2, y: b.y + (b.height - h) / 2, width: w, height: h}; }""")


def click_picture(page, name: str, fx: float = 0.5, fy: float = 0.5) -> None:
    box = drawn_box(page, name)
    page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])


def test_an_example_is_a_result_and_every_control_redraws_it(browser, app_url, shots, tmp_path):
    page = open_page(browser, app_url, 1400)
    examples = page.locator("#colourize-example-buttons")
    assert examples.bounding_box()["y"] + examples.bounding_box()["height"] < 1000  # seen without scrolling
    click_example(page)
    assert page.evaluate("window.scrollY") == 0 and drawn_box(page, "beyond")["y"] < 1000  # results in view
    for name in PICTURES:  # the download and full-screen buttons sit above the picture, not on it
        for button in page.locator(f"#colourize-{name} .icon-button-wrapper button").all():
            assert overlap(button.bounding_box(), drawn_box(page, name)) == 0, name
    with page.expect_download() as download:
        page.locator("#colourize-unet a[download]").click()
    assert download.value.suggested_filename == "coffee_unet.jpg"

    click_picture(page, "unet")  # the inspector answers after an example as after an upload
    chart = page.locator("#inspector-colourize-chart")
    chart.locator(".pw-model").first.wait_for()
    assert "Pixel (" in chart.inner_text() and "upload 384×256" in chart.inner_text()
    uncertainty = page.locator("#inspector-colourize-uncertainty img")
    uncertainty.wait_for()
    assert uncertainty.evaluate("img => img.naturalWidth") > 300
    page.screenshot(path=shots / "newcomer_example_1400.png", full_page=True)

    before = src(page, "unet")
    page.get_by_text("mode (argmax, the handout's)").click()  # no button: the shown result is redrawn
    page.get_by_text(re.compile(r"^UNet \(unet\.pt\) · mode, 384×256$")).wait_for()
    assert src(page, "unet") != before
    page.get_by_text("annealed mean", exact=True).click()
    page.get_by_label("number input for Temperature T (annealed mean)").fill("0.9")  # typed, as a slider move
    page.get_by_text(re.compile(r"^UNet \(unet\.pt\) · annealed mean T=0.9, 384×256$")).wait_for()
    page.get_by_label("number input for Model working size (long side, px)").fill("48")
    page.get_by_text(re.compile(r"UNet ran at 48×32")).wait_for()
    page.get_by_label("Raw class map (the mode's classes)").check()
    page.get_by_text(re.compile(r"^UNet \(unet\.pt\) · class map \(mode\), 384×256$")).wait_for()
    page.wait_for_timeout(300)
    shown = src(page, "unet")

    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    notice = page.locator("#colourize-notice .pw-notice")
    for _ in range(2):  # twice: still one notice, no toast
        page.locator("input[type=file]").first.set_input_files(str(bad))
        notice.wait_for()
        page.wait_for_timeout(1500)
        assert notice.count() == 1 and page.locator(".toast-body").count() == 0
    text = notice.inner_text()
    assert text.startswith("Could not use this file: broken.png") and "**" not in text and "/tmp" not in text
    assert src(page, "unet") == shown and page.get_by_text(re.compile(r"class map \(mode\), 384×256$")).first.is_visible()
    assert page.locator("[id^=colourize-] .error").count() == 0  # no red badges over the kept result
    page.screenshot(path=shots / "newcomer_refused_1400.png", full_page=True)


def test_at_800_px_nothing_overlaps_and_the_hint_reads_as_a_sentence(browser, app_url, shots):
    page = open_page(browser, app_url, 800)
    click_example(page, "Cat")
    page.wait_for_timeout(500)
    hint = page.locator("#inspector-colourize-chart .pw-hint")
    box = hint.bounding_box()
    line = float(hint.evaluate("p => parseFloat(getComputedStyle(p).lineHeight) || 16"))
    assert box["width"] > 250 and box["height"] < 3 * line + 1, f"the hint is squeezed: {box}"
    boxes = {name: page.locator(f"#colourize-{name}").bounding_box() for name in PICTURES}
    boxes |= {"chart": page.locator("#inspector-colourize-chart").bounding_box(),
              "uncertainty": page.locator("#inspector-colourize-uncertainty").bounding_box(),
              "examples": page.locator("#colourize-example-buttons").bounding_box()}
    names = list(boxes)
    for n, first in enumerate(names):
        for second in names[n + 1:]:
            assert overlap(boxes[first], boxes[second]) == 0, f"{first} overlaps {second}"
    assert drawn_box(page, "beyond")["y"] + 50 < 1000 + page.evaluate("window.scrollY")  # results kept in view
    page.screenshot(path=shots / "newcomer_800.png", full_page=True)


def contrast(page, selector: str) -> float:
    """WCAG contrast of an element's text colour against the page background behind it."""
    return page.locator(selector).first.evaluate("""el => {
        const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
        const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
            .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
        let bg = el, colour = 'rgba(0, 0, 0, 0)';
        while (bg && (colour = getComputedStyle(bg).backgroundColor).endsWith(', 0)')) bg = bg.parentElement;
        const a = lum(rgb(getComputedStyle(el).color)), b = lum(rgb(bg ? colour : 'rgb(255,255,255)'));
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); }""")


def test_in_dark_mode_the_hint_a_message_and_the_notice_are_readable(browser, app_url, shots, tmp_path):
    page = open_page(browser, app_url, 1400, dark=True)
    assert contrast(page, "#inspector-colourize-chart .pw-hint") >= 4.5
    # the inspector's messages (a click on a gap: "click inside one") are drawn as this line is, in the theme's
    # error colour: the line in that style, read in place
    page.locator("#inspector-colourize-chart .pw-hint").evaluate("p => { p.className = 'pw-message'; }")
    assert contrast(page, "#inspector-colourize-chart .pw-message") >= 4.5
    click_example(page)
    (tmp_path / "empty.png").write_bytes(b"")
    page.locator("input[type=file]").first.set_input_files(str(tmp_path / "empty.png"))
    page.locator("#colourize-notice .pw-notice").wait_for()
    assert contrast(page, "#colourize-notice .pw-notice") >= 4.5
    page.screenshot(path=shots / "newcomer_dark.png", full_page=True)
