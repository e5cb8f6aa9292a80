"""Pictures of the Segment tab's Cost section for docs/finetuning-cost.md, drawn from rows measured by the
command line (matplotlib is not a dependency: the app's own plots are screenshotted in Chromium).

    python -m segmenter.cost --vs-layers --threads 1 --json > flower.jsonl
    python scripts/cost_plots.py flower.jsonl docs/finetuning-cost-flower.png

Serves a page holding only the section's outputs (the same components and page_values as the tab),
filled with the rows of the JSON-lines file, and saves a screenshot of it.
"""
import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no version check or analytics call

import gradio as gr  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from pixelwise.layercost import LayerCost  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, _free_port  # noqa: E402
from ui.common import named_outputs  # noqa: E402
from ui.cost_section import cost_outputs, page_values  # noqa: E402


def cost_page(rows: list[LayerCost]) -> gr.Blocks:
    with gr.Blocks() as page:
        gr.Markdown(f"**{rows[0].model}**, batch {rows[0].batch}, from the command line's rows")
        shown = cost_outputs()
        page.load(named_outputs(lambda: page_values(rows, rows[0].batch), shown), None, list(shown.values()))
    return page


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", type=Path, help="JSON lines from `python -m segmenter.cost --vs-layers --json`")
    parser.add_argument("out", type=Path, help="the PNG to write")
    args = parser.parse_args(argv)
    rows = [LayerCost(**json.loads(line)) for line in args.rows.read_text().splitlines() if line.strip()]
    port = _free_port()
    page = cost_page(rows)
    page.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1500, "height": 1100})
        tab.set_default_timeout(180_000)
        tab.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
        tab.wait_for_function("document.querySelectorAll('#segment-cost-time-big .vega-embed g.mark-rect path').length > 0")
        tab.locator("#segment-cost-report").get_by_text("(e)").wait_for()
        tab.wait_for_timeout(1500)  # let the plots finish drawing
        tab.screenshot(path=args.out, full_page=True)
        browser.close()
    page.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
