"""Resident memory of the app process over one training press: what a press costs while it trains, while
its page keeps the results, and after the page lets go of them.

Starts ``app.py`` (its own temp folders, an empty replay cache so the press really trains), waits for the
start-up warm-up, then ``--presses`` times (default 2, each a new gradio_client session and seed, so each
trains) presses Train through the API with a preset's settings (``--preset quick``, the CPU default, or
``write-ups``), sampling the process's VmRSS every 0.25 s. Prints
the resident memory before the press, its peak while training, after the press (the session still holds
every batch size's model, curves and strips, as a page does), and after the session closed (the app's
unload handler releases them, as when a page is closed).

    python -m benchmarks.memory_press                     # the quick press: UNet, 1,000 horses, 4 batch sizes
    python -m benchmarks.memory_press --preset write-ups  # 5,000 horses, batch sizes up to 1000 (minutes)
"""
import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.load_colourize import endpoint, start_app, with_defaults
from benchmarks.memory_sessions import rss_mb
from runs.presets import QUICK, WRITE_UPS


def sample_peak(pid: int, stop: threading.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb(pid))
        time.sleep(0.25)


def one_press(client, pid: int, preset, seed: int) -> None:
    train = endpoint(client, "train", avoid=("stop", "save", "again"))
    settings = [preset.model, list(preset.batch_sizes), preset.epochs, preset.learning_rate, preset.num_filters,
                "horse", seed, preset.train_images, preset.val_images]
    before = rss_mb(pid)
    stop, peak = threading.Event(), [before]
    sampler = threading.Thread(target=sample_peak, args=(pid, stop, peak), daemon=True)
    sampler.start()
    start = time.perf_counter()
    table = client.predict(*with_defaults(client, train, settings), api_name=train)["table"]
    seconds = time.perf_counter() - start
    time.sleep(1)
    stop.set()
    sampler.join()
    after = rss_mb(pid)
    client.close()  # its heartbeat ends: the app's unload handler releases the session's training
    time.sleep(10)
    closed = rss_mb(pid)
    print(f"seed {seed}: {preset.describe()}: {len(table)} batch sizes trained in {seconds:.0f} s; the app's VmRSS:")
    print(f"  before the press {before:,.0f} MB; peak while training {peak[0]:,.0f} MB (+{peak[0] - before:,.0f}); "
          f"after it, the results kept by the session {after:,.0f} MB (+{after - before:,.0f}); "
          f"10 s after the session closed {closed:,.0f} MB (+{closed - before:,.0f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=("quick", "write-ups"), default="quick")
    parser.add_argument("--presses", type=int, default=2, help="one after another, each in a new session")
    parser.add_argument("--settle", type=float, default=45.0, help="seconds for the app's start-up warm-up")
    arguments = parser.parse_args()
    preset = QUICK if arguments.preset == "quick" else WRITE_UPS
    from gradio_client import Client

    folder = Path(tempfile.mkdtemp(prefix="pixelwise-memory-press-"))
    proc, url = start_app(folder)
    try:
        time.sleep(arguments.settle)  # the warm-up thread: default colourizers loaded, the quick press's data read
        for press in range(arguments.presses):  # each a new page's press, another seed: trained, not replayed
            one_press(Client(url, verbose=False, download_files=False), proc.pid, preset, seed=press)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
