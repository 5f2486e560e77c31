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
        self,
        speed: float = 1.0,
        start: datetime | None = None,
        *,
        cap_at_real: bool = False,
        started_at: float | None = None,
    ) -> None:
        """``cap_at_real``: replay from a ``start`` in the past at ``speed``, then run in step
        with the real clock once caught up (the demo: history fast, never readings from the
        future). ``started_at``: the ``time.monotonic()`` at which the garden was at ``start``
        (default now); Linux's monotonic clock is one per machine, so another process given
        both runs the same garden clock."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.cap_at_real = cap_at_real
        self._start = start or datetime.now(UTC)
        self._t0 = time.monotonic() if started_at is None else started_at
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

    @property
    def start(self) -> datetime:
        """The garden time at ``started_at``."""
        return self._start

    @property
    def started_at(self) -> float:
        """The ``time.monotonic()`` at which the garden was at ``start``."""
        return self._t0

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
