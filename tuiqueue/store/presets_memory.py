"""Presets kept in memory: MemoryStore's part of the preset interface."""

from __future__ import annotations

from tuiqueue.core.preset import Preset, PresetExists, UnknownPreset


class MemoryPresets:
    """Presets by name."""

    def __init__(self) -> None:
        self._by_name: dict[str, Preset] = {}

    async def save_preset(self, preset: Preset, *, replace: bool = False) -> Preset:
        """See Store.save_preset."""
        old = self._by_name.get(preset.name)
        if old is not None and not replace:
            raise PresetExists(old)
        stored = preset.saved_over(old)
        self._by_name[preset.name] = stored
        return stored

    async def presets(self, type: str | None = None) -> list[Preset]:
        """See Store.presets."""
        return [
            self._by_name[name]
            for name in sorted(self._by_name)
            if type is None or self._by_name[name].type == type
        ]

    async def preset(self, name: str) -> Preset | None:
        """See Store.preset."""
        return self._by_name.get(name)

    async def remove_preset(self, name: str) -> Preset:
        """See Store.remove_preset."""
        try:
            return self._by_name.pop(name)
        except KeyError:
            raise UnknownPreset(name) from None
