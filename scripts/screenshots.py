"""Screenshots of each tab for the README and docs/: starts `python app.py`, drives it with Playwright on
Debian's Chromium, and writes docs/screenshots/<tab>.png.

    python scripts/screenshots.py [--out docs/screenshots] [--only segment inside inspector ...]

The Train live shot is a real run: UNet, batch sizes 50/100/500/1000, 10 epochs on the first
1000 training and 200 validation horse images (a few minutes on CPU). The Segment shot segments the
first flower test image with the shipped flower model (overlay, legend, IoU and mask).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, _free_port, _wait_until_answers  # noqa: E402
from tests.helpers import wait_for_first_examples  # noqa: E402


SHOTS = ("colourize", "train_live", "segment", "inside", "inspector", "segment_confidence", "layers", "train_inspector")


def made_small(path: Path) -> None:
    """The screenshot as a 256-colour PNG: about a third of the size, for the README and docs/."""
    with Image.open(path) as shot:
        small = shot.convert("RGB").quantize(256)
    small.save(path, optimize=True)


def shoot(url: str, out: Path, only=SHOTS) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(300_000)
        page.goto(url)
        wait_for_first_examples(page)  # else the examples every tab opens on could land over a shot's own result
        for name in SHOTS:
            if name in only:
                SHOOTERS[name](page, out)
                made_small(out / f"{name}.png")
        browser.close()


def colourize_test_image(page, index: int = 18) -> None:
    page.get_by_role("tab", name="Colourize", exact=True).click()
    page.get_by_role("tab", name="CIFAR-10 test image").click()
    page.get_by_label("number input for Test image number").fill(str(index))
    page.keyboard.press("Tab")
    page.get_by_role("button", name="Colourize test image").click()
    page.get_by_text(re.compile(r"^UNet \(.*pixel accuracy")).wait_for()


def shoot_colourize(page, out: Path) -> None:
    colourize_test_image(page)
    page.wait_for_timeout(1000)
    page.screenshot(path=out / "colourize.png", full_page=True)


def train_run(page, epochs: int, leave_out: tuple[str, ...] = ()) -> None:
    """A Train live run of the UNet at batch sizes 50/100/500/1000 (less ``leave_out``) on 1000/200 images."""
    page.get_by_role("tab", name="Train live", exact=True).click()
    for batch_size in ("5", "10", "20", "50", "100", "200", "500", "1000"):
        wanted = batch_size in ("50", "100", "500", "1000") and batch_size not in leave_out
        page.get_by_role("checkbox", name=batch_size, exact=True).set_checked(wanted)
    page.get_by_label("number input for Epochs").fill(str(epochs))
    page.get_by_label("number input for Training images").fill("1000")
    page.get_by_label("number input for Validation images").fill("200")
    page.keyboard.press("Tab")
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"^Done: \d batch size")).wait_for(timeout=1_500_000)  # minutes on a loaded CPU
    page.wait_for_timeout(1500)


def shoot_train_live(page, out: Path) -> None:
    train_run(page, 10)
    page.screenshot(path=out / "train_live.png", full_page=True)


def shoot_segment(page, out: Path) -> None:
    """Segment the first flower test image, as tests/test_segment_browser.py does."""
    page.get_by_role("tab", name="Segment", exact=True).click()
    page.locator("#segment-test-pick input").click()
    page.get_by_role("option").first.click()
    page.locator("#segment-photo img").first.wait_for()  # a test image segments as soon as it is picked
    page.locator("#segment-iou").get_by_text("Flower IoU vs truth").wait_for()
    page.locator("#segment-overlay img").first.wait_for()
    page.locator("#segment-mask img").first.wait_for()
    page.locator("#segment-legend").get_by_text("flower").first.wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=out / "segment.png", full_page=True)


def click_at(page, selector: str, fx: float, fy: float) -> None:
    """Click the point (fx, fy) (fractions of width and height) of a picture drawn with object-fit: contain."""
    picture = page.locator(selector).first
    picture.wait_for()
    box = picture.bounding_box()
    natural = picture.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    scale = min(box["width"] / natural[0], box["height"] / natural[1])
    width, height = natural[0] * scale, natural[1] * scale
    page.mouse.click(box["x"] + (box["width"] - width) / 2 + fx * width, box["y"] + (box["height"] - height) / 2 + fy * height)


def shot_of(page, out: Path, name: str, *selectors: str) -> None:
    """A screenshot of the part of the page that holds these elements."""
    boxes = [page.locator(selector).first.bounding_box() for selector in selectors]
    scroll = page.evaluate("[window.scrollX, window.scrollY]")
    left, top = min(b["x"] for b in boxes) - 10, min(b["y"] for b in boxes) - 10
    right, bottom = max(b["x"] + b["width"] for b in boxes) + 10, max(b["y"] + b["height"] for b in boxes) + 10
    page.screenshot(path=out / name, full_page=True,
                    clip={"x": left + scroll[0], "y": top + scroll[1], "width": right - left, "height": bottom - top})


def shoot_inspector(page, out: Path) -> None:
    """Colourize CIFAR-10 test horse #18 and click a pixel of the background (the pixel inspector)."""
    colourize_test_image(page)
    page.wait_for_timeout(1500)
    click_at(page, "#colourize-unet img", 0.2, 0.15)
    page.locator("#inspector-colourize-chart .pw-model").first.wait_for()
    page.wait_for_timeout(800)
    shot_of(page, out, "inspector.png", "#colourize-grey", "#colourize-original", "#inspector-colourize")


def shoot_segment_confidence(page, out: Path) -> None:
    """Segment the first flower test image, show 1 - max p and click the flower's edge."""
    shoot_segment(page, out)
    click_at(page, "#segment-overlay img", 0.5, 0.25)
    page.locator("#inspector-segment-chart .pw-model").first.wait_for()
    page.locator("#inspector-segment-kind").get_by_text("1 − max p").click()
    page.wait_for_timeout(2500)
    shot_of(page, out, "segment_confidence.png", "#segment-overlay", "#inspector-segment")


def shoot_layers(page, out: Path) -> None:
    """Every layer of the shipped UNet on CIFAR-10 test horse #18."""
    page.get_by_role("tab", name="Inside the models", exact=True).click()
    page.locator("#inside-tab").get_by_label("Test image number").fill("18")
    page.locator("#inside-layers-run").click()
    page.locator("#inside-layer-blocks").get_by_text("test horse #18").wait_for()  # not #0, the tab's first example
    page.wait_for_function("(imgs => imgs.length > 0 && imgs.every(img => img.complete && img.naturalWidth > 0))"
                           "([...document.querySelectorAll('#inside-layer-gallery img')].slice(0, 6))")
    page.wait_for_timeout(1500)
    shot_of(page, out, "layers.png", "#inside-layer-blocks", "#inside-layer-gallery")


def shoot_train_inspector(page, out: Path) -> None:
    """A short Train live run (UNet, batch sizes 50 and 1000, 5 epochs on 1000/200 images), then a click
    on the final strips: every batch size's distribution at the same validation pixel."""
    train_run(page, 5, leave_out=("100", "500"))
    click_at(page, ".pw-inspect img:visible", 0.83, 0.2)  # first validation image's prediction column
    page.locator("#inspector-train-chart .pw-model").first.wait_for()
    page.wait_for_timeout(800)
    shot_of(page, out, "train_inspector.png", ".pw-inspect:visible", "#inspector-train")


def shoot_inside(page, out: Path) -> None:
    page.get_by_role("tab", name="Inside the models", exact=True).click()
    page.wait_for_timeout(1500)
    page.screenshot(path=out / "inside.png", full_page=True)


SHOOTERS = {"colourize": shoot_colourize, "train_live": shoot_train_live, "segment": shoot_segment,
            "inside": shoot_inside, "inspector": shoot_inspector, "segment_confidence": shoot_segment_confidence,
            "layers": shoot_layers, "train_inspector": shoot_train_inspector}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--only", nargs="+", choices=SHOTS, default=list(SHOTS),
                        help="take only these screenshots (default: all)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = Path(tempfile.mkdtemp()) / "app.log"
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1",
               GRADIO_ANALYTICS_ENABLED="False", PIXELWISE_TRAINED=str(log.parent / "trained"))
    with open(log, "w") as log_file:
        app = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        _wait_until_answers(f"http://127.0.0.1:{port}/", app, log)
        shoot(f"http://127.0.0.1:{port}/", out, args.only)
    finally:
        app.terminate()
        app.wait(timeout=15)
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main()
