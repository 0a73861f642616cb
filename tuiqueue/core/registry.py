"""The registry of job types and the @job_type decorator that fills it."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tuiqueue.core.params import Param, Schema
from tuiqueue.core.text import quote

ENTRY_POINT_GROUP = "tuiqueue.job_types"

JobFunction = Callable[..., Awaitable[Any]] | Callable[..., Any]
F = TypeVar("F", bound=Callable[..., Any])


ISOLATIONS = ("thread", "process")


class UnknownJobType(LookupError):
    """A job names a type that no loaded module registered."""


@dataclass(frozen=True, slots=True)
class JobType:
    """A named kind of job: its function, description and parameter schema."""

    name: str
    fn: JobFunction
    description: str = ""
    schema: Schema = field(default_factory=Schema)
    retry_safe: bool = False
    """True when running it again after a crash does no harm (it may be requeued)."""
    max_attempts: int = 1
    """Runs allowed in total, counting retries after failures and crashes."""
    timeout: float | None = None
    """Seconds a run may take before it is stopped and failed."""
    isolation: str = "thread"
    """"process": the body runs in a child process of its own (killable, crash-contained);
    "thread" (the default): in the worker, an `async def` in its event loop, a `def` in a thread."""
    every: str | None = None
    """A default schedule declared in code ("1h"): created by the first worker to start."""
    cron: str | None = None
    """A default schedule as a cron expression (instead of every)."""
    is_async: bool = field(init=False, compare=False)
    """An `async def` runs in the event loop; a plain `def` runs in a worker thread."""

    def __post_init__(self) -> None:
        # Decided once here: inspecting the function on every run showed up in profiles.
        object.__setattr__(self, "is_async", inspect.iscoroutinefunction(self.fn))
        if self.isolation not in ISOLATIONS:
            raise ValueError(
                f"job type {self.name!r}: isolation must be one of {', '.join(ISOLATIONS)}, "
                f"not {self.isolation!r}"
            )

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
            doc = (inspect.getdoc(fn) or "").strip().splitlines()
            self.add(
                JobType(
                    name=name or fn.__name__,
                    fn=fn,
                    description=description or (doc[0] if doc else ""),
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
