"""A shell job's bar follows the percentages its command prints (`42%`, tqdm's `\\r` frames,
`::progress 42 message`), and its message is its last output line: real commands (printf)
run by a real engine on a SQLite file."""

from __future__ import annotations

import shlex
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest

from tuiqueue.core.job import Job
from tuiqueue.core.registry import REGISTRY, load_job_types
from tuiqueue.core.status import Status
from tuiqueue.engine.engine import Engine
from tuiqueue.jobs.shell_progress import MESSAGE_MAX, explicit, message_of, percent_in
from tuiqueue.store import open_store

pytestmark = pytest.mark.anyio
load_job_types()

# printf formats: %% prints one %.
TQDM_0 = "\\r  0%%|          | 0/100 [00:00<?, ?it/s]"
TQDM_42 = "\\r 42%%|████▏     | 42/100 [00:01<00:01, 50.0it/s]"
TQDM_100 = "\\r100%%|██████████| 100/100 [00:02<00:00, 50.0it/s]\\n"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    """A running engine on a SQLite file with the built-in types."""
    async with Engine(
        open_store(tmp_path / "j.db"), registry=REGISTRY, poll_interval=0.02, concurrency=2
    ) as eng:
        yield eng


@pytest.fixture
def gate(tmp_path: Path) -> tuple[str, Path]:
    """Shell that waits until the test creates a file, and that file."""
    go = tmp_path / "go"
    return f"while [ ! -e {shlex.quote(str(go))} ]; do sleep 0.02; done", go


async def until(engine: Engine, job_id: int, cond: Callable[[Job], bool]) -> Job:
    """The job once cond holds for it (read from the store; fails after 10 s)."""
    with anyio.fail_after(10):
        while True:
            job = await engine.store.get(job_id)
            assert job is not None
            if cond(job):
                return job
            await anyio.sleep(0.02)


async def log(engine: Engine, job_id: int) -> list[str]:
    return [line for _, line in (await engine.logs(job_id)).lines]


async def test_a_percentage_in_a_line_moves_the_bar(engine: Engine, gate: tuple[str, Path]) -> None:
    wait, go = gate
    command = f"printf 'starting\\nresized 12 of 40 images (42%%) in 3.5s\\n'; {wait}"
    job = await engine.submit("shell", {"command": command})
    running = await until(engine, job.id, lambda j: j.progress == 42)
    assert running.status is Status.RUNNING
    assert running.message == "resized 12 of 40 images (42%) in 3.5s"
    go.touch()
    done = await engine.wait(job.id, timeout=10)
    assert done.status is Status.COMPLETED and done.progress == 100


async def test_tqdm_frames_on_stderr_move_the_bar_and_log_once(
    engine: Engine, gate: tuple[str, Path]
) -> None:
    wait, go = gate
    command = f"printf '{TQDM_0}{TQDM_42}' >&2; {wait}; printf '{TQDM_100}' >&2"
    job = await engine.submit("shell", {"command": command})
    # The frame is shown while the line is still being redrawn (no newline yet).
    running = await until(engine, job.id, lambda j: j.progress == 42)
    assert running.message == "42%|████▏ | 42/100 [00:01<00:01, 50.0it/s]"
    go.touch()
    done = await engine.wait(job.id, timeout=10)
    assert done.status is Status.COMPLETED
    assert done.message == "100%|██████████| 100/100 [00:02<00:00, 50.0it/s]"
    # The log holds what a terminal shows of the redrawn line: its last frame, once.
    assert await log(engine, job.id) == [
        "[stderr] 100%|██████████| 100/100 [00:02<00:00, 50.0it/s]"
    ]


async def test_explicit_progress_lines_win_over_other_percentages(
    engine: Engine, gate: tuple[str, Path]
) -> None:
    wait, go = gate
    command = (
        "printf '::progress 30 resizing images\\n'; "
        "printf 'cache 99%% full\\n::progress 55\\n'; "
        f"{wait}; printf '::progress 80.5%% uploading\\n'"
    )
    job = await engine.submit("shell", {"command": command})
    running = await until(engine, job.id, lambda j: j.progress == 55)
    # 99% is only text once the command speaks ::progress; the message is its last line.
    assert running.message == "cache 99% full"
    go.touch()
    done = await engine.wait(job.id, timeout=10)
    assert done.status is Status.COMPLETED and done.message == "uploading"
    lines = await log(engine, job.id)
    assert lines[0] == "::progress 30 resizing images"  # kept in the log
    assert "::progress 80.5% uploading" in lines


async def test_numbers_that_are_no_percentage_move_nothing(
    engine: Engine, gate: tuple[str, Path]
) -> None:
    wait, go = gate
    command = f"printf 'file 1234 of 5000, took 42 s, v2.5%% x42%% 1234%%\\n'; {wait}"
    job = await engine.submit("shell", {"command": command})
    running = await until(engine, job.id, lambda j: j.message.startswith("file"))
    assert running.progress == 0
    go.touch()
    assert (await engine.wait(job.id, timeout=10)).status is Status.COMPLETED


async def test_the_message_is_the_last_line_cleaned_and_clipped(
    engine: Engine, gate: tuple[str, Path]
) -> None:
    wait, go = gate
    long = "printf 'y%.0s' $(seq 300); echo"
    command = (
        f"{long}; {wait}; "
        "printf 'first\\n\\033[1;31mfailed to\\033[0m open\\tfile \\033]0;title\\007\\n\\n  \\n'"
    )
    job = await engine.submit("shell", {"command": command})
    running = await until(engine, job.id, lambda j: j.message.startswith("y"))
    assert running.message == "y" * MESSAGE_MAX + f"… ({300 - MESSAGE_MAX} more characters)"
    go.touch()
    done = await engine.wait(job.id, timeout=10)
    # escapes gone, tabs and runs of spaces as one, blank lines ignored
    assert done.status is Status.COMPLETED and done.message == "failed to open file"
    silent = await engine.wait((await engine.submit("shell", {"command": "true"})).id, 10)
    assert silent.message == "exit code 0"


async def test_before_any_output_the_message_is_the_command(
    engine: Engine, gate: tuple[str, Path]
) -> None:
    wait, go = gate
    job = await engine.submit("shell", {"command": wait})
    running = await until(engine, job.id, lambda j: bool(j.message))
    assert running.status is Status.RUNNING and running.message == f"$ {wait}"
    go.touch()
    assert (await engine.wait(job.id, timeout=10)).message == "exit code 0"


@pytest.mark.parametrize(
    ("line", "percent"),
    [
        ("42%", 42.0),
        ("  7.5% done", 7.5),
        ("[ 42%] built target, 100% soon", 100.0),
        ("200% cpu", 100.0),
        ("0%|", 0.0),
        ("step 3/10", None),
        ("v2.42%", None),
        ("x42%", None),
        ("1234%", None),
        ("42 %", None),
    ],
)
def test_percent_tokens(line: str, percent: float | None) -> None:
    assert percent_in(line) == percent


def test_explicit_lines_and_messages() -> None:
    assert explicit("::progress 42 message here") == (42.0, "message here")
    assert explicit("::progress 42%") == (42.0, None)
    assert explicit("::progress 420 x") == (100.0, "x")
    assert explicit("::progress soon") is None and explicit("say ::progress 4") is None
    assert message_of("\x1b[32mok\x1b[0m\x07 done") == "ok\\x07 done"
