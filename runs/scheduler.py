"""The one scheduler of the app's CPU-heavy jobs: Train live's trainings, the segmenter's fine-tunes, the
affine experiment, the fine-tuning cost measurement and the rate calibration.

Every job joins one line, ordered by priority (a person watching a page first, then scripts, then the
background calibration) and, within a priority, by arrival. A job runs when it is first in line and a slot is
free: the slots come from the cores this process may use (``pixelwise.device.usable_cores``), so two heavy
jobs run at once only where there are cores for both, and each job computes on its share of them. An
``exclusive`` job (timings, the calibration) runs alone. A waiting job can always be told its place and an
estimate (what the running jobs have left, then the estimates of those ahead). A job's stop flag is set by
its page closing, by its client going away (``gone``) or by a Stop button; ``Job.should_stop``, called
between batches, is where every heavy loop yields to the requests people wait on (the policy lives here).
No Gradio here: the UI hands in its own ``gone`` probe.
"""
import threading
import time
from dataclasses import dataclass, field
from itertools import count
from typing import Callable

import torch

from pixelwise import device
from pixelwise.device import lower_this_threads_priority, release_torch_threads, usable_cores, yield_to_requests

PAGE, SCRIPT, BACKGROUND = 0, 1, 2  # priorities: someone watching a page, an API call, work nobody waits on
CORES_PER_JOB = 4  # a CIFAR-sized training gains little past 4 threads: more cores run more jobs at once


def wait_words(seconds: float) -> str:
    """A wait as the waiting notes say it: '40 s' under a minute and a half, else '5 min'."""
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


@dataclass(eq=False)
class Job:
    """One heavy job: what it is in plain words, whose page or call it serves, its stop flag and progress."""
    what: str
    owner: str | None = None  # the page's session: closing it stops the job
    priority: int = PAGE
    estimate_s: float | None = None  # how long it should take, before it starts (None: not known yet)
    exclusive: bool = False  # runs alone even where the cores allow two jobs
    stop: threading.Event = field(default_factory=threading.Event)
    gone: Callable[[], bool] = lambda: False  # True once the client that asked has gone away
    yields: bool = True  # pause between batches while requests people wait on run
    threads: int = 1  # torch threads while it runs: set by the scheduler when its turn comes
    started: float | None = None  # the scheduler's clock when its turn came
    remaining_s: float | None = None  # what it has left, reported by the job as it goes
    pace: float | None = None  # its measured time over its estimate so far, reported as it goes (the load now)
    done: float = 0.0  # the share of its work done, for an estimate when it reports no remaining_s
    kind: str = ""  # what runs.rates measures its pace by ("fine-tune", "affine"...)
    units: float = 0.0  # its amount of work in the kind's unit
    order: int = 0

    def stopped(self) -> bool:
        """Whether to end now: stopped, or its client is gone (which then stops it)."""
        if not self.stop.is_set() and self.gone():
            self.stop.set()
        return self.stop.is_set()

    def should_stop(self) -> bool:
        """Called by the job between batches: wait while requests run, keep to its threads, then stopped()."""
        if self.yields:
            yield_to_requests()
        if torch.get_num_threads() != self.threads:  # a Gradio generator's steps may come on any pool thread
            torch.set_num_threads(self.threads)
        return self.stopped()


@dataclass(frozen=True)
class Place:
    """Where a waiting job stands: the jobs running and those waiting before it, and the estimated wait."""
    running: list
    before: list
    wait_s: float | None  # None while a job ahead has no estimate

    @property
    def number(self) -> int:
        """Its number in line, the running jobs counted: 2 behind one running job."""
        return len(self.running) + len(self.before) + 1


class Scheduler:
    def __init__(self, cores: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.cores = cores or usable_cores()
        self.slots = max(1, self.cores // CORES_PER_JOB)
        self.threads = max(1, min(device.PROCESS_THREADS, self.cores // self.slots))
        self.clock = clock
        self._changed = threading.Condition()
        self._waiting: list[Job] = []
        self._running: list[Job] = []
        self._order = count()

    # ------------------------------------------------------------ the line
    def join(self, job: Job) -> Job:
        with self._changed:
            job.order = next(self._order)
            self._waiting.append(job)
            self._waiting.sort(key=lambda waiting: (waiting.priority, waiting.order))
            self._changed.notify_all()
        return job

    def _may_start(self, job: Job) -> bool:
        """First in line (jobs stopped while waiting, about to leave, aside) and a slot free for it."""
        first = next((other for other in self._waiting if not other.stop.is_set()), None)
        if first is not job or len(self._running) >= self.slots:
            return False
        return not self._running or not (job.exclusive or any(other.exclusive for other in self._running))

    def wait_turn(self, job: Job, timeout: float | None = None) -> bool:
        """Block until ``job`` runs (True) or ``timeout`` passes or it is stopped (False). Its turn sets the
        calling thread's torch threads to the job's share of the cores."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not self._may_start(job):
                if job.stopped():
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(1.0 if left is None else min(left, 1.0))  # 1 s: to see a client gone
            self._waiting.remove(job)
            self._running.append(job)
            job.started, job.threads = self.clock(), self.threads
        torch.set_num_threads(job.threads)
        return True

    def leave(self, job: Job) -> None:
        """The job ended (or gave up waiting): the next in line may start."""
        with self._changed:
            for jobs in (self._waiting, self._running):
                if job in jobs:
                    jobs.remove(job)
            self._changed.notify_all()

    def turns(self, job: Job, poll_s: float = 1.0):
        """Join and wait, yielding the job's Place every ``poll_s`` while it waits; ends when it runs (then
        ``job.started`` is set) or is stopped. The caller leaves the line when done."""
        self.join(job)
        timeout = 0.0  # the first note at once, then every poll_s
        while not self.wait_turn(job, timeout=timeout):
            if job.stopped():
                return
            yield self.place(job)
            timeout = poll_s

    def run(self, job: Job, work: Callable[[Job], object], on_wait: Callable[[Place], None] = lambda place: None):
        """Wait for the job's turn, run ``work(job)``, leave; None if it was stopped while waiting."""
        try:
            for place in self.turns(job):
                on_wait(place)
            return work(job) if job.started is not None else None
        finally:
            self.leave(job)
            release_torch_threads()  # this thread may live on (the main thread, a Gradio worker): no pool kept

    # ------------------------------------------------------------ what waiting jobs are told
    def left_s(self, job: Job) -> float | None:
        """What a job has left: its own report, else its pace so far, else its estimate less the time run."""
        if job.remaining_s is not None:
            return job.remaining_s
        if job.started is None:
            return job.estimate_s
        ran = self.clock() - job.started
        if job.done >= 0.02:
            return ran * (1 - job.done) / job.done
        return None if job.estimate_s is None else max(0.0, job.estimate_s - ran)

    def place(self, job: Job) -> Place:
        """Where ``job`` stands; its wait: the slots free up as the running jobs end, the jobs ahead taking
        the first free one in turn."""
        with self._changed:
            running, waiting = list(self._running), list(self._waiting)
        # a job not in line yet (what a press now would wait for) goes behind those of its priority and before
        before = (waiting[:waiting.index(job)] if job in waiting
                  else [other for other in waiting if other.priority <= job.priority])
        free_at = [self.left_s(other) for other in running]
        if None in free_at or any(other.estimate_s is None for other in before):
            return Place(running, before, None)
        free_at += [0.0] * (self.slots - len(free_at))  # idle slots are free now
        # a job of the kind running now will go at its pace: its estimate was made before the load was seen
        paces = {other.kind: other.pace for other in running if other.pace}
        for other in before:
            free_at.sort()
            free_at[0] += other.estimate_s * paces.get(other.kind, 1.0)
        return Place(running, before, min(free_at) if running or before else 0.0)

    def message(self, place: Place, owner: str | None = None) -> str:
        """'Waiting for your turn: number 2 in line. Running now: another visitor's UNet press: ..., about
        40 s left. Yours starts in about 40 s (estimate).' (``owner``: the page asking, for 'your own')."""
        running = []
        for job in place.running:
            left = self.left_s(job)
            running.append(f"{whose(job, owner)} {job.what}" + (f", about {wait_words(left)} left" if left is not None else ""))
        more = f"; {len(place.before)} more waiting before yours" if place.before else ""
        when = (f"Yours starts in about {wait_words(place.wait_s)} (estimate)." if place.wait_s is not None
                else "An estimate follows once the jobs ahead have measured their speed here.")
        now = "; ".join(running) or "nothing (the next job is starting)"
        return f"Waiting for your turn: number {place.number} in line. Running now: {now}{more}. {when}"

    def jobs(self) -> tuple[list[Job], list[Job]]:
        """(running, waiting), each in order."""
        with self._changed:
            return list(self._running), list(self._waiting)

    def idle(self) -> bool:
        with self._changed:
            return not self._running and not self._waiting

    def stop_owner(self, owner: str | None, kind: str | None = None) -> None:
        """A page closed: every job it started stops (running ones within a batch, waiting ones at once); with
        ``kind``, its jobs of that kind only (a Stop button)."""
        if owner is None:
            return
        with self._changed:
            for job in self._running + self._waiting:
                if job.owner == owner and kind in (None, job.kind):
                    job.stop.set()
            self._changed.notify_all()

    def spawn(self, target: Callable, *args, name: str = "pixelwise-heavy-job", daemon: bool = True) -> threading.Thread:
        """The one place a heavy job's own thread starts: nicer than the app where PIXELWISE_TRAINING_NICE says
        so (its torch threads inherit it), on the scheduler's thread count until its turn sets its share."""
        def body() -> None:
            lower_this_threads_priority()
            torch.set_num_threads(self.threads)
            target(*args)

        thread = threading.Thread(target=body, name=name, daemon=daemon)
        thread.start()
        return thread


def whose(job: Job, owner: str | None) -> str:
    return "your own" if owner is not None and job.owner == owner else "another visitor's"


SCHEDULER = Scheduler()  # the process's one scheduler
