"""The documentation site builds with ``mkdocs build --strict``: a broken link, a page
missing from the navigation or a failing generator fails the suite, not only CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import ROOT

CONFIG = ROOT / "solver" / "docs" / "mkdocs.yml"


def test_the_site_builds_strictly_and_loads_nothing_from_outside(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    config = load_config(str(CONFIG), site_dir=str(tmp_path), strict=True)
    build(config)
    assert (tmp_path / "reference" / "kinds" / "layernorm.html").is_file()
    assert (tmp_path / "schemas" / "solve.schema.json").is_file()
    assert (tmp_path / "katex" / "katex.min.js").is_file()  # the vendored copy, served alike
    assert 'class="arithmatex"' in (tmp_path / "reference" / "kinds" / "layernorm.html").read_text()
    for page in tmp_path.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "fonts.googleapis" not in html and "fonts.gstatic" not in html, page
        assert 'src="http' not in html and '<link href="http' not in html, page
