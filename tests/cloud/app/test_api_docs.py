"""/docs and /redoc render in a real browser with every request kept on this cloud (no CDN),
under the pages' strict CSP (a blocked inline script would leave them blank)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cloud.app.conftest import CloudSite, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


def _visit(browser: Any, site: CloudSite, path: str, ready: str) -> tuple[Any, list[str]]:
    page = new_page(browser, site.url)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(path)
    page.locator(ready).first.wait_for(timeout=60_000)  # a 1.5 MB bundle on a loaded machine
    assert not page.errors, page.errors
    assert not violations, violations
    return page, requested


def test_swagger_ui_lists_the_operations_offline(browser: Any, site: CloudSite) -> None:
    page, requested = _visit(browser, site, "/docs", ".opblock")
    assert page.locator(".opblock").count() >= 40
    assert page.get_by_text("/api/v1/plants", exact=True).first.is_visible()
    assert f"{site.url}/openapi.json" in requested
    elsewhere = [url for url in requested if not url.startswith((site.url, "data:", "blob:"))]
    assert not elsewhere, elsewhere
    page.context.close()


def test_redoc_renders_offline(browser: Any, site: CloudSite) -> None:
    page, requested = _visit(browser, site, "/redoc", "h1")
    assert "Plant-Vita cloud" in page.locator("h1").first.inner_text()
    assert page.locator("[data-section-id]").count() > 10
    elsewhere = [url for url in requested if not url.startswith((site.url, "data:", "blob:"))]
    assert not elsewhere, elsewhere
    page.context.close()
