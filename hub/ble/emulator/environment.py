"""What an emulated node's sensors read: a plant in a pot on a windowsill.

Temperature and humidity follow the day, light follows the sun, the soil dries down faster
when it is warm and jumps back up when the plant is watered, the soil's conductivity rises as
it dries (the salts concentrate) and drops when watered, the battery drains a little per
wake and more per photo, and the canopy grows while the soil stays moist and wilts when dry.
All of it is deterministic for a seed, so tests can reproduce a garden.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime

from shared.metrics import Metric


@dataclass(slots=True)
class PlantEnvironment:
    """The state of one pot; ``sample(at)`` advances it to ``at`` and returns sensor values."""

    seed: int
    moisture: float = 62.0  # % volumetric
    battery: float = 100.0  # %
    canopy: float = 0.25  # fraction of the frame covered by leaves
    water_below: float = 24.0  # the gardener waters when the soil gets this dry
    dry_rate_per_day: float = 9.0  # % per day at 20 °C
    salts: float = 40_000.0  # conductivity × moisture: dissolved fertiliser, µS/cm · %
    _last: datetime | None = None
    _rng: random.Random = field(init=False)
    _ec_rng: random.Random = field(
        init=False
    )  # its own stream: the other sensors' stay as they were

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._ec_rng = random.Random(self.seed + 0x56)
        self.salts *= 1 + (self.seed % 9 - 4) * 0.08
        self.moisture += self._rng.uniform(-8, 8)
        self.canopy += self._rng.uniform(-0.05, 0.05)

    def temperature_at(self, at: datetime) -> float:
        """Diurnal air temperature: coolest before dawn, warmest mid-afternoon."""
        hour = at.hour + at.minute / 60
        base = 19.0 + (self.seed % 5) * 0.7
        return base + 5.5 * math.sin(2 * math.pi * (hour - 9) / 24)

    def illuminance_at(self, at: datetime) -> float:
        """Daylight through a window: zero at night, a bell over the day."""
        hour = at.hour + at.minute / 60
        sun = math.sin(math.pi * (hour - 6) / 12)
        return max(0.0, sun) * (12_000 + (self.seed % 7) * 1_500)

    def water(self, to: float = 74.0) -> None:
        """The gardener waters the pot."""
        self.moisture = max(self.moisture, to)

    def _advance(self, at: datetime) -> None:
        if self._last is None or at <= self._last:
            self._last = at if self._last is None else self._last
            return
        days = (at - self._last).total_seconds() / 86_400
        self._last = at
        warmth = max(0.2, 1 + (self.temperature_at(at) - 20) / 15)
        self.moisture -= self.dry_rate_per_day * warmth * days
        if self.moisture < self.water_below:
            self.water()
        # Leaves spread while the soil is comfortable and droop when it is too dry.
        growth = 0.04 if self.moisture > 35 else -0.06
        self.canopy = min(0.85, max(0.05, self.canopy + growth * days))

    def sample(self, at: datetime) -> dict[Metric, float]:
        """Advance to ``at`` and read every sensor (values rounded as the firmware sends them)."""
        self._advance(at)
        rng = self._rng
        humidity = 55 - 12 * math.sin(2 * math.pi * ((at.hour + at.minute / 60) - 9) / 24)
        return {
            Metric.BATTERY: float(round(max(0.0, min(100.0, self.battery)))),
            Metric.TEMPERATURE: round(self.temperature_at(at) + rng.gauss(0, 0.15), 2),
            Metric.HUMIDITY: round(min(100.0, max(0.0, humidity + rng.gauss(0, 1.0))), 2),
            Metric.ILLUMINANCE: round(max(0.0, self.illuminance_at(at) * rng.uniform(0.9, 1.1)), 2),
            Metric.MOISTURE: round(min(100.0, max(0.0, self.moisture + rng.gauss(0, 0.3))), 2),
            Metric.CONDUCTIVITY: float(
                round(self.conductivity() * self._ec_rng.uniform(0.97, 1.03))
            ),
        }

    def conductivity(self) -> float:
        """Soil conductivity (µS/cm): the dissolved salts over the water holding them."""
        return min(20_000.0, self.salts / max(self.moisture, 5.0))

    def drain(self, percent: float) -> None:
        """Battery spent on a wake, an advert burst or a photo."""
        self.battery = max(0.0, self.battery - percent)
