"""Built-in job types; importing this package registers them."""

from __future__ import annotations

from tuiqueue.jobs import countdown, echo, fetch_urls, fibonacci, primes, shell

__all__ = ["countdown", "echo", "fetch_urls", "fibonacci", "primes", "shell"]
