"""Queues: named groups of jobs, each with its own pause switch and fleet-wide cap."""

from __future__ import annotations

import re
from collections.abc import Iterable

from tuiqueue.core.plain import FrozenRecord

DEFAULT_QUEUE = "default"
"""The queue of a job submitted without one."""
QUEUE_NAME_MAX = 64
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class QueueNameError(ValueError):
    """A queue name that is not allowed; the message says what is."""


def check_queue_name(name: object) -> str:
    """The name if it is a valid queue name, else QueueNameError with a clear message."""
    if not isinstance(name, str) or not name:
        raise QueueNameError("a queue name must be a non-empty string")
    if len(name) > QUEUE_NAME_MAX or not _NAME.fullmatch(name):
        shown = name[:QUEUE_NAME_MAX].encode("unicode_escape").decode("ascii")
        raise QueueNameError(
            f"invalid queue name {shown!r}: use up to {QUEUE_NAME_MAX} letters, digits, "
            "'_', '.' or '-'"
        )
    return name


def parse_queue_list(text: str) -> frozenset[str]:
    """Queue names from "a,b" (spaces ignored); QueueNameError on a bad or empty list."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise QueueNameError("give at least one queue name, e.g. -Q default,emails")
    return frozenset(check_queue_name(n) for n in names)


class ClaimScope(FrozenRecord):
    """What a worker may claim: its loaded job types and the queues it takes.

    None means no restriction (every type, every queue)."""

    __slots__ = __match_args__ = ("types", "queues")
    types: frozenset[str] | None
    queues: frozenset[str] | None

    def __init__(
        self, types: frozenset[str] | None = None, queues: frozenset[str] | None = None
    ) -> None:
        set_ = object.__setattr__
        set_(self, "types", types)
        set_(self, "queues", queues)

    @classmethod
    def of(
        cls, types: Iterable[str] | None = None, queues: Iterable[str] | None = None
    ) -> ClaimScope:
        """A scope from any iterables (None: unrestricted)."""
        return cls(
            None if types is None else frozenset(types),
            None if queues is None else frozenset(queues),
        )

    def takes(self, type: str, queue: str) -> bool:
        """Whether a job of this type in this queue is within the scope."""
        return (self.types is None or type in self.types) and (
            self.queues is None or queue in self.queues
        )


ANY = ClaimScope()
"""Claim anything (stores' default when no scope is given)."""


class QueueInfo(FrozenRecord):
    """One queue's settings and load, read from the store."""

    __slots__ = __match_args__ = ("name", "paused", "limit", "running", "pending")
    name: str
    paused: bool
    limit: int | None
    """At most this many of its jobs run at once across every worker (None: no cap)."""
    running: int
    pending: int

    def __init__(
        self,
        name: str,
        paused: bool = False,
        limit: int | None = None,
        running: int = 0,
        pending: int = 0,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "name", name)
        set_(self, "paused", paused)
        set_(self, "limit", limit)
        set_(self, "running", running)
        set_(self, "pending", pending)

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of `tuiqueue queue list --json`."""
        return {
            "name": self.name,
            "paused": self.paused,
            "limit": self.limit,
            "running": self.running,
            "pending": self.pending,
        }
