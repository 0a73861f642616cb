"""Pure helpers that turn jobs into safe, styled text for the dashboard."""

from __future__ import annotations

import json
import re
from typing import Any

from rich.text import Text

from tuiqueue.core.job import Job
from tuiqueue.core.status import TERMINAL, Status

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

BADGE_COLOURS: dict[Status, str] = {
    Status.PENDING: "foreground",
    Status.SCHEDULED: "foreground",
    Status.WAITING: "foreground",
    Status.RUNNING: "primary",
    Status.PAUSED: "warning",
    Status.COMPLETED: "success",
    Status.FAILED: "error",
    Status.CANCELLED: "foreground-darken-3",
}
"""Theme variable that colours each status badge."""

ICONS: dict[Status, str] = {
    Status.PENDING: "◌",
    Status.SCHEDULED: "◷",
    Status.WAITING: "⧗",
    Status.RUNNING: "▶",
    Status.PAUSED: "‖",
    Status.COMPLETED: "✔",
    Status.FAILED: "✘",
    Status.CANCELLED: "⊘",
}
"""One-character status icons."""


def clean(text: object) -> str:
    """User text with control characters (escape sequences) made visible and harmless."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def plain(text: object, style: str = "") -> Text:
    """User text as a Text that is never parsed as markup."""
    return Text(clean(text), style=style, no_wrap=True, overflow="ellipsis")


def is_partial(job: Job) -> bool:
    """A completed job that says only part of its work succeeded (result outcome "partial",
    as fetch_urls does when some URLs failed)."""
    result = job.result
    return (
        job.status is Status.COMPLETED
        and isinstance(result, dict)
        and result.get("outcome") == "partial"
    )


def badge(status: Status, colours: dict[str, str], partial: bool = False) -> Text:
    """A coloured status badge, coloured from the current theme's variables; a partial
    outcome of a completed job is amber (the warning colour)."""
    if partial and status is Status.COMPLETED:
        return Text("◐ partial", style=f"bold {colours.get('warning', '')}".strip())
    colour = colours.get(BADGE_COLOURS[status], "")
    return Text(f"{ICONS[status]} {status}", style=f"bold {colour}".strip())


def bar(percent: float, width: int = 10) -> str:
    """A text progress bar with its percent: "█████░░░░░  50%"."""
    percent = max(0.0, min(100.0, percent))
    filled = round(width * percent / 100)
    return "█" * filled + "░" * (width - filled) + f" {percent:3.0f}%"


def span(seconds: float | None) -> str:
    """A short duration: 4s, 3m05s, 2h10m, 3d."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d"


def took(seconds: float | None) -> str:
    """A run time, with the precision a short one needs: 120ms, 2.4s, 35s, 3m05s."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{max(0.0, seconds) * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.1f}s"
    return span(seconds)


def until(seconds: float) -> str:
    """A wait in words: "4m 10s", "2h 05m", "12s" ("now" once it is due)."""
    s = int(seconds)
    if s <= 0:
        return "now"
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def age(job: Job, now: float) -> str:
    """How long ago it was created, and how long it ran if it started."""
    if job.started_at is None:
        return span(now - job.created_at)
    end = job.finished_at if job.finished_at is not None else now
    return f"{span(now - job.created_at)} · ran {span(end - job.started_at)}"


def eta(job: Job, now: float) -> str:
    """Estimated time left for a running job, from its progress rate."""
    if job.status in TERMINAL or job.started_at is None or job.progress <= 0:
        return "-"
    elapsed = now - job.started_at
    return span(elapsed * (100 - job.progress) / job.progress)


def pretty(value: Any) -> str:
    """Indented JSON (or repr when not JSON-able)."""
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def matches(job: Job, needle: str) -> bool:
    """Whether the text filter matches the job's id, type, status, message or params."""
    if not needle:
        return True
    hay = f"#{job.id} {job.type} {job.status} {job.message} {json.dumps(job.params)}"
    return needle.lower() in hay.lower()
