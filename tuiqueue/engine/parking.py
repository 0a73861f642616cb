"""Where the engine's tasks sleep between ticks: plain asyncio futures and one reused timer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

import anyio

from tuiqueue.core import logs

logger = logs.logger(__name__)


def resolve(future: asyncio.Future[None]) -> None:
    """Wake whoever awaits future (no-op once it is done or cancelled)."""
    if not future.done():
        future.set_result(None)


async def park(timeout: float | None, register: Callable[[Callable[[], None]], None]) -> None:
    """Sleep until the waker handed to `register` is called or `timeout` seconds pass.

    A plain future and timer on asyncio: the dispatcher and every runner park once per tick,
    and an anyio event with move_on_after costs several times more (trio: anyio's).
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        event = anyio.Event()
        register(event.set)
        with anyio.move_on_after(timeout):
            await event.wait()
        return
    future: asyncio.Future[None] = loop.create_future()
    register(partial(resolve, future))
    timer = None if timeout is None else loop.call_later(timeout, resolve, future)
    try:
        await future
    finally:
        if timer is not None:
            timer.cancel()


class Alarm:
    """The dispatcher's sleep between ticks: until wake() or a deadline, whichever is first.

    One timer serves many sleeps: a busy dispatcher sleeps thousands of times per flush
    interval, and a timer per sleep cost more than the rest of its tick. Waking before the
    deadline asked for is harmless: the dispatcher looks around and sleeps again.
    """

    def __init__(self) -> None:
        self._waker: Callable[[], None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def wake(self) -> None:
        """End the current sleep now (nothing happens while nobody sleeps)."""
        waker, self._waker = self._waker, None
        if waker is not None:
            waker()

    async def sleep(self, timeout: float) -> None:
        """Sleep until wake() or for at most `timeout` seconds."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio): anyio's event and deadline
            await park(timeout, self._set_waker)
            self._waker = None
            return
        future: asyncio.Future[None] = loop.create_future()
        self._waker = partial(resolve, future)
        deadline = loop.time() + timeout
        timer = self._timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(deadline, self._ring)
        try:
            await future
        finally:
            self._waker = None

    def close(self) -> None:
        """Cancel the pending timer (the engine stopped)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _set_waker(self, waker: Callable[[], None]) -> None:
        self._waker = waker

    def _ring(self) -> None:
        self._timer = None
        self.wake()
