"""What a page open costs the server: a class opening the app at once.

Each page open runs the tabs' first examples (the Colourize example through three colourizers and the
inspector's maps, the flower segmented, every layer of a test horse, Train live's strip). This starts a fresh
``app.py`` (this checkout, or ``--baseline COMMIT`` beside it, alternating), opens one page and waits for the
warm-up that the first page starts to finish (a class's pages come after it), opens ``--pages`` pages at once in Chromium, and measures the app process's CPU seconds from the
first page's request until every page shows its Colourize example and the app has then been quiet for 2 s
(every page's events answered), and the wall time until then. Medians of ``--repeats`` fresh apps; the CPU and the load average are printed.

    python -m benchmarks.page_open --pages 4 --repeats 3
    python -m benchmarks.page_open --pages 4 --repeats 3 --baseline 0b9e1d3   # against a commit
"""
import argparse
import contextlib
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.bench_press import REPO, baseline_checkout
from benchmarks.bench_quick_press import cpu_line
from benchmarks.load_colourize import server_cpu_s, start_app
from pixelwise import settings

QUIET_S = 2.0  # the app used no CPU for this long: every page's events have been answered
TICK_S = 0.25
IDLE_S = 10.0
BUSY_CPU_S = 0.05  # more CPU than this in one tick (20% of a core) is work; an idle app uses about 7%: Gradio's
# queue looks for new events every millisecond
FIRST_PICTURE = "#colourize-beyond"  # the Colourize tab's first example, in view as a page opens
CHROMIUM = dict(executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])


def start_quiet_app(checkout: Path, folder: Path) -> tuple[subprocess.Popen, str]:
    """``checkout``'s app.py on a free port, once it answers and its start-up has gone quiet."""
    data = {"PIXELWISE_DATA": settings.cifar_root(), "PIXELWISE_FLOWERS": settings.flowers_root()}
    proc, url = start_app(folder, checkout, {"PYTHONPATH": str(checkout), **{  # a baseline's checkout has no ../shared
        name: str(path) for name, path in data.items() if path}})
    try:
        wait_quiet(proc, time.time() + 300)
    except BaseException:
        proc.kill()
        raise
    return proc, url


def wait_quiet(proc: subprocess.Popen, deadline: float) -> float:
    """Wait until the process has used no CPU for QUIET_S; the time its last busy moment ended."""
    last_busy, before = time.time(), server_cpu_s(proc)
    while time.time() < deadline:
        time.sleep(TICK_S)
        now = server_cpu_s(proc)
        if now - before > BUSY_CPU_S:
            last_busy = time.time()
        elif time.time() - last_busy >= QUIET_S:
            return last_busy
        before = now
    raise SystemExit("the app never went quiet")


def open_pages(url: str, proc: subprocess.Popen, pages: int) -> dict:
    """``pages`` pages opened at once: the app's CPU seconds and the wall seconds until it was quiet again."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**CHROMIUM)
        first = browser.new_page(viewport={"width": 1400, "height": 1000})
        opened(first, url)  # the first page served starts the app's training warm-up (app.py): let it finish
        wait_quiet(proc, time.time() + 600)
        idle_cpu = server_cpu_s(proc)
        time.sleep(IDLE_S)  # what the app uses with one page open and nothing to do
        idle_cpu = server_cpu_s(proc) - idle_cpu
        tabs = [browser.new_page(viewport={"width": 1400, "height": 1000}) for _ in range(pages)]
        start_cpu, start = server_cpu_s(proc), time.time()
        for tab in tabs:
            tab.goto(url, wait_until="commit")
        for tab in tabs:
            opened(tab)
        done = wait_quiet(proc, time.time() + 600)  # and the other tabs' examples answered
        cpu = server_cpu_s(proc) - start_cpu
        browser.close()
    return {"cpu": cpu, "wall": done - start, "idle": idle_cpu / IDLE_S}


def opened(tab, url: str | None = None) -> None:
    """Wait until the page shows its Colourize example: it has sent its load events (every tab's at once)."""
    if url:
        tab.goto(url, wait_until="commit")
    tab.wait_for_selector(f"{FIRST_PICTURE} img", timeout=600_000)


def measure(checkout: Path, pages: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="pixelwise-page-open-") as folder:
        proc, url = start_quiet_app(checkout, Path(folder))
        try:
            return open_pages(url, proc, pages)
        finally:
            proc.terminate()
            proc.wait(30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", default=None, help="a commit to compare with, alternating")
    arguments = parser.parse_args(argv)
    print(cpu_line())
    print("load average before:", " ".join(f"{value:.2f}" for value in os.getloadavg()))
    results = {"now": []} | ({"baseline": []} if arguments.baseline else {})
    with baseline_checkout(arguments.baseline) if arguments.baseline else contextlib.nullcontext() as baseline:
        for repeat in range(arguments.repeats):
            for name in results:
                outcome = measure(baseline if name == "baseline" else REPO, arguments.pages)
                results[name].append(outcome)
                print(f"repeat {repeat + 1}, {name}: app CPU {outcome['cpu']:.2f} s, quiet after {outcome['wall']:.1f} s; "
                      f"idle before: {100 * outcome['idle']:.1f}% of a core", flush=True)
    print(f"\n{arguments.pages} pages opened at once; median of {arguments.repeats}, each a fresh app")
    print("| | app CPU s | per page | quiet after s | idle app, % of a core |\n|---|---:|---:|---:|---:|")
    for name, outcomes in results.items():
        cpu = statistics.median(o["cpu"] for o in outcomes)
        wall = statistics.median(o["wall"] for o in outcomes)
        label = f"baseline ({arguments.baseline})" if name == "baseline" else "now"
        idle = statistics.median(o["idle"] for o in outcomes)
        print(f"| {label} | {cpu:.2f} | {cpu / arguments.pages:.2f} | {wall:.1f} | {100 * idle:.1f} |")
    print("load average after:", " ".join(f"{value:.2f}" for value in os.getloadavg()))


if __name__ == "__main__":
    main()
