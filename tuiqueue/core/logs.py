"""Loggers that import `logging` only when something is logged.

`import logging` (with threading, traceback, string...) is some 5-8 ms of a short command such
as `tuiqueue list`, which never logs. A module on that path names its logger with `logger()`;
the first call of one of its methods imports logging and gives the package logger its
NullHandler (a library logs, it does not print: nothing reaches stderr unless the
application, or the user with logging.basicConfig, configures logging).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import logging


class _Lazy:
    """A logging.Logger made on first use; every Logger method works on it."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: logging.Logger | None = None

    def __getattr__(self, attr: str) -> Any:
        found = self._logger
        if found is None:
            found = self._logger = package_logger(self._name)
        return getattr(found, attr)


def logger(name: str) -> logging.Logger:
    """The logger of module `name`, made when first used."""
    return cast("logging.Logger", _Lazy(name))  # (a Logger in all but its class)


def package_logger(name: str) -> logging.Logger:
    """logging.getLogger(name), once tuiqueue's own logger has its NullHandler."""
    import logging

    root = logging.getLogger("tuiqueue")
    if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
        root.addHandler(logging.NullHandler())
    return logging.getLogger(name)
