"""Failed admin-password attempts per client address, kept in memory (the hub is one process)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class LoginLimiter:
    """After ``max_failures`` wrong passwords from one address within ``window_s``, that
    address is refused until its oldest failure leaves the window."""

    def __init__(
        self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it may try now."""
        failures = self._failures.get(address)
        if not failures:
            return None
        now = self._clock()
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        if len(failures) < self.max_failures:
            return None
        return max(1, math.ceil(failures[0] + self.window_s - now))

    def failed(self, address: str) -> None:
        """Count one wrong password from ``address``."""
        self._failures.setdefault(address, deque()).append(self._clock())
        if len(self._failures) > 10_000:  # bounded memory under a flood of addresses
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, address: str) -> None:
        """Forget ``address``'s failures after a right password."""
        self._failures.pop(address, None)
