"""Typed parameter schemas for job types, and validation in words a person understands."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

from tuiqueue.core.plain import FrozenRecord
from tuiqueue.core.text import quote

Kind = Literal["int", "float", "str", "bool", "choice", "list", "urls"]

MAX_INT = 2**63 - 1
"""Integers beyond 64 bits are refused: stores and peers cannot keep them exactly."""

DEFAULT_MAX_LENGTH = 10_000
"""Strings without an explicit max_length are still bounded."""

_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


class ValidationError(ValueError):
    """Every field's problem at once: {field name: message}."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()))


class Param(FrozenRecord):
    """One typed parameter of a job type (a frozen plain record: core/plain.py)."""

    __slots__ = __match_args__ = (
        "name",
        "kind",
        "default",
        "min",
        "max",
        "max_length",
        "required",
        "help",
        "choices",
        "label",
    )
    name: str
    kind: Kind
    default: Any
    min: float | None
    """Smallest number allowed (int/float) or fewest items (list/urls)."""
    max: float | None
    """Largest number allowed (int/float) or most items (list/urls)."""
    max_length: int | None
    """Longest string (or list item) allowed."""
    required: bool
    help: str
    choices: tuple[str, ...]
    label: str

    def __init__(
        self,
        name: str,
        kind: Kind = "str",
        default: Any = None,
        min: float | None = None,
        max: float | None = None,
        max_length: int | None = None,
        required: bool = False,
        help: str = "",
        choices: tuple[str, ...] = (),
        label: str = "",
    ) -> None:
        set_ = object.__setattr__
        set_(self, "name", name)
        set_(self, "kind", kind)
        set_(self, "default", default)
        set_(self, "min", min)
        set_(self, "max", max)
        set_(self, "max_length", max_length)
        set_(self, "required", required)
        set_(self, "help", help)
        set_(self, "choices", choices)
        set_(self, "label", label)

    @property
    def title(self) -> str:
        """The label shown in forms."""
        return self.label or self.name.replace("_", " ").capitalize()

    @property
    def text_limit(self) -> int:
        """The effective max length of a string or list item."""
        return self.max_length if self.max_length is not None else DEFAULT_MAX_LENGTH

    def describe(self) -> str:
        """One line of constraints for help texts: "int, 1-60, default 10"."""
        parts: list[str] = [self.kind]
        if self.kind in ("int", "float") and (self.min is not None or self.max is not None):
            parts.append(
                f"{_num(self.min) if self.min is not None else ''}"
                f"-{_num(self.max) if self.max is not None else ''}"
            )
        if self.kind in ("list", "urls") and (self.min is not None or self.max is not None):
            parts.append(f"{_num(self.min or 0)}-{_num(self.max) if self.max else 'any'} items")
        if self.choices:
            parts.append("one of " + "|".join(self.choices))
        if self.max_length is not None:
            parts.append(f"max {self.max_length} chars")
        if self.required:
            parts.append("required")
        elif self.default is not None:
            parts.append(f"default {json.dumps(self.default)}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by `tuiqueue types --json`."""
        return {
            "name": self.name,
            "kind": self.kind,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "max_length": self.max_length,
            "required": self.required,
            "help": self.help,
            "choices": list(self.choices),
        }

    def parse_text(self, text: str) -> Any:
        """Turn what a person typed (CLI or form) into a value; raise ValueError with why not."""
        raw = text.strip()
        if self.kind == "int":
            try:
                return int(raw.replace("_", ""))
            except ValueError:
                msg = f"{self.name} must be a whole number (got {quote(text)})"
                raise ValueError(msg) from None
        if self.kind == "float":
            try:
                return float(raw)
            except ValueError:
                raise ValueError(f"{self.name} must be a number (got {quote(text)})") from None
        if self.kind == "bool":
            low = raw.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(f"{self.name} must be true or false (got {quote(text)})")
        if self.kind in ("list", "urls"):
            if raw.startswith("["):
                try:
                    value = json.loads(raw)
                except (json.JSONDecodeError, RecursionError):
                    # RecursionError: "[[[[..." nested deeper than the parser's stack.
                    raise ValueError(f"{self.name} is not a valid JSON list") from None
                return value
            return [line.strip() for line in raw.splitlines() if line.strip()]
        return text

    def check(self, value: Any) -> tuple[Any, str | None]:
        """Return (clean value, None) or (None, message)."""
        if self.kind == "int":
            return self._check_int(value)
        if self.kind == "float":
            return self._check_float(value)
        if self.kind == "bool":
            if isinstance(value, bool):
                return value, None
            return None, f"{self.name} must be true or false"
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value, None
            return None, f"{self.name} must be one of: {', '.join(self.choices)}"
        if self.kind in ("list", "urls"):
            return self._check_list(value)
        return self._check_str(value, self.name)

    def _check_int(self, value: Any) -> tuple[Any, str | None]:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return None, f"{self.name} must be a whole number"
        if abs(value) > MAX_INT:
            return None, f"{self.name} is too large"
        return self._check_range(value)

    def _check_float(self, value: Any) -> tuple[Any, str | None]:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, f"{self.name} must be a number"
        if isinstance(value, int):
            # Stored as a float: refuse a whole number that a float cannot hold exactly.
            try:
                exact = float(value) == value
            except OverflowError:
                exact = False
            if not exact:
                return None, f"{self.name} has too many digits to be stored exactly"
        value = float(value)
        if not math.isfinite(value):
            return None, f"{self.name} must be a finite number (not NaN or infinity)"
        return self._check_range(value)

    def _check_range(self, value: float) -> tuple[Any, str | None]:
        lo, hi = self.min, self.max
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if lo is not None and hi is not None:
                return None, f"{self.name} must be between {_num(lo)} and {_num(hi)}"
            if lo is not None:
                return None, f"{self.name} must be at least {_num(lo)}"
            assert hi is not None
            return None, f"{self.name} must be at most {_num(hi)}"
        return value, None

    def _check_str(self, value: Any, what: str) -> tuple[Any, str | None]:
        if not isinstance(value, str):
            return None, f"{what} must be text"
        if len(value) > self.text_limit:
            return None, f"{what} must be at most {self.text_limit} characters (got {len(value)})"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None, f"{what} contains characters that are not valid text"
        if self.required and not value.strip() and what == self.name:
            return None, f"{self.name} is required"
        return value, None

    def _check_list(self, value: Any) -> tuple[Any, str | None]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            return None, f"{self.name} must be a list"
        items: list[str] = []
        for index, item in enumerate(value, 1):
            clean, error = self._check_str(item, f"{self.name} item {index}")
            if error:
                return None, error
            if self.kind == "urls":
                error = _url_error(clean, f"{self.name} item {index}")
                if error:
                    return None, error
            items.append(clean)
        lo = int(self.min) if self.min is not None else (1 if self.required else 0)
        if len(items) < lo:
            return None, f"{self.name} needs at least {lo} item{'s' if lo != 1 else ''}"
        if self.max is not None and len(items) > self.max:
            return None, f"{self.name} takes at most {_num(self.max)} items (got {len(items)})"
        return items, None


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _url_error(url: str, what: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return f"{what} is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return f"{what} must be an http:// or https:// URL (got {quote(url, 80)})"
    if not parts.hostname:
        return f"{what} has no host name (got {quote(url, 80)})"
    return None


class Schema(FrozenRecord):
    """The ordered parameters of one job type (a frozen plain record)."""

    __slots__ = __match_args__ = ("params",)
    params: tuple[Param, ...]

    def __init__(self, params: tuple[Param, ...] = ()) -> None:
        object.__setattr__(self, "params", params)

    def get(self, name: str) -> Param | None:
        """The parameter with this name, if any."""
        return next((p for p in self.params if p.name == name), None)

    @property
    def names(self) -> list[str]:
        """Parameter names in declaration order."""
        return [p.name for p in self.params]

    def validate(self, raw: Mapping[str, Any], type_name: str = "") -> dict[str, Any]:
        """Return clean params with defaults filled in, or raise ValidationError with all errors."""
        if not isinstance(raw, Mapping):
            raise ValidationError({"params": "params must be an object of name: value"})
        errors: dict[str, str] = {}
        clean: dict[str, Any] = {}
        for name in raw:
            if self.get(name) is None:
                known = ", ".join(self.names) or "no parameters"
                who = f"{type_name} takes" if type_name else "known parameters:"
                errors[str(name)] = f"unknown parameter {quote(str(name))} ({who} {known})"
        for param in self.params:
            if param.name in raw and raw[param.name] is not None:
                value, error = param.check(raw[param.name])
                if error:
                    errors[param.name] = error
                else:
                    clean[param.name] = value
            elif param.required:
                errors[param.name] = f"{param.name} is required"
            elif param.default is not None:
                clean[param.name] = param.default
        if errors:
            raise ValidationError(errors)
        return clean

    def read_texts(self, pairs: Sequence[tuple[str, str]]) -> tuple[dict[str, Any], dict[str, str]]:
        """NAME=VALUE texts read by their parameters' kinds but not yet checked: (values,
        errors of texts that could not be read). A list parameter may come more than once;
        an unknown name keeps its text (validate() then says it is unknown)."""
        raw: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, text in pairs:
            param = self.get(name)
            if param is None:
                raw[name] = text
                continue
            try:
                value = param.parse_text(text)
            except ValueError as exc:
                errors[name] = str(exc)
                continue
            if param.kind in ("list", "urls") and name in raw:
                raw[name] = [*raw[name], *value]
            else:
                raw[name] = value
        return raw, errors

    def parse_texts(
        self,
        pairs: Sequence[tuple[str, str]],
        type_name: str = "",
        base: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Validate NAME=VALUE texts; a list parameter may be given more than once. With
        base (the params of a job being rerun), the texts replace those params, the others
        are kept, and the whole is validated as one submit."""
        raw, errors = self.read_texts(pairs)
        try:
            given = {k: v for k, v in raw.items() if k not in errors}
            clean = self.validate({**(base or {}), **given}, type_name)
        except ValidationError as exc:
            errors = {**exc.errors, **errors}
            clean = {}
        if errors:
            raise ValidationError(errors)
        return clean
