"""Presets in Redis: RedisStore's part of the preset interface.

Keys (P is the store's prefix): P.."presets" maps a preset's name to the JSON of its
definition (without created_at), P.."preset_created" maps it to when it was first saved.
A save and a remove are each one Lua script, so a check for an existing name and the write
are one step however many clients save at once."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from tuiqueue.core.preset import Preset, PresetExists, UnknownPreset
from tuiqueue.store.redis_codec import num

SAVE = """
local key, made = ARGV[1] .. 'presets', ARGV[1] .. 'preset_created'
local old = redis.call('HGET', key, ARGV[2])
if old and ARGV[4] ~= '1' then
  return {'exists', old, redis.call('HGET', made, ARGV[2]) or '0'}
end
redis.call('HSET', key, ARGV[2], ARGV[3])
redis.call('HSETNX', made, ARGV[2], ARGV[5])
return {'saved', ARGV[3], redis.call('HGET', made, ARGV[2])}
"""

REMOVE = """
local key, made = ARGV[1] .. 'presets', ARGV[1] .. 'preset_created'
local old = redis.call('HGET', key, ARGV[2])
if not old then return {} end
local created = redis.call('HGET', made, ARGV[2]) or '0'
redis.call('HDEL', key, ARGV[2])
redis.call('HDEL', made, ARGV[2])
return {old, created}
"""


def _body(preset: Preset) -> str:
    data = preset.to_dict()
    del data["created_at"]
    return json.dumps(data)


def _read(body: str, created: str | None) -> Preset:
    data = json.loads(body)
    data["created_at"] = float(created or 0)
    return Preset.from_dict(data)


class RedisPresets:
    """The preset hashes of one RedisStore."""

    def __init__(
        self,
        client: Callable[[], Redis],
        prefix: str,
        call: Callable[..., Awaitable[Any]],
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._call = call
        self._scripts: dict[str, AsyncScript] = {}
        self._for: Redis | None = None

    def _script(self, name: str) -> AsyncScript:
        client = self._client()
        if self._for is not client:  # (registered per connection; it does no I/O)
            self._for = client
            self._scripts = {n: client.register_script(globals()[n]) for n in ("SAVE", "REMOVE")}
        return self._scripts[name]

    async def save_preset(self, preset: Preset, *, replace: bool = False) -> Preset:
        """See Store.save_preset."""
        reply = await self._call(
            self._script("SAVE"),
            args=[
                self._prefix,
                preset.name,
                _body(preset),
                "1" if replace else "0",
                num(preset.created_at),
            ],
        )
        stored = _read(reply[1], reply[2])
        if reply[0] == "exists":
            raise PresetExists(stored)
        return stored

    async def presets(self, type: str | None = None) -> list[Preset]:
        """See Store.presets."""
        client = self._client()
        pipe = client.pipeline(transaction=True)
        pipe.hgetall(self._prefix + "presets")
        pipe.hgetall(self._prefix + "preset_created")
        bodies, made = await self._call(pipe.execute)
        out = [_read(bodies[name], made.get(name)) for name in sorted(bodies)]
        return [p for p in out if type is None or p.type == type]

    async def preset(self, name: str) -> Preset | None:
        """See Store.preset."""
        client = self._client()
        pipe = client.pipeline(transaction=True)
        pipe.hget(self._prefix + "presets", name)
        pipe.hget(self._prefix + "preset_created", name)
        body, made = await self._call(pipe.execute)
        return None if body is None else _read(body, made)

    async def remove_preset(self, name: str) -> Preset:
        """See Store.remove_preset."""
        reply = await self._call(self._script("REMOVE"), args=[self._prefix, name])
        if not reply:
            raise UnknownPreset(name)
        return _read(reply[0], reply[1])
