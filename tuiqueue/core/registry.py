"""The registry of job types and the @job_type decorator that fills it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from tuiqueue.core.params import Param, Schema
from tuiqueue.core.plain import FrozenRecord
from tuiqueue.core.text import quote

ENTRY_POINT_GROUP = "tuiqueue.job_types"

JobFunction = Callable[..., Awaitable[Any]] | Callable[..., Any]
F = TypeVar("F", bound=Callable[..., Any])


ISOLATIONS = ("thread", "process")


class UnknownJobType(LookupError):
    """A job names a type that no loaded module registered."""


class JobType(FrozenRecord):
    """A named kind of job: its function, description and parameter schema (a frozen plain
    record: core/plain.py)."""

    __match_args__ = (
        "name",
        "fn",
        "description",
        "schema",
        "retry_safe",
        "max_attempts",
        "timeout",
        "isolation",
        "every",
        "cron",
    )
    __slots__ = (*__match_args__, "_is_async")
    name: str
    fn: JobFunction
    description: str
    schema: Schema
    retry_safe: bool
    """True when running it again after a crash does no harm (it may be requeued)."""
    max_attempts: int
    """Runs allowed in total, counting retries after failures and crashes."""
    timeout: float | None
    """Seconds a run may take before it is stopped and failed."""
    isolation: str
    """"process": the body runs in a child process of its own (killable, crash-contained);
    "thread" (the default): in the worker, an `async def` in its event loop, a `def` in a thread."""
    every: str | None
    """A default schedule declared in code ("1h"): created by the first worker to start."""
    cron: str | None
    """A default schedule as a cron expression (instead of every)."""
    _is_async: bool | None

    def __init__(
        self,
        name: str,
        fn: JobFunction,
        description: str = "",
        schema: Schema | None = None,
        retry_safe: bool = False,
        max_attempts: int = 1,
        timeout: float | None = None,
        isolation: str = "thread",
        every: str | None = None,
        cron: str | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "name", name)
        set_(self, "fn", fn)
        set_(self, "description", description)
        set_(self, "schema", Schema() if schema is None else schema)  # (default_factory)
        set_(self, "retry_safe", retry_safe)
        set_(self, "max_attempts", max_attempts)
        set_(self, "timeout", timeout)
        set_(self, "isolation", isolation)
        set_(self, "every", every)
        set_(self, "cron", cron)
        set_(self, "_is_async", None)
        if isolation not in ISOLATIONS:
            raise ValueError(
                f"job type {name!r}: isolation must be one of {', '.join(ISOLATIONS)}, "
                f"not {isolation!r}"
            )

    @property
    def is_async(self) -> bool:
        """An `async def` runs in the event loop; a plain `def` runs in a worker thread."""
        found = self._is_async
        if found is None:
            # Decided once (inspecting the function on every run showed up in profiles), on
            # first use: `tuiqueue submit` registers every type and runs none, and inspect
            # is ~4 ms of it.
            import inspect

            found = inspect.iscoroutinefunction(self.fn)
            object.__setattr__(self, "_is_async", found)
        return found

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `tuiqueue types --json`."""
        return {
            "name": self.name,
            "description": self.description,
            "params": [p.to_dict() for p in self.schema.params],
            "retry_safe": self.retry_safe,
            "max_attempts": self.max_attempts,
            "timeout": self.timeout,
            "isolation": self.isolation,
        }


class Registry:
    """Job types by name."""

    def __init__(self) -> None:
        self._types: dict[str, JobType] = {}
        self._names: frozenset[str] | None = None

    def add(self, job_type: JobType) -> None:
        """Register (or replace) a job type."""
        self._types[job_type.name] = job_type
        self._names = None

    def names(self) -> frozenset[str]:
        """The registered type names (the same object until a type is added)."""
        if self._names is None:
            self._names = frozenset(self._types)
        return self._names

    def get(self, name: str) -> JobType:
        """The job type called name, or UnknownJobType with the known names."""
        try:
            return self._types[name]
        except KeyError:
            known = ", ".join(sorted(self._types)) or "none"
            raise UnknownJobType(f"unknown job type {quote(name)} (known types: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Any:
        return iter(sorted(self._types.values(), key=lambda t: t.name))

    def __len__(self) -> int:
        return len(self._types)

    def copy(self) -> Registry:
        """A registry with the same types that can be extended independently."""
        clone = Registry()
        clone._types = dict(self._types)
        clone._names = None
        return clone

    def job_type(
        self,
        name: str | None = None,
        *,
        description: str = "",
        params: Sequence[Param] = (),
        retry_safe: bool = False,
        max_attempts: int = 1,
        timeout: float | None = None,
        isolation: str = "thread",
        every: str | None = None,
        cron: str | None = None,
    ) -> Callable[[F], F]:
        """Decorator: register fn as a job type taking (ctx, **params)."""

        def register(fn: F) -> F:
            self.add(
                JobType(
                    name=name or fn.__name__,
                    fn=fn,
                    description=description or _first_doc_line(fn),
                    schema=Schema(tuple(params)),
                    retry_safe=retry_safe,
                    max_attempts=max(1, max_attempts),
                    timeout=timeout,
                    isolation=isolation,
                    every=every,
                    cron=cron,
                )
            )
            return fn

        return register


def _first_doc_line(fn: Callable[..., Any]) -> str:
    """The first line of fn's docstring, or "" (inspect only for a type given no description)."""
    import inspect

    doc = (inspect.getdoc(fn) or "").strip().splitlines()
    return doc[0] if doc else ""


REGISTRY = Registry()
"""The default registry: built-in types plus whatever user modules register."""

job_type = REGISTRY.job_type


class JobModuleError(ImportError):
    """A --jobs module could not be loaded."""


def load_module(spec: str) -> None:
    """Import a job module by dotted name or by path to a .py file."""
    try:
        if spec.endswith(".py") or "/" in spec:
            path = Path(spec).expanduser().resolve()
            if not path.is_file():
                raise JobModuleError(f"job module {spec!r} not found (no such file)")
            name = f"tuiqueue_user_{path.stem}"
            from importlib.util import module_from_spec, spec_from_file_location  # (a file)

            module_spec = spec_from_file_location(name, path)
            if module_spec is None or module_spec.loader is None:
                raise JobModuleError(f"job module {spec!r} cannot be imported")
            module = module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            if "" not in sys.path and str(Path.cwd()) not in sys.path:
                sys.path.insert(0, str(Path.cwd()))
            importlib.import_module(spec)
    except JobModuleError:
        raise
    except Exception as exc:
        raise JobModuleError(
            f"job module {spec!r} failed to load: {type(exc).__name__}: {exc}"
        ) from exc


def ensure_job_types() -> None:
    """Load the installed job types once, unless load_job_types already did (Engine's default)."""
    if not _loaded:
        load_job_types()


_loaded = False


def load_job_types(
    modules: Iterable[str] = (), *, entry_point_group: str = ENTRY_POINT_GROUP
) -> None:
    """Load installed entry points (the built-ins among them), then the given modules."""
    # Not importlib.metadata itself: its import and scan are most of a short command's time
    # (the cache re-scans whenever an install or uninstall may have changed the answer).
    from tuiqueue.core.entry_points import entry_points, load_entry_point

    global _loaded
    _loaded = _loaded or entry_point_group == ENTRY_POINT_GROUP
    for name, value in entry_points(entry_point_group):
        try:
            load_entry_point(value)
        except Exception as exc:
            raise JobModuleError(
                f"job types entry point {name!r} ({value}) failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    for spec in modules:
        load_module(spec)
