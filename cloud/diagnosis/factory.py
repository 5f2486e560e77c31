"""Build the configured ``Diagnoser``: Gemini with an API key, the heuristic without one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from cloud.diagnosis.heuristic import HeuristicDiagnoser
from cloud.diagnosis.ports import Diagnoser
from cloud.settings.images import ImageSettings


@asynccontextmanager
async def open_diagnoser(settings: ImageSettings) -> AsyncIterator[Diagnoser]:
    """The diagnoser for these settings, its HTTP clients closed on exit."""
    if not settings.gemini_api_key:
        yield HeuristicDiagnoser()
        return
    from cloud.diagnosis.gemini import GeminiDiagnoser, build_gemini_client

    timeout = httpx.Timeout(settings.gemini_timeout_s, connect=10.0)
    async with httpx.AsyncClient(timeout=timeout) as async_http:
        with httpx.Client(timeout=timeout) as http:
            client = build_gemini_client(
                settings.gemini_api_key,
                http,
                async_http,
                base_url=settings.gemini_base_url,
                timeout_s=settings.gemini_timeout_s,
            )
            yield GeminiDiagnoser(
                client,
                settings.gemini_model,
                max_output_tokens=settings.gemini_max_output_tokens,
            )
