"""``Diagnoser`` backed by Gemini through the ``google-genai`` SDK.

The request carries the photo inline and the plant's context as text, with a JSON response
schema. Only a complete answer (finish reason STOP) that parses into ``DiagnosisAnswer`` becomes
a report; everything else raises ``DiagnosisFailed``, classified as retryable (429, 5xx,
timeouts, network, truncated or unparseable answers) or permanent (other 4xx, safety blocks).
The SDK's own retries are off: the durable job queue owns retries, backoff and rate limits.
"""

from __future__ import annotations

import re
from typing import Any, Final

import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from pydantic import ValidationError

from cloud.diagnosis.context import SYSTEM_INSTRUCTION, render_context
from cloud.diagnosis.ports import (
    DiagnosisAnswer,
    DiagnosisFailed,
    DiagnosisImage,
    DiagnosisReport,
    DiagnosisSource,
    FailureCode,
    PlantContext,
    TokenUsage,
)

DEFAULT_MODEL: Final = "gemini-2.5-flash"
# A whole answer wrapped in one Markdown fence, as models sometimes do despite the MIME type.
_FENCED: Final = re.compile(r"^```(?:json|JSON)?[ \t]*\r?\n(?P<body>.*?)\r?\n?```$", re.DOTALL)
_BLOCKING_FINISH: Final = frozenset(
    {
        types.FinishReason.SAFETY,
        types.FinishReason.RECITATION,
        types.FinishReason.BLOCKLIST,
        types.FinishReason.PROHIBITED_CONTENT,
        types.FinishReason.SPII,
        types.FinishReason.IMAGE_SAFETY,
        types.FinishReason.IMAGE_PROHIBITED_CONTENT,
        types.FinishReason.MODEL_ARMOR,
    }
)
_RETRY_INFO: Final = "type.googleapis.com/google.rpc.RetryInfo"
# JSON Schema keywords the Gemini API documents as supported for response_json_schema.
_SCHEMA_KEYWORDS: Final = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "enum",
        "items",
        "minItems",
        "maxItems",
        "minimum",
        "maximum",
        "anyOf",
        "properties",
        "additionalProperties",
        "required",
    }
)


def response_schema() -> dict[str, Any]:
    """``DiagnosisAnswer``'s JSON Schema in the subset Gemini accepts.

    References are inlined (Gemini forbids siblings beside ``$ref``) and keywords it ignores,
    such as string lengths, are dropped; pydantic still enforces them on the answer.
    """
    full = DiagnosisAnswer.model_json_schema()
    defs: dict[str, Any] = full.pop("$defs", {})

    def clean(node: Any) -> Any:
        if isinstance(node, list):
            return [clean(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = dict(defs[node["$ref"].rsplit("/", 1)[1]])
            target.update({k: v for k, v in node.items() if k != "$ref"})
            return clean(target)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "properties":
                out[key] = {name: clean(sub) for name, sub in value.items()}
            elif key in _SCHEMA_KEYWORDS:
                out[key] = clean(value)
        return out

    result: dict[str, Any] = clean(full)
    return result


def build_gemini_client(
    api_key: str,
    http_client: httpx.Client,
    async_http_client: httpx.AsyncClient,
    *,
    base_url: str | None = None,
    timeout_s: float = 60.0,
) -> genai.Client:
    """A Gemini API client on the given httpx clients (so tests can intercept with respx)."""
    return genai.Client(
        api_key=api_key,
        http_options=types.HttpOptions(
            base_url=base_url,
            timeout=int(timeout_s * 1000),
            httpx_client=http_client,
            httpx_async_client=async_http_client,
            retry_options=None,  # one HTTP attempt per job attempt
        ),
    )


def parse_answer(text: str) -> DiagnosisAnswer:
    """Parse the model's text into a ``DiagnosisAnswer``.

    A single Markdown fence around the whole answer (```json … ```) is stripped: the content
    is still exactly the schema's JSON. Prose around the JSON, or anything not matching the
    schema, is refused as unparseable.
    """
    body = text.strip()
    if body.startswith("```"):
        match = _FENCED.fullmatch(body)
        if match is None:
            raise DiagnosisFailed(
                FailureCode.UNPARSEABLE, "malformed Markdown fence", retryable=True
            )
        body = match.group("body").strip()
    if not body:
        raise DiagnosisFailed(FailureCode.EMPTY, "the answer is empty", retryable=True)
    try:
        return DiagnosisAnswer.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "answer"
        raise DiagnosisFailed(
            FailureCode.UNPARSEABLE, f"{where}: {first['msg']}", retryable=True
        ) from None


def _usage(metadata: types.GenerateContentResponseUsageMetadata | None) -> TokenUsage | None:
    if metadata is None:
        return None
    return TokenUsage(
        prompt_tokens=metadata.prompt_token_count or 0,
        candidates_tokens=metadata.candidates_token_count or 0,
        total_tokens=metadata.total_token_count or 0,
        thoughts_tokens=metadata.thoughts_token_count or 0,
    )


def _retry_after(exc: genai_errors.APIError) -> float | None:
    response: Any = getattr(exc, "response", None)
    header = getattr(response, "headers", {}).get("retry-after") if response is not None else None
    if header and header.strip().isdigit():
        return float(header)
    details = (
        exc.details.get("error", {}).get("details", []) if isinstance(exc.details, dict) else []
    )
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and detail.get("@type") == _RETRY_INFO:
            delay = str(detail.get("retryDelay", ""))
            try:
                return float(delay.removesuffix("s"))
            except ValueError:
                return None
    return None


def classify_api_error(exc: genai_errors.APIError) -> DiagnosisFailed:
    """Map an HTTP error of the Gemini API to a retryable or permanent failure."""
    summary = f"HTTP {exc.code} {exc.status or ''}: {(exc.message or '')[:300]}".strip()
    if exc.code == 429:
        return DiagnosisFailed(
            FailureCode.RATE_LIMITED, summary, retryable=True, retry_after_s=_retry_after(exc)
        )
    if exc.code == 408:
        return DiagnosisFailed(FailureCode.TIMEOUT, summary, retryable=True)
    if exc.code >= 500:
        return DiagnosisFailed(
            FailureCode.UNAVAILABLE, summary, retryable=True, retry_after_s=_retry_after(exc)
        )
    return DiagnosisFailed(FailureCode.REJECTED, summary, retryable=False)


class GeminiDiagnoser:
    """Diagnoses with a Gemini model and a JSON response schema."""

    def __init__(
        self,
        client: genai.Client,
        model: str = DEFAULT_MODEL,
        *,
        max_output_tokens: int = 2048,
        temperature: float = 0.2,
    ) -> None:
        self._client = client
        self._model = model
        self._config = types.GenerateContentConfig(
            system_instruction=SYSTEM_INSTRUCTION,
            response_mime_type="application/json",
            response_json_schema=response_schema(),
            temperature=temperature,
            max_output_tokens=max_output_tokens,
        )

    @property
    def model(self) -> str:
        """The Gemini model name."""
        return self._model

    @property
    def source(self) -> DiagnosisSource:
        """Always ``"gemini"``."""
        return "gemini"

    async def diagnose(self, image: DiagnosisImage, context: PlantContext) -> DiagnosisReport:
        """One ``generateContent`` call; a report only for a complete, schema-valid answer."""
        contents = [
            types.Content(
                role="user",
                parts=[
                    types.Part.from_bytes(data=image.data, mime_type=image.mime_type),
                    types.Part.from_text(text=render_context(context)),
                ],
            )
        ]
        try:
            response = await self._client.aio.models.generate_content(
                model=self._model, contents=contents, config=self._config
            )
        except genai_errors.APIError as exc:
            raise classify_api_error(exc) from exc
        except httpx.TimeoutException as exc:
            raise DiagnosisFailed(FailureCode.TIMEOUT, repr(exc), retryable=True) from exc
        except httpx.TransportError as exc:
            raise DiagnosisFailed(FailureCode.NETWORK, repr(exc), retryable=True) from exc
        return self._read(response)

    def _read(self, response: types.GenerateContentResponse) -> DiagnosisReport:
        usage = _usage(response.usage_metadata)
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            reason = getattr(feedback.block_reason, "value", str(feedback.block_reason))
            raise DiagnosisFailed(
                FailureCode.BLOCKED, f"prompt blocked: {reason}", retryable=False, usage=usage
            )
        if not response.candidates:
            raise DiagnosisFailed(FailureCode.EMPTY, "no candidate", retryable=True, usage=usage)
        candidate = response.candidates[0]
        finish = candidate.finish_reason
        if finish == types.FinishReason.MAX_TOKENS:
            raise DiagnosisFailed(
                FailureCode.TRUNCATED,
                "answer cut at max_output_tokens",
                retryable=True,
                usage=usage,
            )
        if finish in _BLOCKING_FINISH:
            raise DiagnosisFailed(
                FailureCode.BLOCKED, f"answer blocked: {finish.value}", retryable=False, usage=usage
            )
        if finish not in (None, types.FinishReason.STOP):
            raise DiagnosisFailed(
                FailureCode.UNPARSEABLE, f"answer ended with {finish}", retryable=True, usage=usage
            )
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        text = "".join(part.text for part in parts if part.text and not part.thought)
        try:
            answer = parse_answer(text)
        except DiagnosisFailed as exc:
            exc.usage = usage
            raise
        return DiagnosisReport(answer=answer, model=self._model, source="gemini", usage=usage)
