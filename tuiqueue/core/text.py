"""User and job text made safe for a terminal or a log line, and URLs with their secrets masked."""

from __future__ import annotations

import re

_KEEP = frozenset("\n\t")
_USERINFO = r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<pw>[^@/\s]*)@"
"""A URL's user and password (compiled by re on first use, ~0.2 ms, and cached there: every
command imports this module, few mask a URL)."""


def _visible(c: str) -> str:
    """A non-printable character as its escape (`\\x1b`, `\\u2028`), so it shows and never acts."""
    return repr(c)[1:-1] if c != "'" else c


def clean(text: str) -> str:
    """Text with every control character (C0 but newline and tab, DEL, C1...) shown, not run."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in _KEEP else _visible(c) for c in text)


def one_line(text: str, limit: int = 200) -> str:
    """Cleaned text on one line (newlines as ⏎), cut to `limit` characters, the rest counted."""
    flat = clean(text[: limit * 2 + 64]).replace("\n", "⏎")
    if len(text) <= limit and len(flat) <= limit:
        return flat
    rest = len(text) - limit if len(text) > limit else len(flat) - limit
    return f"{flat[:limit]}… ({max(rest, 1)} more characters)"


def quote(text: str, limit: int = 50) -> str:
    """A user value for an error message: cleaned, cut to a short prefix, in quotes."""
    return repr(one_line(str(text), limit))


def mask_url(url: str) -> str:
    """A URL with the password in its userinfo replaced by ***: redis://:***@host:6379/0."""
    from urllib.parse import urlsplit, urlunsplit  # (with ipaddress: only for a URL)

    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return mask_secrets(url)
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def mask_secrets(text: str) -> str:
    """Text with the password of every URL in it masked (error messages quote their URL)."""
    return re.sub(_USERINFO, lambda m: f"{m['scheme']}{m['user']}:***@", text)
