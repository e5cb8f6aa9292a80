"""The Segment and Inside-the-models tabs walked as a newcomer does (issue 24), in Chromium at 1400 px, 800 px
and in dark mode: an example and then a pixel, an upload that segments at once, a typed opacity, a bad file,
an invalid kernel size, the layer pictures' captions, and closing a page that runs the affine experiment.
Each walk takes screenshots (under pytest's tmp_path) and checks what a person sees: boxes on screen, text
not cut off, one notice in the section's notice box (the Colourize kind: no toast, replaced not stacked,
cleared by the next good result) and the last good result kept, not only values in the DOM."""
import html
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.conftest import REPO_ROOT
from tests.helpers import CHECKPOINTS, HAVE_CIFAR, requires_flowers, wait_for_first_examples

TIMEOUT_MS = 120_000
VIEWS = {"1400": ({"width": 1400, "height": 1000}, ""), "800": ({"width": 800, "height": 1000}, ""),
         "dark": ({"width": 1400, "height": 1000}, "?__theme=dark")}
needs_flower_model = pytest.mark.skipif(not (CHECKPOINTS / "flowers_deeplab.pt").is_file(),
                                        reason="flower checkpoint not trained yet")


def open_page(browser, app_url, view: str, tab: str):
    viewport, query = VIEWS[view]
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url + query, wait_until="domcontentloaded")
    wait_for_first_examples(page)
    page.get_by_role("tab", name=tab).click()
    return page


def in_view(page, selector: str) -> bool:
    """True when the element's box lies (at least half) inside the visible window."""
    box = page.locator(selector).first.bounding_box()
    height = page.viewport_size["height"]
    return box is not None and box["y"] + box["height"] / 2 >= 0 and box["y"] + box["height"] / 2 <= height


def clipped_text(page, selector: str) -> list[str]:
    """Texts under ``selector`` cut off sideways (scrollWidth beyond clientWidth)."""
    return page.evaluate("""(selector) => [...document.querySelectorAll(selector)]
        .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1).map(e => e.innerText.slice(0, 60))""",
                         selector)


def one_notice(page, box: str) -> str:
    """The text of the one notice in ``box`` (a ui.common.notice_box), with no toast beside it."""
    notices = page.locator(f"#{box} .pw-notice")
    assert notices.count() == 1 and not visible_toasts(page), (notices.all_inner_texts(), visible_toasts(page))
    return notices.inner_text()


def visible_toasts(page) -> list[str]:
    return [toast.inner_text() for toast in page.locator(".toast-body").all() if toast.is_visible()]


def error_badges(page) -> int:
    """Gradio's red "Error" status on an output panel (what a failed event leaves on every output)."""
    return page.locator("[role=tabpanel]:visible .error").filter(has_text=re.compile(r"^\s*Error\s*$")).count()


def overlay_src(page) -> str:
    return page.locator("#segment-overlay img").first.get_attribute("src")


@requires_flowers
@needs_flower_model
@pytest.mark.parametrize("view", list(VIEWS))
def test_an_example_is_a_result_like_any_other(browser, app_url, tmp_path, view):
    page = open_page(browser, app_url, view, "Segment")
    example = page.locator("#segment-examples").get_by_text("Cat (no flower)", exact=True)
    expect(example).to_be_visible()
    assert in_view(page, "#segment-examples"), "the examples are below the fold"
    example.click()
    expect(page.locator("#segment-iou")).to_contain_text("chelsea_cat.jpg", timeout=TIMEOUT_MS)
    assert in_view(page, "#segment-overlay"), "clicking an example scrolled the result out of view"
    page.screenshot(path=tmp_path / f"segment-example-{view}.png")
    page.locator("#segment-overlay img").first.click()  # the middle of the cat photo
    chart = page.locator("#inspector-segment-chart")
    expect(chart).to_contain_text("Pixel (", timeout=30_000)
    expect(chart).to_contain_text("entropy")
    expect(page.locator("#inspector-segment-uncertainty img").first).to_be_visible(timeout=30_000)
    expect(page.locator("#segment-label-mask")).to_contain_text(re.compile(r"label_mask\s*\.png"))
    assert not clipped_text(page, "#segment-iou p, #segment-legend, #inspector-segment-chart .pw-head")
    page.locator("#inspector-segment").screenshot(path=tmp_path / f"segment-inspector-{view}.png")
    page.context.close()


def png(path, size=(160, 120)) -> str:
    y, x = np.mgrid[0:size[1], 0:size[0]]
    rgb = np.stack([x * 255 // size[0], y * 255 // size[1], 255 - x * 255 // size[0]], axis=2).astype(np.uint8)
    Image.fromarray(rgb).save(path)
    return str(path)


@needs_flower_model
def test_upload_segments_at_once_typed_opacity_redraws_and_a_bad_file_keeps_the_result(browser, app_url, tmp_path):
    page = open_page(browser, app_url, "1400", "Segment")
    page.locator("#segment-photo input[type=file]").set_input_files(png(tmp_path / "gradient.png"))
    caption = page.locator("#segment-iou")
    expect(caption).to_contain_text("gradient.png (160×120)", timeout=TIMEOUT_MS)  # no button pressed
    expect(caption).to_contain_text("opacity 0.50")
    before = overlay_src(page)
    opacity = page.get_by_label("number input for Overlay opacity")
    opacity.fill("0.2")
    opacity.press("Enter")
    expect(caption).to_contain_text("opacity 0.20", timeout=30_000)
    page.wait_for_function("(old) => document.querySelector('#segment-overlay img').src !== old", arg=before)
    shown = overlay_src(page)
    (tmp_path / "broken.png").write_bytes(b"this is not a picture")
    for _ in range(2):  # a second failure does not stack a second notice
        page.locator("#segment-photo input[type=file]").set_input_files(str(tmp_path / "broken.png"))
        page.locator("#segment-notice .pw-notice").wait_for(timeout=30_000)
        page.wait_for_timeout(2000)
        text = one_notice(page, "segment-notice")
    page.screenshot(path=tmp_path / "segment-bad-file.png")
    assert text.startswith("Could not use this file: broken.png") and "**" not in text and "/tmp" not in text
    assert overlay_src(page) == shown and "gradient.png" in caption.inner_text()  # the last good result stays
    assert error_badges(page) == 0
    opacity.fill("0.3")  # the next good result clears the notice
    opacity.press("Enter")
    expect(caption).to_contain_text("opacity 0.30", timeout=30_000)
    expect(page.locator("#segment-notice .pw-notice")).to_have_count(0)
    page.context.close()


@needs_flower_model
@pytest.mark.parametrize("content", [b"my notes, not a picture\n", b""])
def test_a_bad_file_after_an_example_gives_its_notice_and_keeps_the_example(browser, app_url, tmp_path, content):
    """Issue 30: after an example, a text file renamed .png (or an empty one) gave Gradio's internals in a red
    toast ("Could not preprocess input component at index 0 … UnidentifiedImageError", a server path), Error
    badges on the overlay and mask, and the example's result was gone."""
    page = open_page(browser, app_url, "1400", "Segment")
    # not the Flower: the page opens on it, so its caption would not tell when the click's own answer came
    page.locator("#segment-examples").get_by_text("Cat (no flower)", exact=True).click()
    caption = page.locator("#segment-iou")
    expect(caption).to_contain_text("chelsea_cat.jpg", timeout=TIMEOUT_MS)
    shown = overlay_src(page)
    (tmp_path / "text.png").write_bytes(content)
    page.locator("#segment-photo input[type=file]").set_input_files(str(tmp_path / "text.png"))
    page.locator("#segment-notice .pw-notice").wait_for(timeout=30_000)
    page.wait_for_timeout(2000)
    text = one_notice(page, "segment-notice")
    page.screenshot(path=tmp_path / "segment-bad-file-after-example.png")
    assert text.startswith("Could not use this file: text.png") and "/tmp" not in text, text
    assert visible_toasts(page) == [] and error_badges(page) == 0
    assert overlay_src(page) == shown and "chelsea_cat.jpg" in caption.inner_text()  # the example's result stays
    page.context.close()


def set_number(page, label: str, value: str):
    box = page.locator("#inside-tab").get_by_label(f"number input for {label}")
    box.fill(value)
    box.press("Enter")


def wrapped_numbers(page, selector: str) -> list[str]:
    """Cells under ``selector`` holding a number that the browser broke over two lines."""
    return page.evaluate("""(selector) => [...document.querySelectorAll(selector)].filter(cell => {
        const text = cell.innerText.trim();
        if (!/^[×]?[\\d,.]+%?$/.test(text)) return false;
        const range = document.createRange(); range.selectNodeContents(cell);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        return tops.size > 1; }).map(cell => cell.innerText)""", selector)


@pytest.mark.parametrize("view", list(VIEWS))
def test_inside_an_invalid_kernel_gives_one_notice_and_tables_stay_legible(browser, app_url, tmp_path, view):
    page = open_page(browser, app_url, view, "Inside the models")
    totals = page.locator("#inside-totals")
    expect(totals).to_contain_text("k=3", timeout=TIMEOUT_MS)
    notice = page.locator("#inside-notice .pw-notice")
    for kernel in ("4", "6"):  # a second refusal replaces the notice, never stacks a second one
        set_number(page, "k (kernel side, odd)", kernel)
        expect(notice).to_contain_text(f"k={kernel} is even", timeout=30_000)
        page.wait_for_timeout(1500)
        text = one_notice(page, "inside-notice")
    page.screenshot(path=tmp_path / f"inside-kernel-{view}.png")
    assert "even" in text and "still show the last valid setting" in text and "**" not in text
    expect(totals).to_contain_text("k=3")  # the tables say which setting they show
    assert error_badges(page) == 0
    assert not wrapped_numbers(page, "#inside-totals td, #inside-layers td, #inside-writeups td")
    set_number(page, "k (kernel side, odd)", "5")  # the next good setting clears the notice
    expect(totals).to_contain_text("k=5", timeout=30_000)
    expect(notice).to_have_count(0)
    page.context.close()


@pytest.mark.skipif(not HAVE_CIFAR, reason="the layer view's default image is a CIFAR-10 test image")
@pytest.mark.parametrize("view", ["1400", "800"])
def test_every_layer_caption_is_readable_and_most_steps_fit_a_screen(browser, app_url, tmp_path, view):
    page = open_page(browser, app_url, view, "Inside the models")
    page.locator("#inside-layers-run").click()
    figures = page.locator("#inside-layer-gallery figure")
    expect(figures).to_have_count(23, timeout=TIMEOUT_MS)
    figures.first.scroll_into_view_if_needed()
    page.evaluate("document.querySelector('#inside-layer-gallery').scrollIntoView()")
    page.screenshot(path=tmp_path / f"inside-layers-{view}.png")
    assert not clipped_text(page, "#inside-layer-gallery figcaption")
    captions = [caption.inner_text() for caption in page.locator("#inside-layer-gallery figcaption").all()]
    assert captions[0].startswith("1. downconv1.0 · Conv2d") and "connections" in captions[0]
    height = page.viewport_size["height"]
    on_screen = sum(1 for figure in figures.all() if (box := figure.bounding_box()) and box["y"] + box["height"] <= height)
    assert on_screen >= (12 if view == "1400" else 6), on_screen
    boxes = [figure.bounding_box() for figure in figures.all()]
    for a, b in zip(boxes, boxes[1:]):  # neighbours in a row do not overlap
        assert a["x"] + a["width"] <= b["x"] + 1 or b["y"] >= a["y"] + a["height"] - 1 or b["x"] < a["x"]
    assert not wrapped_numbers(page, "#inside-layer-table td")
    page.context.close()


@pytest.mark.skipif(not HAVE_CIFAR or not (REPO_ROOT / "checkpoints" / "unet.pt").is_file(),
                    reason="needs CIFAR-10 and checkpoints/unet.pt: python -m pixelwise.fetch cifar10")
def test_closing_the_page_stops_its_affine_experiment_and_the_next_person_is_told_why_they_wait(
        browser, app_url, tmp_path):
    first = open_page(browser, app_url, "1400", "Inside the models")
    set_number(first, "fine-tuning steps (0 skips (iii))", "1000")  # about ten minutes of fine-tuning here
    first.locator("#inside-affine-run").click()
    expect(first.get_by_text(re.compile(r"fine-tuning step \d+/1000")).first).to_be_visible(timeout=TIMEOUT_MS)
    second = open_page(browser, app_url, "1400", "Inside the models")
    set_number(second, "fine-tuning steps (0 skips (iii))", "0")
    set_number(second, "test images", "10")
    set_number(second, "training images for fine-tuning", "100")
    second.locator("#inside-affine-run").click()
    waiting = second.locator("#inside-affine-waiting")
    expect(waiting).to_contain_text("Running now: another visitor's affine experiment", timeout=30_000)
    second.screenshot(path=tmp_path / "inside-affine-waiting.png")
    first.context.close()  # the page that started the long run goes away
    expect(second.locator("#inside-affine-summary")).to_contain_text("10 test and 100 training images",
                                                                      timeout=180_000)  # ~20 s on a quiet machine
    expect(waiting).to_have_text("")
    second.context.close()


def test_a_closed_page_stops_only_its_own_jobs_and_waiters_are_told_what_for():
    """ui.page_jobs without a browser: the unload handler sets the stop flag of the closed page's jobs only."""
    from types import SimpleNamespace

    from runs.scheduler import SCHEDULER, Job
    from ui.page_jobs import heavy_job, job_for, session_of, stop_page_jobs

    def waiting_note(request) -> str:  # what a press of a heavy button would wait for; '' when nothing runs
        running, waiting = SCHEDULER.jobs()
        owner = session_of(request)
        return SCHEDULER.message(SCHEDULER.place(Job("", owner=owner)), owner) if running or waiting else ""

    mine, theirs = SimpleNamespace(session_hash="mine"), SimpleNamespace(session_hash="theirs")
    assert waiting_note(mine) == ""
    job = job_for("affine experiment (5 pairs, 100 fine-tuning steps)", theirs, "affine", 1000, 0.01)
    with heavy_job(job) as job:
        job.done, job.yields = 0.5, False
        assert waiting_note(mine).startswith("Waiting for your turn: number 2 in line. Running now: another "
                                             "visitor's affine experiment (5 pairs")
        assert "left" in waiting_note(mine) and "your own" in waiting_note(theirs)
        stop_page_jobs(mine)
        assert not job.should_stop()
        stop_page_jobs(theirs)
        assert job.should_stop()
    assert waiting_note(mine) == ""


def notice_text(answer: dict, key: str = "notice") -> str:
    """The words of a handler's notice (ui.common.notice's HTML): exactly one notice, no markup."""
    assert answer[key].count('class="pw-notice"') == 1, answer[key]
    return html.unescape(re.sub(r"<[^>]+>", "", answer[key]))


@pytest.fixture
def toasts(monkeypatch) -> list:
    """Every gr.Warning / gr.Info toast a handler asks for (there should be none: the notice box says it)."""
    import gradio as gr

    shown = []
    for kind in ("Warning", "Info"):
        monkeypatch.setattr(gr, kind, lambda text, *args, **kwargs: shown.append(text))
    return shown


@needs_flower_model
def test_a_refused_model_or_file_gives_one_plain_notice_and_puts_back_the_last_result(monkeypatch, tmp_path, toasts):
    """No browser: a refusal answers only the notice box (and the model radio, put back to the model of the
    result it keeps showing), in plain words with no server folder; a good result clears the box; no toast."""
    import ui.segment_tab as tab
    from segmenter.models import VOC_MODELS, WeightsUnavailable

    first = tab.segment_on_page(png(tmp_path / "gradient.png"), None, tab.FLOWER_MODEL, 0.5, None)
    kept = first["shown"]
    assert first["notice"] == ""  # a good result clears the box
    voc = next(iter(VOC_MODELS))

    def offline(name, device=None):
        raise WeightsUnavailable("/root/.cache/torch/hub/checkpoints/x.pth: no such weights file")

    monkeypatch.setattr(tab, "load_segmenter", offline)
    for _ in range(2):  # the same answer each time: the box's text is replaced, never added to
        answer = tab.segment_on_page(str(tmp_path / "gradient.png"), None, voc, 0.5, kept)
        assert set(answer) == {"notice", "model_name"} and answer["model_name"] == tab.FLOWER_MODEL
        text = notice_text(answer)
        assert ".pth" in text and "/" not in text and "**" not in text
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    answer = tab.segment_on_page(str(tmp_path / "broken.png"), None, tab.FLOWER_MODEL, 0.5, kept)
    assert set(answer) == {"notice", "model_name"}
    assert "broken.png" in notice_text(answer) and str(tmp_path) not in answer["notice"]
    assert set(tab.redraw(kept, 1.5)) == {"notice"} and "Overlay opacity" in notice_text(tab.redraw(kept, 1.5))
    redrawn = tab.redraw(kept, 0.3)
    assert redrawn["notice"] == "" and "opacity 0.30" in redrawn["caption"]
    monkeypatch.setattr(tab, "image_path", lambda image_id: tmp_path / "gone.jpg")
    missing = tab.segment_test_image("image_0042", tab.FLOWER_MODEL, 0.5, kept)
    assert set(missing) == {"notice"} and "image_0042 is missing" in notice_text(missing)
    assert toasts == []


def test_fine_tuning_refusals_are_its_status_line_only(toasts):
    """The fine-tuning section says why in its status line, in plain words, and shows no toast beside it."""
    import ui.segment_tab as tab

    assert list(tab.run_finetune([], 2, 32)) == [{"status": "Choose at least one mode: last, head or full."}]
    [answer] = list(tab.run_finetune(["last"], 9, 32))
    assert set(answer) == {"status"} and "Epochs" in answer["status"] and "**" not in answer["status"]
    assert toasts == []


def test_inside_refusals_answer_only_their_sections_notice_box(toasts):
    """Counts, layer pictures and the affine experiment: a refused input answers only its section's notice
    (the tables, pictures and table of the last good result stay), a good one clears it; no toast."""
    import ui.inside_tab as tab

    refused = tab.counts_on_page("cnn", 32, 24, 4, 32)
    assert set(refused) == {"notice"} and "even" in notice_text(refused)
    good = tab.counts_on_page("cnn", 32, 24, 5, 32)
    assert good["notice"] == "" and "k=5" in good["totals"]
    no_checkpoint = tab.layers_on_page(None, tab.IMAGE_SOURCES[0], "horse", 0, None, False)
    assert set(no_checkpoint) == {"notice"} and "No checkpoint chosen" in notice_text(no_checkpoint)
    [answer] = list(tab.run_affine(None, "1,0", 0, 10, 100, progress=lambda *args, **kwargs: None))
    assert set(answer) == {"affine_notice", "affine_waiting"} and answer["affine_waiting"] == ""  # never queued
    assert "No checkpoint chosen" in notice_text(answer, "affine_notice")
    assert toasts == []
