"""The student page (``dlsolve serve``) and the assets it shares with the HTML export.

KaTeX 0.19.1 is vendored under ``static/katex/`` (``katex.min.js``, ``katex.min.css``, the
WOFF2 fonts and ``contrib/auto-render.min.js``, from the npm package's ``dist``, with its MIT
``LICENSE`` beside them): classrooms and exam rooms are often offline, so nothing is loaded
from a CDN. This module imports nothing heavy; the web application itself needs the ``web``
extra.

The parts: ``app`` (the routes: who may see what), ``course`` (the pages' content and what
a checker process does, through dlsolve's own load/solve/check), ``checkers`` (the checker
processes, reached from the event loop, and the order requests are served in), ``store``
(students and attempts, SQLAlchemy; each checker stores the attempts it checks),
``templates/`` (Jinja2, server-rendered) and ``static/`` (KaTeX, one small script for the
maths and the live preview, one stylesheet; no build step).
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
KATEX_DIR = STATIC_DIR / "katex"
