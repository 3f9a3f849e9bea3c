"""The tensor expression language of a ``graph`` problem, read by a whitelist parser.

One line is one assignment, ``name = expression``::

    stmt    := NAME "=" expr
    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/" | "@") unary)*
    unary   := "-" unary | power
    power   := postfix (("^" | "**") unary)?
    postfix := atom (".T" | "[" INT ("," INT)* "]")*
    atom    := NUMBER | NAME | NAME "(" args ")" | "(" expr ")" | "[" expr ("," expr)* "]"
    args    := arg ("," arg)*          arg := NAME "=" expr | expr

As in :mod:`solver.parse` (whose limits and :class:`~solver.parse.ParseError`
this module shares), the text is tokenized and parsed by hand: it is never
given to ``eval``, ``sympify`` or ``parse_expr``, anything not in the grammar
is refused with its position, and long lines, deep nesting, huge numbers and
names with double underscores are refused before anything is computed. What
a name or a function *means* is decided later, by the op table
(:mod:`solver.graph.ops`), which knows the functions and their arguments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..parse import MAX_DECIMAL_EXPONENT, MAX_DEPTH, MAX_DIGITS, MAX_LENGTH, ParseError

MAX_LINES = 200  # assignments in one graph

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<dotT>\.T(?![A-Za-z0-9_]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|[-+*/^@()\[\],=])
    """,
    re.VERBOSE,
)
_ALIASES = {"**": "^", "−": "-", "·": "*"}


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str
    pos: int


@dataclass
class Node:
    """One piece of an expression: ``tag`` is num, name, call, bin, neg, T, index or list."""

    tag: str
    value: Any  # the number, the name, the function or the operator
    args: list[Node] = field(default_factory=list)
    kwargs: dict[str, Node] = field(default_factory=dict)
    start: int = 0
    end: int = 0
    #: the name of the keyword argument each entry of kwargs was written at (for errors)
    kwpos: dict[str, int] = field(default_factory=dict)


@dataclass
class Statement:
    target: str
    expr: Node
    text: str  # the whole line as written
    target_pos: int = 0

    def source(self, node: Node) -> str:
        """The text of a sub-expression, as the author wrote it."""
        return self.text[node.start : node.end].strip()


def tokenize(text: str) -> list[Tok]:
    if len(text) > MAX_LENGTH:
        raise ParseError(f"it is longer than {MAX_LENGTH} characters", text[:60])
    out: list[Tok] = []
    pos = 0
    while pos < len(text):
        mt = _TOKEN.match(text, pos)
        if mt is None:
            raise ParseError(f"unexpected character {text[pos]!r}", text, pos)
        kind = mt.lastgroup or ""
        if kind != "ws":
            s = mt.group()
            out.append(Tok(kind, _ALIASES.get(s, s), mt.start()))
        pos = mt.end()
    out.append(Tok("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Tok:
        return self.toks[self.i]

    def fail(self, reason: str, pos: int | None = None) -> ParseError:
        return ParseError(reason, self.text, self.tok.pos if pos is None else pos)

    def is_op(self, op: str) -> bool:
        return self.tok.kind == "op" and self.tok.text == op

    def eat(self, op: str) -> bool:
        if self.is_op(op):
            self.i += 1
            return True
        return False

    def expect(self, op: str, opened: Tok) -> None:
        if not self.eat(op):
            what = "the end" if self.tok.kind == "end" else repr(self.tok.text)
            raise self.fail(
                f"expected {op!r} to close {opened.text!r} at position {opened.pos + 1}, "
                f"found {what}"
            )

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"it is nested more than {MAX_DEPTH} levels deep")

    def end_of(self) -> int:
        return self.toks[self.i - 1].pos + len(self.toks[self.i - 1].text)

    # -- grammar
    def statement(self) -> Statement:
        t = self.tok
        if t.kind != "name" or not (self.toks[1].kind == "op" and self.toks[1].text == "="):
            raise self.fail("each line must be an assignment such as 'h = relu(W @ x + b)'", 0)
        _check_name(t.text, self.text, t.pos)
        self.i = 2
        if self.tok.kind == "end":
            raise self.fail("nothing follows '='")
        node = self.expr()
        if self.tok.kind != "end":
            raise self.fail(f"unexpected {self.tok.text!r}")
        return Statement(t.text, node, self.text, t.pos)

    def expr(self) -> Node:
        node = self.term()
        while self.tok.kind == "op" and self.tok.text in ("+", "-"):
            op = self.tok
            self.i += 1
            right = self.term()
            node = Node("bin", op.text, [node, right], start=node.start, end=right.end)
            node.kwpos["op"] = op.pos
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.tok.kind == "op" and self.tok.text in ("*", "/", "@"):
            op = self.tok
            self.i += 1
            right = self.unary()
            node = Node("bin", op.text, [node, right], start=node.start, end=right.end)
            node.kwpos["op"] = op.pos
        return node

    def unary(self) -> Node:
        t = self.tok
        if self.is_op("-") or self.is_op("+"):
            self.i += 1
            self.deeper()
            inner = self.unary()
            self.depth -= 1
            if t.text == "+":
                return inner
            if inner.tag == "num":
                return Node("num", -inner.value, start=t.pos, end=inner.end)
            return Node("neg", "-", [inner], start=t.pos, end=inner.end)
        return self.power()

    def power(self) -> Node:
        base = self.postfix()
        if self.is_op("^"):
            op = self.tok
            self.i += 1
            self.deeper()
            exponent = self.unary()
            self.depth -= 1
            node = Node("bin", "^", [base, exponent], start=base.start, end=exponent.end)
            node.kwpos["op"] = op.pos
            return node
        return base

    def postfix(self) -> Node:
        node = self.atom()
        while True:
            if self.tok.kind == "dotT":
                self.i += 1
                node = Node("T", ".T", [node], start=node.start, end=self.end_of())
            elif self.is_op("["):
                opened = self.tok
                self.i += 1
                idx = [self.index_int()]
                while self.eat(","):
                    idx.append(self.index_int())
                self.expect("]", opened)
                node = Node("index", idx, [node], start=node.start, end=self.end_of())
                node.kwpos["op"] = opened.pos
            else:
                return node

    def index_int(self) -> int:
        neg = self.eat("-")
        t = self.tok
        if t.kind != "number" or not t.text.isdigit():
            raise self.fail("an index must be a whole number, as in x[0] or W[1, 2]")
        self.i += 1
        if len(t.text) > 6:
            raise self.fail("the index is too large", t.pos)
        return -int(t.text) if neg else int(t.text)

    def atom(self) -> Node:
        t = self.tok
        if t.kind == "number":
            self.i += 1
            return Node("num", _number(t, self.text), start=t.pos, end=t.pos + len(t.text))
        if t.kind == "name":
            self.i += 1
            _check_name(t.text, self.text, t.pos)
            if self.is_op("("):
                return self.call(t)
            return Node("name", t.text, start=t.pos, end=t.pos + len(t.text))
        if self.is_op("("):
            self.i += 1
            self.deeper()
            node = self.expr()
            self.depth -= 1
            self.expect(")", t)
            node = Node(
                node.tag, node.value, node.args, node.kwargs, t.pos, self.end_of(), node.kwpos
            )
            return node
        if self.is_op("["):
            self.i += 1
            self.deeper()
            items = [self.expr()]
            while self.eat(","):
                items.append(self.expr())
            self.depth -= 1
            self.expect("]", t)
            return Node("list", "[]", items, start=t.pos, end=self.end_of())
        if t.kind == "end":
            raise self.fail("the expression ends too early")
        raise self.fail(f"unexpected {t.text!r}")

    def call(self, name: Tok) -> Node:
        opened = self.tok
        self.i += 1
        self.deeper()
        args: list[Node] = []
        kwargs: dict[str, Node] = {}
        kwpos: dict[str, int] = {}
        if not self.is_op(")"):
            while True:
                if self.tok.kind == "name" and self.toks[self.i + 1].text == "=":
                    key = self.tok
                    if key.text in kwargs:
                        raise self.fail(f"the argument {key.text!r} is given twice")
                    self.i += 2
                    kwargs[key.text] = self.expr()
                    kwpos[key.text] = key.pos
                else:
                    if kwargs:
                        raise self.fail("a positional argument follows a keyword argument")
                    args.append(self.expr())
                if not self.eat(","):
                    break
        self.depth -= 1
        self.expect(")", opened)
        return Node("call", name.text, args, kwargs, name.pos, self.end_of(), kwpos)


def _check_name(name: str, text: str, pos: int) -> None:
    if name.startswith("_") or "__" in name:
        raise ParseError(f"the name {name!r} is not allowed", text, pos)


def _number(t: Tok, text: str) -> int | Fraction:
    s = t.text
    mant, _, exp_part = s.lower().partition("e")
    if exp_part and abs(int(exp_part)) > MAX_DECIMAL_EXPONENT:
        raise ParseError("the decimal exponent is too large", text, t.pos)
    if len(mant) > MAX_DIGITS:
        raise ParseError("the number has too many digits", text, t.pos)
    q = Fraction(s)
    return q.numerator if q.denominator == 1 else q


def parse_statement(text: str) -> Statement:
    """One line ``name = expression`` as a tree; a ParseError says where it went wrong."""
    if not isinstance(text, str):
        raise ParseError("each line of compute must be text such as 'y = x + 1'", repr(text)[:60])
    try:
        return _Parser(text).statement()
    except RecursionError:
        raise ParseError("it is nested too deeply", text[:60]) from None


def parse_expression(text: str) -> Node:
    """One expression (an optimizer's objective ``(theta[0] - 3)^2``) as a tree."""
    try:
        st = _Parser(text)
        if st.tok.kind == "end":
            raise st.fail("the expression is empty")
        node = st.expr()
        if st.tok.kind != "end":
            raise st.fail(f"unexpected {st.tok.text!r}")
        return node
    except RecursionError:
        raise ParseError("it is nested too deeply", text[:60]) from None
