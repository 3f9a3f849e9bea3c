"""Long equations broken over aligned lines, so that a printed page does not clip them.

A worked solution's equation can run to hundreds of characters (a variance written
out as the sum of twelve squares, a Viterbi line). LaTeX, KaTeX and pandoc never
break display maths, so this module does, on the LaTeX text: at the relations
(``=``, ``\\approx``) and the ``+``/``−`` between terms outside any group, with
the lines aligned on the relation. A fraction whose numerator is a long sum is
first written as ``\\frac{1}{n}\\Bigl(\\ldots\\Bigr)`` so that its terms can break.
"""

from __future__ import annotations

import re

#: characters of maths a line holds: KaTeX's display size on A4 with print margins fits
#: about 75, so 72 leaves room for what :func:`visible` underestimates
WIDTH = 72

_COMMAND = re.compile(r"\\[A-Za-z]+|\\.")
_INVISIBLE = re.compile(
    r"\\(?:left|right|[Bb]igg?[lr]?|begin\{\w+\}|end\{\w+\}|text|mathrm|operatorname|"
    r"quad|qquad|[,;:!]|displaystyle)(?![A-Za-z])"
)
_SIMPLE_FRAC = re.compile(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}")
_SPACED = re.compile(
    r"[+=<>]|(?<![{(\[,^_])\s*-|\\(?:cdot|times|approx|le|ge|leq|geq|neq|to|mid)(?![A-Za-z])"
)
_TOKEN = re.compile(r"\\(?:begin\{\w+\*?\}|end\{\w+\*?\}|[A-Za-z]+|.)")
_CONTROL = re.compile(r"\\(?:[A-Za-z]+|.)")
_RELATIONS = ("=", r"\approx", r"\le", r"\ge", r"\leq", r"\geq", r"\neq", r"\to")


def visible(latex: str) -> int:
    """Roughly how many characters wide ``latex`` is when typeset (a command is one glyph)."""
    s = latex
    while True:  # a fraction is as wide as the wider of its two lines
        t = _SIMPLE_FRAC.sub(lambda m: max(m.group(1), m.group(2), key=len), s)
        if t == s:
            break
        s = t
    s = _INVISIBLE.sub("", s)
    spaced = len(_SPACED.findall(s))  # + − = \cdot take their glyph and a space each side
    s = _COMMAND.sub("x", s)
    return len(re.sub(r"[{}_^&\s]", "", s)) + 2 * spaced


def _tokens(latex: str) -> list[tuple[str, int]]:
    """The text cut into tokens, each with the nesting depth it starts at (groups, \\left…
    \\right and \\begin…\\end all nest)."""
    out: list[tuple[str, int]] = []
    depth, i = 0, 0
    while i < len(latex):
        c = latex[i]
        if c == "\\":
            m = _TOKEN.match(latex, i)  # at i: slicing the rest of the text each time is quadratic
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


def _group(latex: str, start: int) -> int:
    """The index after the brace group that opens at ``start``."""
    depth = 0
    for i in range(start, len(latex)):
        if latex[i] == "\\":
            continue
        if latex[i] == "{" and (i == 0 or latex[i - 1] != "\\"):
            depth += 1
        elif latex[i] == "}" and latex[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(latex)


def _open_fractions(latex: str, width: int) -> str:
    """``\\frac{a + b + …}{n}`` with a numerator too long for a line, as
    ``\\frac{1}{n}\\Bigl(a + b + …\\Bigr)``, whose terms can then break."""
    out, i = [], 0
    depth = 0
    while i < len(latex):
        if latex.startswith(r"\frac{", i) and depth == 0:
            a_end = _group(latex, i + 5)
            b_end = _group(latex, a_end) if a_end < len(latex) and latex[a_end] == "{" else a_end
            num, den = latex[i + 6 : a_end - 1], latex[a_end + 1 : b_end - 1]
            if visible(num) > width * 2 // 3 and _breaks(num):
                out.append(rf"\frac{{1}}{{{den}}} \Bigl( {num} \Bigr)")
                i = b_end
                continue
        c = latex[i]
        if c == "\\":
            m = _CONTROL.match(latex, i)
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


def _breaks(latex: str) -> bool:
    return len(_pieces(latex)) > 1


def _pieces(latex: str) -> list[str]:
    """``latex`` cut before each relation and each binary + or − outside any group."""
    pieces, cur = [], ""
    prev = ""
    for tok, depth in _tokens(latex):
        binary = tok in ("+", "-") and prev not in ("", "=", "(", "[", ",", "{", "^", "_", r"\Bigl")
        if depth == 0 and (tok in _RELATIONS or binary) and cur.strip():
            pieces.append(cur)
            cur = ""
        cur += tok
        if tok.strip():
            prev = tok
    return [*pieces, cur] if cur.strip() else pieces


def break_equation(latex: str, width: int = WIDTH) -> str:
    """``latex`` as it is when it fits in ``width``, else as ``aligned`` lines that do,
    aligned on the first relation (continued sums indented under it)."""
    if visible(latex) <= width or r"\begin{aligned}" in latex:
        return latex
    pieces = _pieces(_open_fractions(latex, width))
    if len(pieces) < 2:
        return latex
    first_rel = next((j for j, p in enumerate(pieces) if p.lstrip().startswith(_RELATIONS)), None)
    lines: list[str] = []
    cur = "".join(pieces[:first_rel]) if first_rel else ""
    rest = pieces[first_rel:] if first_rel else pieces
    cur = cur.strip() + " &" if first_rel else "&"
    filled = bool(first_rel is None)
    for p in rest:
        piece = p.strip()
        if filled and visible(cur) + visible(piece) > width:
            lines.append(cur)
            cur = "&" if piece.startswith(_RELATIONS) else r"&\quad"
            filled = False
        cur += " " + piece
        filled = True
    lines.append(cur)
    return r"\begin{aligned} " + r" \\ ".join(lines) + r" \end{aligned}"
