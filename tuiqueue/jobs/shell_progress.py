"""A shell job's progress read from what its command prints, so no command has to change.

Three forms are understood, on stdout or stderr:

- `::progress 42 message`: 42% (the `%` may be written) and, when given, the message; once
  a command prints one, only such lines move the bar (its other output may quote numbers);
- a line holding a percentage token such as `42%` or `42.5%` (tqdm's ` 42%|████▏ | 42/100`
  too, whose frames end in `\\r`): the last such token of the line, clamped to 0..100;
  a number without `%` is never taken for progress;
- every other line moves nothing but becomes the message.

The message is the newest non-blank output line, its escape sequences removed, its other
control characters shown (never run), on one line and cut to MESSAGE_MAX characters.
"""

from __future__ import annotations

import re

from tuiqueue.core.context import JobContext
from tuiqueue.core.text import one_line

MESSAGE_MAX = 200
"""A progress message is cut here (it is one cell of the queue's row)."""

PERCENT = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d+)?)%")
"""A percentage token: 1 to 3 digits, maybe decimals, then %, not glued to a word or number
before it ("v2.42%" or "x42%" is no percentage; "1234%" none either)."""

EXPLICIT = re.compile(r"::progress\s+(\d{1,3}(?:\.\d+)?)%?(?:\s+(.*\S))?\s*")
"""`::progress PERCENT [MESSAGE]`, the whole line."""

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves (tqdm's, ls --color's)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
)


def percent_in(line: str) -> float | None:
    """The last percentage token of a line, clamped to 0..100; None when it has none."""
    found = PERCENT.findall(line)
    return min(100.0, float(found[-1])) if found else None


def explicit(line: str) -> tuple[float, str | None] | None:
    """(percent, message or None) of a `::progress` line; None for any other line."""
    match = EXPLICIT.fullmatch(line.strip())
    if match is None:
        return None
    return min(100.0, float(match[1])), match[2]


def message_of(line: str) -> str:
    """An output line as a progress message: escapes gone, one line, bounded."""
    text = " ".join(_ESCAPES.sub("", line).split())
    return one_line(text, MESSAGE_MAX)


class ShellProgress:
    """Turns a command's output lines (and tqdm's `\\r` frames) into the job's progress."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.explicit = False
        """A `::progress` line was seen: from now on only those move the bar."""
        self.last = ""
        """The newest output line as a message ("" while the command printed nothing)."""

    def see(self, line: str) -> None:
        """Take one line (or frame) of output, without its stream's prefix."""
        text = message_of(line)
        if not text:
            return
        ctx = self.ctx
        told = explicit(text)
        if told is not None:
            self.explicit = True
            percent, message = told
            if message is not None:
                self.last = message_of(message)
            ctx.progress(percent, self.last or None)
            return
        self.last = text
        found = None if self.explicit else percent_in(text)
        ctx.progress(ctx.percent if found is None else found, text)
