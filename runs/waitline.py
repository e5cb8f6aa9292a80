"""One training at a time, first come first served, with each waiter's place and an estimate of the wait.

The trainings of a process take turns through one ``WaitLine``. Whoever holds the turn keeps its
``Ticket.remaining_s`` up to date; someone further back waits for the sum of what is left of the
trainings ahead (the running one's remaining time, the others' estimates before they start).
"""
import threading
import time
from dataclasses import dataclass, field
from typing import Callable


def wait_words(seconds: float) -> str:
    """A wait as the waiting notes say it: '40 s' under a minute and a half, else '5 min'."""
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


@dataclass(eq=False)
class Ticket:
    estimate_s: float  # how long this training should take, estimated before it starts
    what: str = ""  # the press, as those waiting behind it are told ("a UNet press: batch sizes 50, 100, ...")
    remaining_s: float | None = None  # set by the holder while it trains
    joined: float = field(default_factory=time.perf_counter)

    def left_s(self) -> float:
        return self.estimate_s if self.remaining_s is None else self.remaining_s


class WaitLine:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._tickets: list[Ticket] = []

    def join(self, estimate_s: float, what: str = "") -> Ticket:
        with self._changed:
            ticket = Ticket(estimate_s, what)
            self._tickets.append(ticket)
            return ticket

    def leave(self, ticket: Ticket) -> None:
        with self._changed:
            if ticket in self._tickets:
                self._tickets.remove(ticket)
            self._changed.notify_all()

    def ahead(self, ticket: Ticket) -> list[Ticket]:
        """The tickets before this one, the training now running first."""
        with self._changed:
            return self._tickets[:self._tickets.index(ticket)] if ticket in self._tickets else []

    def place(self, ticket: Ticket) -> tuple[int, float]:
        """(trainings ahead of this one, estimated seconds until its turn)."""
        with self._changed:
            ahead = self._tickets[:self._tickets.index(ticket)]
            return len(ahead), sum(other.left_s() for other in ahead)

    def wait(self, ticket: Ticket, stop: threading.Event, on_wait: Callable[[int, float], None],
             poll_s: float = 1.0) -> bool:
        """Block until ``ticket`` is first in line (True), or ``stop`` is set (False). ``on_wait(ahead, seconds)``
        is called at once and then every ``poll_s`` while waiting."""
        while not stop.is_set():
            ahead, seconds = self.place(ticket)
            if ahead == 0:
                return True
            on_wait(ahead, seconds)
            with self._changed:
                self._changed.wait(poll_s)
        return False

    def __len__(self) -> int:
        with self._changed:
            return len(self._tickets)


TRAINING_LINE = WaitLine()  # the process's one line for Train live
