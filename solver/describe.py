"""What ``dlsolve kinds`` and ``dlsolve new`` print, read off each kind's own declaration.

The Given model that validates a problem file, the answer keys a Solution may
hold and the kind's example are the only sources: documentation cannot drift
from what the loader accepts.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic_core import PydanticUndefined

from . import exact, kinds
from .given import field_docs, type_doc


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    d = field.default
    if d is PydanticUndefined or d is None:
        return "optional"
    if isinstance(d, bool):
        return f"default {str(d).lower()}"
    return f"default {exact.fmt(d) if exact.is_scalar(d) else d!r}".replace("'", "")


def kind_list() -> str:
    """Every kind with its one-line summary."""
    names = kinds.names()
    width = max(len(n) for n in names)
    lines = [f"{n.ljust(width)}  {kinds.get(n).summary()}" for n in names]
    return "\n".join(lines) + "\n\n'dlsolve kinds KIND' shows a kind's fields and answer keys.\n"


def given_rows(name: str) -> list[tuple[str, str, str, str]]:
    """A kind's given fields as (name, type, default, meaning): the rows of ``dlsolve kinds
    KIND`` and of the kind's page in the documentation."""
    k = kinds.get(name)
    docs = field_docs(k.Given)
    rows = []
    for fname, f in k.Given.model_fields.items():
        td = type_doc(f.annotation, f.metadata)
        rows.append((fname, td.name, _default(f), docs.get(fname) or f.description or td.doc))
    return rows


def kind_help(name: str) -> str:
    """A kind's given fields (type, default, meaning), answer keys and known mistakes."""
    k = kinds.get(name)
    out = [f"{name}: {k.summary()}", "", "given:"]
    rows = given_rows(name)
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    out += [f"  {a.ljust(w0)}  {b.ljust(w1)}  {c.ljust(w2)}  {d}".rstrip() for a, b, c, d in rows]
    out += ["", "answer keys:"]
    if not k.keys:
        out += ["  none: answered in prose, shown in solutions, not graded"]
    wk = max((len(key.pattern) for key in k.keys), default=0)
    wt = max((len(key.type) for key in k.keys), default=0)
    out += [
        f"  {key.pattern.ljust(wk)}  {key.type.ljust(wt)}  {key.doc}".rstrip() for key in k.keys
    ]
    if k.misconceptions:
        out += ["", "mistakes the checker recognises:"]
        out += [f"  - {m}" for m in k.misconceptions]
    out += ["", f"'dlsolve new {name}' prints a problem-file template."]
    return "\n".join(out) + "\n"


def _flow(value: Any) -> str:
    text = yaml.safe_dump(
        value, default_flow_style=True, allow_unicode=True, width=10_000, sort_keys=False
    )  # a tree's order is its tie-breaking order
    return text.strip().removesuffix("...").strip()


def template(name: str) -> str:
    """A commented problem file for ``name`` that loads and solves as it is."""
    k = kinds.get(name)
    fields = k.Given.model_fields
    docs = field_docs(k.Given)
    lines = [
        f"# {'An' if name[0] in 'aeiou' else 'A'} {name} problem: {k.summary()}",
        f"# 'dlsolve kinds {name}' describes every field. Numbers are exact: 0.1 means 1/10,",
        '# and strings such as "1/3" or "sqrt(2)/2" are read exactly too.',
        f'title: "{name} practice"',
        "problems:",
        f"  - id: {name.replace('_', '-')}-1",
        f"    kind: {name}",
        "    text: |",
        "      State the question as the course asks it.",
        "    given:",
    ]
    for fname, f in fields.items():
        td = type_doc(f.annotation, f.metadata)
        desc = docs.get(fname) or f.description or td.doc
        lines.append(f"      # {desc} ({td.name}, {_default(f)})")
        if fname in k.example:
            lines.append(f"      {fname}: {_flow(k.example[fname])}")
        else:
            lines.append(f"      # {fname}: ")
    if not k.keys:  # prose: nothing to ask for, grade or tolerate
        return "\n".join(lines) + "\n"
    keys = ", ".join(key.pattern for key in k.keys)
    lines += [
        f"    # ask: [{keys}]   # default: every key",
        "    # points: {" + k.keys[-1].pattern + ": 2}   # default: 1 point per key",
        "    # tolerance: {rtol: 0.01, atol: 1.0e-8, decimals: 2}   # for checking reals",
        "    # carry_forward: 1/2   # share of the points for an error carried forward",
    ]
    return "\n".join(lines) + "\n"
