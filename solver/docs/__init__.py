"""The documentation site: ``mkdocs.yml``, the written guides in ``pages/``, and the code that
generates the reference pages (``reference``) and runs every page's examples (``examples``).

Build it with ``mkdocs build --strict -f solver/docs/mkdocs.yml``; ``hooks.py`` is the thin
MkDocs side and is not imported by dlsolve itself.
"""
