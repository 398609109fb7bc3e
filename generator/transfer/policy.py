"""How hard a download tries: a module of its own, free of the HTTP client, so that the command line
can show the defaults in `laion2b download --help` without loading it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all; the n-th retry waits `first_delay * 2**(n-1)` seconds.

    Parameters: attempts (tries in all), first_delay (seconds before the first retry), timeout
    (seconds without data before an attempt fails).

    Example: RetryPolicy(attempts=3, first_delay=0.5).delay(2) == 2.0
    """

    attempts: int = 5
    first_delay: float = 1.0
    timeout: float = 60.0

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry + 1` (0 for the first retry)."""
        return self.first_delay * 2.0 ** retry
