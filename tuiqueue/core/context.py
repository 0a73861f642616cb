"""JobContext: what a job function gets to report progress, log and honour cancel/pause."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tuiqueue.core.records import Step

if TYPE_CHECKING:
    import threading

    import anyio

LINES_MAX = 50_000
"""Log lines held between flushes; a job printing faster loses the oldest, and says how many."""
CHARS_MAX = 2_000_000
"""Characters held between flushes, whatever the line count: one flush stays small."""
LINE_MAX = 4_096
"""Longer log lines are cut here, where they are written, saying how much was cut."""


def clip_line(line: str) -> str:
    """Bound one log line's length, saying so."""
    if len(line) <= LINE_MAX:
        return line
    return line[:LINE_MAX] + f"… [{len(line) - LINE_MAX} more characters cut]"


HEAD_KEPT = 100
"""The first lines of a job's log, never dropped here (the store keeps them too)."""


class JobCancelled(Exception):
    """Raised by checkpoint() once the job has been cancelled."""


class JobFailed(Exception):
    """Raise to fail a job with a message that says it all (a command's exit code and its
    last lines): the error is the message alone and no traceback is recorded."""


class JobContext:
    """Handed to every job function as its first argument."""

    def __init__(
        self, job_id: int, job_type: str, params: dict[str, Any], attempt: int = 1
    ) -> None:
        self.job_id = job_id
        """The id of the job being run."""
        self.job_type = job_type
        self.params = params
        self.attempt = attempt
        """1 on the first run, 2 on the first retry, and so on."""
        self.percent = 0.0
        self.message = ""
        self.dirty = False
        """Progress changed since the engine last published it."""
        self.unflushed = False
        """Progress or log lines the engine has not taken yet (one flag to test per job)."""
        # Made on first use (as are the listener lists): most jobs never log or get paused,
        # and building them cost more than running a no-op job.
        self._lines: deque[str] | None = None
        self._head: list[str] | None = None
        self._logged = 0
        self._held = 0
        self._steps: list[Step] | None = None
        self.steps_dirty = False
        """Steps changed since the engine last stored them."""
        self.lines_dropped = 0
        """Lines lost because the job logged faster than the engine could store them."""
        self.process_hook: Callable[[int, int], Awaitable[None]] | None = None
        """Engine: hook(job_id, pgid) records a process group the job started, for cleanup
        after a crash (one hook for every job: making one per job cost more than a no-op)."""
        # Plain flags; the events that wake paused jobs are made only when a job is paused
        # (making three events per job cost more than running a no-op job).
        self._cancelled = False
        self._stopping = False
        self.forced = False
        """cancel --force: stop at once (process groups are killed without a grace period)."""
        self._paused = False
        self._unpaused: threading.Event | None = None
        self._resumed: anyio.Event | None = None
        self._pause_listeners: list[Callable[[bool], None]] | None = None
        self._cancel_listeners: list[Callable[[], None]] | None = None
        self.stop_grace: float | None = None
        """Seconds a job's child processes get between SIGTERM and SIGKILL when it is stopped
        (None: the job type's default; 0 after a second Ctrl-C)."""

    # -- reporting ---------------------------------------------------------------------

    def progress(self, percent: float, message: str | None = None) -> None:
        """Report progress (0-100) and optionally a message; cheap, call it as often as you like."""
        if not isinstance(percent, int | float) or not math.isfinite(percent):
            percent = self.percent
        self.percent = min(100.0, max(0.0, float(percent)))
        if message is not None:
            self.message = str(message)
        self.dirty = self.unflushed = True

    @property
    def lines(self) -> deque[str]:
        """Log lines past the head waiting to be stored (the newest LINES_MAX)."""
        if self._lines is None:
            self._lines = deque()
        return self._lines

    def log(self, line: str) -> None:
        """Append a line to the job's log (multi-line text becomes several lines)."""
        self.unflushed = True
        for part in str(line).splitlines() or [""]:
            if len(part) > LINE_MAX:
                part = clip_line(part)
            self._logged += 1
            if self._logged <= HEAD_KEPT:  # the head of a log is always kept, as in the store
                if self._head is None:
                    self._head = []
                self._head.append(part)
                continue
            lines = self.lines
            size = len(part)
            while lines and (len(lines) >= LINES_MAX or self._held + size > CHARS_MAX):
                self._held -= len(lines.popleft())
                self.lines_dropped += 1
            lines.append(part)
            self._held += size

    def step(self, name: str) -> None:
        """Mark the start of a named step (the previous one ends here); the job's steps are
        recorded with their times and shown with durations."""
        now = time.time()
        steps = self.steps
        if steps and steps[-1].finished is None:
            steps[-1] = steps[-1]._replace(finished=now)
        steps.append(Step(str(name)[:200], now))
        self.steps_dirty = self.unflushed = True

    @property
    def steps(self) -> list[Step]:
        """The steps marked with step(), in order."""
        if self._steps is None:
            self._steps = []
        return self._steps

    def end_steps(self, now: float | None = None) -> None:
        """Engine: the job is over; its last step ends now."""
        steps = self._steps
        if steps and steps[-1].finished is None:
            steps[-1] = steps[-1]._replace(finished=time.time() if now is None else now)
            self.steps_dirty = self.unflushed = True

    async def track_process(self, pgid: int) -> None:
        """Record a process group this job leads, so a crashed worker's children are killed."""
        if self.process_hook is not None:
            await self.process_hook(self.job_id, pgid)

    # -- steering ------------------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        """True once somebody asked to cancel the job."""
        return self._cancelled

    @property
    def paused(self) -> bool:
        """True while the job is paused."""
        return self._paused

    async def checkpoint(self) -> None:
        """Raise JobCancelled if cancelled; wait here while paused; give others a turn."""
        import anyio  # (not at the top: importing anyio is ~5 ms of every `tuiqueue submit`)

        await anyio.sleep(0)
        while self._paused and not self._stopping and self._resumed is not None:
            await self._resumed.wait()
        self._raise_if_stopping()

    def check(self) -> None:
        """checkpoint() for plain `def` jobs running in a thread."""
        while self._paused and not self._stopping and self._unpaused is not None:
            self._unpaused.wait(0.2)
        self._raise_if_stopping()

    def _raise_if_stopping(self) -> None:
        if self._cancelled:
            raise JobCancelled(f"job {self.job_id} was cancelled")
        if self._stopping:
            raise JobCancelled(f"job {self.job_id} was asked to stop")

    def on_pause(self, listener: Callable[[bool], None]) -> None:
        """Call listener(True) when paused and listener(False) when resumed (and now, if the
        job was paused before the listener existed, e.g. while a process was starting)."""
        if self._pause_listeners is None:
            self._pause_listeners = []
        self._pause_listeners.append(listener)
        if self.paused:
            listener(True)

    def on_cancel(self, listener: Callable[[], None]) -> None:
        """Call listener() once when the job is cancelled."""
        if self._cancel_listeners is None:
            self._cancel_listeners = []
        self._cancel_listeners.append(listener)

    # -- engine side ---------------------------------------------------------------------

    def set_paused(self, paused: bool) -> None:
        """Engine: pause or resume this job."""
        import threading  # (with anyio: not at the top, see checkpoint)

        import anyio

        if paused == self.paused:
            return
        if paused:
            self._unpaused = threading.Event()
            self._resumed = anyio.Event()
        self._paused = paused
        if not paused:
            self._wake_paused()
        for listener in list(self._pause_listeners or ()):
            listener(paused)

    def request_stop(self) -> None:
        """Engine: make checkpoints raise (timeout, worker stopping) and wake it if paused."""
        if not self._stopping:
            self._stopping = True
            self._wake_paused()

    def set_cancelled(self) -> None:
        """Engine: mark this job cancelled and wake it if paused."""
        if self.cancelled:
            return
        self._cancelled = True
        self._stopping = True
        self._wake_paused()
        for listener in list(self._cancel_listeners or ()):
            listener()

    def force(self) -> None:
        """Engine: cancel --force; child processes are killed at once, no grace period."""
        self.forced = True
        self.stop_grace = 0.0
        self.set_cancelled()

    def _wake_paused(self) -> None:
        if self._unpaused is not None:
            self._unpaused.set()
        if self._resumed is not None:
            self._resumed.set()

    def take_dropped(self) -> int:
        """Engine: the lines lost since the last call (the buffer was full)."""
        dropped, self.lines_dropped = self.lines_dropped, 0
        return dropped

    @property
    def has_lines(self) -> bool:
        """Engine: lines are waiting to be stored."""
        return bool(self._head or self._lines)

    def take_lines(self) -> list[str]:
        """Engine: the log lines written since the last call (take_dropped() says how many
        were lost in between: the store counts them, so the count a user sees is exact)."""
        lines, self._head = self._head or [], None
        tail = self._lines
        while tail:
            lines.append(tail.popleft())
        self._held = 0
        return lines
