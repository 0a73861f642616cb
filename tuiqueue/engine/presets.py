"""The engine's presets: checked against the job types when saved, and again when used
(a type that is gone, or params its schema no longer takes, get a message saying so)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tuiqueue.core.params import ValidationError
from tuiqueue.core.preset import Preset, PresetError, UnknownPreset, check_preset_name
from tuiqueue.core.queues import DEFAULT_QUEUE, check_queue_name
from tuiqueue.core.registry import Registry
from tuiqueue.core.status import Priority
from tuiqueue.core.text import quote
from tuiqueue.store.base import Store


class PresetBook:
    """Makes checked presets and the params of the jobs made from them."""

    def __init__(self, store: Store, registry: Registry, clock: Callable[[], float]) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock

    def define(
        self,
        name: str,
        type: str,
        params: Mapping[str, Any] | None = None,
        *,
        priority: Priority | str | int = Priority.NORMAL,
        queue: str = DEFAULT_QUEUE,
    ) -> Preset:
        """A checked new preset (PresetError, UnknownJobType, ValidationError, QueueNameError).

        It keeps the params it was given, each cleaned (the type's defaults are not copied
        in, so a default that changes later still applies to what the preset leaves out)."""
        check_preset_name(name)
        given = dict(params or {})
        clean = self.registry.get(type).schema.validate(given, type)
        now = self.clock()
        return Preset(
            name=name,
            type=type,
            params={k: clean[k] for k in given if k in clean},
            priority=Priority.parse(priority),
            queue=check_queue_name(queue),
            created_at=now,
            updated_at=now,
        )

    async def get(self, name: str) -> Preset:
        """The preset called name, or UnknownPreset."""
        preset = await self.store.preset(name)
        if preset is None:
            raise UnknownPreset(name)
        return preset

    def job_params(self, preset: Preset, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """The preset's params with overrides over them, checked (ValidationError for a bad
        override; PresetError when the preset itself no longer fits its job type)."""
        if preset.type not in self.registry:
            known = ", ".join(sorted(self.registry.names())) or "none"
            raise PresetError(
                f"preset {quote(preset.name)} makes {quote(preset.type)} jobs, a job type not "
                f"loaded here (known types: {known}): load its module (--jobs) or remove "
                "the preset"
            )
        merged = {**preset.params, **overrides}
        try:
            self.registry.get(preset.type).schema.validate(merged, preset.type)
        except ValidationError as exc:
            stale = [e for k, e in exc.errors.items() if k in preset.params and k not in overrides]
            if stale:
                raise PresetError(
                    f"preset {quote(preset.name)} no longer fits job type {quote(preset.type)}: "
                    f"{'; '.join(stale)}. Override it (-p NAME=VALUE), save the preset again "
                    "(with --force) or remove it"
                ) from exc
            raise
        return merged
