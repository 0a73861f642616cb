"""The dashboard starts with the cyclic garbage collector paused, and resumes it after its
first frame.

Starting the dashboard allocates some 10^5 objects that live as long as it does (modules,
classes, widgets, styles, the first window) and hardly any garbage. Each collection those
allocations trigger walks the survivors again: measured, some 60 ms of collections before
the first frame, a full one of 30+ ms among them (in the middle of the first CSS parse). So
the command line pauses the collector before it imports the dashboard, and the app collects
once, freezes what survived and resumes the collector after its first frame
(QueueApp._freeze). Without the command line (the tests, an embedding program) nothing is
paused and resume_collector does nothing.
"""

from __future__ import annotations

import gc

_paused = False
"""Whether pause_collector turned the collector off (and so resume_collector turns it on)."""


def pause_collector() -> None:
    """Turn the collector off for the dashboard's start (left alone if it is off already:
    then that was someone else's choice, which resume_collector keeps)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_collector() -> None:
    """Turn the collector back on if pause_collector turned it off (idempotent)."""
    global _paused
    if _paused:
        _paused = False
        gc.enable()
