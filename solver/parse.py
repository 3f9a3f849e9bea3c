"""The one safe parser for numbers and expressions, in problem files and in students' answers.

Text is never handed to ``eval``, ``sympify`` or ``parse_expr``. A tokenizer
and a recursive-descent parser accept a small whitelisted grammar

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/" | juxtaposition) unary)*
    unary  := ("-" | "+") unary | power
    power  := atom (("^" | "**") unary | superscript digits)?
    atom   := number | name | name "(" args ")" | function atom | "(" expr ")" | "{" expr "}"
            | "[" list "]" | "√" atom | LaTeX (\\frac, \\sqrt, bmatrix, ...)

and the tree is evaluated with exact arithmetic (:mod:`solver.exact`): ``0.1``
is 1/10, ``sqrt(12)`` is ``2*sqrt(3)``. Students write answers in many
notations, and all of them end up in the same tree:

* LaTeX: ``\\frac{a}{b}``, ``\\sqrt{x}``, ``\\sqrt[3]{x}``, ``\\cdot``, ``\\times``,
  ``\\left( \\right)``, ``\\pi``, Greek commands, ``x_{1}``, ``\\begin{bmatrix}``
  (or pmatrix) with ``&`` and ``\\\\``, ``$...$`` delimiters;
* a matrix as one string, Python ``[[1, 2], [3, 4]]`` or MATLAB ``[1 2; 3 4]``
  (inside brackets without commas a space separates entries, as in MATLAB);
* juxtaposed symbols ``TBN`` (= T·B·N when T, B and N are the problem's
  symbols), spaced function application ``log N``, Unicode ``√``, ``·``, ``²``.

Whatever could make the parse or the evaluation expensive is refused before it
is attempted: long texts, deep nesting, huge exponents, numbers with too many
bits, square roots of numbers too large to factor, unknown names, functions and
LaTeX commands. A refusal is a :class:`ParseError` that says where the text
went wrong, which a grader reports as "could not read this answer". Anything
else that goes wrong while computing becomes a ParseError too: no other
exception leaves :func:`parse_answer`.

The readers at the end (:func:`read_boolean`, :func:`read_tokens`,
:func:`read_choice`, :func:`read_bigo`) turn the other answer types (true/false,
token sequences, multiple choice, big-O classes) into values the checker
compares.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy

from . import exact

MAX_LENGTH = 10_000  # characters in one expression
MAX_DEPTH = 60  # nested parentheses, brackets, signs and powers
MAX_EXPONENT = 1_000  # |n| in x^n for an integer n
MAX_BITS = 20_000  # bits of any numerator or denominator a step of arithmetic may produce
MAX_SYMBOLIC_OPS = 300  # operations on formulas (sympy) in one text
MAX_DECIMAL_EXPONENT = 400  # |k| in 1.5e{k}
MAX_DIGITS = 1_000  # digits of one number
MAX_SQRT_BITS = 64  # sqrt of a larger integer is refused (factoring it could take ages)
MAX_SPLIT = 40  # longest name tried as juxtaposed symbols (TBN = T·B·N)


def _log(x: Any, base: Any = None) -> Any:
    arg = exact.to_sympy(x)
    return exact.from_sympy(
        sympy.log(arg) if base is None else sympy.log(arg, exact.to_sympy(base))
    )


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": exact.sqrt,  # rationals go through _safe_sqrt first
    "exp": lambda x: exact.from_sympy(sympy.exp(exact.to_sympy(x))),
    "log": _log,
    "ln": lambda x: _log(x),
    "abs": lambda x: abs(x) if not isinstance(x, sympy.Basic) else sympy.Abs(x),
    # in radians, exact: sin(1) stays sin(1), cos(0) is 1, sin(pi/6) is 1/2
    "sin": lambda x: exact.from_sympy(sympy.sin(exact.to_sympy(x))),
    "cos": lambda x: exact.from_sympy(sympy.cos(exact.to_sympy(x))),
}
#: functions a textbook raises to a power before their argument: sin²(x) = (sin x)²
POWERED_FUNCTIONS = frozenset({"sin", "cos"})
ARITY = {
    "sqrt": (1,),
    "exp": (1,),
    "log": (1, 2),
    "ln": (1,),
    "abs": (1,),
    "sin": (1,),
    "cos": (1,),
}
#: E as sympy prints Euler's number, so that a key's own JSON value reads back
CONSTANTS: dict[str, Any] = {"pi": sympy.pi, "e": sympy.E, "E": sympy.E, "π": sympy.pi}
#: names that stand for an undefined value (0/0) in a student's answer
UNDEFINED_NAMES = frozenset({"undefined", "nan", "none", "null", "undef", "na"})
UNDEFINED_WORDS = frozenset(
    {
        *UNDEFINED_NAMES,
        "not defined",
        "n/a",
        "is undefined",
        "not a number",
        "does not exist",
        "dne",
        "0/0",
    }
)

# A Greek letter typed as itself is the symbol of that name (ε is eps, as in the problem files).
_GREEK_NAMES = {v: k for k, v in exact._GREEK_UNICODE.items() if k != "eps"}
_GREEK_NAMES["ε"] = "eps"
_GREEK_NAMES["ϵ"] = "eps"
_SUPERSCRIPT_DIGITS = {c: str(i) for i, c in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")}
_SUPERSCRIPT_DIGITS["⁻"] = "-"
#: other spellings of a name, tried when the name itself is not one of the problem's symbols
_ALIASES = {
    "epsilon": ("eps",),
    "varepsilon": ("eps",),
    "eps": ("epsilon",),
    "lam": ("lambda",),
    "lmbda": ("lambda",),
    "vartheta": ("theta",),
    "varphi": ("phi",),
    "varsigma": ("sigma",),
    "varrho": ("rho",),
}

# --------------------------------------------------------------------------- LaTeX vocabulary

LATEX_OPS = {r"\cdot": "*", r"\times": "*", r"\ast": "*", r"\div": "/", r"\{": "{", r"\}": "}"}
LATEX_FUNCTIONS = {r"\ln": "ln", r"\log": "log", r"\exp": "exp", r"\sin": "sin", r"\cos": "cos"}
LATEX_IGNORED = frozenset(
    {
        r"\left",
        r"\right",
        r"\big",
        r"\Big",
        r"\bigg",
        r"\Bigg",
        r"\bigl",
        r"\bigr",
        r"\Bigl",
        r"\Bigr",
        r"\biggl",
        r"\biggr",
        r"\displaystyle",
        r"\textstyle",
    }
)
LATEX_FRACS = frozenset({r"\frac", r"\dfrac", r"\tfrac", r"\cfrac"})
LATEX_TEXT = frozenset({r"\text", r"\mathrm", r"\operatorname", r"\textrm", r"\mathit", r"\textit"})
LATEX_STRUCTURE = LATEX_FRACS | LATEX_TEXT | {r"\sqrt", r"\begin", r"\end", "\\\\"}
LATEX_NAMES = {"\\" + name: name for name in exact._GREEK}
LATEX_NAMES.update(
    {
        "\\" + k: k
        for k in (
            "Gamma",
            "Delta",
            "Theta",
            "Lambda",
            "Sigma",
            "Phi",
            "Psi",
            "Omega",
            "Xi",
            "Pi",
            "Upsilon",
        )
    }
)
LATEX_NAMES.update(
    {
        r"\epsilon": "eps",
        r"\varepsilon": "eps",
        r"\vartheta": "theta",
        r"\varphi": "phi",
        r"\varsigma": "sigma",
        r"\varrho": "rho",
        r"\varpi": "pi",
    }
)
MATRIX_ENVIRONMENTS = frozenset({"matrix", "bmatrix", "pmatrix", "Bmatrix", "smallmatrix", "array"})

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\$+|\\[,;:!\ ]|\\q?quad(?![A-Za-z])|\\[()\[\]])
  | (?P<number>(?:\d+(?:_\d+)*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<cmd>\\[A-Za-z]+|\\\\|\\[{}])
  | (?P<name>[A-Za-z_](?:[A-Za-z0-9_]|\\_)*)
  | (?P<greek>[α-ωΑ-Ωϵ])
  | (?P<sup>[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)
  | (?P<op>\*\*|[-+*/^(),\[\]{}&;√·×÷−⋅∗])
    """,
    re.VERBOSE,
)
_OP_ALIASES = {"·": "*", "×": "*", "÷": "/", "−": "-", "**": "^", "⋅": "*", "∗": "*"}


class ParseError(ValueError):
    """Text that is not a readable answer, with the 0-based position of the fault."""

    def __init__(self, reason: str, text: str, position: int | None = None) -> None:
        self.reason, self.text, self.position = reason, text, position
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        where = f" at position {self.position + 1}" if self.position is not None else ""
        return f"could not read {shown!r}: {self.reason}{where}"

    def shifted(self, text: str, offset: int) -> ParseError:
        """The same fault, located in a longer ``text`` that holds this one at ``offset``."""
        pos = None if self.position is None else self.position + offset
        return ParseError(self.reason, text, pos)


class WrittenDecimal(Fraction):
    """A decimal exactly as the student wrote it: its value, its decimal places and
    significant figures (``0.580`` shows 3 places and 3 significant figures).

    The checker accepts a decimal that is the exact answer rounded or truncated
    to the places written, so it must know how many were written.
    """

    __slots__ = ("places", "sig")

    def __new__(cls, value: Fraction | int, places: int, sig: int) -> WrittenDecimal:
        self = super().__new__(cls, value)
        self.places, self.sig = places, sig
        return self

    @classmethod
    def from_text(cls, text: str) -> WrittenDecimal:
        """``"-0.0580"`` -> 29/500 with 4 places and 3 significant figures."""
        s = text.strip().replace("_", "")
        mant, _, exp_part = s.lower().partition("e")
        exponent = int(exp_part) if exp_part else 0
        digits = mant.lstrip("+-")
        whole, _, frac = digits.partition(".")
        sig = len((whole + frac).lstrip("0"))
        return cls(Fraction(s), len(frac) - exponent, sig)

    @classmethod
    def from_float(cls, f: float) -> Fraction:  # Fraction == float goes through this
        return Fraction.from_float(f)

    @classmethod
    def from_decimal(cls, d: Any) -> Fraction:
        return Fraction.from_decimal(d)

    def __neg__(self) -> WrittenDecimal:
        return WrittenDecimal(-Fraction(self), self.places, self.sig)

    def __reduce__(self) -> tuple[Any, ...]:
        return (WrittenDecimal, (Fraction(self), self.places, self.sig))

    def __repr__(self) -> str:
        return f"WrittenDecimal({Fraction(self)!s}, places={self.places}, sig={self.sig})"


@dataclass(frozen=True)
class Token:
    kind: str  # number, name, cmd, sup, op, end
    text: str
    pos: int
    space: bool = False  # whitespace right before it (MATLAB-style lists split there)


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; an unknown character or command is a ParseError there."""
    if len(text) > MAX_LENGTH:
        raise ParseError(f"it is longer than {MAX_LENGTH} characters", text[:60])
    tokens: list[Token] = []
    pos = 0
    space = False
    while pos < len(text):
        mt = _TOKEN.match(text, pos)
        if mt is None:
            raise ParseError(f"unexpected character {text[pos]!r}", text, pos)
        kind = mt.lastgroup or ""
        s = mt.group()
        pos = mt.end()
        if kind == "ws":
            space = True
            continue
        if kind == "name":
            s = s.replace("\\_", "_")  # LaTeX's h\_t
        if kind == "greek":
            kind, s = "name", ("pi" if s == "π" else _GREEK_NAMES.get(s, s))
        elif kind == "op":
            s = _OP_ALIASES.get(s, s)
        elif kind == "cmd":
            if s in LATEX_IGNORED:
                continue
            if s in LATEX_OPS:
                kind, s = "op", LATEX_OPS[s]
            elif s in LATEX_FUNCTIONS:
                kind, s = "name", LATEX_FUNCTIONS[s]
            elif s in LATEX_NAMES:
                kind, s = "name", LATEX_NAMES[s]
            elif s not in LATEX_STRUCTURE:
                raise ParseError(f"the LaTeX command {s} is not allowed here", text, mt.start())
        tokens.append(Token(kind, s, mt.start(), space))
        space = False
    tokens.append(Token("end", "", len(text), space))
    return tokens


# --------------------------------------------------------------------------- names


class Names:
    """Which names a text may use, and how a student's spelling maps onto them.

    ``symbols=None`` allows any name (problem files). Otherwise a name is
    accepted as itself, as an alias (``w_1`` for ``w1``, ``epsilon`` for
    ``eps``), in another case when that is unambiguous (``t`` for ``T``), or as
    juxtaposed symbols (``TBN`` for T·B·N).
    """

    def __init__(self, symbols: Collection[str] | None) -> None:
        #: names given as ``"sigma()"`` are functions the problem applies (σ(h_t)), not symbols
        self.functions = frozenset(n[:-2] for n in symbols or () if n.endswith("()"))
        self.symbols = (
            None if symbols is None else frozenset(n for n in symbols if not n.endswith("()"))
        )
        folded: dict[str, list[str]] = {}
        for name in self.symbols or ():
            folded.setdefault(name.casefold(), []).append(name)
        self._folded = {k: v[0] for k, v in folded.items() if len(v) == 1}

    def resolve(self, name: str) -> str | None:
        """The allowed name ``name`` stands for, or None."""
        if self.symbols is None or name in self.symbols:
            return name
        for alt in (name.replace("_", ""), *_ALIASES.get(name, ())):
            if alt in self.symbols:
                return alt
        return self._folded.get(name.casefold()) or self._folded.get(
            name.replace("_", "").casefold()
        )

    def split(self, name: str) -> list[str] | None:
        """``TBN`` as ``[T, B, N]`` when each piece is an allowed symbol (fewest pieces)."""
        if self.symbols is None or len(name) > MAX_SPLIT or len(name) < 2:
            return None
        best: list[list[str] | None] = [None] * (len(name) + 1)
        best[0] = []
        for end in range(1, len(name) + 1):
            for start in range(end):
                head = best[start]
                if head is None:
                    continue
                piece = self.resolve(name[start:end])
                if piece is not None and (best[end] is None or len(head) + 1 < len(best[end])):
                    best[end] = [*head, piece]
        pieces = best[len(name)]
        return pieces if pieces and len(pieces) > 1 else None

    def split_call(self, name: str) -> tuple[list[str], str] | None:
        """``Nlog`` before ``(`` as ``([N], "log")``: symbols, then a function."""
        for fname in FUNCTIONS:
            if name.endswith(fname) and len(name) > len(fname):
                head = name[: -len(fname)]
                pieces = [r] if (r := self.resolve(head)) is not None else self.split(head)
                if pieces:
                    return pieces, fname
        return None

    def allowed(self) -> str:
        return ", ".join(sorted(self.symbols or ())) or "none"


# AST nodes are tuples: ("num", value, pos, text), ("name", str, pos), ("call", name, [args], pos),
# ("neg", x, pos), ("bin", op, a, b, pos), ("list", [items], pos); position last but for num.
Node = tuple[Any, ...]
_ENTRY_START = frozenset({"(", "[", "{", "√", "-", "+"})
_ATOM_COMMANDS = LATEX_FRACS | LATEX_TEXT | {r"\sqrt", r"\begin"}


def _bracket_info(tokens: Sequence[Token]) -> dict[int, tuple[bool, bool]]:
    """For each ``[``: whether a comma, and whether a semicolon, sits directly inside it."""
    info: dict[int, list[bool]] = {}
    stack: list[tuple[int, str]] = []
    closing = {")": "(", "]": "[", "}": "{"}
    for i, t in enumerate(tokens):
        if t.kind != "op":
            continue
        if t.text in "([{":
            stack.append((i, t.text))
            if t.text == "[":
                info[i] = [False, False]
        elif t.text in closing:
            if stack and stack[-1][1] == closing[t.text]:
                stack.pop()
        elif t.text in ",;" and stack and stack[-1][1] == "[":
            info[stack[-1][0]][t.text == ";"] = True
    return {k: (v[0], v[1]) for k, v in info.items()}


class _Parser:
    def __init__(self, text: str, names: Names) -> None:
        self.text = text
        self.names = names
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.split_mode = [False]  # inside a bracket without commas, a space separates entries
        self.brackets = _bracket_info(self.tokens)

    # -- helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def fail(self, reason: str, tok: Token | None = None) -> ParseError:
        t = tok or self.tok
        return ParseError(reason, self.text, t.pos)

    def is_op(self, op: str, tok: Token | None = None) -> bool:
        t = tok or self.tok
        return t.kind == "op" and t.text == op

    def eat(self, op: str) -> bool:
        if self.is_op(op):
            self.i += 1
            return True
        return False

    def expect(self, op: str, opened: Token) -> None:
        if not self.eat(op):
            what = "the end" if self.tok.kind == "end" else repr(self.tok.text)
            raise self.fail(
                f"expected {op!r} to close {opened.text!r} at position "
                f"{opened.pos + 1}, found {what}"
            )

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"it is nested more than {MAX_DEPTH} levels deep")

    @property
    def splitting(self) -> bool:
        return self.split_mode[-1]

    def nested(self, parse: Callable[[], Node], *, split: bool = False) -> Node:
        """Parse one level deeper, with MATLAB-style splitting on or off."""
        self.deeper()
        self.split_mode.append(split)
        node = parse()
        self.split_mode.pop()
        self.depth -= 1
        return node

    # -- grammar
    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self.fail("the answer is empty")
        node = self.expr()
        if self.tok.kind != "end":
            raise self.fail(f"unexpected {self.tok.text!r}")
        return node

    def expr(self) -> Node:
        node = self.term()
        while self.tok.kind == "op" and self.tok.text in "+-":
            t = self.tok
            if self.splitting and t.space and not self.peek().space:
                break  # MATLAB: [1 -2] has two entries
            self.i += 1
            node = ("bin", t.text, node, self.term(), t.pos)
        return node

    def starts_atom(self) -> bool:
        t = self.tok
        return (
            t.kind in ("number", "name")
            or (t.kind == "op" and t.text in "(√{")
            or (t.kind == "cmd" and t.text in _ATOM_COMMANDS)
        )

    def term(self) -> Node:
        node = self.unary()
        while True:
            t = self.tok
            if t.kind == "op" and t.text in "*/":
                self.i += 1
                node = ("bin", t.text, node, self.unary(), t.pos)
            elif self.starts_atom():  # juxtaposition: 2x, 2sqrt(3), (a)(b)
                if self.splitting and t.space:
                    return node
                if t.kind == "number":
                    raise self.fail(
                        "a number follows without an operator (is a '*' or a ',' missing?)"
                    )
                node = ("bin", "*", node, self.power(), t.pos)
            else:
                return node

    def unary(self) -> Node:
        t = self.tok
        if t.kind == "op" and t.text in "+-":
            self.i += 1
            self.deeper()
            inner = self.unary()
            self.depth -= 1
            return ("neg", inner, t.pos) if t.text == "-" else inner
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        t = self.tok
        exponent: Node | None = None
        if self.is_op("^"):
            self.i += 1
            self.deeper()
            exponent = self.unary()
            self.depth -= 1
        elif t.kind == "sup":
            self.i += 1
            digits = "".join(_SUPERSCRIPT_DIGITS[c] for c in t.text)
            if not re.fullmatch(r"-?\d+", digits):
                raise self.fail("a superscript must be a whole number", t)
            exponent = ("num", int(digits), t.pos, digits)
        if base[0] == "chain":  # TBN^2 is T·B·N², not (TBN)²
            factors = list(base[1])
            if exponent is not None:
                factors[-1] = ("bin", "^", factors[-1], exponent, t.pos)
            node = factors[0]
            for f in factors[1:]:
                node = ("bin", "*", node, f, base[2])
            return node
        return base if exponent is None else ("bin", "^", base, exponent, t.pos)

    def atom(self) -> Node:
        t = self.tok
        if t.kind == "number":
            self.i += 1
            return ("num", _number(t, self.text), t.pos, t.text)
        if t.kind == "name":
            return self.name(t)
        if t.kind == "op" and t.text in "({":
            self.i += 1
            node = self.nested(self.expr)
            self.expect(")" if t.text == "(" else "}", t)
            return node
        if self.is_op("["):
            return self.bracket_list()
        if self.is_op("√"):
            self.i += 1
            return ("call", "sqrt", [self.nested(self.power)], t.pos)
        if t.kind == "cmd":
            return self.latex(t)
        if t.kind == "end":
            raise self.fail("the answer ends too early")
        raise self.fail(f"unexpected {t.text!r}")

    def name(self, t: Token) -> Node:
        self.i += 1
        name = self.subscript(t.text)
        if self.is_op("{") and name in self.names.functions:
            return self.call(name, t.pos)  # sympy's LaTeX: \sigma{\left(h_t \right)}
        if name in POWERED_FUNCTIONS and (self.is_op("^") or self.tok.kind == "sup"):
            return self.powered_call(name, t.pos)
        if self.is_op("("):
            if name in FUNCTIONS or name in self.names.functions:
                return self.call(name, t.pos)
            if split := self.names.split_call(name):
                pieces, fname = split
                call = self.call(fname, t.pos)
                return ("chain", [*(("name", p, t.pos) for p in pieces), call], t.pos)
            if not (
                self.tok.space or self.names.resolve(name) is not None or self.names.split(name)
            ):
                return self.call(name, t.pos)  # reported as an unknown function
            # N(N + 1) and TBN (log B + log N) are products: fall through to the name
        if name in FUNCTIONS:
            if not self.starts_atom():
                raise self.fail(f"{name} needs an argument, as {name}(x)")
            return ("call", name, [self.nested(self.power)], t.pos)
        if name in CONSTANTS or name in UNDEFINED_NAMES or self.names.resolve(name) is not None:
            return ("name", name, t.pos)
        pieces = self.names.split(name)
        if pieces:
            return ("chain", [("name", p, t.pos) for p in pieces], t.pos)
        return ("name", name, t.pos)

    def powered_call(self, fname: str, pos: int) -> Node:
        r"""``sin²(x)``, ``sin^2 x``, ``\sin^{2}(x)``: the textbook's (sin x)². Only a whole
        power from 1 up: sin⁻¹ means arcsin, which is not a function here."""
        t = self.tok
        self.i += 1
        braced = t.kind != "sup" and self.eat("{")
        if t.kind == "sup":
            digits = "".join(_SUPERSCRIPT_DIGITS[c] for c in t.text)
        else:
            digits = self.tok.text if self.tok.kind == "number" else ""
            self.i += bool(digits)
        if not digits.isdigit() or not 1 <= int(digits) <= MAX_EXPONENT:
            raise self.fail(f"{fname}^n needs a whole power n ≥ 1, as {fname}^2(x)", t)
        if braced:
            self.expect("}", t)
        if not self.starts_atom():
            raise self.fail(f"{fname} needs an argument, as {fname}(x)")
        if self.is_op("("):
            call = self.call(fname, pos)
        else:
            call = ("call", fname, [self.nested(self.power)], pos)
        return ("bin", "^", call, ("num", int(digits), t.pos, digits), t.pos)

    def subscript(self, name: str) -> str:
        """``w_{1}`` and ``\\eta_t`` as the names ``w_1`` and ``eta_t``."""
        while self.tok.kind == "name" and self.tok.text.startswith("_") and not self.tok.space:
            name += self.tok.text
            self.i += 1
        if name.endswith("_") and self.is_op("{"):
            name += self.braced_word("the subscript")
        return name

    def call(self, fname: str, pos: int) -> Node:
        opened = self.tok
        self.i += 1

        def args() -> Node:
            items = [self.expr()]
            while self.eat(","):
                items.append(self.expr())
            return ("args", items)

        node = self.nested(args)
        self.expect("}" if opened.text == "{" else ")", opened)
        return ("call", fname, node[1], pos)

    def bracket_list(self) -> Node:
        opened = self.tok
        has_comma, has_semicolon = self.brackets.get(self.i, (False, False))
        self.i += 1

        def rows() -> Node:
            out: list[list[Node]] = [[]]
            while not self.is_op("]"):
                if self.tok.kind == "end":
                    break
                out[-1].append(self.expr())
                if self.eat(","):
                    continue
                if self.eat(";"):
                    out.append([])
                    continue
                if self.is_op("]") or self.tok.kind == "end":
                    break
                if self.splitting and (
                    self.tok.kind in ("number", "name", "cmd")
                    or (self.tok.kind == "op" and self.tok.text in _ENTRY_START)
                ):
                    continue
                raise self.fail(f"unexpected {self.tok.text!r} (expected ',' or ']')")
            return ("rows", out)

        node = self.nested(rows, split=not has_comma)
        self.expect("]", opened)
        table = node[1]
        if has_semicolon:
            table = [r for r in table if r]
            return ("list", [("list", r, opened.pos) for r in table], opened.pos)
        return ("list", table[0], opened.pos)

    # -- LaTeX
    def latex(self, t: Token) -> Node:
        cmd = t.text
        if cmd in LATEX_FRACS:
            self.i += 1
            num = self.nested(self.latex_arg)
            den = self.nested(self.latex_arg)
            return ("bin", "/", num, den, t.pos)
        if cmd == r"\sqrt":
            self.i += 1
            index = None
            if self.is_op("["):
                opened = self.tok
                self.i += 1
                index = self.nested(self.expr)
                self.expect("]", opened)
            arg = self.nested(self.latex_arg)
            if index is None:
                return ("call", "sqrt", [arg], t.pos)
            return ("bin", "^", arg, ("bin", "/", ("num", 1, t.pos, "1"), index, t.pos), t.pos)
        if cmd in LATEX_TEXT:
            self.i += 1
            word = self.braced_word(cmd)
            synthetic = Token("name", word, t.pos)
            self.tokens[self.i - 1] = synthetic
            self.i -= 1
            return self.name(synthetic)
        if cmd == r"\begin":
            return self.environment(t)
        raise self.fail(f"unexpected {cmd}")

    def latex_arg(self) -> Node:
        """One argument of \\frac or \\sqrt: a braced group, or a single digit or symbol."""
        t = self.tok
        if self.is_op("{"):
            self.i += 1
            node = self.expr()
            self.expect("}", t)
            return node
        if t.kind == "number" and t.text.isdigit() and len(t.text) > 1:  # \frac12
            self.tokens[self.i] = Token("number", t.text[1:], t.pos + 1)
            return ("num", int(t.text[0]), t.pos, t.text[0])
        return self.atom()

    def braced_word(self, what: str) -> str:
        """The name in ``{...}`` after ``what`` (``\\begin``, ``\\text``, a subscript)."""
        opened = self.tok
        if not self.eat("{"):
            raise self.fail(f"{what} must be followed by {{...}}")
        parts = []
        while self.tok.kind in ("name", "number"):
            parts.append(self.tok.text)
            self.i += 1
        self.expect("}", opened)
        if not parts:
            raise self.fail(f"{what} {{}} is empty", opened)
        return "".join(parts)

    def environment(self, t: Token) -> Node:
        self.i += 1
        env = self.braced_word(t.text)
        if env not in MATRIX_ENVIRONMENTS:
            raise self.fail(
                f"the LaTeX environment {env!r} is not supported (use bmatrix or pmatrix)", t
            )
        if env == "array" and self.is_op("{"):  # column spec {cc}
            self.braced_word(t.text)

        def rows() -> Node:
            out: list[list[Node]] = [[]]
            while True:
                if self.tok.kind == "end":
                    raise self.fail(f"\\begin{{{env}}} is never closed by \\end{{{env}}}", t)
                if self.tok.kind == "cmd" and self.tok.text == r"\end":
                    break
                out[-1].append(self.expr())
                if self.eat("&"):
                    continue
                if self.tok.kind == "cmd" and self.tok.text == "\\\\":
                    self.i += 1
                    out.append([])
                    continue
                if self.tok.kind == "end":
                    raise self.fail(f"\\begin{{{env}}} is never closed by \\end{{{env}}}", t)
                if not (self.tok.kind == "cmd" and self.tok.text == r"\end"):
                    raise self.fail(
                        f"unexpected {self.tok.text!r} in a matrix (entries are "
                        "separated by & and rows by \\\\)"
                    )
            return ("rows", out)

        table = self.nested(rows)[1]
        end = self.tok
        self.i += 1
        closing = self.braced_word(end.text)
        if closing != env:
            raise self.fail(f"\\begin{{{env}}} is closed by \\end{{{closing}}}", end)
        table = [r for r in table if r]
        if not table:
            raise self.fail("the matrix is empty", t)
        return ("list", [("list", r, t.pos) for r in table], t.pos)


def _number(t: Token, text: str) -> int | Fraction:
    s = t.text.replace("_", "")
    mant, _, exp_part = s.lower().partition("e")
    if exp_part and abs(int(exp_part)) > MAX_DECIMAL_EXPONENT:
        raise ParseError("the decimal exponent is too large", text, t.pos)
    if len(mant) > MAX_DIGITS:
        raise ParseError("the number has too many digits", text, t.pos)
    return exact.rational(Fraction(s))


def _is_decimal_text(s: str) -> bool:
    return "." in s or "e" in s.lower()


def _safe_sqrt(q: Fraction | int) -> Any:
    """The exact square root of a rational ≥ 0 that refuses numbers too large to factor."""
    q = Fraction(q)
    p, d = q.numerator, q.denominator
    if p.bit_length() > MAX_SQRT_BITS or d.bit_length() > MAX_SQRT_BITS:
        rp, rd = math.isqrt(p), math.isqrt(d)
        if rp * rp == p and rd * rd == d:
            return exact.rational(Fraction(rp, rd))
        raise ValueError(f"the number under the square root has more than {MAX_SQRT_BITS} bits")
    s1, r1 = exact._split_square(p) if p else (0, 1)
    s2, r2 = exact._split_square(d)
    g = math.gcd(r1, r2)
    return exact.surd(0, Fraction(s1 * s2 * g, d), (r1 // g) * (r2 // g))


class _Evaluator:
    def __init__(self, text: str, names: Names, *, answer: bool) -> None:
        self.text, self.names, self.answer = text, names, answer
        self.symbolic_ops = 0

    def checked(self, x: Any, pos: int) -> Any:
        """``x``, unless it is too large to go on computing with cheaply."""
        if exact.is_rational(x):
            q = Fraction(x)
            big = max(q.numerator.bit_length(), q.denominator.bit_length()) > MAX_BITS
        elif isinstance(x, exact.Surd):
            big = any(
                max(Fraction(c).numerator.bit_length(), Fraction(c).denominator.bit_length())
                > MAX_BITS
                for c in (x.a, x.b)
            )
        elif isinstance(x, sympy.Basic):
            self.symbolic_ops += 1
            if self.symbolic_ops > MAX_SYMBOLIC_OPS:
                raise self.fail(f"the formula has more than {MAX_SYMBOLIC_OPS} operations", pos)
            big = False
        else:
            big = False
        if big:
            raise self.fail(f"a number in it grows beyond {MAX_BITS} bits", pos)
        return x

    def fail(self, reason: str, pos: int | None) -> ParseError:
        return ParseError(reason, self.text, pos)

    def eval(self, node: Node) -> Any:
        try:
            return self._eval(node)
        except ParseError:
            raise
        except RecursionError:
            raise self.fail("it is nested too deeply", None) from None
        except Exception as err:  # a security boundary: whatever sympy raises is unreadable
            reason = str(err).split("\n")[0][:120] or type(err).__name__
            raise self.fail(
                f"this cannot be computed ({reason})",
                node[-1] if isinstance(node[-1], int) else None,
            ) from None

    def _eval(self, node: Node) -> Any:
        tag = node[0]
        if tag == "num":
            return self.number(node)
        if tag == "name":
            return self.name(node[1], node[2])
        if tag == "neg":
            inner = node[1]
            if self.answer and inner[0] == "num":
                x = self.number(inner)
                return -x
            return self.arith(lambda x: -x, self.eval(inner), node[2])
        if tag == "list":
            return [self.eval(item) for item in node[1]]
        if tag == "call":
            return self.call(node)
        if node[1] == "^":
            return self.binary("^", self.eval(node[2]), self.eval(node[3]), node[4])
        # a long chain a + b + c ... is a deep left spine: walk it, do not recurse down it
        spine = []
        while node[0] == "bin" and node[1] != "^":
            spine.append(node)
            node = node[2]
        deepest = spine[-1]
        sci = self.scientific(deepest[2], deepest[3]) if self.answer and deepest[1] == "*" else None
        if sci is not None:
            acc = sci
            spine.pop()
        else:
            acc = self.eval(node)
        for n in reversed(spine):
            acc = self.binary(n[1], acc, self.eval(n[3]), n[4])
        return acc

    def binary(self, op: str, x: Any, y: Any, pos: int) -> Any:
        if isinstance(x, list) or isinstance(y, list):
            raise self.fail("arithmetic on a list is not allowed", pos)
        if x is None or y is None:
            raise self.fail("'undefined' cannot be used in arithmetic", pos)
        if op == "+":
            return self.checked(_tidy(x + y), pos)
        if op == "-":
            return self.checked(_tidy(x - y), pos)
        if op == "*":
            return self.checked(_tidy(x * y), pos)
        if op == "/":
            return self.checked(self.divide(x, y, pos), pos)
        return self.checked(self.power(x, y, pos), pos)

    def arith(self, f: Callable[[Any], Any], x: Any, pos: int) -> Any:
        if isinstance(x, list):
            raise self.fail("arithmetic on a list is not allowed", pos)
        if x is None:
            raise self.fail("'undefined' cannot be used in arithmetic", pos)
        return _tidy(f(x))

    def number(self, node: Node) -> Any:
        value, text = node[1], node[3]
        if self.answer and _is_decimal_text(text):
            return WrittenDecimal.from_text(text)
        return value

    def scientific(self, a: Node, b: Node) -> WrittenDecimal | None:
        """``5.8 × 10^-2`` is a written decimal with 3 places, like ``0.058``."""
        if a[0] != "num" or b[0] != "bin" or b[1] != "^":
            return None
        base, k = b[2], b[3]
        if k[0] == "neg" and k[1][0] == "num":
            k = ("num", -k[1][1], k[1][2], "-" + k[1][3])
        if base[0] != "num" or base[1] != 10 or k[0] != "num" or not isinstance(k[1], int):
            return None
        if abs(k[1]) > MAX_DECIMAL_EXPONENT:
            return None
        mant = WrittenDecimal.from_text(a[3])
        return WrittenDecimal(Fraction(mant) * Fraction(10) ** k[1], mant.places - k[1], mant.sig)

    def name(self, name: str, pos: int) -> Any:
        if name.startswith("_") or "__" in name:
            raise self.fail(f"the name {name!r} is not allowed", pos)
        if self.answer and name.casefold() in UNDEFINED_NAMES:
            return None
        if name in FUNCTIONS:
            raise self.fail(f"{name} needs its argument in parentheses, as {name}(x)", pos)
        symbols = self.names.symbols
        if name in CONSTANTS and (symbols is None or name not in symbols):
            return CONSTANTS[name]
        if self.answer and name == "E" and (symbols is None or "E" not in symbols):
            return sympy.E  # as sympy prints e, in the values `solve --format json` gives
        resolved = self.names.resolve(name)
        if resolved is None:
            raise self.fail(
                f"unknown name {name!r} (the names allowed here: {self.names.allowed()})", pos
            )
        return exact.symbol(resolved)

    def applied(self, fname: str, values: list[Any], pos: int) -> Any:
        """``f(x)`` for an undefined function f that the problem declares (its answer key is
        written with it): a sympy application, compared by name like any symbol."""
        if any(isinstance(v, list) or v is None for v in values):
            raise self.fail(f"{fname} takes numbers or formulas, not a list or 'undefined'", pos)
        return sympy.Function(fname)(*(exact.to_sympy(v) for v in values))

    def call(self, node: Node) -> Any:
        _, fname, args, pos = node
        if fname not in FUNCTIONS:
            if fname in self.names.functions:  # a function the problem's answer names: σ(h_t)
                return self.applied(fname, [self.eval(a) for a in args], pos)
            known = ", ".join(sorted(FUNCTIONS))
            raise self.fail(f"unknown function {fname!r} (known: {known})", pos)
        if len(args) not in ARITY[fname]:
            raise self.fail(
                f"{fname} takes {' or '.join(map(str, ARITY[fname]))} argument(s), got {len(args)}",
                pos,
            )
        values = [self.eval(a) for a in args]
        if any(isinstance(v, list) for v in values):
            raise self.fail(f"{fname} of a list is not allowed", pos)
        if any(v is None for v in values):
            raise self.fail(f"{fname} of 'undefined' is not allowed", pos)
        try:
            if fname == "sqrt" and exact.is_rational(values[0]):
                if values[0] < 0:
                    raise ValueError("the square root of a negative number is not real")
                return _safe_sqrt(values[0])
            return self.checked(_tidy(FUNCTIONS[fname](*values)), pos)
        except (ValueError, ZeroDivisionError) as err:
            raise self.fail(str(err), pos) from None

    def divide(self, x: Any, y: Any, pos: int) -> Any:
        if exact.is_rational(y) or isinstance(y, exact.Surd):
            if y == 0:
                raise self.fail("division by zero", pos)
            return _tidy((Fraction(x) if exact.is_rational(x) else x) / y)
        result = exact.to_sympy(x) / exact.to_sympy(y)
        if result.has(sympy.zoo, sympy.nan):
            raise self.fail("division by zero", pos)
        return _tidy(result)

    def power(self, x: Any, y: Any, pos: int) -> Any:
        if exact.is_rational(y) and Fraction(y).denominator == 1:
            n = int(y)
            if abs(n) > MAX_EXPONENT:
                raise self.fail(f"the exponent {n} is larger than {MAX_EXPONENT}", pos)
            if exact.is_rational(x):
                q = Fraction(x)
                bits = abs(n) * max(q.numerator.bit_length(), q.denominator.bit_length())
                if bits > MAX_BITS:
                    raise self.fail("the power is too large to compute", pos)
                if q == 0 and n < 0:
                    raise self.fail("division by zero", pos)
            elif isinstance(x, exact.Surd):
                bits = abs(n) * (
                    max(
                        Fraction(x.a).numerator.bit_length(),
                        Fraction(x.b).numerator.bit_length(),
                        Fraction(x.a).denominator.bit_length(),
                        Fraction(x.b).denominator.bit_length(),
                    )
                    + x.r.bit_length()
                )
                if bits > MAX_BITS:
                    raise self.fail("the power is too large to compute", pos)
            return _tidy(exact.power(x, n))
        if exact.is_rational(y) and Fraction(y).denominator == 2 and exact.is_rational(x):
            root = self.power(x, Fraction(y).numerator, pos)
            if root < 0:
                raise self.fail("the square root of a negative number is not real", pos)
            try:
                return _safe_sqrt(root)
            except ValueError as err:
                raise self.fail(str(err), pos) from None
        if exact.is_rational(y):
            if abs(Fraction(y).numerator) > MAX_EXPONENT or Fraction(y).denominator > MAX_EXPONENT:
                raise self.fail("the exponent is too large", pos)
            if (
                exact.is_rational(x)
                and max(Fraction(x).numerator.bit_length(), Fraction(x).denominator.bit_length())
                > MAX_BITS
            ):
                raise self.fail("the power is too large to compute", pos)
        else:
            e = exact.to_sympy(y)
            if e.is_number:
                v = complex(e.evalf(15))
                if not math.isfinite(v.real) or abs(v) > MAX_EXPONENT:
                    raise self.fail("the exponent is too large", pos)
        result = exact.to_sympy(x) ** exact.to_sympy(y)
        if result.has(sympy.zoo, sympy.nan):
            raise self.fail("division by zero", pos)
        return _tidy(result)


def _tidy(x: Any) -> Any:
    """Bring a sympy result back to the cheapest exact form; refuse infinities and non-reals."""
    if isinstance(x, sympy.Basic):
        if x.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            raise ValueError("the result is not a finite number")
        if x.is_number and x.is_extended_real is False:
            raise ValueError("the result is not a real number")
        return exact.from_sympy(x)
    return exact.rational(x) if exact.is_rational(x) else x


def parse_expression(text: str, symbols: Collection[str] | None = None) -> Any:
    """An exact scalar (or nested list, for ``[..]``) from text.

    ``symbols``: the names the text may use (None allows any name, as problem
    files do; a student's answer is limited to the names of its problem); a name
    written ``"sigma()"`` is a function the problem applies, as in ``sigma(h_t)``.
    """
    if not isinstance(text, str):
        raise TypeError("parse_expression takes a string")
    names = Names(symbols)
    tree = _Parser(text, names).parse()
    return _Evaluator(text, names, answer=False).eval(tree)


def parse_answer(text: str, symbols: Collection[str] = ()) -> Any:
    """A student's value: an exact scalar, ``None`` (undefined) or a nested list of them.

    As :func:`parse_expression`, but limited to ``symbols`` (and their other
    spellings), with ``undefined``/``nan`` allowed as entries and decimals kept
    as :class:`WrittenDecimal` so that rounding can be judged. Raises only
    :class:`ParseError`.
    """
    if not isinstance(text, str):
        raise ParseError("expected text", repr(text)[:60])
    if " ".join(text.casefold().split()) in UNDEFINED_WORDS:
        return None
    names = Names(symbols)
    try:
        tree = _Parser(text, names).parse()
    except RecursionError:
        raise ParseError("it is nested too deeply", text[:60]) from None
    return _Evaluator(text, names, answer=True).eval(tree)


def parse_value(value: Any, symbols: Collection[str] | None = None) -> Any:
    """A YAML value (number, string, nested list) as an exact value, recursively."""
    if isinstance(value, bool):
        raise ParseError("a true/false value is not a number", str(value))
    if isinstance(value, (int, Fraction)):
        return exact.rational(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ParseError("infinity and NaN are not exact numbers", str(value))
        return exact.rational(Fraction(repr(value)))
    if isinstance(value, str):
        if value.strip().lower().lstrip("+-") in (".inf", ".nan", "inf", "nan", "infinity"):
            raise ParseError("infinity and NaN are not exact numbers", value)
        return parse_expression(value, symbols)
    if isinstance(value, list):
        return [parse_value(v, symbols) for v in value]
    if exact.is_scalar(value):
        return value
    raise ParseError(f"a {type(value).__name__} is not a number", str(value)[:60])


# --------------------------------------------------------------------------- other answer types


def normalize_word(text: str) -> str:
    """Case and spacing normalised: ``"  The   Green "`` -> ``"the green"``."""
    return " ".join(str(text).casefold().split())


TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1", "correct", "right", "defined"})
FALSE_WORDS = frozenset(
    {"false", "no", "n", "f", "0", "incorrect", "wrong", "not defined", "undefined"}
)


_LATEX_WORD = re.compile(
    r"\\(?:text|mathrm|textrm|texttt|textbf|mathbf|mathtt|mbox)\s*\{([^{}]*)\}"
)


def plain_words(text: str) -> str:
    """LaTeX around words dropped: ``$\\text{true}$`` -> ``true``."""
    return _LATEX_WORD.sub(r"\1", text).replace("$", "")


def read_boolean(value: Any) -> bool:
    """true/false, yes/no, 1/0 in any case (``\\text{true}`` too), as a bool."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    word = normalize_word(plain_words(str(value))).strip(" .!")
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ParseError("expected true or false (or yes/no)", str(value)[:60])


_TOKEN_SPLIT = re.compile(r"\s*(?:->|→|⟶|=>|⇒|\\to\b|\\rightarrow\b)\s*|[\s,]+")
_SEQUENCE_SPLIT = re.compile(r"\s*(?:;|\n|\|)\s*")


def split_tokens(text: str) -> list[str]:
    """``"[<BOS>, the, green]"`` or ``"<BOS> the green"`` as ``["<BOS>", "the", "green"]``."""
    s = plain_words(text).strip()
    if len(s) >= 2 and s[0] + s[-1] in ("[]", "()"):
        s = s[1:-1]
    return [t.strip("'\"") for t in _TOKEN_SPLIT.split(s) if t.strip("'\"")]


def read_tokens(value: Any, *, nested: bool = False) -> list[Any]:
    """A token sequence (or, ``nested``, a list of them) from a YAML list or one string."""
    if value is None or isinstance(value, (bool, dict)):
        raise ParseError("expected a sequence of tokens", str(value)[:60])
    if not nested:
        if isinstance(value, list):
            out = []
            for v in value:
                if isinstance(v, (list, dict)):
                    raise ParseError("expected tokens, got a nested list", str(value)[:60])
                out += split_tokens(str(v))
            return out
        return split_tokens(str(value))
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("[[") or s.startswith("(("):
            s = s[1:-1]
            parts = re.findall(r"[\[(]([^\])]*)[\])]", s)
        else:
            parts = [p for p in _SEQUENCE_SPLIT.split(s) if p]
        return [split_tokens(p) for p in parts]
    if isinstance(value, list):
        return [read_tokens(v) for v in value]
    return [split_tokens(str(value))]


_LABELLED = re.compile(r"^\(?([a-z0-9]{1,2})[).:]\s+(.+)$")


def choice_index(text: str, options: Sequence[tuple[str, str]]) -> int | None:
    """Which option ``text`` names: its label (``b``, ``(b)``, ``B.``), its text, or both."""
    t = normalize_word(text).strip()
    if not t:
        return None
    labels = [normalize_word(label) for label, _ in options]
    compact = [re.sub(r"[\s.]+", "", normalize_word(o)) for _, o in options]
    bare = re.sub(r"^(?:option|answer|choice)\s+", "", t).strip("()[]. ").rstrip(").:")
    if bare in labels:
        return labels.index(bare)
    flat = re.sub(r"[\s.]+", "", t)
    if flat in compact and flat:
        return compact.index(flat)
    mt = _LABELLED.match(t)
    if mt and mt.group(1) in labels:
        i = labels.index(mt.group(1))
        rest = re.sub(r"[\s.]+", "", mt.group(2))
        if rest == compact[i]:
            return i
    return None


def read_choice(value: Any, options: Sequence[tuple[str, str]]) -> frozenset[Any]:
    """The options a multiple-choice answer names: option indices, or normalised words
    for what matches no option (and for every answer when there are no options)."""
    if value is None or isinstance(value, dict):
        raise ParseError("expected a choice", str(value)[:60])
    items = value if isinstance(value, list) else [value]
    out: set[Any] = set()
    for item in items:
        if isinstance(item, (list, dict)):
            raise ParseError("expected a choice, got a nested list", str(value)[:60])
        text = "true" if item is True else "false" if item is False else str(item)
        if not options:
            out.add(normalize_word(text))
            continue
        i = choice_index(text, options)
        if i is not None:
            out.add(i)
            continue
        parts = [p for p in re.split(r"\s*(?:,|;|&|\band\b|/)\s*|\s+", text.strip()) if p]
        found = [choice_index(p, options) for p in parts]
        if len(parts) > 1 and all(f is not None for f in found):
            out.update(found)
        else:
            out.add(normalize_word(text))
    return frozenset(out)


_BIGO_OPEN = re.compile(
    r"^\s*(?:\\mathcal\s*\{\s*O\s*\}|\\mathcal\s+O|\\operatorname\s*\{\s*O\s*\}|\\mathrm\s*"
    r"\{\s*O\s*\}|O|\\Theta|Θ|Theta|big-?o)\s*(?:\\left\s*)?(?:\(|\\\(|\[)",
    re.IGNORECASE,
)
_BIGO_CLOSE = re.compile(r"(?:\\right\s*)?\)\s*$|(?:\\right\s*)?\]\s*$")


def read_bigo(value: Any, symbols: Collection[str] = ()) -> Any:
    """The sympy expression inside ``O(T N^2)``, ``\\mathcal{O}(TBN \\log(BN))``, or ``T N^2``."""
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise ParseError("expected a big-O expression such as O(T N^2)", str(value)[:60])
    text = str(value)
    inner, offset = text, 0
    mo = _BIGO_OPEN.match(text)
    mc = _BIGO_CLOSE.search(text)
    if mo and mc and mc.start() >= mo.end():
        inner, offset = text[mo.end() : mc.start()], mo.end()
    try:
        x = parse_answer(inner, symbols)
    except ParseError as err:
        raise err.shifted(text, offset) from None
    if x is None or isinstance(x, list):
        raise ParseError("expected one expression inside O(...)", text)
    return exact.to_sympy(x)
