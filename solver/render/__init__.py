"""Renderers: Solutions in, text out. One module per format; none of them computes.

Each module has ``render(solved: list[SolvedSet], *, steps: bool = True) -> str``.
"""

from __future__ import annotations

from . import json, markdown, text

FORMATS = {"text": text.render, "markdown": markdown.render, "json": json.render}

__all__ = ["FORMATS", "json", "markdown", "text"]
