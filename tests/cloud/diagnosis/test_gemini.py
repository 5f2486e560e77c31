"""GeminiDiagnoser with the real google-genai client; the Gemini API mocked over HTTP by respx."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from cloud.diagnosis.gemini import GeminiDiagnoser, build_gemini_client, parse_answer
from cloud.diagnosis.ports import (
    CauseType,
    DiagnosisFailed,
    DiagnosisImage,
    FailureCode,
    HealthStatus,
    TokenUsage,
)
from tests.cloud.diagnosis.gemini_fakes import (
    GENERATE_URL,
    GOOD_ANSWER,
    error_body,
    gemini_body,
    good_text,
    sample_context,
)

IMAGE = DiagnosisImage(b"\xff\xd8\xff\xe0fake-jpeg-bytes\xff\xd9", "image/jpeg")


@pytest.fixture
async def gemini() -> AsyncIterator[tuple[GeminiDiagnoser, respx.Route]]:
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(url__regex=GENERATE_URL)
        async with httpx.AsyncClient() as async_http:
            with httpx.Client() as http:
                client = build_gemini_client("test-api-key", http, async_http)
                yield GeminiDiagnoser(client, "gemini-2.5-flash", max_output_tokens=1024), route


async def test_good_structured_answer(gemini: tuple[GeminiDiagnoser, respx.Route]) -> None:
    diagnoser, route = gemini
    route.respond(200, json=gemini_body(good_text()))

    report = await diagnoser.diagnose(IMAGE, sample_context())

    assert report.source == "gemini"
    assert report.model == "gemini-2.5-flash"
    assert report.answer.health is HealthStatus.STRESSED
    assert report.answer.confidence == pytest.approx(0.82)
    assert report.answer.findings[0].cause_type is CauseType.ABIOTIC
    assert report.answer.recommended_actions == GOOD_ANSWER["recommended_actions"]
    assert report.usage == TokenUsage(prompt_tokens=1290, candidates_tokens=184, total_tokens=1474)


async def test_request_carries_image_context_and_schema(
    gemini: tuple[GeminiDiagnoser, respx.Route],
) -> None:
    diagnoser, route = gemini
    route.respond(200, json=gemini_body(good_text()))
    await diagnoser.diagnose(IMAGE, sample_context())

    request = route.calls.last.request
    assert request.url.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert request.headers["x-goog-api-key"] == "test-api-key"
    body = json.loads(request.content)
    image_part, text_part = body["contents"][0]["parts"]
    inline = image_part["inlineData"]
    assert inline.get("mimeType", inline.get("mime_type")) == "image/jpeg"
    assert base64.urlsafe_b64decode(inline["data"]) == IMAGE.data  # the SDK sends URL-safe
    text = text_part["text"]
    for expected in [
        "Swiss cheese plant (Monstera deliciosa)",
        "- moisture: 40-70 %",
        "- temperature: 18-27 °C",
        "- illuminance: 2000-20000 lx",
        "2026-11-25 moisture: 14 / 18.5 / 25 % (96 readings)",
        "2026-11-25 illuminance: 0 / 2500 / 9000 lx (96 readings), DLI about",
        "This photo: canopy cover 31.0%",
        "2026-11-20 12:00: 42.0%",
        "low moisture: Soil moisture below 40 % (still open)",
    ]:
        assert expected in text, expected
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["maxOutputTokens"] == 1024
    schema = config["responseJsonSchema"]
    assert set(schema["required"]) >= {"health", "confidence", "summary"}
    assert schema["properties"]["confidence"]["maximum"] == 1
    assert schema["properties"]["health"]["enum"][0] == "healthy"
    assert "$ref" not in json.dumps(schema)  # Gemini refuses siblings beside $ref: inlined
    assert schema["properties"]["findings"]["items"]["properties"]["cause_type"]["enum"] == [
        "biotic",
        "abiotic",
    ]
    assert "plant-health assistant" in body["systemInstruction"]["parts"][0]["text"]


async def test_invalid_json_is_a_failed_attempt(
    gemini: tuple[GeminiDiagnoser, respx.Route],
) -> None:
    diagnoser, route = gemini
    route.respond(200, json=gemini_body('{"health": "stressed", "confidence": 0.8, "summ'))
    with pytest.raises(DiagnosisFailed) as caught:
        await diagnoser.diagnose(IMAGE, sample_context())
    assert caught.value.code is FailureCode.UNPARSEABLE
    assert caught.value.retryable
    assert caught.value.usage is not None
    assert caught.value.usage.total_tokens == 1474


async def test_json_outside_the_schema_is_a_failed_attempt(
    gemini: tuple[GeminiDiagnoser, respx.Route],
) -> None:
    diagnoser, route = gemini
    route.respond(200, json=gemini_body(json.dumps({**GOOD_ANSWER, "confidence": 1.7})))
    with pytest.raises(DiagnosisFailed) as caught:
        await diagnoser.diagnose(IMAGE, sample_context())
    assert caught.value.code is FailureCode.UNPARSEABLE
    assert "confidence" in caught.value.message


async def test_fenced_json_is_accepted(gemini: tuple[GeminiDiagnoser, respx.Route]) -> None:
    diagnoser, route = gemini
    route.respond(200, json=gemini_body(f"```json\n{json.dumps(GOOD_ANSWER, indent=2)}\n```\n"))
    report = await diagnoser.diagnose(IMAGE, sample_context())
    assert report.answer.health is HealthStatus.STRESSED


@pytest.mark.parametrize(
    "text",
    [
        f"Here is the diagnosis:\n```json\n{json.dumps(GOOD_ANSWER)}\n```",  # prose outside
        f"```json\n{json.dumps(GOOD_ANSWER)}",  # fence never closed
        f"```json\n{json.dumps(GOOD_ANSWER)}\n```\nHope this helps!",
    ],
)
def test_anything_but_one_whole_fence_is_refused(text: str) -> None:
    with pytest.raises(DiagnosisFailed) as caught:
        parse_answer(text)
    assert caught.value.code is FailureCode.UNPARSEABLE


def test_bare_fence_without_language_is_accepted() -> None:
    assert parse_answer(f"```\n{good_text()}\n```").health is HealthStatus.STRESSED


async def test_truncated_answer_is_a_failed_attempt(
    gemini: tuple[GeminiDiagnoser, respx.Route],
) -> None:
    diagnoser, route = gemini
    # A truncated answer can even be valid JSON by luck: it is still refused.
    route.respond(200, json=gemini_body(good_text(), finish="MAX_TOKENS"))
    with pytest.raises(DiagnosisFailed) as caught:
        await diagnoser.diagnose(IMAGE, sample_context())
    assert (caught.value.code, caught.value.retryable) == (FailureCode.TRUNCATED, True)


async def test_safety_finish_is_a_permanent_failure(
    gemini: tuple[GeminiDiagnoser, respx.Route],
) -> None:
    diagnoser, route = gemini
    route.respond(200, json=gemini_body(None, finish="SAFETY"))
    with pytest.raises(DiagnosisFailed) as caught:
        await diagnoser.diagnose(IMAGE, sample_context())
    assert (caught.value.code, caught.value.retryable) == (FailureCode.BLOCKED, False)
    assert "SAFETY" in caught.value.message


async def test_blocked_prompt_is_a_permanent_failure(
    gemini: tuple[GeminiDiagnoser, respx.Route],
) -> None:
    diagnoser, route = gemini
    route.respond(200, json=gemini_body(block_reason="SAFETY"))
    with pytest.raises(DiagnosisFailed) as caught:
        await diagnoser.diagnose(IMAGE, sample_context())
    assert (caught.value.code, caught.value.retryable) == (FailureCode.BLOCKED, False)
    assert "prompt blocked" in caught.value.message


async def test_no_candidate_is_a_failed_attempt(
    gemini: tuple[GeminiDiagnoser, respx.Route],
) -> None:
    diagnoser, route = gemini
    route.respond(200, json={"usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}})
    with pytest.raises(DiagnosisFailed) as caught:
        await diagnoser.diagnose(IMAGE, sample_context())
    assert caught.value.code is FailureCode.EMPTY


async def test_429_then_success(gemini: tuple[GeminiDiagnoser, respx.Route]) -> None:
    diagnoser, route = gemini
    route.side_effect = [
        httpx.Response(
            429,
            json=error_body(429, "RESOURCE_EXHAUSTED", "Quota exceeded", retry_delay="17s"),
        ),
        httpx.Response(200, json=gemini_body(good_text())),
    ]
    with pytest.raises(DiagnosisFailed) as caught:
        await diagnoser.diagnose(IMAGE, sample_context())
    assert (caught.value.code, caught.value.retryable) == (FailureCode.RATE_LIMITED, True)
    assert caught.value.retry_after_s == 17
    assert route.call_count == 1  # the SDK does not retry by itself: the job queue does

    report = await diagnoser.diagnose(IMAGE, sample_context())
    assert report.answer.health is HealthStatus.STRESSED


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (500, FailureCode.UNAVAILABLE, True),
        (503, FailureCode.UNAVAILABLE, True),
        (504, FailureCode.UNAVAILABLE, True),
        (408, FailureCode.TIMEOUT, True),
        (400, FailureCode.REJECTED, False),
        (403, FailureCode.REJECTED, False),
        (404, FailureCode.REJECTED, False),
    ],
)
async def test_http_errors_are_classified(
    gemini: tuple[GeminiDiagnoser, respx.Route], status: int, code: FailureCode, retryable: bool
) -> None:
    diagnoser, route = gemini
    route.respond(status, json=error_body(status, "SOME_STATUS", "upstream said no"))
    with pytest.raises(DiagnosisFailed) as caught:
        await diagnoser.diagnose(IMAGE, sample_context())
    assert (caught.value.code, caught.value.retryable) == (code, retryable)
    assert f"HTTP {status}" in caught.value.message


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (httpx.ReadTimeout("read timed out"), FailureCode.TIMEOUT),
        (httpx.ConnectError("connection refused"), FailureCode.NETWORK),
    ],
)
async def test_transport_failures_are_retryable(
    gemini: tuple[GeminiDiagnoser, respx.Route], exc: Exception, code: FailureCode
) -> None:
    diagnoser, route = gemini
    route.side_effect = exc
    with pytest.raises(DiagnosisFailed) as caught:
        await diagnoser.diagnose(IMAGE, sample_context())
    assert (caught.value.code, caught.value.retryable) == (code, True)
