"""The UI files both tiers serve exist once, and a tier's own file can never shadow them."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.web.assets import SHARED_STATIC_DIR, load_assets


def test_shared_ui_code_is_package_data_with_content_etags() -> None:
    assets = load_assets(SHARED_STATIC_DIR)
    for name in ("js/chart.js", "js/format.js", "js/status.js", "css/theme.css"):
        assert name in assets
    assert assets["js/chart.js"].media_type == "text/javascript; charset=utf-8"
    assert assets["css/theme.css"].media_type == "text/css; charset=utf-8"
    assert "prefers-color-scheme: dark" in assets["css/theme.css"].body.decode()
    etags = {asset.etag for asset in assets.values()}
    assert len(etags) == len(assets)


def test_a_tier_file_with_a_shared_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "format.js").write_text("export const shadow = 1;\n")
    with pytest.raises(ValueError, match=r"js/format\.js exists in two"):
        load_assets(tmp_path, SHARED_STATIC_DIR)
