"""The student page (``dlsolve serve``) and the assets it shares with the HTML export.

KaTeX 0.19.1 is vendored under ``static/katex/`` (``katex.min.js``, ``katex.min.css``, the
WOFF2 fonts and ``contrib/auto-render.min.js``, from the npm package's ``dist``, with its MIT
``LICENSE`` beside them): classrooms and exam rooms are often offline, so nothing is loaded
from a CDN. This module imports nothing heavy; the web application itself needs the ``web``
extra.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
KATEX_DIR = STATIC_DIR / "katex"
