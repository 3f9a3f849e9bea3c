"""Derivations as data: lines of maths that read like a worked proof and that sympy confirms.

A derivation is a list of :class:`Line`\\ s, ``lhs rel rhs`` with a reason and a
:class:`Check` that says how sympy confirms it. Each side is a :class:`Term`:
one object that knows both how it *reads* (a display tree, for LaTeX and the
terminal) and what it *means* (a sympy value, built for a concrete size ``n``
when vectors and matrices are involved). Because both come from the same
Term, what is printed is what is checked.

Checks:

* ``identity``: ``lhs − rhs`` simplifies to 0, in general for scalar lines, or
  for every size n = 1..4 with symbolic entries when a side holds vectors or
  matrices (sympy cannot reason about ``u ∈ ℝⁿ`` for a symbolic n);
* ``certificate`` (inequalities): ``rhs − lhs`` equals an expression that is
  nonnegative by its form and the hypotheses (a quadratic form of a positive
  semi-definite matrix, a sum of nonnegative terms), and sympy confirms that
  identity;
* ``solve``: the premise ``lhs = 0`` solved for an unknown gives ``rhs``;
* ``limit``: ``lhs → rhs`` as a variable grows without bound.

A check may assume hypotheses: named atoms replaced by what the hypothesis
says they are (``g_{t−1} := σ(h_{t−1})``, ``E[x] := 0``). Building a
derivation costs no sympy work; :func:`confirm` does it, in the test suite or
when a problem sets ``confirm: true``, never on an ordinary solve.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy

from . import exact
from .display import (
    ATOM,
    MUL,
    Add,
    Block,
    Call,
    Frac,
    M,
    Neg,
    Norm,
    Num,
    Pow,
    Sym,
    hcat,
    m,
    rel,
)

SIZES = (1, 2, 3, 4)  # the concrete sizes a vector or matrix line is confirmed for


# --------------------------------------------------------------------------- notation


class Notation(M):
    """Notation built from parts: LaTeX and text templates with ``§0``, ``§1`` for the parts."""

    def __init__(self, latex: str, text: str, *parts: Any, prec: int = ATOM) -> None:
        self._latex, self._text, self._prec = latex, text, prec
        self.parts = [p if isinstance(p, M) else Sym(p) for p in parts]

    def latex(self) -> str:
        return re.sub(r"§(\d)", lambda mt: self.parts[int(mt.group(1))].latex(), self._latex)

    def block(self) -> Block:
        return Block.of(
            re.sub(r"§(\d)", lambda mt: self.parts[int(mt.group(1))].text(), self._text)
        )

    def prec(self) -> int:
        return self._prec


class Product(M):
    """A product written the way a proof writes it: ``2γθᵢ``, ``uᵀx``, ``(λ + 2ηγ)θᵢ``.

    Factors are juxtaposed; a centred dot is kept only where juxtaposition would
    mislead (after a fraction on the terminal, between two numbers). Nested
    products are flattened, since the product is associative.
    """

    def __init__(self, *factors: Any) -> None:
        flat: list[M] = []
        for f in map(m, factors):
            flat += f.factors if isinstance(f, Product) else [f]
        self.factors = flat

    def prec(self) -> int:
        return MUL

    def latex(self) -> str:
        out = []
        for i, f in enumerate(self.factors):
            s = f.latex()
            wrapped = rf"\left({s}\right)" if f.prec_latex() < (MUL + 1 if i else MUL) else s
            if i and isinstance(f, Num) and isinstance(self.factors[i - 1], Num):
                out.append(r" \cdot ")
            elif i:
                out.append(" ")
            out.append(wrapped)
        return "".join(out)

    def block(self) -> Block:
        blocks: list[Block] = []
        for i, f in enumerate(self.factors):
            if i and (
                isinstance(self.factors[i - 1], Frac)
                or (isinstance(f, Num) and isinstance(self.factors[i - 1], Num))
            ):
                blocks.append(Block.of("·"))
            b = f.block()
            if f.prec() < (MUL + 1 if i else MUL) and not isinstance(f, Product):
                b = hcat(Block.of("("), b, Block.of(")"))
            blocks.append(b)
        return hcat(*blocks)


def subscript(name: str, sub: str) -> Notation:
    """``μ_y``: a subscript the terminal has no Unicode character for, written with ``_``."""
    sym = Sym(name)
    return Notation(f"§0_{{{sub}}}", f"§0_{sub}", sym)


def power(base: Any, exponent: str, latex_exponent: str | None = None) -> Notation:
    """``δ^T``, ``δ^(2T)``: a power whose exponent must not read as a transpose."""
    b = m(base)
    text = f"§0^{exponent}" if len(exponent) == 1 else f"§0^({exponent})"
    return Notation(f"§0^{{{latex_exponent or exponent}}}", text, b, prec=30)


@dataclass(frozen=True)
class Ctx:
    """What a Term is evaluated under: the size of vectors and the hypotheses in force."""

    n: int = 1
    assume: Mapping[str, Term] = field(default_factory=dict)


class Term:
    """One side of a line: its display and its meaning (a function of the context)."""

    __slots__ = ("_value", "name", "show", "sized")

    def __init__(
        self,
        show: Any,
        value: Callable[[Ctx], Any],
        *,
        sized: bool = False,
        name: str | None = None,
    ) -> None:
        self.show: M = m(show)
        self._value = value
        self.sized = sized
        self.name = name

    def value(self, ctx: Ctx) -> Any:
        """The sympy value, with a hypothesis replacing this atom where one is assumed."""
        if self.name is not None and self.name in ctx.assume:
            return ctx.assume[self.name].value(ctx)
        return self._value(ctx)

    # -- arithmetic builds the display and the value together
    def __add__(self, other: Any) -> Term:
        o = lift(other)
        return combine(Add(self.show, o.show), lambda a, b: a + b, self, o)

    def __radd__(self, other: Any) -> Term:
        return lift(other) + self

    def __sub__(self, other: Any) -> Term:
        o = lift(other)
        return combine(Add(self.show, Neg(o.show)), lambda a, b: a - b, self, o)

    def __rsub__(self, other: Any) -> Term:
        return lift(other) - self

    def __mul__(self, other: Any) -> Term:
        o = lift(other)
        return combine(Product(self.show, o.show), lambda a, b: a * b, self, o)

    def __rmul__(self, other: Any) -> Term:
        return lift(other) * self

    def __truediv__(self, other: Any) -> Term:
        o = lift(other)
        return combine(Frac(self.show, o.show), lambda a, b: a / b, self, o)

    def __neg__(self) -> Term:
        return combine(Neg(self.show), lambda a: -a, self)

    def __pow__(self, k: Any) -> Term:
        if isinstance(k, Term):
            return combine(Pow(self.show, k.show), lambda a, b: a**b, self, k)
        return combine(Pow(self.show, k), lambda a: a**k, self)

    @property
    def T(self) -> Term:
        return combine(Pow(self.show, "T"), lambda a: a.T, self)

    def shown(self, show: Any) -> Term:
        """The same meaning, written differently (``w`` for ``γu/‖u‖``)."""
        return Term(show, self._value, sized=self.sized, name=self.name)

    def named(self, name: str) -> Term:
        """This Term as an atom that a hypothesis can replace."""
        return Term(self.show, self._value, sized=self.sized, name=name)


def lift(x: Any) -> Term:
    """A Term for a Term, a number or an exact scalar."""
    if isinstance(x, Term):
        return x
    v = exact.to_sympy(x)
    return Term(x, lambda ctx: v)


def combine(show: Any, f: Callable[..., Any], *terms: Term, sized: bool | None = None) -> Term:
    """A Term whose value is ``f`` of the values of ``terms``."""
    return Term(
        show,
        lambda ctx: f(*(t.value(ctx) for t in terms)),
        sized=any(t.sized for t in terms) if sized is None else sized,
    )


# --------------------------------------------------------------------------- atoms


def scalar(label: Any, symbol: str, name: str | None = None, **assumptions: bool) -> Term:
    """A scalar symbol (real, through :func:`exact.symbol` unless assumptions are given)."""
    s = sympy.Symbol(symbol, real=True, **assumptions) if assumptions else exact.symbol(symbol)
    return Term(label, lambda ctx: s, name=name or symbol)


def entries(symbol: str, n: int) -> list[sympy.Symbol]:
    """The n real symbols ``u_1 … u_n`` of a vector named ``u``."""
    return [exact.symbol(f"{symbol}_{i}") for i in range(1, n + 1)]


def vector(label: Any, symbol: str, name: str | None = None) -> Term:
    """A column vector of n symbolic entries."""
    return Term(
        label, lambda ctx: sympy.Matrix(entries(symbol, ctx.n)), sized=True, name=name or symbol
    )


def matrix(label: Any, symbol: str, name: str | None = None) -> Term:
    """An n × n matrix of symbolic entries ``W_11 … W_nn``."""

    def value(ctx: Ctx) -> sympy.Matrix:
        return sympy.Matrix(ctx.n, ctx.n, lambda i, j: exact.symbol(f"{symbol}_{i + 1}{j + 1}"))

    return Term(label, value, sized=True, name=name or symbol)


def identity_matrix() -> Term:
    return Term(Sym("I"), lambda ctx: sympy.eye(ctx.n), sized=True, name="I")


def zero_vector() -> Term:
    return Term(0, lambda ctx: sympy.zeros(ctx.n, 1), sized=True)


def define(label: Any, term: Term, name: str) -> Term:
    """A named quantity that means ``term`` (``h_t := W σ(h_{t−1}) + U x_t + b``)."""
    return Term(label, term.value, sized=term.sized, name=name)


# --------------------------------------------------------------------------- operations


def dot(a: Term, b: Term, show: Any = None) -> Term:
    """The inner product ``aᵀb`` as a scalar."""
    return combine(
        show if show is not None else Product(Pow(a.show, "T"), b.show),
        lambda x, y: (x.T * y)[0, 0],
        a,
        b,
    )


def norm(a: Term) -> Term:
    """The Euclidean norm ``‖a‖ = √(aᵀa)``."""
    return combine(Norm(a.show), lambda x: sympy.sqrt((x.T * x)[0, 0]), a)


def apply(fn: sympy.FunctionClass, label: str, latex: str, a: Term) -> Term:
    """A scalar function applied elementwise (``σ(h)``)."""
    return combine(
        Call(label, a.show, latex_name=latex),
        lambda x: x.applyfunc(fn) if isinstance(x, sympy.MatrixBase) else fn(x),
        a,
    )


def derivative_of(fn: sympy.FunctionClass, label: str, latex: str, a: Term) -> Term:
    """``fn′`` applied elementwise: the derivative of an undefined function, at each entry."""
    z = sympy.Symbol("z", real=True)
    d = sympy.diff(fn(z), z)

    def at(e: Any) -> Any:
        return d.subs(z, e)

    return combine(
        Call(label, a.show, latex_name=latex),
        lambda x: x.applyfunc(at) if isinstance(x, sympy.MatrixBase) else at(x),
        a,
    )


def diag(a: Term, show: Any = None) -> Term:
    """The diagonal matrix with the entries of a vector."""
    return combine(
        show if show is not None else Call("diag", a.show), lambda x: sympy.diag(*list(x)), a
    )


def gradient(f: Term, wrt: Term, show: Any) -> Term:
    """∇ of a scalar with respect to a vector atom, computed by sympy (a column vector)."""

    def value(ctx: Ctx) -> sympy.Matrix:
        fx = f.value(ctx)
        return sympy.Matrix([sympy.diff(fx, v) for v in wrt.value(ctx)])

    return Term(show, value, sized=True)


def jacobian(f: Term, wrt: Term, show: Any) -> Term:
    """∂f/∂x of a vector with respect to a vector atom, computed by sympy."""
    return Term(show, lambda ctx: f.value(ctx).jacobian(wrt.value(ctx)), sized=True)


def substituted(f: Term, atom: Term, by: Term, show: Any) -> Term:
    """``f`` with the entries of ``atom`` replaced by those of ``by`` (``∇L`` at ``w(u)``)."""

    def value(ctx: Ctx) -> Any:
        a, b = atom.value(ctx), by.value(ctx)
        pairs = (
            dict(zip(list(a), list(b), strict=True)) if isinstance(a, sympy.MatrixBase) else {a: b}
        )
        return f.value(ctx).subs(pairs, simultaneous=True)

    return Term(show, value, sized=f.sized or atom.sized or by.sized)


def fn_of_vector(fn: sympy.FunctionClass, label: Any, x: Term) -> Term:
    """A scalar function of all entries of a vector, ``L(w) = L(w1, …, wn)``."""
    return combine(label, lambda v: fn(*list(v)), x)


# --------------------------------------------------------------------------- lines and checks


@dataclass(frozen=True)
class Check:
    """How sympy confirms a line; ``assume`` maps atom names to the hypothesis' values."""

    how: str  # identity | certificate | solve | limit
    assume: Mapping[str, Term] = field(default_factory=dict)
    certificate: Term | None = None
    why_nonnegative: str = ""
    unknown: Term | None = None  # solve: the unknown; limit: the variable
    sizes: tuple[int, ...] | None = None  # None: SIZES for sized lines, else one check
    gap: M | None = None  # how the certificate's left side is written, when not rhs − lhs


def identity(
    assume: Mapping[str, Term] | None = None, sizes: tuple[int, ...] | None = None
) -> Check:
    return Check("identity", dict(assume or {}), sizes=sizes)


def certificate(
    cert: Term,
    why: str,
    assume: Mapping[str, Term] | None = None,
    sizes: tuple[int, ...] | None = None,
    gap: M | None = None,
) -> Check:
    return Check("certificate", dict(assume or {}), cert, why, sizes=sizes, gap=gap)


def solve_for(unknown: Term, assume: Mapping[str, Term] | None = None) -> Check:
    return Check("solve", dict(assume or {}), unknown=unknown)


def limit(variable: Term, assume: Mapping[str, Term] | None = None) -> Check:
    return Check("limit", dict(assume or {}), unknown=variable)


RELATIONS = ("=", "<=", ">=", "=>", "->")


@dataclass(frozen=True)
class Line:
    """``lhs rel rhs`` because ``reason``; ``check`` says how sympy confirms it."""

    lhs: Term
    rel: str
    rhs: Term
    reason: str
    check: Check

    def __post_init__(self) -> None:
        object.__setattr__(self, "lhs", lift(self.lhs))
        object.__setattr__(self, "rhs", lift(self.rhs))
        if self.rel not in RELATIONS:
            raise ValueError(f"unknown relation {self.rel!r}")

    @property
    def sized(self) -> bool:
        terms = [self.lhs, self.rhs, self.check.certificate, *self.check.assume.values()]
        return any(t is not None and t.sized for t in terms)

    @property
    def sizes(self) -> tuple[int, ...]:
        if self.check.sizes is not None:
            return self.check.sizes
        return SIZES if self.sized else (1,)

    def math(self) -> list[M]:
        """How the line is displayed: the relation, then its certificate if it has one."""
        out: list[M] = [rel(self.lhs.show, self.rel, self.rhs.show)]
        cert = self.check.certificate
        if cert is not None:
            big, small = (self.rhs, self.lhs) if self.rel == "<=" else (self.lhs, self.rhs)
            gap = self.check.gap if self.check.gap is not None else Add(big.show, Neg(small.show))
            out.append(rel(gap, "=", cert.show, ">=", 0))
        return out

    def confirmed_how(self) -> str:
        """A few words on what sympy checked, for a confirmed solution."""
        where = (
            "in general"
            if self.sizes == (1,) and not self.sized
            else f"for n = {self.sizes[0]}..{self.sizes[-1]} with symbolic entries"
        )
        what = {
            "identity": "identity",
            "certificate": "certificate identity",
            "solve": "solved",
            "limit": "limit",
        }[self.check.how]
        return f"sympy: {what}, {where}"


def is_zero(x: Any) -> bool:
    """Exact zero test for a sympy scalar or matrix (expand first: cheap; simplify if needed)."""
    if isinstance(x, sympy.MatrixBase):
        return all(is_zero(e) for e in x)
    x = sympy.sympify(x)
    if x == 0 or sympy.expand(x) == 0:
        return True
    # sign(u) is u/|u| for u != 0: sympy leaves it when differentiating |u| at n = 1.
    x = x.doit().replace(sympy.sign, lambda a: a / sympy.Abs(a))
    if sympy.expand(sympy.together(x)) == 0:
        return True
    return bool(sympy.simplify(x) == 0) or bool(sympy.simplify(sympy.radsimp(x)) == 0)


def confirm_line(line: Line) -> str | None:
    """None when sympy confirms the line for every size it is checked at, else why not."""
    for n in line.sizes:
        ctx = Ctx(n, line.check.assume)
        problem = _confirm_at(line, ctx)
        if problem:
            return f"n = {n}: {problem}" if line.sized else problem
    return None


def _confirm_at(line: Line, ctx: Ctx) -> str | None:
    check = line.check
    lhs, rhs = line.lhs.value(ctx), line.rhs.value(ctx)
    if check.how == "identity":
        return None if is_zero(lhs - rhs) else "the two sides differ"
    if check.how == "certificate":
        if check.certificate is None or line.rel not in ("<=", ">="):
            return "a certificate needs ≤ or ≥ and a certificate"
        big, small = (rhs, lhs) if line.rel == "<=" else (lhs, rhs)
        cert = check.certificate.value(ctx)
        return None if is_zero(big - small - cert) else "the certificate does not match"
    if check.how == "solve":
        assert check.unknown is not None
        roots = sympy.solve(lhs, check.unknown.value(ctx), dict=False)
        if len(roots) == 1 and is_zero(roots[0] - rhs):
            return None
        return f"sympy finds {roots}"
    if check.how == "limit":
        assert check.unknown is not None
        got = sympy.limit(lhs, check.unknown.value(ctx), sympy.oo)
        return None if is_zero(got - rhs) else f"the limit is {got}"
    return f"unknown check {check.how!r}"


# --------------------------------------------------------------------------- derivations


@dataclass(frozen=True)
class Result:
    """A derived result as an answer key: a formula in scalar symbols.

    ``meaning`` is the Term the derivation arrived at; ``bindings`` say what the
    answer's own scalar symbols stand for (``norm_u`` for ‖u‖, ``u`` for the
    vector u), so that a test can confirm the answer against the derivation.
    """

    key: str
    value: Any
    label: Any
    meaning: Term
    bindings: Mapping[str, Term] = field(default_factory=dict)
    #: how the label relates to the value: "=" for a derived formula, "<=" for a bound (the
    #: answer key is then the bound itself; writing it as an equality would misstate the proof)
    relation: str = "="


@dataclass(frozen=True)
class Derivation:
    """A named derivation: what is given, the lines, and the results."""

    name: str
    claim: str
    given: Sequence[tuple[str, Sequence[M]]]
    lines: Sequence[Line]
    results: Sequence[Result]
    #: misconception id -> {key: the wrong value that mistake produces}
    mistakes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def confirm_result(r: Result, sizes: Sequence[int] = SIZES) -> str | None:
    """None when the answer formula, with its symbols bound, is what the derivation means.

    A symbol bound to a vector stands for each of its entries in turn (the answer
    ``γ·u/norm_u`` means the vector with entries ``γ·u_i/‖u‖``).
    """
    sized = r.meaning.sized or any(b.sized for b in r.bindings.values())
    expr = sympy.sympify(exact.to_sympy(r.value))
    for n in sizes if sized else (1,):
        ctx = Ctx(n)
        want = r.meaning.value(ctx)
        bound = {exact.symbol(k): b.value(ctx) for k, b in r.bindings.items()}
        scalars = {k: v for k, v in bound.items() if not isinstance(v, sympy.MatrixBase)}
        vectors = {k: v for k, v in bound.items() if isinstance(v, sympy.MatrixBase)}
        if isinstance(want, sympy.MatrixBase):
            got: Any = sympy.Matrix(
                [
                    expr.subs({**scalars, **{k: v[i] for k, v in vectors.items()}})
                    for i in range(want.shape[0])
                ]
            )
        else:
            got = expr.subs(scalars)
        if not is_zero(got - want):
            return f"n = {n}: {r.key} = {exact.fmt(r.value)} is not what the derivation gives"
    return None


__all__ = [
    "SIZES",
    "Check",
    "Ctx",
    "Derivation",
    "Line",
    "Notation",
    "Product",
    "Result",
    "Term",
    "apply",
    "certificate",
    "combine",
    "confirm_line",
    "confirm_result",
    "define",
    "derivative_of",
    "diag",
    "dot",
    "fn_of_vector",
    "gradient",
    "identity",
    "identity_matrix",
    "is_zero",
    "jacobian",
    "lift",
    "limit",
    "matrix",
    "norm",
    "power",
    "scalar",
    "solve_for",
    "subscript",
    "substituted",
    "vector",
    "zero_vector",
]
