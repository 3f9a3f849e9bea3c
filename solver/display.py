"""How a worked step's maths is written down, once, for both LaTeX and the terminal.

A kind describes an equation as a small tree (``eq(sym("mu", 1), frac(add(4, 4, 8, 8), 4), 6)``)
and every renderer prints the same tree: LaTeX for Markdown and JSON, and a
Unicode layout for the terminal, where matrices are drawn with brackets over
several lines. Nothing here computes: the numbers arrive exact and are only
formatted (through :mod:`solver.exact`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import exact

# Binding strength, for parentheses: a child weaker than its parent is wrapped.
ADD, NEG, MUL, POW, ATOM = 10, 15, 20, 30, 100


_COMBINING = re.compile("[\u0300-\u036f]")  # the combining diacritical marks (x̂)


def width(s: str) -> int:
    """Columns a string takes on the terminal (combining accents, as in x̂, take none)."""
    return len(s) if s.isascii() else len(s) - len(_COMBINING.findall(s))


def pad(s: str, n: int, *, right: bool = False) -> str:
    """``s`` padded with spaces to ``n`` columns (on the left when ``right``-aligned)."""
    fill = " " * max(0, n - width(s))
    return fill + s if right else s + fill


@dataclass
class Block:
    """Lines of text of equal width with a baseline: a tiny 2-D layout for the terminal."""

    lines: list[str]
    baseline: int = 0

    @staticmethod
    def of(text: str) -> Block:
        return Block([text], 0)

    @property
    def width(self) -> int:
        return max((width(s) for s in self.lines), default=0)

    def padded(self) -> Block:
        w = self.width
        return Block([pad(s, w) for s in self.lines], self.baseline)


def hcat(*blocks: Block) -> Block:
    """Blocks side by side, baselines aligned."""
    if all(len(b.lines) == 1 for b in blocks):  # the common case: one line of maths
        return Block(["".join(b.lines[0] for b in blocks)], 0)
    above = max(b.baseline for b in blocks)
    below = max(len(b.lines) - b.baseline - 1 for b in blocks)
    lines = [""] * (above + below + 1)
    for b in blocks:
        b = b.padded()
        top = above - b.baseline
        blank = " " * b.width
        for i in range(len(lines)):
            j = i - top
            lines[i] += b.lines[j] if 0 <= j < len(b.lines) else blank
    return Block([s.rstrip() if i != above else s for i, s in enumerate(lines)], above)


class M:
    """A piece of displayable maths. It does not change once built, so each subclass's
    ``block`` (the terminal layout) and ``latex`` are worked out once and remembered: a chain
    compares its parts before it prints them, and the Markdown renderer measures an answer's
    LaTeX before it writes it (a network's gradient is a quarter of a megabyte of it)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "block" in cls.__dict__:
            cls.block = _remembered(cls.__dict__["block"])  # type: ignore[method-assign]
        if "latex" in cls.__dict__:
            cls.latex = _remembered_latex(cls.__dict__["latex"])  # type: ignore[method-assign]

    def latex(self) -> str:
        raise NotImplementedError

    def block(self) -> Block:
        raise NotImplementedError

    def text(self) -> str:
        """Unicode, possibly over several lines (matrices)."""
        return "\n".join(s.rstrip() for s in self.block().lines)

    def prec(self) -> int:
        """Binding strength in the Unicode form."""
        return ATOM

    def prec_latex(self) -> int:
        """Binding strength in the LaTeX form (\\frac binds tighter than a slash)."""
        return self.prec()


def _remembered(block: Callable[[M], Block]) -> Callable[[M], Block]:
    def remembered(self: M) -> Block:
        cached = self.__dict__.get("_block")
        if cached is None:
            cached = self.__dict__["_block"] = block(self)
        return cached

    remembered.__doc__ = block.__doc__
    return remembered


def _remembered_latex(latex: Callable[[M], str]) -> Callable[[M], str]:
    def remembered(self: M) -> str:
        cached = self.__dict__.get("_latex_written")
        if cached is None:
            cached = self.__dict__["_latex_written"] = latex(self)
        return cached

    remembered.__doc__ = latex.__doc__
    return remembered


def m(x: Any) -> M:
    """Anything displayable: M as itself, a list as a matrix, a string as a symbol."""
    if isinstance(x, M):
        return x
    if isinstance(x, list):
        return Mat(x)
    if isinstance(x, str):
        return Sym(x)
    return Num(x)


def _wrap_text(child: M, prec: int) -> Block:
    b = child.block()
    if child.prec() < prec:
        return hcat(
            _paren_block("(", len(b.lines), b.baseline),
            b,
            _paren_block(")", len(b.lines), b.baseline),
        )
    return b


def _wrap_latex(child: M, prec: int) -> str:
    s = child.latex()
    return rf"\left({s}\right)" if child.prec_latex() < prec else s


def _paren_block(ch: str, height: int, baseline: int) -> Block:
    if height == 1:
        return Block([ch], 0)
    top, mid, bot = ("⎛", "⎜", "⎝") if ch == "(" else ("⎞", "⎟", "⎠")
    return Block([top] + [mid] * (height - 2) + [bot], baseline)


class Num(M):
    """An exact scalar (or None for an undefined value, or a boolean).

    ``decimal=True`` writes a rational with a terminating decimal expansion as
    that decimal (``-9.1`` rather than ``-91/10``): for quantities the problem
    gives as decimals, such as log-probabilities. The value stays exact.
    """

    def __init__(self, value: Any, *, decimal: bool = False) -> None:
        self.value = value
        self.decimal = decimal

    def _decimal(self) -> str | None:
        return exact.decimal(self.value) if self.decimal else None

    def latex(self) -> str:
        if self.value is None:
            return r"\text{undefined}"
        return self._decimal() or exact.latex(self.value)

    def block(self) -> Block:
        if self.value is None:
            return Block.of("undefined")
        return Block.of(self._decimal() or exact.unicode(self.value))

    def prec(self) -> int:
        v = self.value
        if v is None or isinstance(v, bool):
            return ATOM
        if exact.is_compound(v):
            return ADD
        if exact.is_negative_looking(v):
            return NEG
        s = self._decimal() or exact.unicode(v)
        if any(c in s for c in "/·* "):
            return MUL
        return ATOM

    def prec_latex(self) -> int:
        v = self.value
        if v is None or isinstance(v, bool):
            return ATOM
        if exact.is_compound(v):
            return ADD
        if exact.is_negative_looking(v):
            return NEG
        return MUL if not exact.is_rational(v) else ATOM

    def __neg__(self) -> Num:
        return Num(-self.value, decimal=self.decimal)


def _sub_text(sub: Any) -> str:
    s = ",".join(str(x) for x in sub) if isinstance(sub, tuple) else str(sub)
    if all(c in exact._SUB_CHARS or c == "," for c in s):
        return s.translate(exact.SUBSCRIPT).replace(",", "‚")
    return f"[{s}]"


class Sym(M):
    """A named quantity: Greek names become letters, with an optional sub/superscript."""

    def __init__(
        self, name: str, sub: Any = None, sup: Any = None, *, bold: bool = False, hat: bool = False
    ) -> None:
        self.name, self.sub, self.sup, self.bold, self.hat = name, sub, sup, bold, hat

    def latex(self) -> str:
        s = exact.greek_latex(self.name)
        if self.hat:
            s = rf"\hat{{{s}}}"
        if self.bold:
            s = rf"\mathbf{{{s}}}"
        if self.sub is not None:
            sub = ",".join(str(x) for x in self.sub) if isinstance(self.sub, tuple) else self.sub
            s += f"_{{{sub}}}"
        if self.sup is not None:
            s += f"^{{{self.sup}}}"
        return s

    def block(self) -> Block:
        s = exact.greek_unicode(self.name)
        if self.hat:
            s += "\u0302"
        if self.sub is not None:
            s += _sub_text(self.sub)
        if self.sup is not None:
            sup = str(self.sup)
            tr = sup.translate(exact.SUPERSCRIPT)
            s += tr if all(c in "0123456789+-=()nT" for c in sup) else f"^{sup}"
        return Block.of(s)


class Text(M):
    """Words inside an equation (``\\text{...}``)."""

    def __init__(self, s: str) -> None:
        self.s = s

    def latex(self) -> str:
        return exact.latex_text(self.s)

    def block(self) -> Block:
        return Block.of(self.s)


class Add(M):
    """``a + b - c``: a negative term is written as a subtraction."""

    def __init__(self, *terms: Any) -> None:
        self.terms = [m(t) for t in terms]

    def prec(self) -> int:
        return ADD if len(self.terms) > 1 else self.terms[0].prec()

    def prec_latex(self) -> int:
        return ADD if len(self.terms) > 1 else self.terms[0].prec_latex()

    def _split(self) -> list[tuple[str, M]]:
        out = []
        for i, t in enumerate(self.terms):
            if i and isinstance(t, Neg):
                out.append(("-", t.x))
            elif i and isinstance(t, Num) and t.prec() == NEG:
                out.append(("-", -t))
            else:
                out.append(("+", t))
        return out

    def latex(self) -> str:
        parts = []
        for i, (op, t) in enumerate(self._split()):
            s = _wrap_latex(t, ADD + 1 if op == "-" else ADD)
            parts.append(s if i == 0 else f" {op} {s}")
        return "".join(parts)

    def block(self) -> Block:
        blocks = []
        for i, (op, t) in enumerate(self._split()):
            if i:
                blocks.append(Block.of(f" {op} "))
            blocks.append(_wrap_text(t, ADD + 1 if op == "-" else ADD))
        return hcat(*blocks)


def sub(a: Any, b: Any) -> Add:
    """``a − b``."""
    return Add(a, Neg(b))


class Neg(M):
    """``−x``."""

    def __init__(self, x: Any) -> None:
        self.x = m(x)

    def prec(self) -> int:
        return NEG

    def latex(self) -> str:
        return "-" + _wrap_latex(self.x, MUL)

    def block(self) -> Block:
        return hcat(Block.of("-"), _wrap_text(self.x, MUL))


class Mul(M):
    """``a·b``: juxtaposed where the product is unambiguous (``2√3``, ``2γ``)."""

    def __init__(self, *factors: Any) -> None:
        self.factors = [m(f) for f in factors]

    def prec(self) -> int:
        return MUL

    def latex(self) -> str:
        return r" \cdot ".join(
            _wrap_latex(f, MUL + 1 if i else MUL) for i, f in enumerate(self.factors)
        )

    def block(self) -> Block:
        blocks: list[Block] = []
        for i, f in enumerate(self.factors):
            if i:
                blocks.append(Block.of("·"))
            blocks.append(_wrap_text(f, MUL + 1 if i else MUL))
        return hcat(*blocks)


class Frac(M):
    """``n/d``: ``\\frac`` in LaTeX, a slash on the terminal."""

    def __init__(self, n: Any, d: Any) -> None:
        self.n, self.d = m(n), m(d)

    def prec(self) -> int:
        return MUL

    def prec_latex(self) -> int:
        return ATOM

    def latex(self) -> str:
        return rf"\frac{{{self.n.latex()}}}{{{self.d.latex()}}}"

    def block(self) -> Block:
        return hcat(_wrap_text(self.n, MUL), Block.of("/"), _wrap_text(self.d, MUL + 1))


class Sqrt(M):
    """``√x``."""

    def __init__(self, x: Any) -> None:
        self.x = m(x)

    def prec_latex(self) -> int:
        return ATOM

    def latex(self) -> str:
        return rf"\sqrt{{{self.x.latex()}}}"

    def block(self) -> Block:
        inner = self.x.block()
        if self.x.prec() >= ATOM and len(inner.lines) == 1:
            return hcat(Block.of("√"), inner)
        return hcat(Block.of("√"), _paren_block("(", 1, 0), inner, _paren_block(")", 1, 0))


class Pow(M):
    """``b^e``: superscript digits on the terminal where they exist."""

    def __init__(self, base: Any, exp: Any) -> None:
        self.base, self.exp = m(base), exp

    def prec(self) -> int:
        return POW

    def latex(self) -> str:
        e = self.exp.latex() if isinstance(self.exp, M) else str(self.exp)
        return f"{_wrap_latex(self.base, POW + 1)}^{{{e}}}"

    def block(self) -> Block:
        base = _wrap_text(self.base, POW + 1)
        e = self.exp.text() if isinstance(self.exp, M) else str(self.exp)
        if all(c in "0123456789+-=()nT" for c in e):
            return hcat(base, Block.of(e.translate(exact.SUPERSCRIPT)))
        return hcat(base, Block.of(f"^({e})" if len(e) > 1 else f"^{e}"))


class Call(M):
    """A named function applied to arguments: ``Var(x)``, ``max(a, b)``."""

    def __init__(self, name: str, *args: Any, latex_name: str | None = None) -> None:
        self.name, self.args = name, [m(a) for a in args]
        self.latex_name = latex_name or (rf"\operatorname{{{name}}}" if len(name) > 1 else name)

    def latex(self) -> str:
        inner = ", ".join(a.latex() for a in self.args)
        return rf"{self.latex_name}\left({inner}\right)"

    def block(self) -> Block:
        blocks = [Block.of(self.name + "(")]
        for i, a in enumerate(self.args):
            if i:
                blocks.append(Block.of(", "))
            blocks.append(a.block())
        blocks.append(Block.of(")"))
        return hcat(*blocks)


class Norm(M):
    """``‖x‖`` (or ``|x|`` with ``bars=1``)."""

    def __init__(self, x: Any, bars: int = 2) -> None:
        self.x, self.bars = m(x), bars

    def latex(self) -> str:
        bar = r"\|" if self.bars == 2 else "|"
        return rf"\left{bar}{self.x.latex()}\right{bar}"

    def block(self) -> Block:
        bar = "‖" if self.bars == 2 else "|"
        return hcat(Block.of(bar), self.x.block(), Block.of(bar))


class Raw(M):
    """Maths given directly as LaTeX and Unicode, for notation the tree has no node for."""

    def __init__(self, latex: str, text: str, prec: int = ATOM) -> None:
        self._latex, self._text, self._prec = latex, text, prec

    def latex(self) -> str:
        return self._latex

    def block(self) -> Block:
        return Block.of(self._text)

    def prec(self) -> int:
        return self._prec


class Summation(M):
    """``Σ_{i=lo}^{hi} body``."""

    def __init__(self, index: str, lo: Any, hi: Any, body: Any) -> None:
        self.index, self.lo, self.hi, self.body = index, m(lo), m(hi), m(body)

    def prec(self) -> int:
        return MUL

    def latex(self) -> str:
        return rf"\sum_{{{self.index}={self.lo.latex()}}}^{{{self.hi.latex()}}} " + _wrap_latex(
            self.body, MUL
        )

    def block(self) -> Block:
        label = f"Σ[{self.index}={self.lo.text()}..{self.hi.text()}] "
        return hcat(Block.of(label), _wrap_text(self.body, MUL))


class Floor(M):
    """``⌊x⌋`` (or ``⌈x⌉`` with ``ceil=True``)."""

    def __init__(self, x: Any, *, ceil: bool = False) -> None:
        self.x, self.ceil = m(x), ceil

    def latex(self) -> str:
        left, right = (r"\lceil", r"\rceil") if self.ceil else (r"\lfloor", r"\rfloor")
        return rf"\left{left} {self.x.latex()} \right{right}"

    def block(self) -> Block:
        left, right = ("⌈", "⌉") if self.ceil else ("⌊", "⌋")
        return hcat(Block.of(left), self.x.block(), Block.of(right))


# --------------------------------------------------------------------------- tensors

TEXT_EDGE = 4  # on the terminal, a long axis shows this many entries at each end


ELLIPSIS = object()  # where a long axis is cut on the terminal


def _elided(items: Sequence[Any], limit: int) -> list[Any]:
    """Entries of a long axis with the ELLIPSIS marker in the middle."""
    if len(items) <= 2 * limit + 1:
        return list(items)
    return [*items[:limit], ELLIPSIS, *items[-limit:]]


class Mat(M):
    """A vector, matrix or tensor: ``bmatrix`` in LaTeX, bracketed rows on the terminal.

    The terminal elides long axes as numpy does (the JSON and Markdown outputs
    are never elided: they are the record).
    """

    def __init__(self, t: list[Any], *, decimal: bool = False) -> None:
        self.t = t
        self.decimal = decimal

    def _num(self, x: Any) -> Num:
        return Num(x, decimal=self.decimal)

    def _entry_latex(self, x: Any) -> str:
        if x is None or self.decimal:
            return self._num(x).latex()
        return exact.latex(x)

    def latex(self) -> str:
        t = self.t
        if not t or not isinstance(t[0], list):
            return (
                r"\begin{bmatrix} "
                + " & ".join(self._entry_latex(x) for x in t)
                + r" \end{bmatrix}"
            )
        if not isinstance(t[0][0], list):
            rows = [" & ".join(self._entry_latex(x) for x in row) for row in t]
            return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"
        return (
            r"\left[ " + ",\\; ".join(Mat(s, decimal=self.decimal).latex() for s in t) + r" \right]"
        )

    def block(self) -> Block:
        t = self.t
        if not t or not isinstance(t[0], list):
            cells = ["…" if x is ELLIPSIS else self._num(x).text() for x in _elided(t, TEXT_EDGE)]
            return Block.of("[" + ", ".join(cells) + "]")
        if not isinstance(t[0][0], list):
            return _matrix_block(t, self._num)
        parts: list[Block] = [Block.of("[")]
        for i, s in enumerate(_elided(t, TEXT_EDGE // 2)):
            if i:
                parts.append(Block.of(", "))
            parts.append(Block.of("…") if s is ELLIPSIS else Mat(s, decimal=self.decimal).block())
        parts.append(Block.of("]"))
        return hcat(*parts)


def _matrix_block(rows: list[list[Any]], num: Any = Num) -> Block:
    shown_rows = _elided(rows, TEXT_EDGE)
    grid: list[list[str] | None] = []  # None: the elided rows
    for row in shown_rows:
        if row is ELLIPSIS:
            grid.append(None)
            continue
        cells = _elided(row, TEXT_EDGE)  # only the entries shown are written
        grid.append(["…" if c is ELLIPSIS else num(c).text() for c in cells])
    ncols = max(len(r) for r in grid if r is not None)
    widths = [max(width(r[j]) for r in grid if r is not None) for j in range(ncols)]
    lines = []
    for r in grid:
        if r is None:
            lines.append("  ".join(pad("⋮", w, right=True) for w in widths))
        else:
            lines.append("  ".join(pad(c, w, right=True) for c, w in zip(r, widths, strict=True)))
    if len(lines) == 1:  # a 1 × n matrix, written so that it is not mistaken for a vector
        return Block.of("[[" + ", ".join(c for c in grid[0] or []) + "]]")
    n = len(lines)
    out = []
    for i, s in enumerate(lines):
        left, right = ("⎡", "⎤") if i == 0 else ("⎣", "⎦") if i == n - 1 else ("⎢", "⎥")
        out.append(f"{left}{s}{right}")
    return Block(out, (n - 1) // 2)


# --------------------------------------------------------------------------- tables


BLANK = "—"  # a table cell that does not apply (a ReLU's parameters)


@dataclass
class Table(M):
    """A small table: a per-layer summary in the manner of torchinfo (layer, output shape,
    params, MACs) attached to a Solution, the kept beams of a search step, a tree given.

    A cell is an exact number, a shape (a list such as ``[4, n]``), text, maths (:class:`M`)
    or None (left empty). ``footer`` rows (totals) are set apart under a rule. In a step or
    at the top of a solution the renderers lay it out as a real table (a pipe table in
    Markdown); anywhere else it is maths like the rest (an ``array`` in LaTeX).
    """

    columns: list[str]
    rows: list[list[Any]]
    title: str | None = None
    footer: list[list[Any]] = field(default_factory=list)
    #: one of l, r, c per column; by default numbers right, everything else left
    align: str | None = None

    def __post_init__(self) -> None:
        if any(len(r) != len(self.columns) for r in (*self.rows, *self.footer)):
            raise ValueError("every row of a table needs one cell per column")

    def numeric(self, j: int) -> bool:
        """Whether column ``j`` holds numbers (and blanks: None, "" or "—") only, so that it is
        right-aligned."""
        cells = [r[j] for r in (*self.rows, *self.footer) if r[j] not in (None, "", BLANK)]
        return bool(cells) and all(exact.is_scalar(c) for c in cells)

    def right(self, j: int) -> bool:
        """Whether column ``j`` is right-aligned."""
        return self.align[j] == "r" if self.align else self.numeric(j)

    def block(self) -> Block:
        """Aligned columns under a rule, totals under another, as torchinfo prints."""
        cells = [[cell_text(c) for c in row] for row in (self.rows + self.footer)]
        widths = [
            max([width(h)] + [width(r[j]) for r in cells]) for j, h in enumerate(self.columns)
        ]
        right = [self.right(j) for j in range(len(self.columns))]

        def line(row: list[str]) -> str:
            return "  ".join(
                pad(c, w, right=r) for c, w, r in zip(row, widths, right, strict=True)
            ).rstrip()

        rule = "─" * (sum(widths) + 2 * (len(widths) - 1))
        out = [line(list(self.columns)), rule, *[line(r) for r in cells[: len(self.rows)]]]
        if self.footer:
            out += [rule, *[line(r) for r in cells[len(self.rows) :]]]
        return Block(out, 0)

    def latex(self) -> str:
        align = "".join("r" if self.right(j) else "l" for j in range(len(self.columns)))
        rows = [
            [exact.latex_text(c) for c in self.columns],
            *([_cell_latex(c) for c in row] for row in (*self.rows, *self.footer)),
        ]
        body = r" \\ ".join(" & ".join(row) for row in rows)
        return rf"\begin{{array}}{{{align}}} {body} \end{{array}}"


def cell_text(x: Any) -> str:
    """A table cell for the terminal: ``6,784``, ``[4, 128]``, ``6656n``."""
    if x is None:
        return ""
    if isinstance(x, M):
        return x.text()
    if isinstance(x, list):
        return "[" + ", ".join(exact.unicode(v) for v in x) + "]"
    if isinstance(x, int) and not isinstance(x, bool):
        return f"{x:,}"
    return exact.unicode(x)


def _cell_latex(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, str):
        return exact.latex_text(x)
    if isinstance(x, list):
        return "[" + ", ".join(exact.latex(v) for v in x) + "]"
    return m(x).latex()


# --------------------------------------------------------------------------- equations


class Chain(M):
    """``a = b = c`` (or any relations: ``≤``, ``≈``, ``⇒``) with the parts laid side by side."""

    LATEX = {
        "=": "=",
        "<=": r"\le",
        ">=": r"\ge",
        "~": r"\approx",
        "=>": r"\Rightarrow",
        "<": "<",
        ">": ">",
        "!=": r"\ne",
        "->": r"\to",
        ":=": ":=",
    }
    TEXT = {
        "=": "=",
        "<=": "≤",
        ">=": "≥",
        "~": "≈",
        "=>": "⇒",
        "<": "<",
        ">": ">",
        "!=": "≠",
        "->": "→",
        ":=": ":=",
    }

    def __init__(
        self, parts: Sequence[Any], rels: Sequence[str], *, drop_repeats: bool = False
    ) -> None:
        self._parts = [m(p) for p in parts]
        self._rels = list(rels)
        self._drop_repeats = drop_repeats
        if len(self._rels) != len(self._parts) - 1:
            raise ValueError("a chain needs one relation between each pair of parts")

    def _shown(self) -> tuple[list[M], list[str]]:
        """The parts and relations as shown: with ``drop_repeats``, ``6 = 6`` becomes ``6``.

        Decided when the chain is rendered, not when it is built, because telling
        two parts apart means rendering them, and a solution re-solved by the
        checker is never rendered.
        """
        if not self._drop_repeats:
            return self._parts, self._rels
        parts = [self._parts[0]]
        rels: list[str] = []
        for rel, p in zip(self._rels, self._parts[1:], strict=True):
            if not _repeats(p, parts[-1]):
                parts.append(p)
                rels.append(rel)
        self._parts, self._rels, self._drop_repeats = parts, rels, False
        return parts, rels

    @property
    def parts(self) -> list[M]:
        return self._shown()[0]

    @property
    def rels(self) -> list[str]:
        return self._shown()[1]

    def prec(self) -> int:
        return 0

    def latex(self) -> str:
        out = self.parts[0].latex()
        for rel, p in zip(self.rels, self.parts[1:], strict=True):
            out += f" {self.LATEX[rel]} {p.latex()}"
        return out

    def block(self) -> Block:
        blocks = [self.parts[0].block()]
        for rel, p in zip(self.rels, self.parts[1:], strict=True):
            blocks += [Block.of(f" {self.TEXT[rel]} "), p.block()]
        return hcat(*blocks)


def eq(*parts: Any) -> Chain:
    """``parts[0] = parts[1] = ...``; consecutive duplicates (``6 = 6``) are dropped."""
    return Chain(parts, ["="] * (len(parts) - 1), drop_repeats=True)


def _repeats(a: M, b: M) -> bool:
    """Whether ``a`` prints as ``b`` does on the terminal (``6 = 6``; ``√4 = 2`` is kept).
    Tensors and tables are never compared: a repeat costs less than rendering them."""
    if isinstance(a, Num) and isinstance(b, Num):
        x, y = a.value, b.value
        if exact.is_rational(x) and exact.is_rational(y):
            return x == y
    if isinstance(a, (Mat, Table)) or isinstance(b, (Mat, Table)):
        return False
    return a.block().lines == b.block().lines  # remembered, and printed next anyway


def rel(*items: Any) -> Chain:
    """``rel(a, "<=", b, "=", c)``: a chain with explicit relations."""
    return Chain(items[0::2], items[1::2])


def lines_latex(math: Sequence[M]) -> str:
    """Several equations as one LaTeX display (``gathered``: one per line, centred)."""
    if len(math) == 1:
        return math[0].latex()
    return r"\begin{gathered} " + r" \\ ".join(x.latex() for x in math) + r" \end{gathered}"


# --------------------------------------------------------------------------- maths in a sentence

#: the marks around a formula inside a step's sentence: ``says("… is ⟦k_h·k_w·C_in⟧ …")``
OPEN, CLOSE = "⟦", "⟧"
_MARKED = re.compile(f"{OPEN}(.*?){CLOSE}", re.S)


class Prose(str):
    """A step's sentence that knows which of its pieces are maths.

    As a ``str`` it is the sentence the terminal prints (Unicode maths, unmarked), so every
    reader of a step's text keeps working; :attr:`parts` gives the words and the formulas
    apart, so that Markdown writes each formula whole as ``$…$`` and never guesses where
    a formula starts or ends."""

    parts: tuple[str | M, ...]

    def __new__(cls, *parts: str | M) -> Prose:
        self = super().__new__(cls, "".join(p if isinstance(p, str) else p.text() for p in parts))
        self.parts = tuple(parts)
        return self


def says(text: str) -> Prose:
    """A sentence whose formulas are marked ⟦…⟧ (written in Unicode, as the terminal shows
    them): ``says(f"Each filter has ⟦k_h·k_w·(C_in/groups)⟧ = {n} weights.")``."""
    pieces = _MARKED.split(text)
    return Prose(*(Formula(p) if i % 2 else p for i, p in enumerate(pieces) if p))


class Formula(M):
    """A formula as a step's sentence writes it in Unicode; its LaTeX is that notation read
    token by token (:func:`unicode_latex`), since the author marked where it starts and
    ends. Anything the notation cannot say is written as :class:`Raw` instead."""

    def __init__(self, text: str) -> None:
        self._text = text

    def latex(self) -> str:
        return unicode_latex(self._text)

    def block(self) -> Block:
        return Block.of(self._text)


_SYMBOLS = {
    "·": r" \cdot ",
    "×": r" \times ",
    "−": "-",
    "–": "-",
    "≤": r" \le ",
    "≥": r" \ge ",
    "≠": r" \ne ",
    "≈": r" \approx ",
    "←": r" \leftarrow ",
    "→": r" \to ",
    "⇒": r" \Rightarrow ",
    "∞": r"\infty ",
    "∂": r"\partial ",
    "∇": r"\nabla ",
    "‖": r"\| ",
    "⌊": r"\lfloor ",
    "⌋": r"\rfloor ",
    "⌈": r"\lceil ",
    "⌉": r"\rceil ",
    "⊙": r" \odot ",
    "⊗": r" \otimes ",
    "⋯": r"\cdots ",
    "…": r"\ldots ",
    "∈": r" \in ",
    "∑": r"\sum ",
    "∏": r"\prod ",
    "ᵀ": r"^\top ",
    "′": "'",
    "½": r"\tfrac{1}{2}",
    "<": r" \lt ",
    ">": r" \gt ",
    "%": r"\%",
    "#": r"\#",
    "&": r"\&",
    "~": r"\sim ",
    "ℓ": r"\ell ",
}
_SUPERSCRIPT = {"²": "2", "³": "3", "ᵗ": "t", "ⁿ": "n", "⁻¹": "-1", "ᵏ": "k", "ˡ": "l"}
_SUBSCRIPT = dict(zip("₀₁₂₃₄₅₆₇₈₉ₜᵢⱼₖₗₙ", "0123456789tijkln", strict=True))
_WORDS = {"log", "exp", "max", "min", "cos", "sin", "tanh", "ln", "det", "arg", "sup", "inf"}
_GREEK_CHARS = {ch: exact.greek_latex(name) for name, ch in exact._GREEK_UNICODE.items()}
_GREEK_CHARS.update({"Σ": r"\sum", "Π": r"\prod"})
_TOKEN = re.compile(
    r"(?P<accent>[A-Za-z][\u0302\u0304]|ḡ)"
    r"|(?P<word>[A-Za-z][A-Za-z0-9]*(?:_(?=[A-Za-z]{2})[A-Za-z0-9]+)*)"
    r"|(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<sub>[₀₁₂₃₄₅₆₇₈₉ₜᵢⱼₖₗₙ]+)"
    r"|(?P<sup>⁻¹|[²³ᵗⁿᵏˡ])"
    r"|(?P<root>√)"
    r"|(?P<script>[_^])"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.S,
)


def unicode_latex(text: str) -> str:
    """The LaTeX of a formula written in the Unicode a terminal shows (η₀·γ^⌊e/s⌋, C_in,
    √(1 − β₂ᵗ), ‖∂h_T/∂h₀‖, x̂, ḡ): a reading of notation, not a search for where maths is."""
    return re.sub(" {2,}", " ", _Reader(text).run()).strip()


class _Reader:
    def __init__(self, text: str) -> None:
        self.toks = [(mt.lastgroup or "", mt.group()) for mt in _TOKEN.finditer(text)]
        self.i = 0

    def run(self, stop: str | None = None) -> str:
        out: list[str] = []
        while self.i < len(self.toks):
            kind, s = self.toks[self.i]
            if stop is not None and kind == "other" and s == stop:
                return "".join(out)
            self.i += 1
            out.append(self.token(kind, s))
        return "".join(out)

    def token(self, kind: str, s: str) -> str:
        if kind == "word":
            return _word(s)
        if kind == "sub":
            return "_{" + "".join(_SUBSCRIPT[c] for c in s) + "}"
        if kind == "sup":
            return "^{" + _SUPERSCRIPT[s] + "}"
        if kind == "accent":
            if s == "ḡ":
                return r"\bar{g}"
            return ("\\hat{" if s[1] == "\u0302" else "\\bar{") + s[0] + "}"
        if kind == "root":
            return r"\sqrt{" + self.group(root=True) + "}"
        if kind == "script":
            return s + "{" + self.group() + "}"
        if kind == "space":
            return " "
        if s in _GREEK_CHARS:
            return _GREEK_CHARS[s] + " "
        if s == "|":
            return r" \mid " if self._spaced() else "|"
        return _SYMBOLS.get(s, s)

    def _spaced(self) -> bool:
        before = self.toks[self.i - 2][0] if self.i >= 2 else "space"
        after = self.toks[self.i][0] if self.i < len(self.toks) else "space"
        return before == "space" and after == "space"

    def group(self, *, root: bool = False) -> str:
        """What a script or a root applies to: a bracketed group (``{…}`` loses its braces, and
        a root's ``(…)`` its parentheses; ⌊…⌋ keeps its brackets), or the next token (a
        name after ``_`` or ``^`` is upright text: η_min)."""
        if self.i >= len(self.toks):
            return ""
        kind, s = self.toks[self.i]
        closing = {"{": "}", "(": ")", "⌊": "⌋", "⌈": "⌉", "[": "]"}
        if kind == "other" and s in closing:
            self.i += 1
            inner = self.run(closing[s])
            self.i += 1
            if s == "{" or (root and s == "("):
                return inner
            return _SYMBOLS.get(s, s) + inner + _SYMBOLS.get(closing[s], closing[s])
        self.i += 1
        if kind == "word" and len(s) > 1 and not root:
            return r"\text{" + s.replace("_", r"\_") + "}"
        return self.token(kind, s)


def _word(s: str) -> str:
    """A name: one letter as itself (k, C), a function as \\log, a longer name as upright
    text (groups, fan_in, BLEU); ``C_in``, ``η_min`` keep their subscript as text."""
    head, _, rest = s.partition("_")
    if rest and len(head) == 1:
        return head + r"_{\text{" + rest.replace("_", r"\_") + "}}"
    if s in _WORDS:
        return "\\" + s + " "
    if s in ("argmax", "argmin"):
        return r"\operatorname{arg\," + s[3:] + "}"
    if len(s) == 1:
        return s
    if s.isalpha() and s[0].isupper() and s[1:].isdigit():
        return s
    return r"\mathrm{" + s.replace("_", r"\_") + "}"
