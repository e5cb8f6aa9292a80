"""The CPU-heavy jobs a page starts outside Train live: the affine experiment, fine-tuning the segmenter and
measuring what fine-tuning costs. They take turns in one slot (HEAVY); each holds a stop flag that the ML
loop checks (``should_stop``) and that closing the page sets, so a closed page frees the slot within one
batch instead of keeping a core busy for minutes; and whoever waits for the slot is told what for."""
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field

import gradio as gr
from gradio.context import get_blocks_context

from runs.waitline import wait_words

# One CPU-heavy job at a time (Train live has its own line, runs.waitline); show_progress_on keeps the
# waiting note beside the button readable while Gradio's "queue" badge covers the results.
HEAVY = dict(concurrency_limit=1, concurrency_id="training")


@dataclass(eq=False)
class PageJob:
    """One running job: what it is in plain words, whose page started it, its stop flag and progress."""
    what: str
    session: str | None
    stop: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)
    done: float = 0.0  # fraction of the work finished, for the estimate of what is left

    def should_stop(self) -> bool:
        return self.stop.is_set()

    def left_s(self) -> float | None:
        """Seconds left at the pace so far; None before there is a pace to go by."""
        if self.done < 0.02:
            return None
        return (time.monotonic() - self.started) * (1 - self.done) / self.done


_LOCK = threading.Lock()
_RUNNING: list[PageJob] = []


def session_of(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None)


@contextmanager
def page_job(what: str, request: gr.Request | None):
    """Register a job for as long as it runs: ``with page_job("affine experiment", request) as job:``."""
    job = PageJob(what, session_of(request))
    with _LOCK:
        _RUNNING.append(job)
    try:
        yield job
    finally:
        with _LOCK:
            _RUNNING.remove(job)


def stop_page_jobs(request: gr.Request) -> None:
    """demo.unload (the page closed) and Stop buttons: ask every job this page started to end."""
    with _LOCK:
        for job in _RUNNING:
            if job.session is not None and job.session == session_of(request):
                job.stop.set()


def waiting_note(request: gr.Request | None = None) -> str:
    """What a press of a heavy button waits for, in plain words; '' when nothing runs."""
    with _LOCK:
        job = _RUNNING[0] if _RUNNING else None
    if job is None:
        return ""
    whose = "your own" if job.session is not None and job.session == session_of(request) else "another visitor's"
    left = job.left_s()
    pace = f"; about {wait_words(left)} left" if left is not None else ""
    return (f"Waiting for {whose} {job.what} (running for {wait_words(time.monotonic() - job.started)}{pace}). "
            "One heavy job runs at a time on this server; yours starts as soon as it ends.")


_HOOKED: "weakref.WeakSet[gr.Blocks]" = weakref.WeakSet()


def stop_jobs_when_page_closes() -> None:
    """Hook stop_page_jobs to the page's unload, once per app (call it while building any tab)."""
    blocks = get_blocks_context().root_block
    if blocks not in _HOOKED:
        _HOOKED.add(blocks)
        blocks.unload(stop_page_jobs)
