"""Every process of a job's attempt, whatever session or group it moved to (Linux /proc)."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from tuiqueue.core.logs import logger

log = logger(__name__)

ENV = "TUIQUEUE_ATTEMPT"
"""Set in the environment of an attempt's command; every descendant inherits it."""
PR_SET_CHILD_SUBREAPER = 36

# The command runs under a shell that first marks itself: it reads its own pid and start
# time (stat field 22, as start_time() does), so the token is unique per attempt and can be
# rebuilt from what the store records about the process (pgid, start time) after a crash.
_MARK = (
    "_tq_c=$1; _tq_b=unknown; read -r _tq_b 2>/dev/null < /proc/sys/kernel/random/boot_id; "
    "if read -r _tq_s 2>/dev/null < /proc/$$/stat; then "
    "_tq_s=${_tq_s##*) }; set -f; set -- $_tq_s; set +f; "
    f'if [ $# -gt 19 ]; then shift 19; {ENV}="$_tq_b.$$.$1"; export {ENV}; fi; '
    'fi; set -- "$_tq_c"; unset _tq_b _tq_s _tq_c; exec /bin/sh -c "$1"'
)


def command_argv(command: str) -> list[str]:
    """argv that runs command with /bin/sh -c, its environment marked with the attempt's token."""
    return ["/bin/sh", "-c", _MARK, "sh", command]


@functools.cache
def boot_id() -> str:
    """This boot's id (a pid and start time are unique only within one boot)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def token_for(pid: int, start: int) -> str:
    """The token command_argv's shell with this pid and start time put in its environment."""
    return f"{boot_id()}.{pid}.{start}"


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat from the state on (index 0 = state, 1 = ppid, 19 = start)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].decode("ascii", "replace").split()
    return fields if len(fields) > 19 else None


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it does not exist."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def state(pid: int) -> str | None:
    """The process's state letter (R, S, T, Z...), or None if it does not exist."""
    fields = _stat(pid)
    return fields[0] if fields else None


def _pids() -> Iterator[int]:
    try:
        names = os.listdir("/proc")
    except OSError:
        return
    for name in names:
        if name.isdigit():
            yield int(name)


def _has_entry(pid: int, entry: bytes) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # gone, or not ours to read: never counted
        return False
    return entry in environ.split(b"\0")


def find(token: str) -> list[int]:
    """Live processes (not zombies) whose environment holds exactly ENV=token."""
    entry = f"{ENV}={token}".encode()
    me = os.getpid()
    found = []
    for pid in _pids():
        if pid != me and _has_entry(pid, entry):
            fields = _stat(pid)
            if fields and fields[0] not in ("Z", "X"):
                found.append(pid)
    return found


@functools.cache
def become_subreaper() -> bool:
    """Make this process adopt its orphaned descendants (Linux), so they stay findable."""
    import ctypes.util  # here: only workers need it, every command imports this module

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        ok = int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        ok = False
    if not ok:
        log.debug("prctl(PR_SET_CHILD_SUBREAPER) unavailable; relying on the environment mark")
    return ok


def kill_token(token: str, sig: int = signal.SIGKILL, rounds: int = 5) -> int:
    """Signal every process carrying token (again for any that appeared meanwhile); how many."""
    hit: set[int] = set()
    for _ in range(rounds):
        fresh = [pid for pid in find(token) if pid not in hit]
        if not fresh:
            break
        for pid in fresh:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
            hit.add(pid)
    return len(hit)


class Tree:
    """The processes of one attempt: those carrying its token, their descendants, and any
    seen before (a descendant that cleared its environment stays known while it lives)."""

    def __init__(self, root: int) -> None:
        self.root = root
        started = start_time(root)
        self.token = token_for(root, started) if started is not None else None
        self._known: dict[int, int] = {} if started is None else {root: started}
        """pid -> start time of every member seen (a reused pid has another start time)."""
        self._zombies: list[int] = []

    def members(self, environ: bool = True) -> list[int]:
        """Every live member (not zombies), found by one pass over /proc; without environ,
        only the known ones and their descendants (cheaper: no environment is read)."""
        entry = f"{ENV}={self.token}".encode() if self.token and environ else None
        me = os.getpid()
        stats: dict[int, list[str]] = {}
        marked: set[int] = set()
        for pid in _pids():
            if pid == me:
                continue
            fields = _stat(pid)
            if fields is None:
                continue
            stats[pid] = fields
            if self._known.get(pid) == int(fields[19]) or (
                entry is not None and _has_entry(pid, entry)
            ):
                marked.add(pid)
        # Descendants of members are members too (even with a cleared environment).
        children: dict[int, list[int]] = {}
        for pid, fields in stats.items():
            children.setdefault(int(fields[1]), []).append(pid)
        todo = list(marked)
        while todo:
            for child in children.get(todo.pop(), ()):
                if child not in marked:
                    marked.add(child)
                    todo.append(child)
        self._known = {pid: int(stats[pid][19]) for pid in marked}
        # Dead members adopted by this (subreaper) process: known ones, and any still in the
        # attempt's session (whose id is the root's pid; nothing of ours is started in it).
        self._zombies = [
            pid
            for pid, fields in stats.items()
            if fields[0] == "Z"
            and int(fields[1]) == me
            and pid != self.root
            and (pid in marked or int(fields[3]) == self.root)
        ]
        return [pid for pid in marked if stats[pid][0] not in ("Z", "X")]

    def alive(self) -> bool:
        """Whether any member still runs."""
        return bool(self.members())

    def signal(self, sig: int, rounds: int = 3) -> int:
        """Send sig to every member, again to any that appeared meanwhile; how many were hit."""
        hit: set[int] = set()
        for _ in range(rounds):
            fresh = [pid for pid in self.members() if pid not in hit]
            if not fresh:
                break
            for pid in fresh:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
                hit.add(pid)
        return len(hit)

    def reap(self) -> None:
        """Collect the dead members the last look found among this process's children; the
        root is left to whoever started it."""
        zombies, self._zombies = self._zombies, []
        for pid in zombies:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
