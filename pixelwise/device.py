"""One device rule for training, inference and the app, and torch's CPU thread count between them."""
import contextlib
import threading
import time

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' = CUDA when present, else the CPU; any other name is taken as it is."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


# torch's CPU thread count is per thread once a thread has used torch; a thread's first use takes the count
# last set anywhere in the process. So small inferences can run on one thread while a training keeps two,
# but a thread that first uses torch during someone's inference begins on one. The app's training worker
# starts on PROCESS_THREADS (what the process had when this module was imported, at start-up), and every
# thread leaves its last one-thread inference on PROCESS_THREADS.
PROCESS_THREADS = torch.get_num_threads()
_nesting = threading.local()


@contextlib.contextmanager
def one_torch_thread():
    """Run a small forward pass on one torch thread. At working sizes (<= 256 px) intra-op threads cost
    more than they give, and while other requests or a training keep the cores busy they spin-wait:
    measured 0.04 s CPU per upload on one thread vs 0.2-0.35 s on two (docs/uploads-and-limits.md, under load).
    Set and restored per call on the calling thread: a count shared between threads left the first of two
    overlapping calls to leave on one thread for good (later fine-tunes on that Gradio worker ran on one core)."""
    depth = getattr(_nesting, "depth", 0)
    before = torch.get_num_threads()
    _nesting.depth = depth + 1
    torch.set_num_threads(1)
    with serving():
        try:
            yield
        finally:
            _nesting.depth = depth
            torch.set_num_threads(before if depth else PROCESS_THREADS)  # outermost: never an inherited 1


_serving = threading.Condition()
_serving_count = 0


@contextlib.contextmanager
def serving():
    """Mark a request someone is waiting on (an inference) as running: trainings yield to it between batches."""
    global _serving_count
    with _serving:
        _serving_count += 1
    try:
        yield
    finally:
        with _serving:
            _serving_count -= 1
            _serving.notify_all()


def yield_to_requests(longest_s: float = 2.0) -> float:
    """Called by a training between batches: wait while requests people wait on are running (at most
    ``longest_s``, so a stream of requests slows a training but never stops it); returns the seconds waited."""
    start = time.perf_counter()
    with _serving:
        _serving.wait_for(lambda: _serving_count == 0, timeout=longest_s)
    return time.perf_counter() - start


def training_nice() -> int:
    """How much nicer than the app a training worker runs: PIXELWISE_TRAINING_NICE, default 0 (off). Nice is
    relative to every process on the machine: on a shared one a nice-19 training starves behind the others'
    work, not only behind the app's requests (docs/concurrency.md), so trainings yield between batches instead."""
    import os

    return int(os.environ.get("PIXELWISE_TRAINING_NICE", "0"))


def lower_this_threads_priority(by: int | None = None) -> int | None:
    """Make the calling thread (and the torch threads it starts later, which inherit it) nicer by ``by``
    (default training_nice()); Linux only, where a thread has its own nice value. Returns its new nice
    value, or None where nothing changed. Call it first thing in a worker, before torch starts its threads.

    Why: a training keeps both cores busy for minutes; at equal priority every colourization request waits
    for its time slices (p95 4.1 s for 20 at once). At nice +19 the scheduler gives the requests ~98 % of a
    core whenever they want it, and the training all the rest (docs/concurrency.md measures both)."""
    import os
    import sys

    by = training_nice() if by is None else by
    if not sys.platform.startswith("linux") or by <= 0:
        return None
    tid = threading.get_native_id()
    nice = min(19, os.getpriority(os.PRIO_PROCESS, tid) + by)
    os.setpriority(os.PRIO_PROCESS, tid, nice)  # raising one's own nice value needs no privilege
    return nice
