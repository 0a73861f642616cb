"""Validation of job parameters, in words a person understands, and the transition table."""

from __future__ import annotations

import math

import pytest

from tuiqueue.core.job import Job
from tuiqueue.core.lifecycle import apply_command
from tuiqueue.core.params import Param, Schema, ValidationError
from tuiqueue.core.registry import REGISTRY, UnknownJobType, load_job_types
from tuiqueue.core.status import (
    TERMINAL,
    TRANSITIONS,
    Priority,
    Status,
    TransitionError,
    check_transition,
)

load_job_types()


def errors_of(type_name: str, params: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        REGISTRY.get(type_name).schema.validate(params, type_name)
    return info.value.errors


def test_defaults_filled_in() -> None:
    assert REGISTRY.get("countdown").schema.validate({}) == {"seconds": 10}
    assert REGISTRY.get("echo").schema.validate({"delay": 3}) == {
        "message": "Hello from tuiqueue!",
        "delay": 3,
    }


@pytest.mark.parametrize("value", [0, 61, -5])
def test_out_of_range(value: int) -> None:
    assert errors_of("countdown", {"seconds": value}) == {
        "seconds": "seconds must be between 1 and 60"
    }


def test_every_error_at_once() -> None:
    errors = errors_of("echo", {"message": "x" * 1001, "delay": 0, "colour": "red"})
    assert errors == {
        "colour": "unknown parameter 'colour' (echo takes message, delay)",
        "message": "message must be at most 1000 characters (got 1001)",
        "delay": "delay must be between 1 and 30",
    }


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_refused(value: float) -> None:
    errors = errors_of("fetch_urls", {"urls": ["http://x.test"], "timeout": value})
    assert errors == {"timeout": "timeout must be a finite number (not NaN or infinity)"}
    assert errors_of("countdown", {"seconds": value}) == {
        "seconds": "seconds must be a whole number"
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ten", "seconds must be a whole number"),
        (True, "seconds must be a whole number"),
        (2.5, "seconds must be a whole number"),
        ([1], "seconds must be a whole number"),
        (2**70, "seconds is too large"),
    ],
)
def test_wrong_type(value: object, message: str) -> None:
    assert errors_of("countdown", {"seconds": value}) == {"seconds": message}


def test_whole_float_is_an_int() -> None:
    assert REGISTRY.get("countdown").schema.validate({"seconds": 5.0}) == {"seconds": 5}


@pytest.mark.parametrize(
    ("urls", "message"),
    [
        (
            ["ftp://example.com/x"],
            "urls item 1 must be an http:// or https:// URL (got 'ftp://example.com/x')",
        ),
        (
            ["http://ok.test", "file:///etc/passwd"],
            "urls item 2 must be an http:// or https:// URL (got 'file:///etc/passwd')",
        ),
        (["http://"], "urls item 1 has no host name (got 'http://')"),
        ([], "urls needs at least 1 item"),
        ([f"http://h{i}.test" for i in range(11)], "urls takes at most 10 items (got 11)"),
        (["http://x.test/" + "a" * 2000], "urls item 1 must be at most 2000 characters (got 2014)"),
        ([5], "urls item 1 must be text"),
        ({"a": 1}, "urls must be a list"),
    ],
)
def test_bad_urls(urls: object, message: str) -> None:
    assert errors_of("fetch_urls", {"urls": urls}) == {"urls": message}


def test_required_missing() -> None:
    assert errors_of("fetch_urls", {}) == {"urls": "urls is required"}
    assert errors_of("shell", {"command": "  "}) == {"command": "command is required"}


def test_params_must_be_an_object() -> None:
    with pytest.raises(ValidationError, match="params must be an object"):
        Schema().validate([1, 2])  # type: ignore[arg-type]


def test_default_string_bound() -> None:
    schema = Schema((Param("note", "str"),))
    with pytest.raises(ValidationError, match="note must be at most 10000 characters"):
        schema.validate({"note": "x" * 10_001})


def test_choice_and_bool() -> None:
    schema = Schema((Param("mode", "choice", choices=("a", "b")), Param("flag", "bool")))
    assert schema.validate({"mode": "a", "flag": False}) == {"mode": "a", "flag": False}
    with pytest.raises(ValidationError) as info:
        schema.validate({"mode": "c", "flag": "yes"})
    assert info.value.errors == {
        "mode": "mode must be one of: a, b",
        "flag": "flag must be true or false",
    }


def test_parse_texts_from_command_line() -> None:
    schema = REGISTRY.get("fetch_urls").schema
    assert schema.parse_texts(
        [("urls", "http://a.test"), ("urls", "http://b.test"), ("timeout", "2.5")]
    ) == {"urls": ["http://a.test", "http://b.test"], "timeout": 2.5}
    with pytest.raises(ValidationError) as info:
        REGISTRY.get("countdown").schema.parse_texts([("seconds", "abc"), ("x", "1")], "countdown")
    assert info.value.errors == {
        "seconds": "seconds must be a whole number (got 'abc')",
        "x": "unknown parameter 'x' (countdown takes seconds)",
    }
    with pytest.raises(ValidationError, match="must be a finite number"):
        REGISTRY.get("fetch_urls").schema.parse_texts(
            [("urls", "http://a.test"), ("timeout", "nan")]
        )


def test_unknown_type_names_known_ones() -> None:
    with pytest.raises(UnknownJobType, match=r"unknown job type 'nope' .*countdown"):
        REGISTRY.get("nope")


def test_priority_parse() -> None:
    assert Priority.parse("HIGH") is Priority.HIGH
    assert Priority.parse(3) is Priority.CRITICAL
    assert Priority.parse("0") is Priority.LOW
    with pytest.raises(ValueError, match="priority must be one of low, normal, high, critical"):
        Priority.parse("urgent")
    with pytest.raises(ValueError):
        Priority.parse(True)  # type: ignore[arg-type]


# -- transitions ---------------------------------------------------------------------


@pytest.mark.parametrize("current", list(Status))
@pytest.mark.parametrize("target", list(Status))
def test_every_transition(current: Status, target: Status) -> None:
    if target in TRANSITIONS[current]:
        check_transition(12, current, target)
        return
    with pytest.raises(TransitionError) as info:
        check_transition(12, current, target)
    if current in TERMINAL:
        assert str(info.value) == f"job 12 is already {current}"
    else:
        assert str(info.value) == f"job 12 is {current} and cannot become {target}"


def test_terminal_statuses_are_final() -> None:
    for status in TERMINAL:
        assert TRANSITIONS[status] == frozenset()


def _job(status: Status, token: str | None = None) -> Job:
    return Job(12, "countdown", {}, status=status, token=token)


@pytest.mark.parametrize("status", sorted(TERMINAL))
@pytest.mark.parametrize("command", ["cancel", "pause", "resume"])
def test_commands_on_finished_jobs(status: Status, command: str) -> None:
    with pytest.raises(TransitionError, match=f"^job 12 is already {status}$"):
        apply_command(_job(status), command, 0.0, {})  # type: ignore[arg-type]


def test_command_results() -> None:
    pending = _job(Status.PENDING)
    assert apply_command(pending, "pause", 0.0, {})
    assert pending.status is Status.PAUSED
    assert not apply_command(pending, "pause", 0.0, {})
    assert apply_command(pending, "resume", 0.0, {})
    assert pending.status is Status.PENDING
    assert not apply_command(pending, "resume", 0.0, {})
    assert apply_command(pending, "cancel", 5.0, {})
    assert pending.status is Status.CANCELLED and pending.finished_at == 5.0

    running = _job(Status.RUNNING, token="t")
    assert apply_command(running, "cancel", 0.0, {})
    assert running.status is Status.RUNNING and running.cancel_requested
    assert not apply_command(running, "cancel", 0.0, {})

    paused_run = _job(Status.RUNNING, token="t")
    apply_command(paused_run, "pause", 0.0, {})
    assert paused_run.status is Status.PAUSED
    apply_command(paused_run, "resume", 0.0, {})
    assert paused_run.status is Status.RUNNING

    waiting = Job(13, "countdown", {}, status=Status.PAUSED, depends_on=[12])
    apply_command(waiting, "resume", 0.0, {12: Status.RUNNING})
    assert waiting.status is Status.WAITING
    scheduled = Job(14, "countdown", {}, status=Status.PAUSED, run_at=100.0)
    apply_command(scheduled, "resume", 50.0, {})
    assert scheduled.status is Status.SCHEDULED
