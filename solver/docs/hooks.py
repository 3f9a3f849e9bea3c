"""MkDocs hooks: the generated reference pages and the images the guides show.

Thin on purpose: the pages come from ``solver.docs.reference``, which the tests
call directly. The repository this file sits in is put first on ``sys.path``,
so the site documents the code beside it, not another installed copy.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _first_on_path() -> None:
    # mkdocs restores sys.path after loading this file, so on_config puts it back
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


_first_on_path()

from mkdocs.structure.files import File, Files  # noqa: E402

from solver.docs import reference  # noqa: E402


def on_config(config: Any) -> Any:
    """One nav entry per kind under "Problem kinds", in the order `dlsolve kinds` lists them."""

    def expand(items: list[Any]) -> list[Any]:
        out = []
        for item in items:
            if isinstance(item, dict):
                ((title, value),) = item.items()
                if value == f"{reference.KINDS_DIR}/index.md":
                    value = [value] + [
                        {name: f"{reference.KINDS_DIR}/{name}.md"}
                        for name in reference.kind_names()
                    ]
                elif isinstance(value, list):
                    value = expand(value)
                item = {title: value}
            out.append(item)
        return out

    _first_on_path()
    config["nav"] = expand(config["nav"])
    return config


def on_files(files: Files, config: Any) -> Files:
    for path, content in reference.pages():
        files.append(File.generated(config, path, content=content))
    for path, source in reference.assets():
        files.append(File.generated(config, path, abs_src_path=str(source)))
    return files
