"""The Markdown renderer: worked solutions with ``$...$`` and ``$$...$$`` maths.

Written for the three places a course puts them: GitHub, Jupyter and pandoc.
Display maths stands alone between blank lines (as all three require), and
nothing is elided: this is the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import exact
from ..display import M, Table, cell_text, lines_latex
from ..solution import Answer, Solution


def escape(text: str) -> str:
    """A step's plain words as Markdown: ``<BOS>`` must not be read as an HTML tag."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _display(latex: str) -> list[str]:
    return ["$$", latex, "$$", ""]


def _inline_ok(m: M) -> bool:
    s = m.latex()
    return "\\begin" not in s and len(s) < 80


def _answer(a: Answer) -> list[str]:
    value = a.display()
    label = a.label.latex() + " = " if a.label is not None else ""
    if _inline_ok(value):
        return [f"- `{a.key}`: ${label}{value.latex()}$", ""]
    return [f"`{a.key}`:", "", *_display(label + value.latex())]


def cell_markdown(x: Any) -> str:
    """A table cell for Markdown: plain where plain reads well, ``$...$`` for formulas."""
    if x is None:
        return ""
    if isinstance(x, str):
        return escape(x).replace("|", r"\|")
    if isinstance(x, M):
        return f"${x.latex()}$"
    if isinstance(x, list) and all(isinstance(v, int) for v in x):
        return cell_text(x)
    if isinstance(x, list):
        return "$[" + ", ".join(exact.latex(v) for v in x) + "]$"
    if isinstance(x, int) and not isinstance(x, bool):
        return f"{x:,}"
    return f"${exact.latex(x)}$"


def table_lines(t: Table) -> list[str]:
    """A pipe table (GitHub, Jupyter and pandoc all read it); totals are bold rows at the end."""
    align = ["---:" if t.right(j) else ":---" for j in range(len(t.columns))]
    out = ["| " + " | ".join(t.columns) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(cell_markdown(c) for c in row) + " |" for row in t.rows]
    out += [
        "| "
        + " | ".join(f"**{cell_markdown(c)}**" if c not in (None, "") else "" for c in row)
        + " |"
        for row in t.footer
    ]
    return [*out, ""]


def render_solution(
    s: Solution, *, steps: bool = True, level: int = 2, answers: bool = True
) -> list[str]:
    """One problem as Markdown lines; ``answers=False`` is the question alone (a handout)."""
    h = "#" * level
    title = f": {s.title}" if s.title else ""
    out = [f"{h} `{s.id}`{title}", "", f"*Kind: `{s.kind}`*", ""]
    if s.text:
        out += [s.text.strip(), ""]
    if s.givens:
        out += ["**Given**", ""]
        rows = r" \\ ".join(f"{label.latex()} &= {value.latex()}" for label, value in s.givens)
        out += _display(r"\begin{aligned} " + rows + r" \end{aligned}")
    if not answers:
        keys = ", ".join(f"`{a.key}`" for a in s.asked())
        if not keys:
            return [*out, "*Answer in prose: this part is not graded.*", ""]
        return [*out, f"*Answer keys:* {keys}", ""]
    for t in s.tables:
        out += [f"**{t.title or 'Table'}**", "", *table_lines(t)]
    if steps and s.steps:
        out += ["**Solution**", ""]
        for i, step in enumerate(s.steps, start=1):
            out += [f"**Step {i}.** {escape(step.text)}", ""]
            if step.equations:
                out += _display(lines_latex(step.equations))
            for t in step.tables:
                out += table_lines(t)
    asked = s.asked()
    if asked:  # a question answered in prose has no answers to list
        out += ["**Answers**", ""]
    for a in asked:
        out += _answer(a)
    out.append("")
    return out


def render(solved: Sequence[object], *, steps: bool = True, answers: bool = True) -> str:
    """Every solved file as one Markdown document (one top-level heading per file);
    ``answers=False`` writes the questions only, as a handout."""
    out: list[str] = []
    for ss in solved:
        if not getattr(ss, "solutions", None):
            continue
        title = getattr(ss, "title", None) or str(getattr(ss, "path", ""))
        what = "Worked solutions" if answers else "Questions"
        out += [f"# {title}", "", f"*{what} by dlsolve from `{ss.path}`.*", ""]
        if getattr(ss, "text", None):
            out += [ss.text.strip(), ""]
        for s in ss.solutions:
            out += render_solution(s, steps=steps, answers=answers)
    return "\n".join(out).rstrip() + "\n" if out else ""
