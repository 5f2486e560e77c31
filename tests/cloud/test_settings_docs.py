"""The README's settings table names real cloud settings, and those an operator must know."""

from __future__ import annotations

import re
from pathlib import Path

from cloud.settings import CloudSettings

README = Path(__file__).resolve().parents[2] / "README.md"
# What an operator cannot run a public cloud without knowing about (issue 14).
OPERATOR = {
    "STORAGE_DIR",
    "PUBLIC_BASE_URL",
    "VERIFICATION_URI",
    "TRUSTED_PROXIES",
    "CORS_ALLOWED_ORIGINS",
    "JWT_SECRET",
    "DATABASE_URL",
    "ACCESS_TOKEN_TTL_S",
}


def test_readme_lists_real_cloud_settings_including_the_operator_ones() -> None:
    named = set(re.findall(r"`PLANTVITA_CLOUD_([A-Z0-9_]+)`", README.read_text()))
    fields = {name.upper() for name in CloudSettings.model_fields}
    assert not named - fields, f"README names settings that do not exist: {named - fields}"
    assert not OPERATOR - named, f"README misses: {OPERATOR - named}"
