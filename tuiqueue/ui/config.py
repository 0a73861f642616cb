"""The dashboard's settings kept between runs (theme, notifications): a small TOML file.

It lives in the user config folder (platformdirs: ~/.config/tuiqueue/config.toml on Linux),
or in $TUIQUEUE_CONFIG_DIR when that is set (the tests point it at a temporary folder). A
file that cannot be read or holds a bad value gives a one-line warning and the defaults;
writes go to a temporary file renamed over the old one, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from tuiqueue.core.text import one_line

CONFIG_ENV = "TUIQUEUE_CONFIG_DIR"
"""A folder to keep config.toml in instead of the user config folder."""

NOTIFY_LEVELS = ("failed", "all", "none")
"""Which finished jobs the dashboard tells of: failed ones, every one, or none."""

DEFAULT_NOTIFY_AFTER = 60.0
"""A job that ran at least this many seconds is told of in the terminal when it finishes."""

HEADER = (
    "# tuiqueue's dashboard settings, saved by the dashboard: `t` or the palette saves\n"
    "# the theme, `tuiqueue --notify ...` and `--notify-after ...` their values.\n"
)


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
"""Keys written back (a key that needs quoting, or a table, is not ours: dropped)."""


class ConfigError(Exception):
    """The config file cannot be read or parsed (its one-line reason)."""


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    """The settings a dashboard starts with."""

    theme: str = "textual-dark"
    notify: str = "failed"
    """Toasts for: "failed" jobs, "all" finished jobs, or "none" (none: no terminal
    notifications either)."""
    notify_after: float | None = DEFAULT_NOTIFY_AFTER
    """Seconds after which a finished job gets a terminal notification (failed ones always
    do); None: only failed ones."""


def config_dir() -> Path:
    """Where config.toml lives: $TUIQUEUE_CONFIG_DIR, else the user config folder."""
    return Path(os.environ.get(CONFIG_ENV) or user_config_dir("tuiqueue"))


def parse_notify_after(text: str) -> float | None:
    """`--notify-after`: seconds (or 30s, 5m, 1h), or "off" (None); ValueError if neither."""
    word = text.strip().lower()
    if word in ("off", "never", "no"):
        return None
    units = {"s": 1, "m": 60, "h": 3600}
    scale = units.get(word[-1:], 0)
    number = word[:-1] if scale else word
    try:
        value = float(number) * (scale or 1)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(
            f"--notify-after takes seconds (e.g. 60, 90s, 5m) or off, not {one_line(text, 40)!r}"
        )
    return value


def _checked(key: str, value: object) -> Any:
    """A value read from the file, or ValueError saying what a good one is."""
    if key == "theme":
        if isinstance(value, str) and value.strip():
            return value
        raise ValueError('theme must be a theme\'s name, e.g. "textual-dark"')
    if key == "notify":
        if value in NOTIFY_LEVELS:
            return value
        raise ValueError(f"notify must be failed, all or none (got {one_line(str(value), 40)!r})")
    if key == "notify_after":
        if isinstance(value, str):
            return parse_notify_after(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return parse_notify_after(str(value))
        raise ValueError('notify_after must be a number of seconds or "off"')
    raise KeyError(key)


def _toml_value(value: object) -> str:
    """A flat TOML value (a JSON string is a TOML basic string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return json.dumps(str(value))


class ConfigFile:
    """The file the dashboard's settings are kept in."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else config_dir() / "config.toml"

    def _read(self) -> dict[str, Any]:
        """The file's table ({} when there is no file); ConfigError when unreadable."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"cannot read {self.path} ({exc.strerror or exc})") from exc
        import tomllib  # (only when there is a file to read: a first run has none)

        try:
            return tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{self.path} is not valid TOML ({exc})") from exc

    def load(self) -> tuple[DashboardConfig, list[str]]:
        """The settings, and a one-line warning for each thing that was wrong (never raises:
        what is wrong is replaced by its default)."""
        try:
            raw = self._read()
        except ConfigError as exc:
            return DashboardConfig(), [one_line(f"tuiqueue: {exc}; using the default settings")]
        config, warnings = DashboardConfig(), []
        for field in fields(DashboardConfig):
            if field.name not in raw:
                continue
            try:
                config = replace(config, **{field.name: _checked(field.name, raw[field.name])})
            except ValueError as exc:
                default = getattr(config, field.name)
                warnings.append(
                    one_line(f"tuiqueue: {self.path}: {exc}; using {default!r}", limit=300)
                )
        return config, warnings

    def update(self, changes: Mapping[str, object]) -> DashboardConfig:
        """Save these settings (the file's others kept as they are) and return them all.

        Raises ConfigError when the file is unreadable (it is not overwritten: a person may
        be editing it), OSError when it cannot be written, ValueError for a bad value."""
        raw = self._read()
        for key, value in changes.items():
            _checked(key, "off" if key == "notify_after" and value is None else value)
            raw[key] = "off" if key == "notify_after" and value is None else value
        self._write(raw)
        return self.load()[0]

    def _write(self, raw: Mapping[str, object]) -> None:
        """Write the flat keys atomically: a temporary file beside it, renamed over it."""
        lines = [
            f"{key} = {_toml_value(value)}"
            for key, value in raw.items()
            if isinstance(value, str | int | float | bool) and _BARE_KEY.fullmatch(key)
        ]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(HEADER + "\n".join(lines) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise
