"""What the image archive and the diagnosis pipeline need while the app runs: the object
store and the diagnoser, built in the app's lifespan (the inline worker is ``cloud.worker``'s).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from cloud.diagnosis.factory import open_diagnoser
from cloud.diagnosis.metrics import PipelineCounters
from cloud.settings.images import ImageSettings
from cloud.storage.factory import build_object_store

_log = structlog.get_logger("cloud.images")


@asynccontextmanager
async def image_runtime(app: FastAPI, settings: ImageSettings) -> AsyncIterator[None]:
    """Set ``app.state.object_store``, ``app.state.diagnoser`` and the pipeline counters."""
    store = build_object_store(settings)
    app.state.object_store = store
    counters = PipelineCounters.create(app.state.metrics.registry)
    app.state.pipeline_counters = counters
    async with open_diagnoser(settings) as diagnoser:
        app.state.diagnoser = diagnoser
        _log.info(
            "image_pipeline_ready",
            storage=store.backend,
            diagnoser=diagnoser.model,
            inline_worker=settings.worker_inline,
        )
        yield
