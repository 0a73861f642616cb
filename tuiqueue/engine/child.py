"""The child side of isolation="process": `python -m tuiqueue.engine.child` runs one job body.

It reads what to run as JSON on stdin (the function's module, or the .py file it came from,
and its name; the job's id, type, params and attempt), imports it, and calls it with a
JobContext whose progress and log lines go back to the worker as JSON lines on the file
descriptor named by CHANNEL_ENV, with the result or error last. SIGTERM is a graceful cancel:
ctx.checkpoint()/ctx.check() raise from then on.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import signal
import sys
import threading
import traceback
from typing import IO, Any

from tuiqueue.core.context import JobCancelled, JobContext, JobFailed
from tuiqueue.core.registry import load_module

CHANNEL_ENV = "TUIQUEUE_CHANNEL_FD"
"""The environment variable holding the descriptor the child writes its messages to."""
FLUSH_EVERY = 0.05
"""Seconds between the child's progress and log messages."""


class Channel:
    """JSON lines to the worker, one writer at a time."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        """Write one message and flush it."""
        line = json.dumps(message, allow_nan=False)
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()

    def flush(self, ctx: JobContext) -> None:
        """Send what the job reported since the last flush."""
        if not ctx.unflushed:
            return
        ctx.unflushed = False
        if ctx.has_lines:
            self.send({"log": ctx.take_lines()})
        if ctx.steps_dirty:
            ctx.steps_dirty = False
            self.send({"steps": [list(step) for step in ctx.steps]})
        if ctx.dirty:
            ctx.dirty = False
            self.send({"progress": ctx.percent, "message": ctx.message})


def _function(spec: dict[str, Any]) -> Any:
    module_name, qualname = spec["module"], spec["qualname"]
    if spec.get("file"):
        load_module(spec["file"])
        module = sys.modules[module_name]
    else:
        module = importlib.import_module(module_name)
    target: Any = module
    for part in qualname.split("."):
        target = getattr(target, part)
    return inspect.unwrap(target)


def _run(fn: Any, ctx: JobContext, params: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(fn):
        return asyncio.run(fn(ctx, **params))
    return fn(ctx, **params)


def main() -> int:
    """Run the job described on stdin; the exit code is 0 whenever a message says how it ended."""
    spec = json.loads(sys.stdin.read())
    channel = Channel(os.fdopen(int(os.environ[CHANNEL_ENV]), "w", encoding="utf-8"))
    ctx = JobContext(spec["job_id"], spec["type"], spec["params"], spec["attempt"])
    signal.signal(signal.SIGTERM, lambda *_: ctx.set_cancelled())
    done = threading.Event()

    def flusher() -> None:
        while not done.wait(FLUSH_EVERY):
            channel.flush(ctx)

    threading.Thread(target=flusher, name="tuiqueue child flusher", daemon=True).start()
    try:
        fn = _function(spec)
        result = _run(fn, ctx, spec["params"])
    except JobCancelled:
        done.set()
        channel.flush(ctx)
        channel.send({"cancelled": True})
        return 0
    except JobFailed as exc:
        done.set()
        channel.flush(ctx)
        text = str(exc).strip() or type(exc).__name__
        channel.send({"error": text, "failed": True, "cancelled": ctx.cancelled})
        return 0
    except BaseException as exc:
        done.set()
        channel.flush(ctx)
        text = str(exc).strip() or type(exc).__name__
        channel.send(
            {
                "error": f"{type(exc).__name__}: {text}",
                "traceback": "".join(traceback.format_exception(exc)),
                "cancelled": ctx.cancelled,
            }
        )
        return 0
    done.set()
    channel.flush(ctx)
    try:
        channel.send({"result": result})
    except (TypeError, ValueError) as exc:
        channel.send({"error": f"TypeError: the job returned a result that is not JSON: {exc}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
