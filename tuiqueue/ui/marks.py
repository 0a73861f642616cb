"""The jobs marked for a bulk action, headless: what each was when last seen, and the plan of
a command on them (which apply, which are skipped, the one question asked first)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from tuiqueue.core.job import Job
from tuiqueue.core.status import ACTIVE, QUEUED, TERMINAL, Priority, Status


class Seen(NamedTuple):
    """A marked job as last seen: enough to plan a command without reading it again."""

    status: Status
    priority: Priority
    started: bool
    """It holds (or held) a worker's run: a paused job that started is not queued."""

    @classmethod
    def of(cls, job: Job) -> Seen:
        """What a job snapshot says."""
        return cls(job.status, job.priority, job.token is not None)


class Marks:
    """Marked job ids, with what each was when last seen (rows beyond the table's window,
    marked by "select all", are known only by this)."""

    def __init__(self) -> None:
        self._seen: dict[int, Seen] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def __bool__(self) -> bool:
        return bool(self._seen)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._seen

    def ids(self) -> list[int]:
        """The marked ids, in the order they were marked."""
        return list(self._seen)

    def seen(self, job_id: int) -> Seen:
        """What a marked job was when last seen."""
        return self._seen[job_id]

    def toggle(self, job: Job) -> bool:
        """Mark or unmark a job; whether it is marked now."""
        if self._seen.pop(job.id, None) is not None:
            return False
        self._seen[job.id] = Seen.of(job)
        return True

    def mark(self, jobs: Iterable[Job]) -> None:
        """Mark these jobs (those marked already stay so)."""
        for job in jobs:
            self._seen[job.id] = Seen.of(job)

    def put(self, seen: Mapping[int, Seen]) -> None:
        """Mark jobs known only by what they were (select all)."""
        self._seen.update(seen)

    def clear(self) -> None:
        """Unmark every job."""
        self._seen.clear()

    def drop(self, job_ids: Iterable[int]) -> None:
        """Unmark these jobs."""
        for job_id in job_ids:
            self._seen.pop(job_id, None)

    def follow(self, jobs: Mapping[int, Job], deleted: Collection[int]) -> bool:
        """Keep up with a batch of changes: new snapshots, deleted jobs unmarked; whether
        the count changed."""
        before = len(self._seen)
        seen = self._seen
        if len(jobs) < len(seen):
            for job_id, job in jobs.items():
                if job_id in seen:
                    seen[job_id] = Seen.of(job)
        else:
            for job_id in seen:
                snapshot = jobs.get(job_id)
                if snapshot is not None:
                    seen[job_id] = Seen.of(snapshot)
        for job_id in deleted:
            seen.pop(job_id, None)
        return len(seen) != before


BULK = frozenset(
    {"cancel", "kill", "toggle_pause", "priority_up", "priority_down", "rerun", "retry", "delete"}
)
"""The job commands that act on every marked job when some are marked."""


def applies(name: str, seen: Seen) -> bool:
    """Whether a job command can apply to a job in this state (as its keys say when it is
    the only one); the store has the last word, and refusals there are skipped too."""
    status = seen.status
    if name == "cancel":
        return status not in TERMINAL
    if name == "kill":
        return status in ACTIVE
    if name in ("priority_up", "priority_down"):
        return status in QUEUED or (status is Status.PAUSED and not seen.started)
    if name == "delete":
        return status not in ACTIVE or not seen.started
    if name == "retry":
        return status is Status.FAILED
    if name in ("pause", "toggle_pause"):
        return status not in TERMINAL and status is not Status.PAUSED
    if name == "resume":
        return status is Status.PAUSED
    return True  # rerun


def _jobs(n: int) -> str:
    return f"{n:,} job{'s' if n != 1 else ''}"


@dataclass
class Plan:
    """One command on the marked jobs: what is done to which, and the question first."""

    command: str
    """The command run: cancel, kill, pause, resume, priority_up/down, rerun, retry, delete."""
    ids: list[int]
    """The marked jobs it applies to."""
    skipped: int
    """Marked jobs it does not apply to (finished, started...)."""
    question: str
    """The one question asked before (states the count)."""
    yes: str
    """The confirm button."""
    seen: dict[int, Seen] = field(default_factory=dict)
    """What each job of ids was (priority changes count from it)."""


VERBS = {
    "cancel": ("Cancel", "Cancel jobs"),
    "kill": ("Kill", "Kill jobs"),
    "pause": ("Pause", "Pause"),
    "resume": ("Resume", "Resume"),
    "priority_up": ("Raise the priority of", "Raise"),
    "priority_down": ("Lower the priority of", "Lower"),
    "rerun": ("Rerun", "Rerun"),
    "retry": ("Rerun", "Retry"),
    "delete": ("Delete", "Delete"),
}
"""How each command is asked: the question's verb and the yes button."""


def plan(name: str, marks: Marks, current: Mapping[int, Job]) -> Plan:
    """The plan of a job command on every marked job; `current` has the newest snapshot of
    those in the table's window (the others are planned from what they were)."""
    seen = {
        job_id: Seen.of(current[job_id]) if job_id in current else marks.seen(job_id)
        for job_id in marks.ids()
    }
    command = name
    if name == "toggle_pause":
        # Pause what runs or waits; when every job that could change is paused, resume.
        command = "pause" if any(applies("pause", s) for s in seen.values()) else "resume"
    chosen = {job_id: s for job_id, s in seen.items() if applies(command, s)}
    skipped = len(seen) - len(chosen)
    verb, yes = VERBS[command]
    states = [s.status for s in chosen.values()]
    running = sum(1 for s in states if s in ACTIVE)
    n = len(chosen)
    if command == "cancel" and running == n:
        what = f"{n:,} running job{'s' if n != 1 else ''}"
    elif command == "cancel" and running:
        what = f"{_jobs(n)} ({running:,} running)"
    elif command == "cancel":
        what = f"{n:,} queued job{'s' if n != 1 else ''}"
    elif command == "retry":
        what = f"{n:,} failed job{'s' if n != 1 else ''}"
    elif command == "resume":
        what = f"{n:,} paused job{'s' if n != 1 else ''}"
    else:
        what = _jobs(n)
    question = f"{verb} {what}?"
    if command in ("cancel", "kill") and running:
        question += (
            " Their processes are killed without a chance to clean up."
            if command == "kill"
            else " The running ones lose their work so far."
        )
    if command == "delete":
        question += " (u brings them back for a few seconds.)"
    if skipped:
        question += f" {skipped:,} other marked job{'s' if skipped != 1 else ''} skipped."
    return Plan(command, list(chosen), skipped, question, yes, chosen)


def skip_note(skipped: int, why: str = "") -> str:
    """ ", 2 skipped (finished)" for a notification, or ""."""
    if not skipped:
        return ""
    return f", {skipped:,} skipped" + (f" ({why})" if why else "")
