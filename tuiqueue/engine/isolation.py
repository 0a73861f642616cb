"""isolation="process": run a job body in a child process of its own process group.

The child (tuiqueue.engine.child) is started through proctree's marking shell, so it carries
the attempt's TUIQUEUE_ATTEMPT token and recovery can kill it after a worker crash. Its
progress, log lines and result come back as JSON lines over a pipe; its stdout and stderr go
to the job's log. A graceful cancel is SIGTERM (checkpoints raise in the child), forced after
the grace period; a forced cancel kills the whole group at once. A crash fails this job only.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from typing import Any

import anyio
from anyio.abc import ByteReceiveStream, Process

from tuiqueue.core import proctree
from tuiqueue.core.context import JobCancelled, JobContext, JobFailed
from tuiqueue.core.job import Job
from tuiqueue.core.records import Step
from tuiqueue.core.registry import JobType
from tuiqueue.engine.child import CHANNEL_ENV

GRACE = 3.0
"""Seconds between SIGTERM and SIGKILL when a process job is cancelled gracefully."""


class ChildCrashed(RuntimeError):
    """The child process ended without saying how the job ended (a crash, a signal)."""


def _spec(job: Job, kind: JobType, ctx: JobContext) -> dict[str, Any]:
    fn = kind.fn
    module = sys.modules.get(fn.__module__)
    if "<locals>" in fn.__qualname__ or module is None or fn.__module__ == "__main__":
        raise TypeError(
            f"job type {kind.name!r} has isolation='process' but its function is not importable "
            "by module path; define it at the top level of a module (or a --jobs FILE.py)"
        )
    path = getattr(module, "__file__", None)
    from_file = fn.__module__.startswith("tuiqueue_user_") and path is not None
    return {
        "module": fn.__module__,
        "qualname": fn.__qualname__,
        "file": path if from_file else None,
        "job_id": job.id,
        "type": job.type,
        "params": job.params,
        "attempt": job.attempts,
    }


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def _pump(stream: ByteReceiveStream | None, prefix: str, ctx: JobContext) -> None:
    if stream is None:
        return
    pending = b""
    async for chunk in stream:
        *lines, pending = (pending + chunk).split(b"\n")
        for raw in lines:
            ctx.log(prefix + raw.decode("utf-8", "replace").rstrip("\r"))
    if pending:
        ctx.log(prefix + pending.decode("utf-8", "replace"))


async def _read_channel(fd: int, ctx: JobContext, ending: dict[str, Any]) -> None:
    pending = b""
    while True:
        await anyio.wait_readable(fd)
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        *lines, pending = (pending + chunk).split(b"\n")
        for raw in lines:
            message = json.loads(raw)
            if "log" in message:
                for line in message["log"]:
                    ctx.log(line)
            elif "steps" in message:
                ctx.steps[:] = [Step(*step) for step in message["steps"]]
                ctx.steps_dirty = ctx.unflushed = True
            elif "progress" in message:
                ctx.progress(message["progress"], message["message"])
            else:
                ending.update(message)


async def _stop(process: Process, tree: proctree.Tree, ctx: JobContext, grace: float) -> None:
    """SIGTERM the child (unless forced), SIGKILL the group and its tree after the grace."""
    pgid = process.pid
    if grace > 0 and not ctx.forced:
        _signal_group(pgid, signal.SIGCONT)
        os.kill(process.pid, signal.SIGTERM)
        with anyio.move_on_after(grace):
            while process.returncode is None and not ctx.forced:
                await anyio.sleep(0.02)
    _signal_group(pgid, signal.SIGKILL)
    tree.signal(signal.SIGKILL)
    with anyio.move_on_after(1.0):
        await process.wait()
    tree.reap()


async def run_in_process(job: Job, kind: JobType, ctx: JobContext) -> Any:
    """Run the job's function in a child process; its result, or raise as the body did."""
    spec = json.dumps(_spec(job, kind, ctx)).encode()
    read_fd, write_fd = os.pipe()
    os.set_inheritable(write_fd, True)
    command = f"exec {shlex.quote(sys.executable)} -m tuiqueue.engine.child"
    env = {**os.environ, CHANNEL_ENV: str(write_fd)}
    paths = [p for p in sys.path if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    ending: dict[str, Any] = {}
    proctree.become_subreaper()
    with anyio.CancelScope(shield=True):
        try:
            process = await anyio.open_process(
                proctree.command_argv(command),
                stdin=subprocess.PIPE,
                env=env,
                start_new_session=True,
                pass_fds=(write_fd,),
            )
        finally:
            os.close(write_fd)
        tree = proctree.Tree(process.pid)
        ctx.on_pause(lambda paused: _pause(process.pid, tree, paused))
        await ctx.track_process(process.pid)
        assert process.stdin is not None
        await process.stdin.send(spec)
        await process.stdin.aclose()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_pump, process.stdout, "", ctx)
            tg.start_soon(_pump, process.stderr, "[stderr] ", ctx)
            await _read_channel(read_fd, ctx, ending)
            code = await process.wait()
            tg.cancel_scope.cancel()
    finally:
        os.close(read_fd)
        with anyio.CancelScope(shield=True):
            if process.returncode is None or tree.alive():
                grace = GRACE if ctx.stop_grace is None else ctx.stop_grace
                await _stop(process, tree, ctx, grace)
            await process.aclose()
    if "result" in ending:
        return ending["result"]
    if ending.get("cancelled") and ctx.cancelled:
        raise JobCancelled(f"job {job.id} was cancelled")
    if "error" in ending:
        if ending.get("failed"):  # JobFailed in the child: its message says it all
            raise JobFailed(ending["error"])
        raise ChildCrashed(ending["error"])
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        raise ChildCrashed(f"the job's process was killed by {name} (it crashed)")
    raise ChildCrashed(f"the job's process exited with code {code} without a result")


def _pause(pgid: int, tree: proctree.Tree, paused: bool) -> None:
    sig = signal.SIGSTOP if paused else signal.SIGCONT
    _signal_group(pgid, sig)
    tree.signal(sig)
