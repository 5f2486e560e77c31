"""Failed admin-password attempts per client address, kept in memory (the hub is one process)."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict, deque
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


class VerifiedPasswords:
    """Admin passwords that passed scrypt recently, so HTTP Basic need not pay it per request.

    scrypt costs ~50 ms of CPU on a PC and several times that on a Pi, by design; a script or a
    Home Assistant integration sending Basic credentials with every request made each one pay
    it, and on a Pi's quarter core the garden page waited behind it. A password that verified
    is remembered as an HMAC under a key this process drew at random (never the password), for
    ``ttl_s`` and against the stored hash it matched: a new password's hash matches none of the
    old entries. Wrong passwords are never remembered and always pay scrypt and the limiter.
    """

    def __init__(
        self, ttl_s: float = 900.0, size: int = 8, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._until: OrderedDict[bytes, float] = OrderedDict()

    def _tag(self, password: str, stored: str) -> bytes:
        message = stored.encode() + b"\0" + password.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def known(self, password: str, stored: str) -> bool:
        """Whether ``password`` verified against ``stored`` within the last ``ttl_s``."""
        tag = self._tag(password, stored)
        until = self._until.get(tag)
        if until is None:
            return False
        if until <= self._clock():
            del self._until[tag]
            return False
        return True

    def remember(self, password: str, stored: str) -> None:
        """Record that ``password`` just verified against ``stored``."""
        tag = self._tag(password, stored)
        self._until[tag] = self._clock() + self.ttl_s
        self._until.move_to_end(tag)
        while len(self._until) > self.size:
            self._until.popitem(last=False)
