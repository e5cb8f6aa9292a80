"""Issue 31's rough edges of the page, in Chromium at 1400 px, 800 px and in dark mode: every tab opens on an
example, the Colourize columns line up with their download strips (after a hint too), labels sit above their
pictures, a new upload ends an example's highlight, a refused file leaves no broken picture, only the Segment
models that can run are offered, Train live's batch sizes each have their own colour-blind-safe colour with solid
legend markers and whole captions beside the strips, the cost legend shows every part, the uncertainty maps lie
on the page's own ground, and the inspector says "true colour (palette class N)". Screenshots go to
$PIXELWISE_SCREENSHOT_DIR when set (else a temporary folder)."""
import base64
import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.helpers import CHECKPOINTS, HAVE_CIFAR, requires_cifar, wait_for_first_examples

TIMEOUT_MS = 180_000
VIEWS = {"1400": ({"width": 1400, "height": 1000}, ""), "800": ({"width": 800, "height": 1000}, ""),
         "dark": ({"width": 1400, "height": 1000}, "?__theme=dark")}
PICTURES = ("grey", "cnn", "unet", "beyond", "original")
HINT_MODEL = CHECKPOINTS / "colour_hints.pt"
FLOWER_MODEL = CHECKPOINTS / "flowers_deeplab.pt"


def open_page(browser, app_url, view: str, tab: str = "Colourize"):
    viewport, query = VIEWS[view]
    page = browser.new_context(viewport=viewport).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url + query, wait_until="domcontentloaded")
    wait_for_first_examples(page)
    page.get_by_role("tab", name=tab, exact=True).click()
    return page


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def fetched_picture(page, selector: str) -> np.ndarray:
    """The picture an img element shows, as its file holds it (alpha kept)."""
    source = page.locator(selector).first.get_attribute("src")
    return np.asarray(Image.open(io.BytesIO(page.request.get(source).body())))


def label_clear_of_picture(page, block: str) -> None:
    """The block's label is whole and above its picture, not over it."""
    label = page.locator(f"{block} label[data-testid=block-label]").first
    assert label.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), f"{block}: label cut off"
    picture = box(page, f"{block} img")
    assert label.bounding_box()["y"] + label.bounding_box()["height"] <= picture["y"] + 1, f"{block}: label over the picture"


@pytest.mark.parametrize("view", list(VIEWS))
def test_every_tab_opens_on_an_example_with_maps_on_the_pages_ground(browser, app_url, shots, view):
    page = open_page(browser, app_url, view)
    for name in PICTURES[:-1]:  # the original too where it has colour: the astronaut has
        expect(page.locator(f"#colourize-{name} img")).to_have_attribute("src", re.compile(r"astronaut_"))
    maps = page.locator("#inspector-colourize-uncertainty img")
    # below the steering panel at 800 px: a lazy image loads (and has a size) once a person scrolls to it
    page.locator("#inspector-colourize-uncertainty").scroll_into_view_if_needed()
    expect(maps).to_be_visible()
    rgba = fetched_picture(page, "#inspector-colourize-uncertainty img")
    assert rgba.shape[2] == 4 and rgba[0, -1, 3] == 0 and (rgba[..., 3] == 0).mean() > 0.2  # no white block
    page.screenshot(path=shots / f"first-colourize-{view}.png", full_page=True)
    if FLOWER_MODEL.is_file():
        page.get_by_role("tab", name="Segment", exact=True).click()
        expect(page.locator("#segment-iou")).to_contain_text("flower.jpg")
        expect(page.locator("#segment-overlay img")).to_be_visible()
        page.screenshot(path=shots / f"first-segment-{view}.png", full_page=True)
    page.get_by_role("tab", name="Train live", exact=True).click()
    if HAVE_CIFAR:  # the shipped UNet's colours for the press's first validation horses
        example = page.locator("#train-strips .block:visible")
        expect(example).to_have_count(1)
        expect(example.locator("label[data-testid=block-label]")).to_contain_text("Example, before any press: unet.pt")
        expect(example.locator("img")).to_be_visible()
        page.screenshot(path=shots / f"first-train-{view}.png", full_page=True)
    page.get_by_role("tab", name="Inside the models", exact=True).click()
    if HAVE_CIFAR:  # the layer pictures need CIFAR-10
        expect(page.locator("#inside-layer-blocks")).to_contain_text("CIFAR-10 test horse #0")
        expect(page.locator("#inside-layer-gallery img").first).to_be_visible()
    page.context.close()


@pytest.mark.skipif(not HINT_MODEL.is_file(), reason=f"{HINT_MODEL} is not in this checkout")
@pytest.mark.parametrize("view", list(VIEWS))
def test_the_five_columns_line_up_with_their_strips_after_a_hint_and_labels_sit_above(browser, app_url, shots, view):
    page = open_page(browser, app_url, view)
    expect(page.locator("#colourize-beyond img")).to_have_attribute("src", re.compile(r"astronaut_"))

    def lined_up(when: str) -> None:
        frames = {name: box(page, f"#colourize-{name} .image-frame") for name in PICTURES}
        strips = {name: box(page, f"#colourize-{name} .icon-button-wrapper") for name in PICTURES}
        blocks = {name: box(page, f"#colourize-{name}") for name in PICTURES}
        for name in PICTURES:
            assert strips[name]["height"] > 10, f"{when}: {name} has no download strip"
            assert strips[name]["y"] >= blocks[name]["y"] - 1, f"{when}: {name}'s strip scrolled out of its box"
            assert frames[name]["y"] >= strips[name]["y"] + strips[name]["height"] - 1, f"{when}: {name} over its strip"
            assert frames[name]["y"] + frames[name]["height"] <= blocks[name]["y"] + blocks[name]["height"] + 1
        rows = {}
        for name in PICTURES:  # at 800 px they wrap: pictures in one row share their top and height
            rows.setdefault(round(blocks[name]["y"]), []).append(name)
        for names in rows.values():
            assert len({round(frames[name]["y"]) for name in names}) == 1, f"{when}: {names} not lined up"
            assert len({round(frames[name]["height"]) for name in names}) == 1, f"{when}: {names} not lined up"

    lined_up("first example")
    label_clear_of_picture(page, "#colourize-slider")
    page.locator("#colourize-beyond img").click()  # a hint: the Beyond column kept its strip?
    page.locator("#hint-suggestions label").first.click()
    expect(page.locator("#colourize-pictures")).to_contain_text("1 hint")
    page.locator("#hint-entropy").scroll_into_view_if_needed()  # below the inspector: its lazy picture loads in view
    expect(page.locator("#hint-entropy img")).to_be_visible()
    lined_up("after a hint")
    label_clear_of_picture(page, "#hint-entropy")
    page.screenshot(path=shots / f"columns-after-hint-{view}.png", full_page=True)
    page.context.close()


def test_a_new_upload_ends_the_examples_highlight_and_a_refused_file_leaves_no_broken_picture(
        browser, app_url, shots, tmp_path):
    page = open_page(browser, app_url, "1400")
    buttons = page.locator("#colourize-example-buttons")
    buttons.get_by_text("Coffee", exact=True).click()  # the pointer stays on the button
    expect(page.locator("#colourize-grey img")).to_have_attribute("src", re.compile(r"coffee_"))
    assert buttons.locator(".selected").count() == 1  # Gradio's highlight, while the pointer is there
    y, x = np.mgrid[0:120, 0:160]
    Image.fromarray(np.stack([x * 255 // 160, y * 255 // 120, 255 - x * 255 // 160], axis=2).astype(np.uint8)) \
        .save(tmp_path / "gradient.png")
    upload = page.locator(".pw-upload input[type=file]").first  # the Colourize tab's, the page's first
    upload.set_input_files(str(tmp_path / "gradient.png"))
    expect(page.locator("#colourize-grey img")).to_have_attribute("src", re.compile(r"gradient_"))
    assert buttons.locator(".selected").count() == 0, "the example still looks chosen beside the new photo"

    (tmp_path / "broken.png").write_bytes(b"this is not a picture")
    upload.set_input_files(str(tmp_path / "broken.png"))
    expect(page.locator("#colourize-notice .pw-notice")).to_contain_text("broken.png")
    box_ = page.locator(".pw-upload").first
    expect(box_.get_by_text("No preview of this file")).to_be_visible()
    broken = box_.locator("img").evaluate_all("imgs => imgs.filter(i => i.offsetParent !== null && !i.naturalWidth).length")
    assert broken == 0, "a broken picture is drawn in the upload box"
    box_.screenshot(path=shots / "refused-upload-box.png")
    upload.set_input_files(str(tmp_path / "gradient.png"))  # a good file again: its picture, no note
    expect(box_.get_by_text("No preview of this file")).to_have_count(0)
    page.context.close()


def test_only_the_segment_models_that_can_run_are_offered(browser, app_url, shots):
    from ui.segment_tab import model_choices

    runnable, offline = model_choices()  # the app runs on this machine, with this network
    page = open_page(browser, app_url, "800", "Segment")
    radio = page.locator("#segment-model")
    expect(radio.locator("input[type=radio]")).to_have_count(len(runnable))
    assert [label.strip() for label in radio.locator("label").all_inner_texts()] == runnable
    for name in offline:
        expect(radio).to_contain_text(name.split(" (")[0])
    if offline:
        expect(radio).to_contain_text("Needs the internet once")
    radio.screenshot(path=shots / "segment-models-800.png")
    page.context.close()


@requires_cifar
@pytest.mark.parametrize("view", ["800", "dark"])
def test_each_batch_size_has_its_own_colour_solid_legend_markers_and_whole_captions_beside_the_strips(
        browser, app_url, shots, view):
    from ui.train_tab import OKABE_ITO

    page = open_page(browser, app_url, view, "Train live")
    for batch_size in ("5", "10", "20", "50", "100", "200", "500", "1000"):
        page.get_by_role("checkbox", name=batch_size, exact=True).set_checked(batch_size in ("10", "20", "100"))
    page.get_by_label("number input for Epochs").fill("1")
    page.get_by_label("NF (filters)").click()
    page.get_by_role("option", name="8", exact=True).click()
    page.get_by_label("number input for Training images").fill("200")
    page.get_by_label("number input for Validation images").fill("100")
    page.keyboard.press("Tab")
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text(re.compile(r"^Done: 3 batch size"))).to_be_visible(timeout=TIMEOUT_MS)
    page.wait_for_function("document.querySelectorAll('#train-accuracy-plot g.mark-line path[d]').length >= 3")
    strokes = page.locator("#train-accuracy-plot g.mark-line path[d]").evaluate_all(
        "paths => paths.map(p => (p.getAttribute('stroke') || '').toLowerCase())")
    assert sorted(set(strokes)) == sorted({OKABE_ITO[10], OKABE_ITO[20], OKABE_ITO[100]})
    symbols = page.locator("#train-accuracy-plot .role-legend-symbol path")
    assert symbols.count() == 3
    assert all(float(width.rstrip("px")) >= 4 for width in symbols.evaluate_all(
        "paths => paths.map(p => getComputedStyle(p).strokeWidth)"))
    strips = page.locator("#train-strips .block:visible")
    assert strips.count() == 3
    for index in range(3):
        strip = strips.nth(index)
        label = strip.locator("label[data-testid=block-label]")
        expect(label).to_contain_text(re.compile(r"bs \d+ · epoch 1"))
        assert label.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "a caption is cut off"
        assert label.bounding_box()["y"] + label.bounding_box()["height"] <= strip.locator("img").bounding_box()["y"] + 1
    page.locator("#train-strips").screenshot(path=shots / f"train-strips-{view}.png")
    page.locator("#train-loss-plot").screenshot(path=shots / f"train-loss-{view}.png")
    page.context.close()


@pytest.mark.parametrize("view", ["1400", "800"])
def test_the_cost_sections_legends_show_every_part(browser, app_url, shots, view):
    page = open_page(browser, app_url, view, "Segment")
    page.get_by_text("Cost of fine-tuning against the number of layers trained").click()
    legend = page.locator("#segment-cost-memory-legend")
    expect(legend).to_be_visible()
    whole = box(page, "#segment-cost-memory-legend")
    for part in ("weights (all)", "gradients", "AdamW state", "activations"):
        item = legend.get_by_text(part, exact=True)
        expect(item).to_be_visible()
        shown = item.bounding_box()
        assert shown["x"] + shown["width"] <= whole["x"] + whole["width"] + 1, f"{part} cut off"
    expect(page.locator("#segment-cost-time-legend")).to_contain_text("optimizer step")
    page.get_by_text("Colourization UNet (the handout's, 6 blocks)").click()
    page.locator("#segment-cost-run").click()
    page.locator("#segment-cost-memory-small .mark-rect path").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator("#segment-cost-memory-small .role-legend").evaluate_all(
        "legends => legends.every(l => getComputedStyle(l).display === 'none')")  # not a second, cut-off legend
    page.locator("#segment-cost-memory-legend").screenshot(path=shots / f"cost-legend-{view}.png")
    page.context.close()


def test_the_inspector_says_true_colour_and_its_palette_class(browser, app_url):
    page = open_page(browser, app_url, "1400")
    expect(page.locator("#colourize-unet img")).to_have_attribute("src", re.compile(r"astronaut_"))
    page.locator("#colourize-unet img").click()  # the middle of the astronaut: a colour photo has true colours
    chart = page.locator("#inspector-colourize-chart")
    expect(chart).to_contain_text(re.compile(r"true colour \(palette class \d+\)"))
    assert "true (#" not in chart.inner_text()
    page.context.close()
