"""The one safe parser for numbers and expressions, in problem files and in students' answers.

Text is never handed to ``eval``, ``sympify`` or ``parse_expr``. A tokenizer
and a recursive-descent parser accept a small whitelisted grammar

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/" | juxtaposition) unary)*
    unary  := ("-" | "+") unary | power
    power  := atom (("^" | "**") unary | superscript digits)?
    atom   := number | name | name "(" args ")" | "(" expr ")" | "[" list "]" | "√" atom

and the tree is evaluated with exact arithmetic (:mod:`solver.exact`): ``0.1``
is 1/10, ``sqrt(12)`` is ``2*sqrt(3)``. Whatever could make the parse or the
evaluation expensive is refused before it is attempted: long texts, deep
nesting, huge exponents, numbers with too many bits, unknown names and
functions. A refusal is a :class:`ParseError` that says where the text went
wrong, which a grader reports as "could not read this answer".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy

from . import exact

MAX_LENGTH = 10_000  # characters in one expression
MAX_DEPTH = 60  # nested parentheses, brackets, signs and powers
MAX_EXPONENT = 1_000  # |n| in x^n for an integer n
MAX_BITS = 100_000  # bits of any integer a power may produce
MAX_DECIMAL_EXPONENT = 400  # |k| in 1.5e{k}

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": exact.sqrt,
    "exp": lambda x: exact.from_sympy(sympy.exp(exact.to_sympy(x))),
    "log": lambda x, base=None: exact.from_sympy(
        sympy.log(exact.to_sympy(x)) if base is None
        else sympy.log(exact.to_sympy(x), exact.to_sympy(base))
    ),
    "ln": lambda x: exact.from_sympy(sympy.log(exact.to_sympy(x))),
    "abs": lambda x: abs(x) if not isinstance(x, sympy.Basic) else sympy.Abs(x),
}
ARITY = {"sqrt": (1,), "exp": (1,), "log": (1, 2), "ln": (1,), "abs": (1,)}
CONSTANTS: dict[str, Any] = {"pi": sympy.pi, "e": sympy.E, "π": sympy.pi}

# A Greek letter typed as itself is the symbol of that name (ε is eps, as in the problem files).
_GREEK_NAMES = {v: k for k, v in exact._GREEK_UNICODE.items() if k != "eps"}
_GREEK_NAMES["ε"] = "eps"
_SUPERSCRIPT_DIGITS = {c: str(i) for i, c in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")}
_SUPERSCRIPT_DIGITS["⁻"] = "-"

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>(?:\d+(?:_\d+)*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<greek>[α-ωΑ-Ωπ])
  | (?P<sup>[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)
  | (?P<op>\*\*|[-+*/^(),\[\]√·×÷−])
    """,
    re.VERBOSE,
)
_OP_ALIASES = {"·": "*", "×": "*", "÷": "/", "−": "-", "**": "^"}


class ParseError(ValueError):
    """Text that is not a readable answer, with the 0-based position of the fault."""

    def __init__(self, reason: str, text: str, position: int | None = None) -> None:
        self.reason, self.text, self.position = reason, text, position
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        where = f" at position {self.position + 1}" if self.position is not None else ""
        return f"could not read {shown!r}: {self.reason}{where}"


@dataclass(frozen=True)
class Token:
    kind: str  # number, name, sup, op, end
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; an unknown character is a ParseError at its position."""
    if len(text) > MAX_LENGTH:
        raise ParseError(f"it is longer than {MAX_LENGTH} characters", text[:60])
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        mt = _TOKEN.match(text, pos)
        if mt is None:
            raise ParseError(f"unexpected character {text[pos]!r}", text, pos)
        kind = mt.lastgroup or ""
        s = mt.group()
        if kind == "greek":
            kind, s = ("name", _GREEK_NAMES.get(s, s)) if s != "π" else ("name", "pi")
        elif kind == "op":
            s = _OP_ALIASES.get(s, s)
        if kind != "ws":
            tokens.append(Token(kind, s, pos))
        pos = mt.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# AST nodes are tuples: ("num", Fraction|int), ("name", str), ("call", name, [args]),
# ("neg", x), ("bin", op, a, b), ("list", [items]); each carries its position last.
Node = tuple[Any, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    # -- helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, reason: str, tok: Token | None = None) -> ParseError:
        t = tok or self.tok
        return ParseError(reason, self.text, t.pos)

    def eat(self, op: str) -> bool:
        if self.tok.kind == "op" and self.tok.text == op:
            self.i += 1
            return True
        return False

    def expect(self, op: str, opened: Token) -> None:
        if not self.eat(op):
            what = "the end" if self.tok.kind == "end" else repr(self.tok.text)
            raise self.fail(f"expected {op!r} to close {opened.text!r} at position "
                            f"{opened.pos + 1}, found {what}")

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"it is nested more than {MAX_DEPTH} levels deep")

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
            self.i += 1
            node = ("bin", t.text, node, self.term(), t.pos)
        return node

    def starts_atom(self) -> bool:
        t = self.tok
        return t.kind in ("number", "name") or (t.kind == "op" and t.text in ("(", "√"))

    def term(self) -> Node:
        node = self.unary()
        while True:
            t = self.tok
            if t.kind == "op" and t.text in "*/":
                self.i += 1
                node = ("bin", t.text, node, self.unary(), t.pos)
            elif self.starts_atom():  # juxtaposition: 2x, 2sqrt(3), (a)(b)
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
        if t.kind == "op" and t.text == "^":
            self.i += 1
            self.deeper()
            exponent = self.unary()
            self.depth -= 1
            return ("bin", "^", base, exponent, t.pos)
        if t.kind == "sup":
            self.i += 1
            digits = "".join(_SUPERSCRIPT_DIGITS[c] for c in t.text)
            if not re.fullmatch(r"-?\d+", digits):
                raise self.fail("a superscript must be a whole number", t)
            return ("bin", "^", base, ("num", int(digits), t.pos), t.pos)
        return base

    def atom(self) -> Node:
        t = self.tok
        if t.kind == "number":
            self.i += 1
            return ("num", _number(t, self.text), t.pos)
        if t.kind == "name":
            self.i += 1
            if self.tok.kind == "op" and self.tok.text == "(":
                return self.call(t)
            return ("name", t.text, t.pos)
        if t.kind == "op" and t.text == "(":
            self.i += 1
            self.deeper()
            node = self.expr()
            self.expect(")", t)
            self.depth -= 1
            return node
        if t.kind == "op" and t.text == "[":
            return self.bracket_list()
        if t.kind == "op" and t.text == "√":
            self.i += 1
            self.deeper()
            node = self.power()
            self.depth -= 1
            return ("call", "sqrt", [node], t.pos)
        if t.kind == "end":
            raise self.fail("the answer ends too early")
        raise self.fail(f"unexpected {t.text!r}")

    def call(self, name: Token) -> Node:
        opened = self.tok
        self.i += 1
        self.deeper()
        args = [self.expr()]
        while self.eat(","):
            args.append(self.expr())
        self.expect(")", opened)
        self.depth -= 1
        return ("call", name.text, args, name.pos)

    def bracket_list(self) -> Node:
        opened = self.tok
        self.i += 1
        self.deeper()
        items = []
        if not (self.tok.kind == "op" and self.tok.text == "]"):
            items.append(self.expr())
            while self.eat(","):
                items.append(self.expr())
        self.expect("]", opened)
        self.depth -= 1
        return ("list", items, opened.pos)


def _number(t: Token, text: str) -> int | Fraction:
    s = t.text.replace("_", "")
    mant, _, exp_part = s.lower().partition("e")
    if exp_part and abs(int(exp_part)) > MAX_DECIMAL_EXPONENT:
        raise ParseError("the decimal exponent is too large", text, t.pos)
    if len(mant) > 1000:
        raise ParseError("the number has too many digits", text, t.pos)
    return exact.rational(Fraction(s))


class _Evaluator:
    def __init__(self, text: str, symbols: Collection[str] | None) -> None:
        self.text, self.symbols = text, symbols

    def fail(self, reason: str, pos: int) -> ParseError:
        return ParseError(reason, self.text, pos)

    def eval(self, node: Node) -> Any:
        tag = node[0]
        if tag == "num":
            return node[1]
        if tag == "name":
            return self.name(node[1], node[2])
        if tag == "neg":
            return -self.eval(node[1])
        if tag == "list":
            return [self.eval(item) for item in node[1]]
        if tag == "call":
            return self.call(node)
        _, op, a, b, pos = node
        x, y = self.eval(a), self.eval(b)
        if isinstance(x, list) or isinstance(y, list):
            raise self.fail("arithmetic on a list is not allowed", pos)
        if op == "+":
            return _tidy(x + y)
        if op == "-":
            return _tidy(x - y)
        if op == "*":
            return _tidy(x * y)
        if op == "/":
            return self.divide(x, y, pos)
        return self.power(x, y, pos)

    def name(self, name: str, pos: int) -> Any:
        if name.startswith("_") or "__" in name:
            raise self.fail(f"the name {name!r} is not allowed", pos)
        if name in FUNCTIONS:
            raise self.fail(f"{name} needs its argument in parentheses, as {name}(x)", pos)
        if name in CONSTANTS and (self.symbols is None or name not in self.symbols):
            return CONSTANTS[name]
        if self.symbols is not None and name not in self.symbols:
            allowed = ", ".join(sorted(self.symbols)) or "none"
            raise self.fail(f"unknown name {name!r} (the names allowed here: {allowed})", pos)
        return exact.symbol(name)

    def call(self, node: Node) -> Any:
        _, fname, args, pos = node
        if fname not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.fail(f"unknown function {fname!r} (known: {known})", pos)
        if len(args) not in ARITY[fname]:
            raise self.fail(f"{fname} takes {' or '.join(map(str, ARITY[fname]))} "
                            f"argument(s), got {len(args)}", pos)
        values = [self.eval(a) for a in args]
        if any(isinstance(v, list) for v in values):
            raise self.fail(f"{fname} of a list is not allowed", pos)
        try:
            return _tidy(FUNCTIONS[fname](*values))
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
                bits = abs(n) * (max(Fraction(x.a).numerator.bit_length(),
                                     Fraction(x.b).numerator.bit_length()) + x.r.bit_length())
                if bits > MAX_BITS:
                    raise self.fail("the power is too large to compute", pos)
            return _tidy(exact.power(x, n))
        if exact.is_rational(y) and Fraction(y).denominator == 2 and exact.is_rational(x):
            root = self.power(x, Fraction(y).numerator, pos)
            if root < 0:
                raise self.fail("the square root of a negative number is not real", pos)
            return _tidy(exact.sqrt(root))
        if exact.is_rational(y):
            if abs(Fraction(y).numerator) > MAX_EXPONENT or Fraction(y).denominator > MAX_EXPONENT:
                raise self.fail("the exponent is too large", pos)
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
    """Bring a sympy result back to the cheapest exact form."""
    if isinstance(x, sympy.Basic):
        return exact.from_sympy(x)
    return exact.rational(x) if exact.is_rational(x) else x


def parse_expression(text: str, symbols: Collection[str] | None = None) -> Any:
    """An exact scalar (or nested list, for ``[..]``) from text.

    ``symbols``: the names the text may use (None allows any name, as problem
    files do; a student's answer is limited to the names of its problem).
    """
    if not isinstance(text, str):
        raise TypeError("parse_expression takes a string")
    tree = _Parser(text).parse()
    return _Evaluator(text, symbols).eval(tree)


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
