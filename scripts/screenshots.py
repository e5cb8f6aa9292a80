"""Screenshots of each tab for the README: starts `python app.py`, drives it with Playwright on
Debian's Chromium, and writes docs/screenshots/<tab>.png.

    python scripts/screenshots.py [--out docs/screenshots]

The Train live shot is a real run: UNet, batch sizes 50/100/500/1000, 10 epochs on the first
1000 training and 200 validation horse images (about a minute on CPU).
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


def shoot(url: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(300_000)
        page.goto(url)
        page.get_by_role("tab", name="CIFAR-10 test image").click()
        page.get_by_label("number input for Test image number").fill("18")
        page.keyboard.press("Tab")
        page.get_by_role("button", name="Colourize test image").click()
        page.get_by_text(re.compile(r"^UNet \(.*pixel accuracy")).wait_for()
        page.wait_for_timeout(1000)
        page.screenshot(path=out / "colourize.png", full_page=True)

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

        for name in ("Segment", "Inside the models"):
            page.get_by_role("tab", name=name, exact=True).click()
            page.wait_for_timeout(1500)
            page.screenshot(path=out / f"{name.split()[0].lower()}.png", full_page=True)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = Path(tempfile.mkdtemp()) / "app.log"
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1",
               GRADIO_ANALYTICS_ENABLED="False", PIXELWISE_TRAINED=str(log.parent / "trained"))
    with open(log, "w") as log_file:
        app = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        _wait_until_answers(f"http://127.0.0.1:{port}/", app, log)
        shoot(f"http://127.0.0.1:{port}/", out)
    finally:
        app.terminate()
        app.wait(timeout=15)
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main()
