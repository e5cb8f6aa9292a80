"""Train live's quick press as a person meets it: through a running app.py, not a bare worker process.

benchmarks/bench_quick_press.py times the panel's worker alone. In the app the same worker trains beside
what the app's other threads did before (building the page, its warm-up), and those can slow it: the main
thread that built the page kept a pool of torch worker threads, and with more such threads than cores
libgomp makes every parallel op wait for a kernel wake-up (docs/training-speed.md, "Two pools of torch
threads"). Here each checkout's app.py is started on a free port with an empty replay cache, left to finish
its warm-up, and asked for the quick press through the public ``/train`` endpoint (gradio_client), as a
script would, or with ``--browser`` by a click on the panel's quick-press button in Chromium (Debian's
/usr/bin/chromium through Playwright), timed until the status says "Done:". Chromium then runs on the same
cores as the app, which a person's browser does not. The checkouts alternate; the medians and their ratio
are printed.

    python -m benchmarks.app_press --data ../shared/data/cifar10 --repeats 3 --baseline 1f2a319
    python -m benchmarks.app_press --data ../shared/data/cifar10 --repeats 2 --baseline 1f2a319 --browser
"""
import argparse
import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.bench_press import baseline_checkout
from benchmarks.bench_quick_press import cpu_line
from benchmarks.load_colourize import REPO_ROOT, server_cpu_s, start_app
from benchmarks.page_open import wait_quiet

def quick_press(url: str) -> dict:
    """The quick press through ``/train``: its wall seconds and each batch size's validation accuracy."""
    from gradio_client import Client

    from runs.presets import QUICK

    client = Client(url, verbose=False)
    start = time.perf_counter()
    result = client.predict(QUICK.model, list(QUICK.batch_sizes), QUICK.epochs, QUICK.learning_rate,
                            QUICK.num_filters, "horse", 0, QUICK.train_images, QUICK.val_images, api_name="/train")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "val_acc": {row["batch size"]: row["val acc (%)"] for row in result["table"]}}


def quick_press_in_browser(url: str) -> dict:
    """The quick press as a person starts it: its preset button clicked on the Train live tab; seconds to "Done:"
    (Chromium's own CPU counts: it runs on this machine's cores)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_role("tab", name="Train live").click()
            button = page.locator("#train-preset_0")
            button.wait_for()
            start = time.perf_counter()
            button.click()
            page.wait_for_function("() => /Done:/.test(document.querySelector('#train-status').innerText)",
                                   timeout=900_000, polling=500)
            seconds = time.perf_counter() - start
        finally:
            browser.close()
    return {"seconds": seconds, "val_acc": {}}  # the same runs as /train's: its accuracies are printed there


def timed_press(checkout: Path, data: str, browser: bool = False) -> dict:
    """Start ``checkout``'s app, let it warm up, press once; the press's seconds and the app's CPU seconds."""
    with tempfile.TemporaryDirectory(prefix="pixelwise-app-press-") as folder:
        started = time.time()
        proc, url = start_app(Path(folder), checkout, {"PIXELWISE_DATA": data})
        try:
            idle_after = wait_quiet(proc, time.time() + 300) - started  # the warm-up's end
            cpu_before = server_cpu_s(proc)
            outcome = quick_press_in_browser(url) if browser else quick_press(url)
            return {**outcome, "cpu": server_cpu_s(proc) - cpu_before, "warm_up": idle_after}
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/cifar10")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--baseline", default=None, help="a commit whose app alternates with this checkout's")
    parser.add_argument("--browser", action="store_true", help="press the panel's button in Chromium instead of calling /train")
    arguments = parser.parse_args(argv)
    data = str(Path(arguments.data).resolve())
    print(cpu_line(), f"\nload average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with contextlib.ExitStack() as stack:
        checkouts = {"now": REPO_ROOT}
        if arguments.baseline:
            checkouts = {"baseline": stack.enter_context(baseline_checkout(arguments.baseline)), "now": REPO_ROOT}
        runs = {name: [] for name in checkouts}
        for repeat in range(arguments.repeats):
            for name, checkout in checkouts.items():
                run = timed_press(checkout, data, arguments.browser)
                runs[name].append(run)
                accuracy = ", ".join(f"{size}: {acc}%" for size, acc in sorted(run["val_acc"].items()))
                print(f"repeat {repeat + 1}, {name}: the app quiet {run['warm_up']:.0f} s after its start; press "
                      f"{run['seconds']:.1f} s, {run['cpu']:.0f} CPU s of the app"
                      + (f"; val accuracy {accuracy}" if accuracy else ""), flush=True)
    how = "quick-press button clicked in Chromium" if arguments.browser else "/train endpoint"
    print(f"\nthe quick press through a running app's {how}, median of {arguments.repeats}")
    print("| | " + " | ".join(checkouts) + " |\n|---|" + "---:|" * len(checkouts))
    for label, key in (("press, s", "seconds"), ("the app's CPU seconds", "cpu")):
        print(f"| {label} | " + " | ".join(f"{statistics.median(r[key] for r in runs[name]):.1f}" for name in runs) + " |")
    if arguments.baseline:
        ratio = statistics.median(r["seconds"] for r in runs["baseline"]) / statistics.median(r["seconds"] for r in runs["now"])
        print(f"\nthe press finishes {ratio:.2f}x sooner than at {arguments.baseline}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
