"""Terminal notifications (OSC 9 or OSC 777, and the bell) for jobs that fail or ran long.

A terminal turns these escape sequences into a desktop notification (iTerm2, WezTerm,
kitty, Ghostty, Windows Terminal: OSC 9; foot, urxvt, VTE terminals: OSC 777), which is
what tells a person in another window that the job they waited for is done. Job text goes
inside the sequence, so it is cleaned first: a BEL or ESC in a job's error would otherwise
end the sequence and make the rest of the text act on the terminal.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Mapping

from tuiqueue.core.job import Job
from tuiqueue.core.status import Status
from tuiqueue.core.text import one_line

GAP = 2.0
"""Seconds between two terminal notifications; jobs finishing meanwhile share the next."""

TITLE = "tuiqueue"


def osc_safe(text: str, limit: int = 200) -> str:
    """Text that cannot end or change an OSC string: one line, every control character
    (ESC, BEL, C1 such as ST and OSC, tab) shown as its escape, not sent."""
    return one_line(text, limit).replace("\t", "\\t")


def osc_style(env: Mapping[str, str] | None = None) -> str:
    """ "777" for terminals known to show OSC 777 and not OSC 9 (VTE, foot, urxvt); else "9".

    One style, not both: terminals that read both (kitty, Ghostty) would show two."""
    env = os.environ if env is None else env
    term = env.get("TERM", "")
    if env.get("VTE_VERSION") or term.startswith(("foot", "rxvt")):
        return "777"
    return "9"


def notification(title: str, body: str, *, style: str = "9", tmux: bool = False) -> str:
    """The escape sequence showing a desktop notification, then the bell."""
    title, body = osc_safe(title, 60), osc_safe(body)
    if style == "777":
        # Fields are separated by ';': the title may hold none (the body is the last field).
        sequence = f"\x1b]777;notify;{title.replace(';', ',')};{body}\x07"
    else:
        sequence = f"\x1b]9;{title}: {body}\x07"
    if tmux:  # tmux passes an escape sequence on only inside its own, ESCs doubled
        sequence = "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return sequence + "\x07"


def describe(jobs: list[Job]) -> str:
    """What finished, in one line: the job itself, or counts and the failed ids."""
    if len(jobs) == 1:
        job = jobs[0]
        took = f" after {job.duration:.0f}s" if job.duration is not None else ""
        text = f"Job #{job.id} {job.type} {job.status}{took}"
        return f"{text}: {job.error}" if job.status is Status.FAILED and job.error else text
    counts = Counter(job.status for job in jobs)
    failed = [f"#{job.id}" for job in jobs if job.status is Status.FAILED]
    parts = [f"{len(jobs)} jobs finished"]
    if failed:
        more = " …" if len(failed) > 5 else ""
        parts.append(f"{len(failed)} failed ({', '.join(failed[:5])}{more})")
    for status in (Status.COMPLETED, Status.CANCELLED):
        if counts[status]:
            parts.append(f"{counts[status]} {status}")
    return ", ".join(parts)


class TerminalAlerts:
    """Decides which finished jobs the terminal is told of, and tells it, at most once a GAP."""

    def __init__(
        self,
        write: Callable[[str], None],
        *,
        after: float | None,
        style: str | None = None,
        tmux: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write = write
        """Sends text to the terminal (the app's driver; a list's append in tests)."""
        self.after = after
        """A job that ran at least this long is told of (failed ones always); None: only
        failed ones."""
        self.style = osc_style() if style is None else style
        self.tmux = bool(os.environ.get("TMUX")) if tmux is None else tmux
        self.clock = clock
        self._held: list[Job] = []
        self._next = 0.0

    def wanted(self, job: Job) -> bool:
        """A failed job, or one that ran at least `after` seconds."""
        if job.status is Status.FAILED:
            return True
        duration = job.duration
        return self.after is not None and duration is not None and duration >= self.after

    def add(self, finished: list[Job]) -> float | None:
        """Tell of the wanted ones now, or hold them until flush(): returns the seconds until
        it is due when the caller must set a timer for it (None: no new timer needed)."""
        wanted = [job for job in finished if self.wanted(job)]
        if not wanted:
            return None
        was_holding = bool(self._held)
        self._held += wanted
        now = self.clock()
        if now >= self._next:
            self.flush()
            return None
        return None if was_holding else self._next - now

    def flush(self) -> None:
        """Tell of every job held, in one notification."""
        held, self._held = self._held, []
        if held:
            self._next = self.clock() + GAP
            self.write(notification(TITLE, describe(held), style=self.style, tmux=self.tmux))
