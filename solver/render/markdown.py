"""The Markdown renderer: worked solutions with ``$...$`` and ``$$...$$`` maths.

Written for the three places a course puts them: GitHub, Jupyter and pandoc.
Display maths stands alone between blank lines (as all three require), and
nothing is elided: this is the record.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from .. import exact
from ..display import M, Prose, Table, cell_text, lines_latex
from ..solution import Answer, Solution
from .breaking import break_equation


def escape(text: str) -> str:
    """A step's plain words as Markdown: ``<BOS>`` must not be read as an HTML tag."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_VERBATIM = re.compile(r"(\$\$.*?\$\$|\$[^$\n]+\$|`[^`\n]+`)", re.S)


def escape_prose(text: str) -> str:
    """An author's text as Markdown: its maths (``$...$``) and code spans kept as written,
    every other ``<``, ``>`` and ``&`` escaped, so that ``<BOS>`` shows rather than vanishing
    as an HTML tag."""
    parts = _VERBATIM.split(text)
    return "".join(p if i % 2 else escape(p) for i, p in enumerate(parts))


def prose(text: str) -> str:
    """A step's sentence as Markdown. A kind's (or an author's) sentence is a
    :class:`~solver.display.Prose` that says which of its pieces are formulas: each is
    written whole as ``$…$`` and the words are escaped. Nothing is guessed: a plain string
    is words (its ``$…$`` and code spans kept as written), and a formula nobody marked stays
    in Unicode, readable, rather than cut into maths and text at the first script."""
    if isinstance(text, Prose):
        return "".join(
            escape_prose(p) if isinstance(p, str) else f"${p.latex().strip()}$" for p in text.parts
        )
    return escape_prose(text)


def _display(latex: str) -> list[str]:
    return ["$$", latex, "$$", ""]


def _lines(math: Sequence[M]) -> str:
    """A step's equations as one display, each broken over lines when too wide to print."""
    if len(math) == 1 or any(isinstance(x, Table) for x in math):
        return break_equation(lines_latex(math))
    return (
        r"\begin{gathered} "
        + r" \\ ".join(break_equation(x.latex()) for x in math)
        + (r" \end{gathered}")
    )


def _inline_ok(m: M) -> bool:
    s = m.latex()
    return "\\begin" not in s and len(s) < 80


def _decimal(x: float) -> str:
    return f"{x:.4g}".replace("e", r"\times 10^{") + ("}" if "e" in f"{x:.4g}" else "")


def approx(value: Any) -> str | None:
    """``\approx 0.1234`` beside a value that is not rational (a surd, a log, e): a student
    needs the decimal to compare; rational values, symbols and tensors of rank > 2 get none."""
    if not exact.is_numeric(value) or value is None:
        return None
    entries = exact.flatten(value) if isinstance(value, list) else [value]
    if not entries or all(v is None or exact.is_rational(v) for v in entries):
        return None
    floats = exact.to_float(value)
    if floats is None or None in (exact.flatten(floats) if isinstance(floats, list) else []):
        return None
    if not isinstance(floats, list):
        return rf"\approx {_decimal(floats)}"
    if len(entries) > 64:  # the exact tensor is the record; a page of decimals helps nobody
        return None
    return r"\approx " + _float_tensor(floats)


def _float_tensor(t: list[Any]) -> str:
    """Decimals laid out as the exact tensor is: rows as matrices, higher ranks bracketed."""
    if not any(isinstance(x, list) for x in t):
        return r"\begin{bmatrix} " + " & ".join(_decimal(x) for x in t) + r" \end{bmatrix}"
    if not any(isinstance(y, list) for row in t for y in row):
        body = r" \\ ".join(" & ".join(_decimal(x) for x in row) for row in t)
        return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"
    return r"\left[ " + r",\; ".join(_float_tensor(x) for x in t) + r" \right]"


def _answer(a: Answer) -> list[str]:
    value = a.display()
    label = a.label.latex() + " = " if a.label is not None else ""
    near = approx(a.value)
    tail = f" {near}" if near else ""
    if _inline_ok(value) and len(tail) < 40:
        return [f"- `{a.key}`: ${label}{value.latex()}{tail}$", ""]
    return [f"`{a.key}`:", "", *_display(break_equation(label + value.latex() + tail))]


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


#: a given's null in a handout's table: the size the student fills in
FILL = r"\_\_\_"


def table_lines(t: Table, *, blank: str = "") -> list[str]:
    """A pipe table (GitHub, Jupyter and pandoc all read it); totals are bold rows at the end.
    ``blank`` is what a None cell shows (a given's table shows its nulls as blanks to fill)."""
    align = ["---:" if t.right(j) else ":---" for j in range(len(t.columns))]
    out = ["| " + " | ".join(t.columns) + " |", "|" + "|".join(align) + "|"]
    out += [
        "| " + " | ".join(blank if c is None else cell_markdown(c) for c in row) + " |"
        for row in t.rows
    ]
    out += [
        "| "
        + " | ".join(f"**{cell_markdown(c)}**" if c not in (None, "") else "" for c in row)
        + " |"
        for row in t.footer
    ]
    return [*out, ""]


def _blanks(t: Table) -> bool:
    return any(c is None for row in t.rows for c in row)


def _points(x: Fraction) -> str:
    return f"{exact.fmt(x)} point" + ("" if x == 1 else "s")


def _answer_keys(s: Solution) -> list[str]:
    """What a handout asks for: each answer key with its points, and the total."""
    asked = s.asked()
    if not asked:
        return ["*Answer in prose: this part is not graded.*", ""]
    total = sum((s.points_for(a.key) for a in asked), Fraction(0))
    out = [f"**Answer keys** ({_points(total)})", ""]
    for a in asked:
        doc = f": {escape(a.doc)}" if a.doc else ""
        out.append(f"- `{a.key}` ({_points(s.points_for(a.key))}){doc}")
    return [*out, ""]


def render_solution(
    s: Solution, *, steps: bool = True, level: int = 2, answers: bool = True
) -> list[str]:
    """One problem as Markdown lines; ``answers=False`` is the question alone (a handout)."""
    h = "#" * level
    title = f": {escape_prose(s.title)}" if s.title else ""
    out = [f"{h} `{s.id}`{title}", "", f"*Kind: `{s.kind}`*", ""]
    quoted = [p for p in s.text_parts if isinstance(p, Table)]
    for part in s.text_parts or ([s.text] if s.text else []):
        if isinstance(part, Table):
            out += ["", *table_lines(part, blank=FILL)]
        elif part.strip():
            out += [escape_prose(part.strip()), ""]
    if s.givens:
        out += ["**Given**", ""]
        rows = r" \\ ".join(f"{label.latex()} &= {value.latex()}" for label, value in s.givens)
        out += _display(r"\begin{aligned} " + rows + r" \end{aligned}")
    for t in s.given_tables:
        if t not in quoted:
            out += [f"**Given `{t.title}`**" + (" (fill in the blanks)" if _blanks(t) else ""), ""]
            out += table_lines(t, blank=FILL)
    if not answers:
        return [*out, *_answer_keys(s)]
    for t in s.tables:
        out += [f"**{t.title or 'Table'}**", "", *table_lines(t)]
    if steps and s.steps:
        out += ["**Solution**", ""]
        for i, step in enumerate(s.steps, start=1):
            out += [f"**Step {i}.** {prose(step.text)}", ""]
            if step.equations:
                out += _display(_lines(step.equations))
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
        out += [f"# {escape_prose(title)}", "", f"*{what} by dlsolve from `{ss.path}`.*", ""]
        if getattr(ss, "text", None):
            out += [escape_prose(ss.text.strip()), ""]
        for s in ss.solutions:
            out += render_solution(s, steps=steps, answers=answers)
    return "\n".join(out).rstrip() + "\n" if out else ""
