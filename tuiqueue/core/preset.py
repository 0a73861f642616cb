"""Presets: a named, saved form (a job type with its params, priority and queue) that
anyone on the store can submit again by name."""

from __future__ import annotations

import re
from typing import Any

from tuiqueue.core.plain import FrozenRecord
from tuiqueue.core.queues import DEFAULT_QUEUE
from tuiqueue.core.status import Priority
from tuiqueue.core.text import quote

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
"""A preset's name: the rule schedule names follow (safe in a shell and a key)."""


class PresetError(ValueError):
    """A preset cannot be saved or used as it is; the message is one line saying why."""


class UnknownPreset(LookupError):
    """No preset has that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no preset named {quote(name)} (see `tuiqueue preset list`)")
        self.name = name


class PresetExists(ValueError):
    """A preset of that name exists already (saving over it must be asked for)."""

    def __init__(self, existing: Preset) -> None:
        super().__init__(
            f"a preset named {quote(existing.name)} exists already "
            f"(for {quote(existing.type)}): overwrite it, or pick another name"
        )
        self.name = existing.name
        self.existing = existing


def check_preset_name(name: str) -> str:
    """The name, or PresetError saying what a name may hold."""
    if not NAME_RE.match(name):
        raise PresetError(
            f"preset name {quote(name)}: use letters, digits and _ . : - "
            "(up to 100, starting with a letter or digit)"
        )
    return name


class Preset(FrozenRecord):
    """A saved form: what `submit --preset NAME` and the dashboard's preset list fill in
    (a frozen plain record: core/plain.py)."""

    __slots__ = __match_args__ = (
        "name",
        "type",
        "params",
        "priority",
        "queue",
        "created_at",
        "updated_at",
    )
    name: str
    type: str
    params: dict[str, Any]
    """The params as saved (checked against the type's schema then; defaults not filled in,
    so a type's changed default still applies to what the preset leaves out)."""
    priority: Priority
    queue: str
    created_at: float
    updated_at: float
    """When it was last saved (overwriting keeps created_at)."""

    def __init__(
        self,
        name: str,
        type: str,
        params: dict[str, Any] | None = None,
        priority: Priority = Priority.NORMAL,
        queue: str = DEFAULT_QUEUE,
        created_at: float = 0.0,
        updated_at: float = 0.0,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "name", name)
        set_(self, "type", type)
        set_(self, "params", {} if params is None else params)  # (default_factory=dict)
        set_(self, "priority", priority)
        set_(self, "queue", queue)
        set_(self, "created_at", created_at)
        set_(self, "updated_at", updated_at)
        check_preset_name(name)  # (the dataclass's __post_init__)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (`tuiqueue preset list --json`, and what stores keep)."""
        return {
            "name": self.name,
            "type": self.type,
            "params": self.params,
            "priority": str(self.priority),
            "queue": self.queue,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preset:
        """Read to_dict() back (a priority by name or by number)."""
        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            params=dict(data.get("params") or {}),
            priority=Priority.parse(data.get("priority", int(Priority.NORMAL))),
            queue=str(data.get("queue") or DEFAULT_QUEUE),
            created_at=float(data.get("created_at") or 0.0),
            updated_at=float(data.get("updated_at") or 0.0),
        )

    def saved_over(self, old: Preset | None) -> Preset:
        """This preset as stored over `old` (same name): it keeps old's created_at."""
        if old is None:
            return self
        return Preset(
            self.name,
            self.type,
            self.params,
            self.priority,
            self.queue,
            old.created_at,
            self.updated_at,
        )
