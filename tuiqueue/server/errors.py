"""What an expected failure means to a client: a message, an HTTP-like code, details."""

from __future__ import annotations

from typing import Any

from tuiqueue.core.lifecycle import ReadOnly, UnknownJob
from tuiqueue.core.params import ValidationError
from tuiqueue.core.registry import UnknownJobType
from tuiqueue.core.status import TransitionError
from tuiqueue.store.base import StoreError


def describe(exc: BaseException) -> dict[str, Any] | None:
    """{"error": "...", "code": N, ...} for an expected failure; None for anything else."""
    if isinstance(exc, ValidationError):
        return {"error": str(exc), "code": 422, "errors": exc.errors}
    if isinstance(exc, UnknownJob):
        return {"error": f"no job with id {exc.job_id}", "code": 404}
    if isinstance(exc, UnknownJobType):
        return {"error": str(exc.args[0] if exc.args else exc), "code": 422}
    if isinstance(exc, TransitionError):
        return {"error": str(exc), "code": 400}
    if isinstance(exc, ReadOnly):
        return {"error": str(exc), "code": 403}
    if isinstance(exc, StoreError):  # its messages mask the URL's password
        return {"error": str(exc), "code": 503}
    if isinstance(exc, ValueError | TypeError):
        return {"error": str(exc), "code": 422}
    return None
