"""Breaking long equations reads a matrix of gradients (megabytes of LaTeX) as runs and whole
environments rather than character by character: the lines it writes are the ones the
character-by-character reading (kept here as the reference) writes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.render import breaking
from solver.render.breaking import _RELATIONS, _group, visible

# --------------------------------------------------------------------------- the reference


def slow_tokens(latex: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    depth, i = 0, 0
    while i < len(latex):
        c = latex[i]
        if c == "\\":
            m = re.match(r"\\(?:begin\{\w+\*?\}|end\{\w+\*?\}|[A-Za-z]+|.)", latex[i:])
            tok = m.group(0) if m else c
            if tok.startswith(r"\end") or tok == r"\right":
                depth -= 1
            out.append((tok, depth))
            if tok.startswith(r"\begin") or tok == r"\left":
                depth += 1
            i += len(tok)
            continue
        if c == "}":
            depth -= 1
        out.append((c, depth))
        if c == "{":
            depth += 1
        i += 1
    return out


def slow_pieces(latex: str) -> list[str]:
    pieces, cur = [], ""
    prev = ""
    for tok, depth in slow_tokens(latex):
        binary = tok in ("+", "-") and prev not in ("", "=", "(", "[", ",", "{", "^", "_", r"\Bigl")
        if depth == 0 and (tok in _RELATIONS or binary) and cur.strip():
            pieces.append(cur)
            cur = ""
        cur += tok
        if tok.strip():
            prev = tok
    return [*pieces, cur] if cur.strip() else pieces


def slow_open_fractions(latex: str, width: int) -> str:
    out, i = [], 0
    depth = 0
    while i < len(latex):
        if latex.startswith(r"\frac{", i) and depth == 0:
            a_end = _group(latex, i + 5)
            b_end = _group(latex, a_end) if a_end < len(latex) and latex[a_end] == "{" else a_end
            num, den = latex[i + 6 : a_end - 1], latex[a_end + 1 : b_end - 1]
            if visible(num) > width * 2 // 3 and len(slow_pieces(num)) > 1:
                out.append(rf"\frac{{1}}{{{den}}} \Bigl( {num} \Bigr)")
                i = b_end
                continue
        c = latex[i]
        if c == "\\":
            m = re.match(r"\\(?:[A-Za-z]+|.)", latex[i:])
            tok = m.group(0) if m else c
            depth += tok in (r"\left",) or tok.startswith(r"\begin")
            depth -= tok in (r"\right",) or tok.startswith(r"\end")
            out.append(tok)
            i += len(tok)
            continue
        depth += c == "{"
        depth -= c == "}"
        out.append(c)
        i += 1
    return "".join(out)


def slow_break(latex: str, width: int = breaking.WIDTH) -> str:
    """break_equation with the reference pieces and fractions."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(breaking, "_pieces", slow_pieces)
        mp.setattr(breaking, "_open_fractions", slow_open_fractions)
        return breaking.break_equation(latex, width)


# --------------------------------------------------------------------------- the LaTeX

ATOMS = ["x", "12", "e^{3}", " ", " + ", "+", "-", " - ", "=", " = ", r"\approx ", ",", "(",
         "[", "^", "_", r"\cdot ", r"\\", "&", r"\{", r"\}", r"\Bigl(", r"\Bigr)", "\n", "ab",
         r"\le ", r"\leftarrow "]  # fmt: skip


def balanced() -> st.SearchStrategy[str]:
    """LaTeX whose every group opens before it closes (all that dlsolve writes)."""
    return st.recursive(
        st.lists(st.sampled_from(ATOMS), max_size=6).map("".join),
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda ab: "{" + ab[0] + "}" + ab[1]),
            st.tuples(inner, inner).map(lambda ab: rf"\frac{{{ab[0]}}}{{{ab[1]}}}"),
            inner.map(lambda a: rf"\left({a}\right)"),
            st.tuples(st.sampled_from(["bmatrix", "gathered", "aligned"]), inner, inner).map(
                lambda nab: rf"\begin{{{nab[0]}}} {nab[1]} \\ {nab[2]} \end{{{nab[0]}}}"
            ),
            st.lists(inner, min_size=2, max_size=4).map(" + ".join),
        ),
        max_leaves=25,
    )


#: stray pieces outside any environment (a group closed first, an unmatched \end)
STRAYS = ["}", "{", r"\right)", r"\left(", r"\end{bmatrix}", r"\begin{bmatrix}", "\\"]


def texts() -> st.SearchStrategy[str]:
    return st.lists(st.one_of(balanced(), st.sampled_from(STRAYS)), max_size=6).map("".join)


@settings(max_examples=100, deadline=None)
@given(texts(), st.integers(4, 80))
def test_pieces_and_lines_are_the_character_by_characters(latex: str, width: int) -> None:
    assert "".join(t for t, _ in breaking._tokens(latex)) == latex
    assert breaking._pieces(latex) == slow_pieces(latex)
    assert breaking._open_fractions(latex, width) == slow_open_fractions(latex, width)
    assert breaking.break_equation(latex, width) == slow_break(latex, width)


def test_a_matrix_is_one_token() -> None:
    cells = [[rf"\frac{{{i} + e^{{{j}}}}}{{8}}" for j in range(16)] for i in range(16)]
    rows = r" \\ ".join(" & ".join(row) for row in cells)
    latex = rf"\nabla_{{W}} L = \begin{{bmatrix}} {rows} \end{{bmatrix}} + \frac{{1}}{{2}}"
    tokens = [t for t, _ in breaking._tokens(latex)]
    assert rf"\begin{{bmatrix}} {rows} \end{{bmatrix}}" in tokens
    assert breaking.break_equation(latex) == slow_break(latex)
