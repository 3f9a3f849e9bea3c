"""The JSON renderer (SPEC section 6): exact values as strings sympy reads back, plus floats."""

from __future__ import annotations

import json as _json
from collections.abc import Sequence
from typing import Any

from .. import exact
from ..display import lines_latex
from ..solution import Answer, Solution


def answer_json(a: Answer) -> dict[str, Any]:
    """``{value, float, latex, type}`` for one answer."""
    v = a.value
    value = exact.fmt(v) if exact.is_numeric(v) else v
    return {"value": value, "float": exact.to_float(v) if exact.is_numeric(v) else None,
            "latex": a.display().latex(), "type": a.type}


def solution_json(s: Solution, *, steps: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": s.id, "kind": s.kind}
    if s.title:
        out["title"] = s.title
    out["answers"] = {a.key: answer_json(a) for a in s.asked()}
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
        items = [f"{inner}{_json.dumps(str(k), ensure_ascii=False)}: {dumps(v, indent + 1)}"
                 for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and obj and not all(_flat(v) for v in obj):
        return "[\n" + ",\n".join(inner + dumps(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return _json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))
