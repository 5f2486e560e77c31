"""A garden clock that can run faster than real time, so a test can live through days."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """Simulated UTC time: ``start`` plus real elapsed time multiplied by ``speed``.

    Radio timings (advert intervals, GATT round trips) stay real; only what the firmware
    measures in wall-clock terms (sampling interval, days of growth, battery drain) runs fast.
    """

    def __init__(
        self, speed: float = 1.0, start: datetime | None = None, *, cap_at_real: bool = False
    ) -> None:
        """``cap_at_real``: replay from a ``start`` in the past at ``speed``, then run in step
        with the real clock once caught up (the demo: history fast, never readings from the
        future)."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.cap_at_real = cap_at_real
        self._start = start or datetime.now(UTC)
        self._t0 = time.monotonic()
        self._skew = 0.0  # seconds jumped by ``advance``

    def now(self) -> datetime:
        """The simulated current time (aware UTC)."""
        elapsed = (time.monotonic() - self._t0) * self.speed + self._skew
        simulated = self._start + timedelta(seconds=elapsed)
        if self.cap_at_real:
            return min(simulated, datetime.now(UTC))
        return simulated

    def caught_up(self) -> bool:
        """True once a capped clock runs in step with real time."""
        return self.cap_at_real and self.now() >= datetime.now(UTC) - timedelta(seconds=1)

    def epoch(self) -> int:
        """The simulated time as whole UTC seconds."""
        return int(self.now().timestamp())

    def real_seconds(self, simulated: float) -> float:
        """How long ``simulated`` seconds take in real time."""
        return simulated if self.caught_up() else simulated / self.speed

    async def sleep(self, simulated: float) -> None:
        """Sleep for ``simulated`` garden seconds."""
        await asyncio.sleep(max(0.0, self.real_seconds(simulated)))

    def advance(self, simulated: float) -> None:
        """Jump the garden forward (the hub "was away" for this long)."""
        self._skew += simulated
