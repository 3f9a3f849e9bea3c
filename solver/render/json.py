"""The JSON renderer (``solve --format json``, solver/schemas/solve.schema.json): exact values
as strings sympy reads back, plus floats."""

from __future__ import annotations

import json as _json
from collections.abc import Sequence
from typing import Any

from .. import exact
from ..display import M, Table, lines_latex
from ..solution import Answer, Solution, Step


def answer_json(a: Answer) -> dict[str, Any]:
    """``{value, float, latex, type}`` for one answer."""
    v = a.value
    value = exact.fmt(v) if exact.is_numeric(v) else v
    return {
        "value": value,
        "float": exact.to_float(v) if exact.is_numeric(v) else None,
        "latex": a.display().latex(),
        "type": a.type,
    }


def cell_data(x: Any) -> Any:
    """A table cell as JSON data: integers as themselves, other exact values as sympy-readable
    strings, shapes as lists, maths as its LaTeX."""
    if x is None or isinstance(x, (str, bool)):
        return x
    if isinstance(x, M):
        return x.latex()
    if isinstance(x, list):
        return [cell_data(v) for v in x]
    if isinstance(x, int):
        return x
    return exact.fmt(x)


def table_json(t: Table) -> dict[str, Any]:
    """A table as data: column names, rows and footer rows of cells (see ``cell_data``)."""
    return {
        "title": t.title,
        "columns": list(t.columns),
        "rows": [[cell_data(c) for c in row] for row in t.rows],
        "footer": [[cell_data(c) for c in row] for row in t.footer],
    }


def _step_json(st: Step) -> dict[str, Any]:
    out: dict[str, Any] = {
        "text": st.text,
        "latex": lines_latex(st.equations) if st.equations else "",
    }
    if st.tables:
        out["tables"] = [table_json(t) for t in st.tables]
    return out


def solution_json(s: Solution, *, steps: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": s.id, "kind": s.kind}
    if s.title:
        out["title"] = s.title
    out["answers"] = {a.key: answer_json(a) for a in s.asked()}
    if s.tables:
        out["tables"] = [table_json(t) for t in s.tables]
    if steps:
        out["steps"] = [_step_json(st) for st in s.steps]
    return out


def render(solved: Sequence[object], *, steps: bool = True) -> str:
    """One JSON object for one file, a list of them for several."""
    docs = []
    for ss in solved:
        doc: dict[str, Any] = {
            "title": ss.title,
            "path": ss.path,
            "problems": [solution_json(s, steps=steps) for s in ss.solutions],
        }
        if ss.errors:
            doc["errors"] = [str(e) for e in ss.errors]
        docs.append(doc)
    payload: Any = docs[0] if len(docs) == 1 else docs
    return dumps(payload) + "\n"


def _flat(x: Any) -> bool:
    return not isinstance(x, (dict, list))


def dumps(obj: Any, indent: int = 0) -> str:
    """JSON indented by two, with a list of numbers or strings on one line and a matrix one
    row per line: readable, and written by the C encoder where it matters (the entries)."""
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [
            f"{inner}{_json.dumps(str(k), ensure_ascii=False)}: {dumps(v, indent + 1)}"
            for k, v in obj.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and obj and not all(_flat(v) for v in obj):
        return "[\n" + ",\n".join(inner + dumps(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return _json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))
