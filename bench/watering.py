"""``python -m bench.watering [--quick]``: the watering forecast's error on emulated soil.

Pots of the emulated garden (``hub.ble.emulator.environment.PlantEnvironment``: dry-down that
follows the day's temperature, the firmware's rounding and the sensor's noise) are sampled every
10 minutes for weeks. The gardener waters like people do: when the soil looks dry (somewhere
between 16 and 30 %) and to a level that varies (62–85 %). Every 3 hours of each dry-down the
shared forecast (``shared.watering.forecast``) predicts when the soil reaches the plant's
moisture minimum (30 %) from the hourly means both tiers read from their rollups and the newest
raw reading (which moves the level at once after a watering or a dry-out); the truth is
when the 10-minute series really did. The baseline is "same as the last
interval": the previous dry-down took as long again. Figures come from emulated soil, not from
field data.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from bench._common import emit_result, say
from hub.ble.emulator.environment import PlantEnvironment
from shared.metrics import Metric
from shared.watering import MoistureSample, detect_waterings, forecast

MINIMUM = 30.0  # the plant's moisture minimum the forecast aims at
STEP = timedelta(minutes=10)
FORECAST_EVERY = timedelta(hours=3)
HISTORY = timedelta(days=14)  # what the forecast is given, as the hub's plant page reads it


def simulate(seed: int, days: int) -> list[MoistureSample]:
    """One pot's moisture series with an irregular gardener."""
    rng = random.Random(seed * 7919)
    env = PlantEnvironment(seed=seed)
    env.water_below = -100.0  # this benchmark's gardener decides instead
    start = datetime(2026, 4, 1, tzinfo=UTC)
    water_at = rng.uniform(16, 30)
    samples = []
    for step in range(int(timedelta(days=days) / STEP)):
        at = start + step * STEP
        values = env.sample(at)
        samples.append(MoistureSample(at, values[Metric.MOISTURE]))
        if env.moisture < water_at:
            env.moisture = rng.uniform(62, 85)
            water_at = rng.uniform(16, 30)
    return samples


def hourly(samples: list[MoistureSample]) -> list[MoistureSample]:
    """Hourly means stamped at the hour, as both tiers read them from their rollups."""
    buckets: dict[datetime, list[float]] = {}
    for sample in samples:
        buckets.setdefault(sample.at.replace(minute=0, second=0, microsecond=0), []).append(
            sample.moisture
        )
    return [MoistureSample(at, statistics.fmean(v)) for at, v in sorted(buckets.items())]


def crossings(samples: list[MoistureSample]) -> list[datetime]:
    """When the true (noisy) series first went below the minimum in each dry-down."""
    out = []
    below = False
    for sample in samples:
        if sample.moisture <= MINIMUM and not below:
            out.append(sample.at)
            below = True
        elif sample.moisture > MINIMUM + 5:
            below = False
    return out


def evaluate(samples: list[MoistureSample]) -> tuple[list[float], list[float]]:
    """Absolute errors (hours) of the forecast and of the baseline over every dry-down."""
    waterings = detect_waterings(samples)
    dry = crossings(samples)
    rolled = hourly(samples)
    errors: list[float] = []
    baseline: list[float] = []
    for index in range(1, len(waterings)):
        watered, previous = waterings[index], waterings[index - 1]
        truth = next((t for t in dry if t > watered.at), None)
        previous_truth = next((t for t in dry if t > previous.at), None)
        if truth is None or previous_truth is None or previous_truth > watered.at:
            continue
        last_interval = previous_truth - previous.at
        now = watered.peak_at + FORECAST_EVERY
        while now < truth:
            # The hours completed by now: the forecast sees what the rollups hold.
            window = [s for s in rolled if now - HISTORY <= s.at <= now - timedelta(hours=1)]
            newest = next(s for s in reversed(samples) if s.at <= now)
            predicted = forecast(window, MINIMUM, now, latest=newest)
            actual_h = (truth - now).total_seconds() / 3600
            if predicted.hours_until_dry is not None:
                errors.append(abs(predicted.hours_until_dry - actual_h))
                guess = (watered.at + last_interval - now).total_seconds() / 3600
                baseline.append(abs(max(0.0, guess) - actual_h))
            now += FORECAST_EVERY
    return errors, baseline


def main() -> None:
    """Simulate, forecast, compare, print the JSON figures last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="6 pots × 45 days (< 60 s)")
    args = parser.parse_args()
    pots, days = (6, 45) if args.quick else (20, 120)
    started = time.perf_counter()
    errors: list[float] = []
    baseline: list[float] = []
    for seed in range(pots):
        e, b = evaluate(simulate(seed, days))
        errors += e
        baseline += b
    took = time.perf_counter() - started
    say(f"{pots} emulated pots × {days} days, {len(errors)} forecasts in {took:.1f} s")
    say("emulated soil (hub.ble.emulator.environment), not field data")
    emit_result(
        {
            "mae_hours": round(statistics.fmean(errors), 2),
            "baseline_mae_hours": round(statistics.fmean(baseline), 2),
            "p90_error_hours": round(sorted(errors)[int(0.9 * len(errors))], 2),
            "forecasts": len(errors),
            "pots": pots,
            "days": days,
            "seconds": round(took, 1),
            "source": "emulated soil",
        }
    )


if __name__ == "__main__":
    main()
