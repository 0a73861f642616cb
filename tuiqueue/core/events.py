"""Engine events and the bus that fans them out to subscribers, coalescing progress."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum

import anyio

from tuiqueue.core.job import Job


class EventKind(StrEnum):
    """What an event reports."""

    JOB = "job"
    """A job was created or changed state; `job` holds a full snapshot."""
    PROGRESS = "progress"
    """A running job reported progress; `job` holds a snapshot."""
    LOG = "log"
    """A job wrote log lines; `lines` holds them."""
    DELETED = "deleted"
    """A job was deleted; only `job_id` is set."""
    QUEUE = "queue"
    """The queue was paused/resumed or its concurrency changed."""
    RESYNC = "resync"
    """The subscriber fell too far behind; reload everything from the store."""
    NOTICE = "notice"
    """The engine did something a person should hear of (a run stopped because another
    attempt took its job over); `lines` holds the one-line message."""


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened; the dashboard learns about jobs only from these."""

    kind: EventKind
    job_id: int | None = None
    job: Job | None = None
    lines: tuple[str, ...] = ()
    queue_paused: bool | None = None
    concurrency: int | None = None


@dataclass(eq=False)
class Subscription:
    """One subscriber's queue of events; progress per job is coalesced to the newest."""

    limit: int = 100_000
    events: deque[Event] = field(default_factory=deque)
    progress: OrderedDict[int, Event] = field(default_factory=OrderedDict)
    wakeup: anyio.Event = field(default_factory=anyio.Event)
    closed: bool = False

    def put(self, event: Event) -> None:
        """Queue an event (never blocks the engine)."""
        if event.kind is EventKind.PROGRESS and event.job_id is not None:
            self.progress[event.job_id] = event
            self.progress.move_to_end(event.job_id)
        else:
            if event.job_id is not None and event.kind not in (EventKind.LOG, EventKind.NOTICE):
                self.progress.pop(event.job_id, None)
            if len(self.events) >= self.limit:
                self.events.clear()
                self.progress.clear()
                event = Event(EventKind.RESYNC)
            self.events.append(event)
        self.wakeup.set()

    def get_nowait(self) -> Event | None:
        """The next event, or None when there is none."""
        if self.events:
            return self.events.popleft()
        if self.progress:
            return self.progress.popitem(last=False)[1]
        return None

    def drain(self) -> list[Event]:
        """Every queued event, oldest first."""
        out = list(self.events)
        out.extend(self.progress.values())
        self.events.clear()
        self.progress.clear()
        return out

    async def get(self) -> Event:
        """Wait for the next event."""
        while True:
            event = self.get_nowait()
            if event is not None:
                return event
            if self.closed:
                raise StopAsyncIteration
            self.wakeup = anyio.Event()
            await self.wakeup.wait()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self.get()


class EventBus:
    """Publishes events to every subscriber."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def subscribe(self) -> Subscription:
        """A new subscription; call unsubscribe() when done."""
        sub = Subscription()
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to sub and end its iteration."""
        sub.closed = True
        sub.wakeup.set()
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, event: Event) -> None:
        """Deliver event to every subscriber."""
        for sub in self._subs:
            sub.put(event)

    @property
    def has_subscribers(self) -> bool:
        """Whether anybody listens (events are skipped entirely otherwise)."""
        return bool(self._subs)
