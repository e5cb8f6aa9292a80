"""Train live as a newcomer walks it, in Chromium: the quick default press, Stop then Start, the write-ups'
preset button, at 1400 px, at 800 px and in dark mode (issue 24).

Assertions are on what is drawn: the charts' SVG text (tick labels, legend entries) and their boxes on the
screen, the table's cells, the status line; screenshots go to $PIXELWISE_SCREENSHOT_DIR or a temporary
folder. Tiny settings (NF 8, 100 images) wherever the point is the page, not the training.
"""
import re
import time

import pytest

from tests.helpers import requires_cifar
from tests.test_browser import open_tab, set_up_quick_training

pytestmark = requires_cifar
BATCH_SIZES = ("5", "10", "20", "50", "100", "200", "500", "1000")


@pytest.fixture
def narrow_dark(browser, app_url):
    """A page 800 px wide in dark mode."""
    context = browser.new_context(viewport={"width": 800, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url + "?__theme=dark", wait_until="domcontentloaded")
    page.get_by_role("tab").first.wait_for()
    yield page
    context.close()


def chart_texts(page, index: int) -> list[str]:
    """Every text the ``index``-th chart of the tab draws (tick labels, titles, legend entries)."""
    return page.locator(".vega-embed").nth(index).locator("text").all_text_contents()


def x_tick_boxes(page, index: int) -> list[dict]:
    """The boxes (and texts) of the x axis's tick labels of one chart, as drawn on the screen."""
    axis = page.locator(".vega-embed").nth(index).locator("g[aria-label^='X-axis']").first \
        .locator("g.role-axis-label text")
    shown = axis.evaluate_all("texts => texts.map(t => getComputedStyle(t).opacity !== '0' && "
                              "t.getAttribute('opacity') !== '0' && t.textContent !== '')")
    labels = [(axis.nth(i).bounding_box(), axis.nth(i).text_content()) for i in range(axis.count()) if shown[i]]
    return [{**box, "text": text} for box, text in labels if box]  # the chart hides labels that would overlap


def assert_legible(page, batch_sizes: tuple[str, ...], epochs: int) -> None:
    """Both charts: no '0.000000', x tick labels apart, the axis ending at ``epochs``, every batch size in the legend."""
    for index, legend in ((0, [f"bs {size} val" for size in batch_sizes]), (1, [f"bs {size}" for size in batch_sizes])):
        texts = chart_texts(page, index)
        assert not any(re.fullmatch(r"-?0\.0{4,}", text) for text in texts), texts
        assert set(legend) <= set(texts), (legend, texts)  # every batch size's entry drawn, none cut off
        boxes = sorted(x_tick_boxes(page, index), key=lambda box: box["x"])
        assert len(boxes) >= 2
        assert all(left["x"] + left["width"] <= right["x"] for left, right in zip(boxes, boxes[1:])), boxes
        label = page.locator(".vega-embed").nth(index).locator("[aria-label^='X-axis']").first.get_attribute("aria-label")
        assert re.search(rf"values from 0 to {epochs}\b", label), label


def status(page) -> str:
    return page.locator("#train-status").inner_text()


def test_the_quick_default_press_shows_a_first_point_and_stops(page, shots):
    open_tab(page, "Train live")
    measured = r"(about \d+ (seconds|minutes)|measuring its time) here"  # until the start-up calibration has run
    quick = page.get_by_role("button", name=re.compile(rf"^Quick press \(1,000 images, 12 epochs, {measured}\)$"))
    full = page.get_by_role("button", name=re.compile(rf"^Reproduce the write-ups \(full data, 25 epochs, float32, {measured}\)$"))
    assert quick.is_visible() and full.is_visible()
    assert page.get_by_label("number input for Training images").input_value() == "1000"  # quick: no GPU here
    assert page.get_by_label("number input for Epochs").input_value() == "12"
    assert not any("0.000000" in text for text in chart_texts(page, 0) + chart_texts(page, 1))
    page.get_by_role("button", name="Start training").click()
    page.locator(".vega-embed").nth(1).locator("[aria-label^='epoch: 0; val acc']").first.wait_for(state="attached", timeout=120_000)
    assert "Settings: the quick press (UNet, batch sizes 10, 20, 100, 200, 12 epochs" in status(page)
    page.screenshot(path=shots / "newcomer_quick_first_point.png", full_page=True)
    assert_legible(page, ("10", "20", "100", "200"), 12)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text(re.compile(r"^Stopped")).first.wait_for()
    assert "Done: 0" not in status(page)


def set_batch_sizes(page, ticked: tuple[str, ...]) -> None:
    for size in BATCH_SIZES:
        page.get_by_role("checkbox", name=size, exact=True).set_checked(size in ticked)


def test_stop_then_start_trains_only_what_did_not_finish_and_replays_at_once(page, shots):
    set_up_quick_training(page, ("100",), epochs=40, train_images=100)
    page.get_by_role("button", name="Start training").click()  # bs 100: one step an epoch, done in seconds
    page.get_by_text(re.compile(r"^Done: 1 batch size")).wait_for(timeout=120_000)

    start = time.monotonic()
    page.get_by_role("button", name="Start training").click()  # the same press again: a replay
    page.get_by_text(re.compile(r"^Done: 1 batch size.*replayed")).wait_for(timeout=60_000)
    loss = page.locator(".vega-embed").first
    loss.locator("[aria-label^='epoch: 40; loss'][aria-label$='bs 100 val']").wait_for(state="attached", timeout=8_000)  # drawn with Done
    print(f"replay drawn in the browser {time.monotonic() - start:.1f} s after the click")

    set_batch_sizes(page, ("5", "100"))  # bs 100 replays first, then bs 5 trains: 20 steps an epoch
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"^Training batch size 5|^Batch size 5: epoch")).first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Stopped: the table keeps what was measured. Start training trains").wait_for()
    assert page.get_by_label("Model to save").input_value().startswith("bs 100 (")  # the finished run, not bs 5's

    page.get_by_role("button", name="Start training").click()  # bs 100 replays, the stopped bs 5 trains again
    page.get_by_text(re.compile(r"^Training batch size 5|^Batch size 5: epoch")).first.wait_for(timeout=60_000)
    assert page.get_by_role("gridcell", name=re.compile(r"^replay: trained ")).first.is_visible()
    page.screenshot(path=shots / "newcomer_stop_start.png", full_page=True)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text(re.compile(r"^Stopped")).first.wait_for()


def test_the_write_ups_preset_asks_first_then_fills_the_controls_and_starts_in_float32(page, shots):
    open_tab(page, "Train live")
    page.get_by_role("button", name=re.compile(r"^Reproduce the write-ups")).click()
    page.locator("#train-confirm-text").get_by_text("in float32 as the handout trained").wait_for()
    assert "Settings:" not in status(page)  # nothing started before the confirmation (issue 30)
    page.screenshot(path=shots / "newcomer_write_ups_confirmation.png", full_page=True)
    page.get_by_role("button", name="Start in float32 (faithful)").click()
    page.get_by_text("Settings: the write-ups' press (UNet, batch sizes 50, 100, 500, 1000, 25 epochs").wait_for()
    page.get_by_text(re.compile(r"Precision: float32")).first.wait_for(timeout=120_000)
    assert page.get_by_label("number input for Training images").input_value() == "5000"
    assert [size for size in BATCH_SIZES if page.get_by_role("checkbox", name=size, exact=True).is_checked()] == \
        ["50", "100", "500", "1000"]
    page.locator(".vega-embed").first.locator("g.role-legend text", has_text="bs 1000 val").wait_for()
    assert_legible(page, ("50", "100", "500", "1000"), 25)
    page.screenshot(path=shots / "newcomer_write_ups_preset.png", full_page=True)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text(re.compile(r"^Stopped")).first.wait_for()


def test_narrow_and_dark_the_charts_and_table_stay_legible(narrow_dark, shots):
    page = narrow_dark
    set_up_quick_training(page, ("50", "100", "200"), epochs=1, train_images=200)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"^Done: 3 batch size")).wait_for(timeout=120_000)
    assert_legible(page, ("50", "100", "200"), 1)
    cells = page.locator("#train-table td")
    line = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#train-table td')).lineHeight) || 20")
    heights = [cells.nth(i).bounding_box()["height"] for i in range(cells.count())]
    assert heights and max(heights) < 2 * line + 16, heights  # no number wrapped onto a second line
    page.screenshot(path=shots / "newcomer_train_800_dark.png", full_page=True)
