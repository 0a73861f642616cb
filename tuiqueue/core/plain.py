"""Small records without the dataclasses module: what @dataclass(slots=True) would give them.

The short commands (`tuiqueue list`...) load the store, whose records are a dozen small
classes. As dataclasses, each costs ~0.7 ms to create (generated methods are compiled at
import) and the first one imports dataclasses with inspect, ast, dis and tokenize (~6 ms):
together a quarter of such a command. So the records only the library itself builds are
plain classes: a subclass lists its fields in `__slots__`, in order, and writes its own
`__init__` (with the dataclass's signature); repr, ==, hash (frozen ones), refusal to assign
(frozen ones), copy and pickle come from here, the same as the dataclass's
(tests/test_core_plain.py compares them with the dataclasses they replaced).
The public records people build themselves (Job, NewJob) stay dataclasses.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FrozenRecord", "Record"]


class Record:
    """A mutable record: fields in `__slots__`; == compares them; unhashable (defining __eq__
    sets __hash__ to None, as for a dataclass with eq); repr shows them."""

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._fields() == other._fields()
        return NotImplemented

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__qualname__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self._fields())


class FrozenRecord(Record):
    """A frozen record: as Record, hashable, and its fields cannot be assigned (its
    `__init__` sets them with object.__setattr__, as a frozen dataclass's does)."""

    __slots__: tuple[str, ...] = ()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")
