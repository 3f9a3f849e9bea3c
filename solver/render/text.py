"""The terminal renderer: givens, numbered steps and answers, with Unicode maths.

Matrices are drawn over several lines with brackets; long axes are cut with
an ellipsis, as numpy prints them (the JSON and Markdown are never cut).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from ..display import Block, M, Table, hcat
from ..solution import Solution

INDENT = "  "
WIDTH = 88


def _math_lines(prefix: str, math: M) -> list[str]:
    block = hcat(Block.of(prefix), math.block())
    return [s.rstrip() for s in block.lines]


def _para(text: str, indent: str) -> list[str]:
    out: list[str] = []
    for para in text.strip().split("\n\n"):
        out += textwrap.wrap(
            " ".join(para.split()), WIDTH, initial_indent=indent, subsequent_indent=indent
        ) or [""]
    return out


def table_lines(t: Table, indent: str = INDENT) -> list[str]:
    """A table, indented."""
    return [(indent + line).rstrip() for line in t.block().lines]


def render_solution(s: Solution, *, steps: bool = True) -> list[str]:
    """One problem's worked solution as lines of text."""
    title = f" · {s.title}" if s.title else ""
    lines = [f"── {s.id}{title}  [{s.kind}] " + "─" * max(0, 60 - len(s.id) - len(title))]
    if s.text:
        lines += _para(s.text, INDENT)
    if s.givens:
        lines.append("Given")
        for label, value in s.givens:
            lines += _math_lines(f"{INDENT}{label.text()} = ", value)
    for t in s.tables:
        lines.append(t.title or "Table")
        lines += table_lines(t)
    if steps and s.steps:
        lines.append("Steps")
        for i, step in enumerate(s.steps, start=1):
            head = f"{INDENT}{i}. "
            wrapped = textwrap.wrap(step.text, WIDTH - len(head)) or [""]
            lines.append(head + wrapped[0])
            lines += [" " * len(head) + w for w in wrapped[1:]]
            for mth in step.math:
                if isinstance(mth, Table):
                    lines += table_lines(mth, " " * (len(head) + 2))
                else:
                    lines += _math_lines(" " * (len(head) + 2), mth)
    asked = s.asked()
    if asked:  # a question answered in prose has no answers to list
        lines.append("Answers")
    for a in asked:
        lines += _math_lines(f"{INDENT}{a.key} = ", a.display())
    return lines


def render(solved: Sequence[object], *, steps: bool = True) -> str:
    """Every solved file: a heading, then each problem."""
    out: list[str] = []
    for ss in solved:
        title = getattr(ss, "title", None) or ""
        path = getattr(ss, "path", "")
        if not getattr(ss, "solutions", None):
            continue
        head = f"{title}  ({path})" if title else str(path)
        out += ["═" * min(WIDTH, len(head) + 4), f"  {head}", "═" * min(WIDTH, len(head) + 4), ""]
        if getattr(ss, "text", None):
            out += [*_para(ss.text, ""), ""]
        for s in ss.solutions:
            out += [*render_solution(s, steps=steps), ""]
    return "\n".join(out).rstrip() + "\n" if out else ""
