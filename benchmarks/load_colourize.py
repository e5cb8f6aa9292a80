"""Many people colourizing at once while trainings run: latency and errors against a real app.

Starts ``app.py`` on a free port of 127.0.0.1 (or uses ``--url``, which must be a 127.0.0.1 address),
queues ``--trainings`` small trainings through the API (they take the one training slot in turn),
waits until the first has reported a batch (past reading its data: a training proper), then sends
``--requests`` colourize requests at once, each a different photo-like JPEG of 0.3-1 megapixels (seeded),
and reports errors, p50/p95/max latency (submit to result, as a person waits: upload and queueing
included). Everything is bounded: at most 100 requests, a timeout per request, and the app it started is
stopped at the end.

Each request is one person: its own Gradio session, opened before the burst with one small colourization
(a page makes its session on its first event; Gradio builds a session's state then, ~55 ms of CPU for this
app's hundreds of components), and sent over Gradio's REST API with one shared HTTP client, as a page's
own script sends it. ``--client gradio_client`` sends them with gradio_client instead (one session for all,
and a new HTTP client per call: ~0.1 s of this machine's CPU a request, taken from the app it measures).

    python -m benchmarks.load_colourize                  # 20 requests, 2 trainings
    python -m benchmarks.load_colourize --requests 100   # a burst: how the queue limit answers
    python -m benchmarks.load_colourize --side 512 --trainings 1 --wait-training   # issue 21's target
    PIXELWISE_TRAINING_NICE=19 python -m benchmarks.load_colourize --side 512 --trainings 1 --wait-training
    python -m benchmarks.load_colourize --side 512 --trainings 1 --wait-training --requests 1  # the training's own time
    python -m benchmarks.load_colourize --side 512 --trainings 1 --wait-training --burst-at data  # during its data preparation

``--side``: every photo a square of that many pixels instead; ``--wait-training``: after the burst, wait
for the first training to end and print how long it trained (what serving the burst cost it: compare
with ``--requests 1``, and runs with the default PIXELWISE_TRAINING_NICE=0, the training at the requests'
priority and yielding to them between batches, with =19). ``--train-images``: fewer training images, to
check the script end to end quickly.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_REQUESTS = 100


def photo(path: Path, megapixels: float, seed: int, side: int | None = None) -> Path:
    rng = np.random.default_rng(seed)
    width = side or int((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = side or int(width * 3 / 4)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = rng.uniform(0, 6, 3)
    rgb = np.stack([127 + 90 * np.sin(x / 130 + phase[0]), 120 + 80 * np.cos(y / 90 + phase[1]),
                    110 + 70 * np.sin((x + y) / 200 + phase[2])], axis=2) + rng.normal(0, 8, (height, width, 3))
    Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(folder: Path, checkout: Path = REPO_ROOT, more_env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """``checkout``'s app.py on a free port of 127.0.0.1, its files in ``folder``, once it answers."""
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), HF_HUB_OFFLINE="1",
               GRADIO_ANALYTICS_ENABLED="False", PIXELWISE_TRAINED=str(folder / "trained"),
               PIXELWISE_RUN_CACHE=str(folder / "runs"), **(more_env or {}))  # an empty replay cache: trainings train
    log = open(folder / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 600  # a busy 2-core machine takes minutes to import torch and gradio
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited; see {folder / 'app.log'}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            time.sleep(1)
    proc.kill()
    raise SystemExit("app.py did not answer within 600 s")


def server_cpu_s(proc) -> float:
    """User + system CPU seconds the app process has used so far (Linux /proc)."""
    if proc is None:
        return 0.0
    fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def endpoint(client, *words: str, avoid: tuple[str, ...] = ()) -> str:
    """The API name holding every one of ``words`` (the app's names may change; the actions do not)."""
    names = [name for name in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
             if all(word in name for word in words) and not any(word in name for word in avoid)]
    if not names:
        raise SystemExit(f"no API endpoint named like {words}")
    return sorted(names, key=len)[0]


def with_defaults(client, api_name: str, ours: list) -> list:
    """``ours`` as the endpoint's first arguments; the rest keep the page's defaults (or stay empty)."""
    parameters = client.view_api(print_info=False, return_format="dict")["named_endpoints"][api_name]["parameters"]
    return ours + [p.get("parameter_default") if p.get("parameter_has_default") else None for p in parameters[len(ours):]]


def training_args(client, api_name: str, seed: int, long: bool = False, images: int | None = None) -> list:
    """A small training: UNet, batch size 100, 3 epochs on 1000 horses, NF 16 (``long``: 2 epochs on 5000, NF 32,
    which outlasts the burst); ``images``: that many training images instead (a quick check of the script)."""
    if long:
        return with_defaults(client, api_name, ["UNet", [100], 2, 1e-3, 32, "horse", seed, images or 5000, 200])
    return with_defaults(client, api_name, ["UNet", [100], 3, 1e-3, 16, "horse", seed, images or 1000, 200])


def wait_until_training(job, timeout_s: float = 600.0) -> None:
    """Until the training's first batch has been reported: past reading the data and making the palette (seconds
    of CPU for 5000 images), so the burst meets a training proper, as the target says."""
    deadline = time.time() + timeout_s
    while time.time() < deadline and not job.done():
        if any(point["series"].endswith("train") for output in job.outputs() if isinstance(output, dict)
               for point in output.get("points") or ()):
            return
        time.sleep(0.2)
    raise SystemExit("the training ended, or reported no batch within 10 minutes")


def colourize_over_rest(http: httpx.Client, url: str, api_name: str, path: Path, defaults: list, session: str) -> None:
    """One colourization over Gradio's REST API, as a page's own script makes it: upload the photo, join the
    queue, read the event stream to its end. gradio_client does the same with a new HTTP client (and a new TLS
    context, CA bundle read) per call: ~0.1 s of CPU a request, taken from the app on a shared 2-core machine.
    ``session``: the person's session (a page's), which Gradio makes on its first event."""
    name = api_name.strip("/")
    with open(path, "rb") as file:
        uploaded = http.post(f"{url}gradio_api/upload", files={"files": (path.name, file, "image/jpeg")})
    uploaded.raise_for_status()
    data = [{"path": uploaded.json()[0], "meta": {"_type": "gradio.FileData"}}, *defaults]
    joined = http.post(f"{url}gradio_api/call/{name}", json={"data": data, "session_hash": session})
    joined.raise_for_status()
    with http.stream("GET", f"{url}gradio_api/call/{name}/{joined.json()['event_id']}") as stream:
        event = None
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                if event == "error":
                    raise RuntimeError(f"the app answered an error: {line[5:].strip()[:120]}")
                return
    raise RuntimeError("the event stream ended without a result")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--trainings", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    parser.add_argument("--url", help="a running app on 127.0.0.1 (default: start one)")
    parser.add_argument("--side", type=int, default=None, help="square photos of this side (default 0.3-1 MP)")
    parser.add_argument("--wait-training", action="store_true",
                        help="after the burst, wait for the first training and print its training seconds")
    parser.add_argument("--burst-at", choices=("batches", "data"), default="batches",
                        help="send the burst once the first training reports a batch (default), or while it "
                             "still prepares its data (reading the images, the palette's k-means)")
    parser.add_argument("--client", choices=("rest", "gradio_client"), default="rest",
                        help="how each request is sent: Gradio's REST API over one shared HTTP client (default, "
                             "~10x less CPU on this machine) or gradio_client, one job each")
    parser.add_argument("--train-images", type=int, default=None,
                        help="training images per training (default 1000, 5000 with --wait-training; fewer: a quick check)")
    arguments = parser.parse_args()
    if not 1 <= arguments.requests <= MAX_REQUESTS:
        raise SystemExit(f"--requests must be 1..{MAX_REQUESTS}")
    if arguments.url and not arguments.url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise SystemExit("--url must be on 127.0.0.1: this load test never leaves the machine")
    from gradio_client import Client, handle_file

    folder = Path(tempfile.mkdtemp(prefix="pixelwise-load-"))
    proc, url = (None, arguments.url) if arguments.url else start_app(folder)
    try:
        client = Client(url, verbose=False, download_files=False)  # a browser fetches the images itself
        rng = np.random.default_rng(0)
        photos = [photo(folder / f"photo_{i}.jpg", rng.uniform(0.3, 1.0), i, arguments.side)
                  for i in range(arguments.requests)]
        colourize = endpoint(client, "colourize", avoid=("test", "full"))
        train = endpoint(client, "train", avoid=("stop", "save", "again"))
        defaults = with_defaults(client, colourize, [None])[1:]
        http = httpx.Client(timeout=arguments.timeout, limits=httpx.Limits(max_connections=2 * MAX_REQUESTS))
        sessions = [f"load-{index}-{os.getpid()}" for index in range(arguments.requests)]
        if arguments.client == "rest":  # people whose pages are open (before the training, which yields to them)
            small = photo(folder / "small.jpg", 0, 0, side=64)
            for session in sessions:
                colourize_over_rest(http, url, colourize, small, defaults, session)
        trainings = [client.submit(*training_args(client, train, seed, arguments.wait_training, arguments.train_images), api_name=train)
                     for seed in range(arguments.trainings)]
        if trainings and arguments.burst_at == "batches":
            wait_until_training(trainings[0])
        elif trainings:  # as soon as the first has left the line: inside its data preparation
            while trainings[0].status().code.name not in ("PROCESSING", "ITERATING", "FINISHED"):
                time.sleep(0.05)
            time.sleep(0.3)
        size = f"{arguments.side}x{arguments.side}" if arguments.side else "0.3-1 MP"
        print(f"{arguments.requests} colourize requests ({colourize}) of {size} at once; "
              f"{arguments.trainings} trainings ({train}) submitted, first running")


        def one(path: Path, session: str) -> tuple[float, str | None]:
            start = time.perf_counter()
            try:
                if arguments.client == "gradio_client":
                    client.submit(*with_defaults(client, colourize, [handle_file(str(path))]),
                                  api_name=colourize).result(timeout=arguments.timeout)
                else:
                    colourize_over_rest(http, url, colourize, path, defaults, session)
                return time.perf_counter() - start, None
            except Exception as error:  # queue full, timeout, server error: counted, not raised
                return time.perf_counter() - start, f"{type(error).__name__}: {str(error)[:120]}"

        cpu_before, client_before = server_cpu_s(proc), time.process_time()
        with ThreadPoolExecutor(arguments.requests) as pool:
            outcomes = list(pool.map(one, photos, sessions))
        cpu, client_cpu = server_cpu_s(proc) - cpu_before, time.process_time() - client_before
        served = sorted(seconds for seconds, error in outcomes if error is None)
        errors = [error for _, error in outcomes if error]
        training_running = any(not job.done() for job in trainings)
        if proc is not None:
            print(f"server CPU during the burst: {cpu:.1f} s (trainings included); "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"client CPU during the burst: {client_cpu:.1f} s (this script shares the machine with the app)")
        print(f"served {len(served)}, errors {len(errors)}; trainings still running at the end: {training_running}")
        for error in sorted(set(errors))[:5]:
            print("  error:", error, flush=True)
        if served:
            p95 = served[min(len(served) - 1, int(np.ceil(0.95 * len(served))) - 1)]
            print(f"latency s: p50 {statistics.median(served):.2f}, p95 {p95:.2f}, max {served[-1]:.2f}")
        if arguments.wait_training and trainings:
            table = trainings[0].result(timeout=1800)["table"]
            print(f"first training: {table[0]['seconds']} s of training (PIXELWISE_TRAINING_NICE="
                  f"{os.environ.get('PIXELWISE_TRAINING_NICE', 'default 0')})")
        for job in trainings:
            try:
                job.cancel()
            except Exception:  # the app is stopped next anyway
                pass
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)  # the photos, the app's log and trained runs (kept if the app failed to start)


if __name__ == "__main__":
    main()
