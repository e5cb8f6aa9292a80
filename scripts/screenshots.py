"""Screenshots of each tab for the README: starts `python app.py`, drives it with Playwright on
Debian's Chromium, and writes docs/screenshots/<tab>.png.

    python scripts/screenshots.py [--out docs/screenshots] [--only segment inside ...]

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

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, _free_port, _wait_until_answers  # noqa: E402


SHOTS = ("colourize", "train_live", "segment", "inside")


def shoot(url: str, out: Path, only=SHOTS) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(300_000)
        page.goto(url)
        if "colourize" in only:
            shoot_colourize(page, out)
        if "train_live" in only:
            shoot_train_live(page, out)
        if "segment" in only:
            shoot_segment(page, out)
        if "inside" in only:
            page.get_by_role("tab", name="Inside the models", exact=True).click()
            page.wait_for_timeout(1500)
            page.screenshot(path=out / "inside.png", full_page=True)
        browser.close()


def shoot_colourize(page, out: Path) -> None:
    page.get_by_role("tab", name="CIFAR-10 test image").click()
    page.get_by_label("number input for Test image number").fill("18")
    page.keyboard.press("Tab")
    page.get_by_role("button", name="Colourize test image").click()
    page.get_by_text(re.compile(r"^UNet \(.*pixel accuracy")).wait_for()
    page.wait_for_timeout(1000)
    page.screenshot(path=out / "colourize.png", full_page=True)


def shoot_train_live(page, out: Path) -> None:
    page.get_by_role("tab", name="Train live", exact=True).click()
    page.get_by_label("number input for Epochs").fill("10")
    page.get_by_text("Quick demo: fewer images").click()
    page.get_by_label("number input for Training images").fill("1000")
    page.get_by_label("number input for Validation images").fill("200")
    page.keyboard.press("Tab")
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"^Done: \d batch size")).wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=out / "train_live.png", full_page=True)


def shoot_segment(page, out: Path) -> None:
    """Segment the first flower test image, as tests/test_segment_browser.py does."""
    page.get_by_role("tab", name="Segment", exact=True).click()
    page.locator("#segment-test-pick input").click()
    page.get_by_role("option").first.click()
    page.locator("#segment-photo img").first.wait_for()
    page.locator("#segment-run").click()
    page.locator("#segment-iou").get_by_text("Flower IoU vs truth").wait_for()
    page.locator("#segment-overlay img").first.wait_for()
    page.locator("#segment-mask img").first.wait_for()
    page.locator("#segment-legend").get_by_text("flower").first.wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=out / "segment.png", full_page=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--only", nargs="+", choices=SHOTS, default=list(SHOTS),
                        help="take only these screenshots (default: all four)")
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
