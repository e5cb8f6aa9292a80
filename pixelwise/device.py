"""One device rule for training, inference and the app, and torch's CPU thread count between them."""
import contextlib
import functools
import inspect
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
# starts on PROCESS_THREADS, and every thread leaves its last one-thread inference on PROCESS_THREADS.
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
_last_served = -float("inf")  # _clock() when the last running request ended
_clock = time.monotonic  # the tests put a clock of their own here, and wake waiters with _serving.notify_all()
QUIET_S = 0.3  # how long no request must have run before a training goes on (see yield_to_requests)


@contextlib.contextmanager
def serving():
    """Mark a request someone is waiting on (an inference) as running: trainings yield to it between batches."""
    global _serving_count, _last_served
    with _serving:
        _serving_count += 1
    try:
        yield
    finally:
        with _serving:
            _serving_count -= 1
            _last_served = _clock()
            _serving.notify_all()


def yield_to_requests(longest_s: float = 2.0, quiet_s: float = QUIET_S) -> float:
    """Called by a training between batches: wait until no request people wait on has run for ``quiet_s``
    (at most ``longest_s``, so a stream of requests slows a training but never stops it); returns the seconds
    waited. Why the quiet time: a burst of requests reaches the handlers a few at a time, and between one
    model's pass and the next, or one queued request and the next, none is running for a few milliseconds;
    a training that went on at once would slip a whole batch (two threads) into every such gap."""
    start = _clock()
    deadline = start + longest_s
    with _serving:
        while (now := _clock()) < deadline:
            if _serving_count == 0 and now - _last_served >= quiet_s:
                break
            wake = deadline if _serving_count else min(deadline, _last_served + quiet_s)
            _serving.wait(timeout=max(0.0, wake - now))
    return _clock() - start


def training_nice() -> int:
    """How much nicer than the app a training worker runs: PIXELWISE_TRAINING_NICE, default 0 (off). Nice is
    relative to every process on the machine: on a shared one a nice-19 training starves behind the others'
    work, not only behind the app's requests (docs/concurrency.md), so trainings yield between batches instead."""
    from .settings import training_nice as setting

    return setting()


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


def torch_threads(cpu_max: str = "/sys/fs/cgroup/cpu.max") -> int:
    """torch's CPU threads for this process: its default (one per core it sees) capped by usable_cores():
    torch does not read a container's CPU quota, and a 2-vCPU Space on a 64-core host ran 64 threads a job."""
    return max(1, min(_TORCH_DEFAULT_THREADS, usable_cores(cpu_max)))


def cap_torch_threads(cpu_max: str = "/sys/fs/cgroup/cpu.max") -> int:
    """Set torch's process-wide thread count to torch_threads(); for entry points (app.py), once at start-up."""
    global PROCESS_THREADS
    PROCESS_THREADS = torch_threads(cpu_max)
    torch.set_num_threads(PROCESS_THREADS)
    return PROCESS_THREADS


def usable_cores(cpu_max: str = "/sys/fs/cgroup/cpu.max") -> int:
    """The cores this process may use: its CPU affinity, capped by a container's CPU quota (cgroup v2
    ``cpu.max``, "quota period"), which os.cpu_count() does not see (a 2-vCPU Space on a large host)."""
    import math
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = open(cpu_max).read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):  # no cgroup v2 file (macOS, Windows, cgroup v1): the affinity stands
        pass
    return cores


_TORCH_DEFAULT_THREADS = torch.get_num_threads()  # what torch chose from the cores it sees, before any capping
PROCESS_THREADS = torch_threads()  # the threads a training starts on; cap_torch_threads() makes it torch's count


# libgomp (torch's OpenMP on Linux) keeps a pool of worker threads per thread that ran torch on more than one
# thread, for that thread's life. While the process holds more such workers than it has cores, every worker
# spins only ~100 times before it sleeps, so each parallel op of a training waits for a kernel wake-up instead.
# The app's main thread built the page on two threads and kept its pool: every Train live step at batch 10 then
# took 1.75x as long (docs/training-speed.md, "Two pools of torch threads"). A thread done with such work lets
# its pool go; its next parallel op starts a new one (a thread per core, microseconds).
OMP_PAUSE_SOFT = 1  # omp_pause_resource_t: free the calling thread's worker threads, keep the runtime


@functools.lru_cache(maxsize=1)
def _omp_pause():
    """OpenMP 5's omp_pause_resource_all from the OpenMP library torch loaded (None where there is none)."""
    import ctypes
    import os

    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps}
    except OSError:  # not Linux: torch's own OpenMP (macOS libomp) is left alone
        return None
    for path in sorted(paths):
        if os.path.basename(path).startswith(("libgomp", "libomp", "libiomp5")) and ".so" in path:
            try:
                return ctypes.CDLL(path).omp_pause_resource_all
            except (OSError, AttributeError):  # an OpenMP older than 5.0
                return None
    return None


def release_torch_threads() -> bool:
    """Let go of the calling thread's torch worker threads (see above); call it where a long-lived thread (the
    main thread, a Gradio worker) is done with torch work on more than one thread. True if a pool was let go
    or none was held; False where the OpenMP library offers no way to (nothing changes then)."""
    pause = _omp_pause()
    return pause is not None and pause(OMP_PAUSE_SOFT) == 0


def releasing_torch_threads(fn):
    """Decorator for a handler that runs heavy torch work on a thread it does not own (a Gradio worker, which
    lives on): that thread lets go of its torch worker threads when the call ends and, for a generator, before
    each yield (the next step may run on another Gradio thread, which would keep a pool of its own)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                for item in fn(*args, **kwargs):
                    release_torch_threads()
                    yield item
            finally:
                release_torch_threads()
        generator.releases_torch_threads = True
        return generator

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            release_torch_threads()
    call.releases_torch_threads = True
    return call
