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
#: a command (``\\begin{…}`` and ``\\end{…}`` whole), a run of characters that neither nest
#: nor break a line (each of those, a space run or anything else, one character)
_TOKENS = re.compile(r"\\(?:begin\{\w+\*?\}|end\{\w+\*?\}|[A-Za-z]+|.)|[^\\{}+\-=(\[,^_\s]+|\s+|.")
_COMMANDS = re.compile(r"\\(?:begin\{\w+\*?\}|end\{\w+\*?\}|[A-Za-z]+|.)")
_BEGIN = re.compile(r"\\begin\{(\w+\*?)\}")
#: a command, a run of characters without braces or backslashes, or one character
_CONTROL = re.compile(r"\\(?:[A-Za-z]+|.)|[^\\{}]+|.")
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
    \\right and \\begin…\\end all nest). A run of characters that neither nest nor break
    a line is one token, and so is a whole balanced environment (see :func:`_block_end`):
    a matrix of gradients is megabytes of text that never breaks."""
    out: list[tuple[str, int]] = []
    depth, i, n = 0, 0, len(latex)
    while i < n:
        tok = _TOKENS.match(latex, i).group(0)  # type: ignore[union-attr]
        if tok[0] == "\\":
            if depth >= 0 and tok.startswith(r"\begin{"):
                end = _block_end(latex, i)
                if end is not None:
                    out.append((latex[i:end], depth))
                    i = end
                    continue
            if tok.startswith(r"\end") or tok == r"\right":
                depth -= 1
            out.append((tok, depth))
            if tok.startswith(r"\begin") or tok == r"\left":
                depth += 1
        else:
            if tok == "}":
                depth -= 1
            out.append((tok, depth))
            if tok == "{":
                depth += 1
        i += len(tok)
    return out


def _block_end(latex: str, start: int) -> int | None:
    """Where the environment that opens at ``start`` (``\\begin{bmatrix}``) ends, if its body
    opens as many groups as it closes; else None, and the caller reads it token by token.

    Nothing inside a balanced environment is at the depth where lines break, so it is one
    token (assuming, as for all LaTeX this package writes, that no group is closed before it
    is opened). Backslashes pair up as the tokens read them (``\\\\`` is a line break)."""
    begin = _BEGIN.match(latex, start)
    if begin is None:
        return None
    name = re.escape(begin.group(1))
    fences = re.compile(rf"\\\\|\\begin\{{{name}\}}|\\end\{{{name}\}}")
    level, i = 1, begin.end()
    for m in fences.finditer(latex, i):
        f = m.group(0)
        if f[1] == "b":
            level += 1
        elif f[1] == "e":
            level -= 1
            if not level:
                return m.end() if _net_depth(latex[begin.end() : m.start()]) == 0 else None
    return None


def _net_depth(body: str) -> int:
    """How much deeper the tokens of ``body`` leave the nesting than they found it."""
    commands = _COMMANDS.findall(body)
    braces = body.count("{") - body.count("}")
    braces -= sum(c.count("{") - c.count("}") for c in commands if "{" in c or "}" in c)
    opens = sum(1 for c in commands if c.startswith(r"\begin") or c == r"\left")
    closes = sum(1 for c in commands if c.startswith(r"\end") or c == r"\right")
    return braces + opens - closes


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
        if depth == 0 and latex.startswith(r"\frac{", i):
            a_end = _group(latex, i + 5)
            b_end = _group(latex, a_end) if a_end < len(latex) and latex[a_end] == "{" else a_end
            num, den = latex[i + 6 : a_end - 1], latex[a_end + 1 : b_end - 1]
            if visible(num) > width * 2 // 3 and _breaks(num):
                out.append(rf"\frac{{1}}{{{den}}} \Bigl( {num} \Bigr)")
                i = b_end
                continue
        tok = _CONTROL.match(latex, i).group(0)  # type: ignore[union-attr]
        if tok == r"\begin" and depth >= 0:
            end = _block_end(latex, i)
            if end is not None:  # a balanced environment: no fraction in it is at depth 0
                out.append(latex[i:end])
                i = end
                continue
        if tok[0] == "\\":
            depth += tok in (r"\left",) or tok.startswith(r"\begin")
            depth -= tok in (r"\right",) or tok.startswith(r"\end")
        elif tok in "{}":
            depth += 1 if tok == "{" else -1
        out.append(tok)
        i += len(tok)
    return "".join(out)


def _breaks(latex: str) -> bool:
    return len(_pieces(latex)) > 1


def _pieces(latex: str) -> list[str]:
    """``latex`` cut before each relation and each binary + or − outside any group."""
    pieces: list[str] = []
    cur: list[str] = []
    blank = True  # cur is only spaces
    prev = ""
    for tok, depth in _tokens(latex):
        binary = tok in ("+", "-") and prev not in ("", "=", "(", "[", ",", "{", "^", "_", r"\Bigl")
        if depth == 0 and (tok in _RELATIONS or binary) and not blank:
            pieces.append("".join(cur))
            cur, blank = [], True
        cur.append(tok)
        if tok.strip():
            prev, blank = tok, False
    return pieces if blank else [*pieces, "".join(cur)]


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
