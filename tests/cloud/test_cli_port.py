"""``plantvita cloud run --port N`` moves the URLs derived from the port unless they were set."""

from __future__ import annotations

import pytest

from cloud.cli import on_port
from cloud.settings import CloudSettings


def test_port_moves_the_public_url_and_the_device_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANTVITA_CLOUD_PUBLIC_BASE_URL", raising=False)
    monkeypatch.delenv("PLANTVITA_CLOUD_VERIFICATION_URI", raising=False)
    moved = on_port(CloudSettings(), 9123)
    assert moved.public_base_url == "http://localhost:9123"
    assert moved.device_verification_uri() == "http://localhost:9123/app/link"


def test_set_urls_stay_as_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTVITA_CLOUD_PUBLIC_BASE_URL", "https://cloud.example.org")
    monkeypatch.setenv("PLANTVITA_CLOUD_VERIFICATION_URI", "https://garden.example.org/link")
    kept = on_port(CloudSettings(), 9123)
    assert kept.public_base_url == "https://cloud.example.org"
    assert kept.device_verification_uri() == "https://garden.example.org/link"
