"""Reload the app's page and upload a photo at once, again and again: does the upload's own result stay, or
does the page's first example (the Astronaut) replace it? (Issue 29: the race behind a flaky browser test.)

    python scripts/first_example_race.py http://127.0.0.1:7860/ --rounds 10

Needs a running app and Chromium (/usr/bin/chromium). Prints one line per round and the count lost."""
import argparse
import re
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright

CAPTION = re.compile(r"^Beyond the handout \(colour_hints\.pt\) · annealed mean T=0.38, 384×256$")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    photo = Path(tempfile.mkdtemp()) / "discs.png"
    rows, columns = np.mgrid[0:256, 0:384]
    rgb = np.full((256, 384, 3), 128, np.uint8)
    rgb[(rows - 128) ** 2 + (columns - 100) ** 2 < 70 ** 2] = (70, 8, 8)
    Image.fromarray(rgb).save(photo)
    lost = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(args.url)
        for round_ in range(args.rounds):
            page.set_viewport_size({"width": 800 if round_ % 2 else 1400, "height": 1000})
            page.reload()
            page.get_by_role("tab", name="Colourize", exact=True).click()
            page.locator("input[type=file]").first.set_input_files(str(photo))
            try:
                page.get_by_text(CAPTION).wait_for(timeout=40_000)
                page.wait_for_timeout(3000)  # time for a late first example to arrive and replace it
                kept = "discs" in page.evaluate("() => document.querySelector('#colourize-grey img').src")
            except Exception:  # noqa: BLE001  (the caption never came: the upload was lost)
                kept = False
            lost += not kept
            print(round_, "kept" if kept else "LOST", flush=True)
        browser.close()
    print(f"lost {lost} of {args.rounds}")


if __name__ == "__main__":
    main()
