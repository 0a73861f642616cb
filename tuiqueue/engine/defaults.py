"""The engine's defaults the command line shows in its help, importable without the engine."""

from __future__ import annotations

RETENTION_KEEP = 10_000
"""Finished jobs a running engine keeps by default (newest first); older ones are deleted."""
STOP_WRITES = 5.0
"""Seconds a stopping engine gives the store, after the grace, to record its jobs; a store
that is unreachable or locked longer is given up on (its jobs are recovered later)."""

DEAD_AFTER = 30.0
"""The lease: a worker with no exact liveness check (Redis, or no lock file) silent this long
is dead. A stall of a few seconds (SIGSTOP, a long lock, a skewed clock) never outlasts it."""
