"""What `tuiqueue wait` and `events` print: job text cleaned, a bar only on a terminal."""

from __future__ import annotations

import io
import json

from tuiqueue.cli.follow import Progress, event_dict, event_line, exit_code
from tuiqueue.core.events import Event, EventKind
from tuiqueue.core.job import Job
from tuiqueue.core.status import Status

EVIL = "\x1b]0;owned\x07[bold red]hi[/]\nnext"


def _job(job_id: int, status: Status, **kw: object) -> Job:
    return Job(id=job_id, type="shell", params={}, status=status, **kw)  # type: ignore[arg-type]


def test_progress_on_a_terminal_draws_a_bar_with_job_text_cleaned() -> None:
    out = io.StringIO()
    bar = Progress(out, tty=True)
    bar.update(
        {1: _job(1, Status.RUNNING, progress=40.0, message=EVIL), 2: _job(2, Status.PENDING)}
    )
    text = out.getvalue()
    assert "[####-----" in text and "0/2 done" in text and "#1 40%" in text
    assert "\x07" not in text and "\x1b]" not in text and "\n" not in text
    assert "\\x1b]0;owned\\x07[bold red]hi[/]⏎next" in text  # shown, never run or styled
    bar.update({1: _job(1, Status.FAILED, error=EVIL), 2: _job(2, Status.COMPLETED)})
    lines = out.getvalue().split("\n")
    assert lines[-3].endswith("1 failed: \\x1b]0;owned\\x07[bold red]hi[/]⏎next")
    assert lines[-2].endswith("2 completed")


def test_progress_off_a_terminal_is_plain_lines() -> None:
    out = io.StringIO()
    plain = Progress(out, tty=False)
    plain.update({3: _job(3, Status.PENDING)})
    plain.update({3: _job(3, Status.RUNNING, progress=5.0)})
    plain.update({3: _job(3, Status.RUNNING, progress=7.0)})  # no new line for a small step
    plain.update({3: _job(3, Status.COMPLETED)})
    assert out.getvalue() == "3 pending 0%\n3 running 5%\n3 completed\n"


def test_event_line_and_dict() -> None:
    job = _job(4, Status.RUNNING, message=EVIL)
    line = event_line(Event(EventKind.JOB, 4, job))
    assert "\x1b" not in line and "\x07" not in line and "\n" not in line
    logs = event_line(Event(EventKind.LOG, 4, lines=(EVIL,)))
    assert "\x1b" not in logs and logs.count("\n") == 0
    data = json.dumps(event_dict(Event(EventKind.JOB, 4, job)), ensure_ascii=True)
    assert json.loads(data)["job"]["message"] == EVIL and "\x1b" not in data


def test_exit_code() -> None:
    done, failed, cancelled = (
        _job(1, s) for s in (Status.COMPLETED, Status.FAILED, Status.CANCELLED)
    )
    assert exit_code([done]) == 0
    assert exit_code([done, failed]) == 1
    assert exit_code([done, cancelled]) == 3
    assert exit_code([cancelled, failed]) == 1
