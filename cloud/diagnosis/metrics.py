"""Prometheus counters of the image pipeline, registered on the app's (or worker's) registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry, Counter


@dataclass(frozen=True)
class PipelineCounters:
    """Uploads by outcome, diagnosis attempts by outcome, tokens billed."""

    images: Counter
    diagnoses: Counter
    tokens: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> PipelineCounters:
        """Register the counters on ``registry``."""
        return cls(
            images=Counter(
                "plantvita_cloud_images",
                "Image completions by outcome (recorded or the refusal code)",
                ["outcome"],
                registry=registry,
            ),
            diagnoses=Counter(
                "plantvita_cloud_diagnosis_attempts",
                "Diagnosis attempts by outcome (succeeded, retry, dead_letter, rate_limited)",
                ["outcome", "source"],
                registry=registry,
            ),
            tokens=Counter(
                "plantvita_cloud_diagnosis_tokens",
                "Model tokens billed, by kind (prompt, candidates)",
                ["kind"],
                registry=registry,
            ),
        )


async def get_counters(request: Request) -> PipelineCounters:
    """The app's pipeline counters (``app.state.pipeline_counters``, set in the lifespan)."""
    return cast(PipelineCounters, request.app.state.pipeline_counters)


CountersDep = Annotated[PipelineCounters, Depends(get_counters)]
