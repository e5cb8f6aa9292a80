"""Resident memory of the app process as sessions come and go: does a closed page give its memory back?

Starts ``app.py`` (or uses ``--url`` with ``--pid``), then ``--sessions`` times: a new gradio_client session
colourizes a photo of ``--side`` px (the page's session state keeps what redrawing needs), colourizes it
again with three colour hints (the hint model redraws at full resolution), segments it, and closes. Prints the process's RSS (/proc/<pid>/status VmRSS) after the first session and after every
tenth, and the growth from the first to the last.

    python -m benchmarks.memory_sessions                       # 50 sessions, 2000 px photos
    python -m benchmarks.memory_sessions --url http://127.0.0.1:7860/ --pid 1234
"""
import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.load_colourize import start_app


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def photo(path: Path, side: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(small).resize((side, side * 3 // 4), Image.BILINEAR).save(path, quality=90)
    return path


def hints(side: int, seed: int) -> list[dict]:
    """Three colour hints at places that change with the session, as three clicks on the page would give."""
    rng = np.random.default_rng(seed)
    return [{"x": int(rng.integers(side)), "y": int(rng.integers(side * 3 // 4)), "colour": colour}
            for colour in ("#c03020", "#2060c0", "#30a040")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--side", type=int, default=2000)
    parser.add_argument("--url")
    parser.add_argument("--pid", type=int)
    arguments = parser.parse_args()
    from gradio_client import Client, handle_file

    folder = Path(tempfile.mkdtemp(prefix="pixelwise-memory-"))
    proc, url, pid = None, arguments.url, arguments.pid
    if not url:
        proc, url = start_app(folder)
        pid = proc.pid
    try:
        path = photo(folder / "photo.jpg", arguments.side, 0)
        first = rss = None
        for index in range(arguments.sessions):
            client = Client(url, verbose=False, download_files=False)
            client.predict(handle_file(str(path)), api_name="/colourize")
            client.predict(handle_file(str(path)), hints=hints(arguments.side, index), api_name="/colourize")
            client.predict(handle_file(str(path)), api_name="/segment")
            client.close()
            if index == 0 or (index + 1) % 10 == 0 or index + 1 == arguments.sessions:
                time.sleep(1)
                rss = rss_mb(pid)
                first = first or rss
                print(f"after {index + 1:3d} sessions: RSS {rss:7.0f} MB ({rss - first:+.0f} MB since the first)",
                      flush=True)
        if first is not None:
            print(f"growth from the first session to the last: {rss - first:+.0f} MB (issues 21 and 30: target within 300 MB)")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)  # the photos, the app's log and trained runs (kept if the app failed to start)


if __name__ == "__main__":
    main()
