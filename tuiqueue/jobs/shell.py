"""shell: run a command line in its own process group, streaming its output to the log;
every process it starts is marked (core.proctree), so pause and cancel reach them all.
Its progress follows the percentages the command prints (jobs/shell_progress.py)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuiqueue.core.context import JobContext, JobFailed
from tuiqueue.core.params import Param
from tuiqueue.core.registry import job_type
from tuiqueue.core.text import one_line

# `tuiqueue submit` imports this module to register the type: what only running a command
# needs (anyio, subprocess, signal, proctree, shell_progress and their regexes) is imported
# where it is used, and anyio.abc and typing_extensions (~5 ms) only for the type checker.
if TYPE_CHECKING:
    from anyio.abc import ByteReceiveStream, Process

    from tuiqueue.core import proctree

GRACE = 3.0
"""Seconds between SIGTERM and SIGKILL when a shell job is cancelled."""
LINE_MAX = 4096
"""A line longer than this (in bytes) is cut as it is read; the rest of it is counted, not kept."""
TAIL = 10
"""Lines quoted in the error when the command fails."""
WATCH_INTERVAL = 1.0
"""Seconds between looks at a running command's process tree."""


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def stop_group(
    process: Process,
    tree: proctree.Tree,
    grace: float | None = None,
    urgent: Callable[[], bool] = lambda: False,
) -> None:
    """SIGTERM every process of the attempt (its group and any that left it), then SIGKILL
    whatever is left after the grace period (or as soon as urgent() says so: a second Ctrl-C)."""
    import signal  # (with anyio: not at the top, see the imports)

    import anyio

    pgid = process.pid
    grace = GRACE if grace is None else grace
    if grace > 0:
        _signal_group(pgid, signal.SIGCONT)
        tree.signal(signal.SIGCONT)
        _signal_group(pgid, signal.SIGTERM)
        tree.signal(signal.SIGTERM)
        with anyio.move_on_after(grace):
            while process.returncode is None or _group_alive(pgid) or tree.alive():
                if urgent():
                    break
                tree.reap()
                await anyio.sleep(0.05)
            else:
                return
    _signal_group(pgid, signal.SIGKILL)
    tree.signal(signal.SIGKILL)
    with anyio.move_on_after(1.0):
        await process.wait()
        # A killed process lingers until the kernel tears it down; report done once it has.
        while _group_alive(pgid) or tree.alive():
            tree.signal(signal.SIGKILL)
            tree.reap()
            await anyio.sleep(0.02)
    tree.reap()


def _pause(tree: proctree.Tree, paused: bool) -> None:
    """SIGSTOP (or SIGCONT) every process of the attempt, wherever it moved."""
    import signal

    _signal_group(tree.root, signal.SIGSTOP if paused else signal.SIGCONT)
    tree.signal(signal.SIGSTOP if paused else signal.SIGCONT)


async def _watch(tree: proctree.Tree) -> None:
    """Keep the attempt's descendants known (one that clears its environment stays known
    while it lives) and collect those that died as the worker's adopted children."""
    import anyio  # (not at the top: see the imports)

    while True:
        await anyio.sleep(WATCH_INTERVAL)
        tree.members(environ=False)
        tree.reap()


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies do not count)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    # Orphaned children that died stay zombies until init reaps them, which in a
    # container may take seconds; killpg(pgid, 0) still counts those.
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def _newest_frame(line: bytes) -> bytes:
    """What a terminal shows of a line that redraws itself with \\r (tqdm's bars): its last
    non-blank frame (a line ending in \\r\\n keeps its text)."""
    if b"\r" not in line:
        return line
    return next((f for f in reversed(line.split(b"\r")) if f.strip()), b"")


async def _pump(
    stream: ByteReceiveStream | None,
    prefix: str,
    ctx: JobContext,
    tail: deque[str],
    follow: Callable[[str], None],
) -> None:
    """Log a stream line by line; a line past LINE_MAX bytes is cut as it is read (the rest
    of it is counted and skipped, never held), so one endless line costs LINE_MAX bytes.

    Every line, and every \\r frame of a line still being redrawn, goes to follow() (the
    job's progress) as it arrives; the log gets a redrawn line once, as its last frame."""
    if stream is None:
        return
    pending = b""
    skipped = 0
    """Bytes of the current over-long line dropped so far (its head is in pending)."""
    shown = b""
    """The frame of the unfinished line last given to follow()."""

    def decode(raw: bytes) -> str:
        return raw.decode("utf-8", "replace")

    def emit(raw: bytes, cut: int) -> None:
        line = decode(raw)
        text = prefix + line
        if cut:
            text += f"… [{cut} more bytes cut]"
        ctx.log(text)
        tail.append(text)
        follow(line)

    async for chunk in stream:
        if skipped:
            end = chunk.find(b"\n")
            if end < 0:
                skipped += len(chunk)
                continue
            skipped += end
            emit(_newest_frame(pending), skipped)
            pending, skipped, chunk = b"", 0, chunk[end + 1 :]
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in map(_newest_frame, lines):
            if len(raw) > LINE_MAX:
                emit(raw[:LINE_MAX], len(raw) - LINE_MAX)
            else:
                emit(raw, 0)
        if lines:
            shown = b""
        if b"\r" in pending:
            # A line being redrawn (tqdm writes "\r" then each frame): its newest frame is
            # shown at once, and only that frame is kept, so a bar redrawn for an hour costs
            # one frame, not the hour's output.
            *frames, rest = pending.split(b"\r")
            if rest.strip():
                newest, pending = rest, b"\r" + rest
            else:
                newest = next((f for f in reversed(frames) if f.strip()), b"")
                pending = newest + b"\r" + rest if newest else rest
            if newest and newest != shown:
                follow(decode(newest[:LINE_MAX]))
                shown = newest
        if len(pending) > LINE_MAX:
            skipped = len(pending) - LINE_MAX
            pending = pending[:LINE_MAX]
    if pending or skipped:
        emit(_newest_frame(pending), skipped)


@job_type(
    "shell",
    description="Run a shell command; its output goes to the job's log.",
    params=[
        Param(
            "command",
            "str",
            required=True,
            max_length=4000,
            help="The command line, run with /bin/sh -c.",
        ),
        Param(
            "cwd",
            "str",
            default="",
            max_length=1000,
            help="Working directory (empty: the worker's).",
        ),
    ],
)
async def shell(ctx: JobContext, command: str, cwd: str = "") -> dict[str, Any]:
    """Run command; fail with its exit code and last lines if it exits non-zero."""
    import subprocess  # (here, not at the top: see the imports)

    import anyio

    from tuiqueue.core import proctree
    from tuiqueue.jobs.shell_progress import MESSAGE_MAX, ShellProgress

    workdir = Path(cwd).expanduser() if cwd else None
    if workdir is not None and not workdir.is_dir():
        raise FileNotFoundError(f"working directory {cwd!r} does not exist")
    ctx.progress(0, one_line(f"$ {command}", MESSAGE_MAX))
    # Shielded until the try below: a cancel landing while the process starts (its children
    # may already run) would otherwise skip the finally that stops the whole group.
    proctree.become_subreaper()  # orphaned descendants stay under this worker, findable
    with anyio.CancelScope(shield=True):
        process = await anyio.open_process(
            proctree.command_argv(command),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        tree = proctree.Tree(process.pid)
        ctx.on_pause(lambda paused: _pause(tree, paused))
        await ctx.track_process(process.pid)
    tail: deque[str] = deque(maxlen=TAIL)
    follow = ShellProgress(ctx)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_pump, process.stdout, "", ctx, tail, follow.see)
            tg.start_soon(_pump, process.stderr, "[stderr] ", ctx, tail, follow.see)
            tg.start_soon(_watch, tree)
            code = await process.wait()
            # Children left in the background may hold the pipes open: read what is
            # buffered, then stop reading so the job can end.
            tg.cancel_scope.deadline = anyio.current_time() + 0.5
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None or _group_alive(process.pid) or tree.alive():
                await stop_group(process, tree, ctx.stop_grace, lambda: ctx.stop_grace == 0)
            tree.reap()
            await process.aclose()
    if code != 0:
        last = "\n".join(tail)
        raise JobFailed(f"command exited with code {code}" + (f"\n{last}" if last else ""))
    # The command's last words say more than its exit code (which is in the result).
    ctx.progress(100, follow.last or "exit code 0")
    return {"exit_code": code, "pid": process.pid}
