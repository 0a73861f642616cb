"""The records that are plain classes (core/plain.py) behave as the dataclasses they replaced:
the same constructor, repr, ==, hash, frozenness, match args, copies and pickles."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from typing import Any

import pytest

from tuiqueue.core.history import History, TypeHistory
from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.params import Param, Schema
from tuiqueue.core.preset import Preset
from tuiqueue.core.queues import ClaimScope, QueueInfo
from tuiqueue.core.records import BulkResult, Changes, JobProcess, LogPage, Stats, WorkerInfo
from tuiqueue.core.registry import JobType
from tuiqueue.core.status import Priority, Status

FACTORY = object()
"""A field whose dataclass default was a default_factory (a new empty list or dict)."""

# The dataclasses as they were: (frozen, fields with their defaults).
WAS: dict[type, tuple[bool, list[tuple[str, Any]]]] = {
    ClaimScope: (True, [("types", None), ("queues", None)]),
    QueueInfo: (
        True, [("name",), ("paused", False), ("limit", None), ("running", 0), ("pending", 0)]
    ),
    TypeHistory: (
        True,
        [("type",), ("completed", 0), ("failed", 0), ("cancelled", 0), ("p50", None), ("p95", None),
         ("timed", 0)],
    ),
    History: (
        True,
        [("since",), ("now",), ("width",), ("completed",), ("failed",), ("cancelled",), ("types",),
         ("overall",), ("sampled", False)],
    ),
    WorkerInfo: (
        False,
        [("id",), ("host",), ("pid",), ("concurrency",), ("started_at",), ("heartbeat",),
         ("running", 0), ("processed", 0), ("stopped", False), ("error", ""), ("holds_lock", None),
         ("types", None), ("queues", None)],
    ),
    JobProcess: (True, [("token",), ("host",), ("pgid",), ("start_time",)]),
    Changes: (True, [("version",), ("jobs", FACTORY), ("deleted", FACTORY)]),
    LogPage: (True, [("lines",), ("dropped",)]),
    Stats: (
        True,
        [("counts",), ("active",), ("capacity",), ("processed",), ("queue_paused",), ("workers", 0),
         ("fleet_active", 0), ("fleet_capacity", 0), ("fleet_processed", 0), ("queues", ())],
    ),
    BulkResult: (True, [("done", ()), ("jobs", ()), ("skipped", FACTORY)]),
    Job: (
        False,
        [("id",), ("type",), ("params",), ("priority", Priority.NORMAL), ("status", Status.PENDING),
         ("progress", 0.0), ("message", ""), ("result", None), ("error", None), ("traceback", None),
         ("created_at", 0.0), ("started_at", None), ("finished_at", None), ("run_at", None),
         ("attempts", 0), ("max_attempts", 1), ("timeout", None), ("worker", None), ("token", None),
         ("rerun_of", None), ("depends_on", FACTORY), ("cancel_requested", 0), ("version", 0),
         ("updated_at", 0.0), ("log_count", 0), ("queue", "default")],
    ),
    NewJob: (
        True,
        [("type",), ("params",), ("priority", Priority.NORMAL), ("run_at", None),
         ("depends_on", ()), ("rerun_of", None), ("max_attempts", 1), ("timeout", None),
         ("queue", "default")],
    ),
    Preset: (
        True,
        [("name",), ("type",), ("params", FACTORY), ("priority", Priority.NORMAL),
         ("queue", "default"), ("created_at", 0.0), ("updated_at", 0.0)],
    ),
    Param: (
        True,
        [("name",), ("kind", "str"), ("default", None), ("min", None), ("max", None),
         ("max_length", None), ("required", False), ("help", ""), ("choices", ()), ("label", "")],
    ),
    Schema: (True, [("params", ())]),
    # (and is_async, a field out of __init__, ==, and hash: now a property, out of repr)
    JobType: (
        True,
        [("name",), ("fn",), ("description", ""), ("schema", FACTORY), ("retry_safe", False),
         ("max_attempts", 1), ("timeout", None), ("isolation", "thread"), ("every", None),
         ("cron", None)],
    ),
}  # fmt: skip
VALID = {JobType: {"isolation": "process"}}
"""Values a record checks (the other fields get "v0", "v1"...)."""


def _reference(cls: type) -> type:
    """The dataclass cls was."""
    frozen, spec = WAS[cls]
    fields: list[Any] = []
    for name, *default in spec:
        if not default:
            fields.append((name, Any))
        elif default[0] is FACTORY:
            factory = {"skipped": dict, "params": dict, "schema": Schema}.get(name, list)
            fields.append((name, Any, dataclasses.field(default_factory=factory)))
        else:
            fields.append((name, Any, dataclasses.field(default=default[0])))
    ref = dataclasses.make_dataclass(cls.__name__, fields, frozen=frozen, slots=True)
    ref.__qualname__ = cls.__qualname__
    return ref


@pytest.mark.parametrize("cls", list(WAS), ids=lambda c: c.__name__)
def test_a_plain_record_behaves_as_its_dataclass(cls: type) -> None:
    ref = _reference(cls)
    frozen, spec = WAS[cls]
    names = [name for name, *_ in spec]
    mine, theirs = inspect.signature(cls).parameters, inspect.signature(ref).parameters
    assert list(mine) == list(theirs) == names
    for name, *default in spec:
        if default and default[0] is FACTORY:
            assert mine[name].default is None
        else:
            assert mine[name].default == theirs[name].default, name
    assert cls.__match_args__ == ref.__match_args__  # type: ignore[attr-defined]

    values = {name: f"v{i}" for i, name in enumerate(names)} | VALID.get(cls, {})
    a, b = cls(**values), ref(**values)
    assert repr(a) == repr(b)
    assert a == cls(**values) and not a != cls(**values)
    assert a != cls(**{**values, names[-1]: "other"})
    assert a != b  # (another class: neither says equal, as between two dataclasses)
    assert not hasattr(a, "__dict__")
    if frozen:
        assert hash(a) == hash(b) == hash(cls(**values))
        for obj, errors in ((a, mine_errors := []), (b, their_errors := [])):
            for change in (lambda o: setattr(o, names[0], 1), lambda o: delattr(o, names[0])):
                with pytest.raises(AttributeError) as error:
                    change(obj)
                errors.append(str(error.value))
        assert mine_errors == their_errors
    else:
        with pytest.raises(TypeError):
            hash(a)
        setattr(a, names[0], "changed")
        setattr(b, names[0], "changed")
        assert repr(a) == repr(b)
    for twin in (copy.copy(a), copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert twin == a and type(twin) is cls

    required = {name: f"v{i}" for i, (name, *default) in enumerate(spec) if not default}
    required |= {k: v for k, v in VALID.get(cls, {}).items() if k in required}
    bare, bare_ref = cls(**required), ref(**required)
    assert repr(bare) == repr(bare_ref)
    for name, *default in spec:
        if default and default[0] is FACTORY:
            assert getattr(bare, name) is not getattr(cls(**required), name)  # a new one each


@pytest.mark.parametrize("cls", list(WAS), ids=lambda c: c.__name__)
def test_the_dataclasses_functions_still_work_on_a_plain_record(cls: type) -> None:
    """dataclasses.fields, replace, asdict, astuple and is_dataclass (people use them on
    Job) work as on the dataclass it was."""
    ref = _reference(cls)
    values = {name: f"v{i}" for i, (name, *_) in enumerate(WAS[cls][1])} | VALID.get(cls, {})
    a, b = cls(**values), ref(**values)
    assert dataclasses.is_dataclass(cls) and dataclasses.is_dataclass(a)
    assert [f.name for f in dataclasses.fields(a)] == [f.name for f in dataclasses.fields(b)]
    for mine, theirs in zip(dataclasses.fields(cls), dataclasses.fields(ref), strict=True):
        if theirs.default is not dataclasses.MISSING:
            assert mine.default == theirs.default
        elif theirs.default_factory is dataclasses.MISSING:
            assert mine.default is dataclasses.MISSING
    assert dataclasses.asdict(a) == dataclasses.asdict(b)
    assert dataclasses.astuple(a) == dataclasses.astuple(b)
    last = WAS[cls][1][-1][0]
    changed = dataclasses.replace(a, **{last: "new"})  # type: ignore[type-var]
    assert type(changed) is cls and getattr(changed, last) == "new"
    assert repr(changed) == repr(dataclasses.replace(b, **{last: "new"}))


def test_a_job_type_knows_whether_it_is_async_without_inspecting_each_time() -> None:
    async def body(ctx: object) -> None: ...

    def plain(ctx: object) -> None: ...

    kind = JobType("a", body)
    assert kind.is_async and kind.is_async  # (the second from the first's answer)
    assert not JobType("b", plain).is_async
    assert JobType("a", body) == kind and hash(JobType("a", body)) == hash(kind)
    with pytest.raises(ValueError, match="isolation must be one of"):
        JobType("c", plain, isolation="fork")
