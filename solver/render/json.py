"""The JSON renderer (SPEC section 6): exact values as strings sympy reads back, plus floats."""

from __future__ import annotations

import json as _json
from collections.abc import Sequence
from typing import Any

from .. import exact
from ..display import Table, cell_data, lines_latex
from ..solution import Answer, Solution


def answer_json(a: Answer) -> dict[str, Any]:
    """``{value, float, latex, type}`` for one answer."""
    v = a.value
    value = exact.fmt(v) if exact.is_numeric(v) else v
    return {"value": value, "float": exact.to_float(v) if exact.is_numeric(v) else None,
            "latex": a.display().latex(), "type": a.type}


def table_json(t: Table) -> dict[str, Any]:
    """A table as data: column names, rows and footer rows of cells (see ``cell_data``)."""
    return {"title": t.title, "columns": list(t.columns),
            "rows": [[cell_data(c) for c in row] for row in t.rows],
            "footer": [[cell_data(c) for c in row] for row in t.footer]}


def solution_json(s: Solution, *, steps: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": s.id, "kind": s.kind}
    if s.title:
        out["title"] = s.title
    out["answers"] = {a.key: answer_json(a) for a in s.asked()}
    if s.tables:
        out["tables"] = [table_json(t) for t in s.tables]
    if steps:
        out["steps"] = [{"text": st.text, "latex": lines_latex(st.math) if st.math else ""}
                        for st in s.steps]
    return out


def render(solved: Sequence[object], *, steps: bool = True) -> str:
    """One JSON object for one file, a list of them for several."""
    docs = []
    for ss in solved:
        doc: dict[str, Any] = {"title": ss.title, "path": ss.path,
                               "problems": [solution_json(s, steps=steps) for s in ss.solutions]}
        if ss.errors:
            doc["errors"] = [str(e) for e in ss.errors]
        docs.append(doc)
    payload: Any = docs[0] if len(docs) == 1 else docs
    return _json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
