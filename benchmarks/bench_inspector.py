"""How fast a click on a colourized 1-megapixel upload answers, against recomputing the colourization.

The pixel inspector keeps the last colourization's logits in the browser session (gr.State), so a click
is a lookup: map the click to the working-size pixel, softmax one logit column per model, draw the
chart's HTML. The baseline is what a click would cost without the kept logits: colourizing the upload
again. Both run here, in one process, on the same upload and checkpoints (every model column's default
checkpoint in checkpoints/); medians of repeats. ``--browser`` also times the click in Chromium, from
the mouse click until the chart shows the new pixel (the app started on a free port, as the tests do).

    python -m benchmarks.bench_inspector [--repeats 50] [--browser]
"""
import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import torch
from PIL import Image

import gradio as gr
from ui import inspector
from ui.colourize_tab import colourize_upload_panels, default_checkpoints

SIZE = (1155, 866)  # 1.0 megapixel, 4:3


def make_upload(folder: str) -> str:
    """A colourful 1 MP photo-like image (smooth gradients and waves), saved as PNG."""
    width, height = SIZE
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([255 * x / width, 255 * y / height, 128 + 100 * np.sin(x / 40) * np.cos(y / 55)], axis=2)
    path = os.path.join(folder, "upload_1mp.png")
    Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(path)
    return path


def median_ms(function, repeats: int) -> float:
    times = []
    for n in range(repeats):
        start = time.perf_counter()
        function(n)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def checkpoints() -> dict[str, str]:
    """Each model column's default checkpoint name, for the columns that have one."""
    return {slot: name for slot, name in default_checkpoints().items() if name}


def browser_click_ms(path: str, repeats: int) -> float:
    """Median time in Chromium from a click on the CNN output until the chart names the new pixel."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, _free_port, _wait_until_answers

    port = _free_port()
    log = Path(tempfile.mkdtemp()) / "app.log"
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), HF_HUB_OFFLINE="1")
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_answers(url, proc, log)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.locator("input[type=file]").first.set_input_files(path)
            page.get_by_text(re.compile(r"^UNet \(.*\) · .*, 1155×866$")).wait_for()
            page.wait_for_timeout(1000)
            picture = page.locator(".pw-inspect img").nth(1)
            box = picture.bounding_box()
            scale = min(box["width"] / SIZE[0], box["height"] / SIZE[1])  # object-fit: contain letterboxes it
            drawn_w, drawn_h = SIZE[0] * scale, SIZE[1] * scale
            left, top = box["x"] + (box["width"] - drawn_w) / 2, box["y"] + (box["height"] - drawn_h) / 2
            chart = page.locator("#inspector-colourize-chart")
            times = []
            for n in range(repeats + 1):
                fx, fy = 0.1 + 0.8 * ((n * 37) % 100) / 100, 0.1 + 0.8 * ((n * 61) % 100) / 100  # a new pixel each time
                previous = chart.inner_text()
                start = time.perf_counter()
                page.mouse.click(left + fx * drawn_w, top + fy * drawn_h)
                page.wait_for_function("old => document.querySelector('#inspector-colourize-chart').innerText !== old",
                                       arg=previous, polling="raf")
                if n:  # the first click warms up the page
                    times.append(time.perf_counter() - start)
            browser.close()
    finally:
        proc.terminate()
        proc.wait()
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--browser", action="store_true", help="also time clicks in Chromium (starts app.py)")
    arguments = parser.parse_args()
    folder = tempfile.mkdtemp()
    path = make_upload(folder)
    chosen = checkpoints()
    panels = colourize_upload_panels(path, chosen)
    snapshot = panels.snapshot()
    rng = np.random.default_rng(0)
    points = rng.integers((0, 0), SIZE, size=(arguments.repeats, 2))

    def click(n: int) -> str:
        x, y = points[n % len(points)]
        return inspector.on_select(snapshot, gr.SelectData(None, {"index": [int(x), int(y)], "value": None}))

    click(0)  # warm-up
    click_ms = median_ms(click, arguments.repeats)
    json_ms = median_ms(lambda n: inspector.inspect_pixel_json(snapshot, *points[n % len(points)]), arguments.repeats)
    recompute_ms = median_ms(lambda n: colourize_upload_panels(path, chosen), max(3, arguments.repeats // 10))
    uncertainty_ms = median_ms(lambda n: inspector.uncertainty_view(snapshot, "entropy (bits)"), 5)
    print(f"upload {SIZE[0]}×{SIZE[1]} ({SIZE[0] * SIZE[1] / 1e6:.2f} MP), models: "
          f"{', '.join(f'{slot}={name}' for slot, name in chosen.items())}; "
          f"working size {snapshot.models[next(iter(snapshot.models))].size}; torch threads {torch.get_num_threads()}")
    print(f"click (map + softmax per model + chart HTML), median of {arguments.repeats}: {click_ms:.2f} ms")
    print(f"inspect_pixel JSON, median of {arguments.repeats}: {json_ms:.2f} ms")
    print(f"baseline: colourizing the upload again: {recompute_ms:.0f} ms ({recompute_ms / click_ms:.0f}x the click)")
    print(f"uncertainty maps (all models, on a new result): {uncertainty_ms:.1f} ms")
    if arguments.browser:
        print(f"click in Chromium until the chart shows the pixel, median of {arguments.repeats}: "
              f"{browser_click_ms(path, arguments.repeats):.0f} ms")


if __name__ == "__main__":
    main()
