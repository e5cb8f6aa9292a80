"""The page's side of the one scheduler (runs.scheduler): every CPU-heavy handler (Train live's presses, the
segmenter's fine-tunes, the affine experiment, the fine-tuning cost measurement) runs as a scheduled job. Its
stop flag is set by the page closing (the app's one unload hook, ``stop_page_jobs``), by a Stop button, or by
the client going away (a script killed, an MCP call dropped: ``client_gone``); while it waits, it is told its
place in line and an estimate."""
from contextlib import contextmanager
from typing import Callable

import gradio as gr

from runs import rates
from runs.scheduler import PAGE, SCHEDULER, SCRIPT, Job

# The handlers wait for their turn in the scheduler, not in Gradio's queue: 16 may wait at once (a waiting
# handler sleeps on a condition). show_progress_on keeps the waiting note beside the button readable.
HEAVY = dict(concurrency_limit=16, concurrency_id="heavy_jobs")


def session_of(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None)


def client_gone(request: gr.Request | None) -> Callable[[], bool]:
    """A probe: True once Gradio has marked the event behind ``request`` dead, which it does when the client's
    stream closes (a page closed, a script or an MCP client gone). False for calls from outside a server."""
    raw = getattr(request, "request", None) if isinstance(request, gr.Request) else None
    get_blocks = getattr(getattr(raw, "app", None), "get_blocks", None)
    queue = getattr(get_blocks(), "_queue", None) if get_blocks else None
    if queue is None:
        return lambda: False

    def gone() -> bool:
        mine = [event for events in list(queue.active_jobs) if events for event in events if event.request is raw]
        return bool(mine) and not any(event.alive for event in mine)
    return gone


def job_for(what: str, request: gr.Request | None, kind: str, units: float, guess_per_unit: float,
            api: bool = False) -> Job:
    """A job for ``request``'s page (its closing stops it) or API call (a script: after the pages in line), its
    estimate from the pace measured here for ``kind`` (runs.rates)."""
    return Job(what, owner=session_of(request), priority=SCRIPT if api else PAGE, gone=client_gone(request),
               estimate_s=rates.job_seconds(kind, units, guess_per_unit), kind=kind, units=units)


def waiting_notes(job: Job):
    """Join the line and yield the waiting note every second until ``job``'s turn comes (then ``job.started``
    is set) or it is stopped; the caller ends with ``job_done(job)``."""
    for place in SCHEDULER.turns(job):
        yield SCHEDULER.message(place, job.owner)


def job_done(job: Job) -> None:
    """Leave the line; a job that ran to its end teaches the next estimates its pace."""
    SCHEDULER.leave(job)
    if job.started is not None and not job.stop.is_set():
        rates.record_job(job.kind, job.units, SCHEDULER.clock() - job.started)


@contextmanager
def heavy_job(job: Job, on_wait: Callable[[str], None] = lambda note: None):
    """Hold ``job``'s turn for the ``with`` block, telling ``on_wait`` the waiting note every second first;
    yields the job (``job.started`` None: stopped while waiting, do nothing)."""
    try:
        for note in waiting_notes(job):
            on_wait(note)
        yield job
    finally:
        job_done(job)


def stop_page_jobs(request: gr.Request, kind: str | None = None) -> None:
    """The app's one unload hook (the page closed: every job the page started stops, a running one within a
    batch, a waiting one at once), and a Stop button (its ``kind`` of job only)."""
    SCHEDULER.stop_owner(session_of(request), kind)
