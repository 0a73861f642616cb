"""Small records without the dataclasses module: what @dataclass(slots=True) would give them.

The short commands (`tuiqueue list`...) load the store, whose records are a dozen small
classes. As dataclasses, each costs ~0.7 ms to create (generated methods are compiled at
import) and the first one imports dataclasses with inspect, ast, dis and tokenize (~6 ms):
together a quarter of such a command. So the core's records (Job and NewJob included) are
plain classes: a subclass lists its fields in `__match_args__` (and in `__slots__`, with any
private slot of its own), in order, and writes its own `__init__` (with the dataclass's
signature); repr, ==, hash (frozen ones), refusal to assign (frozen ones), copy and pickle
come from here, the same as the dataclass's
(tests/test_core_plain.py compares them with the dataclasses they replaced).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from dataclasses import Field

__all__ = ["FrozenRecord", "Record"]


class _DataclassFields:
    """A record's `__dataclass_fields__`, made on first use: dataclasses.fields, replace,
    asdict, astuple and is_dataclass work on a record as on the dataclass it was, and only
    code that uses them imports dataclasses. The fields are those of `__match_args__`, with the
    annotations and the defaults of `__init__` (a default_factory's field says None)."""

    def __get__(self, obj: object, owner: type[Record]) -> dict[str, Field[Any]]:
        import dataclasses
        import inspect

        params = inspect.signature(owner.__init__).parameters
        notes = inspect.get_annotations(owner)
        spec: list[Any] = []
        for name in owner.__match_args__:
            default = params[name].default
            kind = notes.get(name, "Any")
            if default is inspect.Parameter.empty:
                spec.append((name, kind))
            else:
                spec.append((name, kind, dataclasses.field(default=default)))
        shadow = dataclasses.make_dataclass(owner.__name__, spec, init=False, repr=False, eq=False)
        fields: dict[str, Field[Any]] = shadow.__dict__["__dataclass_fields__"]
        if owner.__dict__.get("__match_args__"):  # (a record, not Record or FrozenRecord)
            type.__setattr__(owner, "__dataclass_fields__", fields)  # (made once per class)
        return fields


class Record:
    """A mutable record: fields in `__match_args__`; == compares them; unhashable (defining __eq__
    sets __hash__ to None, as for a dataclass with eq); repr shows them."""

    __slots__: tuple[str, ...] = ()
    __match_args__: tuple[str, ...] = ()
    if TYPE_CHECKING:  # (so mypy takes a record for a dataclass: dataclasses.replace...)
        __dataclass_fields__: ClassVar[dict[str, Field[Any]]]
    else:
        __dataclass_fields__ = _DataclassFields()

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__match_args__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._fields() == other._fields()
        return NotImplemented

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
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
