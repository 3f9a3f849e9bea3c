"""Exact numbers and tensors: what every answer in dlsolve is made of.

A scalar is one of

* an ``int`` or a ``fractions.Fraction`` (the fast path: most textbook numbers
  are rational, and Python's integers are far cheaper than sympy's),
* a :class:`Surd` ``a + b*sqrt(r)`` with rational ``a``, ``b`` and a square-free
  integer ``r`` (what a normalization produces: one square root per row or
  column, formed once and shared by every entry),
* a sympy expression, for everything else (symbols such as ``eta``, ``exp``,
  sums of different square roots).

Arithmetic between them stays in the cheapest representation that is still
exact and falls back to sympy only when it must. A tensor is a nested Python
list of scalars, batch first, as in the problem files.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any, Union

import sympy
from sympy import Add, Mul
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from . import floats

Rational = Union[int, Fraction]  # noqa: UP007 - a runtime alias
Scalar = Union[int, Fraction, "Surd", sympy.Expr]


def is_rational(x: object) -> bool:
    """True for ints and Fractions (not bools, which are answers of their own).

    By exact type first: ``isinstance`` against Fraction's ABC is slow on the hot path.
    Subclasses (the parser's WrittenDecimal, which remembers its places) still count.
    """
    t = type(x)
    if t is int or t is Fraction:
        return True
    if t is bool or t is Surd:
        return False
    return isinstance(x, (int, Fraction))


def is_scalar(x: object) -> bool:
    """True for any exact scalar: rational, surd or sympy expression."""
    return is_rational(x) or isinstance(x, (Surd, sympy.Expr))


def rational(x: Rational) -> Rational:
    """``x`` with an integral Fraction turned into an int, so it prints as ``3``."""
    if isinstance(x, Fraction) and x.denominator == 1:
        return x.numerator
    return x


# --------------------------------------------------------------------------- surds

_TRIAL_LIMIT = 1 << 15


@lru_cache(maxsize=4096)
def _split_square(n: int) -> tuple[int, int]:
    """Write ``n > 0`` as ``s*s*r`` with ``r`` square-free; return ``(s, r)``.

    Trial division up to 2**15 and a perfect-square test of what is left is
    complete for ``n`` below 2**45; larger numbers go to sympy's factorint
    (fast for the sizes a problem set produces). Cached because the same
    variances recur across rows, misconceptions and variants.
    """
    s, r = 1, 1
    m = n
    p = 2
    while p * p <= m and p < _TRIAL_LIMIT:
        if m % p == 0:
            e = 0
            while m % p == 0:
                m //= p
                e += 1
            s *= p ** (e // 2)
            if e % 2:
                r *= p
        p += 1 if p == 2 else 2
    if m > 1:
        if m < _TRIAL_LIMIT**3 or m > 10**60:
            root = math.isqrt(m)
            if root * root == m:
                s *= root
            else:
                r *= m
        else:
            for prime, e in sympy.factorint(m).items():
                s *= prime ** (e // 2)
                if e % 2:
                    r *= prime
    return s, r


class Surd:
    """The number ``a + b*sqrt(r)``: rational ``a``, ``b != 0``, square-free ``r > 1``.

    Build one with :func:`surd` or :func:`sqrt`, which return a plain rational
    when the root is not irrational. Surds with the same ``r`` form a field,
    so the arithmetic of a normalization (subtract the mean, divide by the
    standard deviation, scale and shift) never leaves this class.
    """

    __slots__ = ("_hash", "a", "b", "r")

    def __init__(self, a: Rational, b: Rational, r: int) -> None:
        self.a, self.b, self.r = a, b, r
        self._hash: int | None = None

    # -- conversions
    def _sympy_(self) -> sympy.Expr:
        return sympy.Rational(self.a) + sympy.Rational(self.b) * sympy.sqrt(self.r)

    def __float__(self) -> float:
        return _float_surd(self)

    def __repr__(self) -> str:
        return f"Surd({self.a!r}, {self.b!r}, {self.r})"

    def __str__(self) -> str:
        return fmt(self)

    # -- arithmetic
    def _coerce(self, other: object) -> tuple[Rational, Rational] | None:
        """``other`` as ``(a, b)`` over the same root, or None if it is not."""
        if is_rational(other):
            return other, 0  # type: ignore[return-value]
        if isinstance(other, Surd) and other.r == self.r:
            return other.a, other.b
        return None

    def __add__(self, other: object) -> Scalar:
        if is_rational(other):  # the common case (adding β), kept cheap
            return Surd(self.a + other, self.b, self.r) if other else self
        c = self._coerce(other)
        if c is None:
            return _sympy_fallback(self, other, "__add__")
        return surd(self.a + c[0], self.b + c[1], self.r)

    __radd__ = __add__

    def __neg__(self) -> Surd:
        return Surd(-self.a, -self.b, self.r)

    def __pos__(self) -> Surd:
        return self

    def __sub__(self, other: object) -> Scalar:
        return self + (-other)  # type: ignore[operator]

    def __rsub__(self, other: object) -> Scalar:
        return (-self) + other

    def __mul__(self, other: object) -> Scalar:
        if is_rational(other):  # the common case (scaling by γ or by x − μ), kept cheap
            if other == 0:
                return 0
            if other == 1:
                return self
            return Surd(self.a * other if self.a else 0, self.b * other, self.r)
        c = self._coerce(other)
        if c is None:
            return _sympy_fallback(self, other, "__mul__")
        a, b = c
        return surd(self.a * a + self.b * b * self.r, self.a * b + self.b * a, self.r)

    __rmul__ = __mul__

    def inverse(self) -> Scalar:
        """``1/(a + b√r) = (a − b√r)/(a² − b²r)``: the denominator is never 0."""
        den = Fraction(self.a) ** 2 - Fraction(self.b) ** 2 * self.r
        return surd(self.a / den, -self.b / den, self.r)

    def __truediv__(self, other: object) -> Scalar:
        if is_rational(other):
            if other == 0:
                raise ZeroDivisionError("division by zero")
            return surd(Fraction(self.a) / other, Fraction(self.b) / other, self.r)  # type: ignore[operator]
        if isinstance(other, Surd) and other.r == self.r:
            return self * other.inverse()
        return _sympy_fallback(self, other, "__truediv__")

    def __rtruediv__(self, other: object) -> Scalar:
        if is_rational(other):
            return self.inverse() * other
        return _sympy_fallback(self, other, "__rtruediv__")

    def __pow__(self, n: object) -> Scalar:
        if isinstance(n, int) and not isinstance(n, bool):
            base: Scalar = self if n >= 0 else self.inverse()
            result: Scalar = 1
            for _ in range(abs(n)):
                result = result * base
            return result
        return _sympy_fallback(self, n, "__pow__")

    def sign(self) -> int:
        """The exact sign of ``a + b√r``, without floating point."""
        sa = (self.a > 0) - (self.a < 0)
        sb = (self.b > 0) - (self.b < 0)
        if sa == 0 or sa == sb:
            return sb
        # a and b√r have opposite signs: compare a² with b²r.
        if Fraction(self.a) ** 2 > Fraction(self.b) ** 2 * self.r:
            return sa
        return sb

    def __abs__(self) -> Surd:
        return self if self.sign() >= 0 else -self

    def _cmp(self, other: object) -> int | None:
        if not (is_rational(other) or isinstance(other, Surd)):
            return None
        return sign(self - other)  # type: ignore[operator]

    def __lt__(self, other: object) -> bool:
        c = self._cmp(other)
        return NotImplemented if c is None else c < 0

    def __le__(self, other: object) -> bool:
        c = self._cmp(other)
        return NotImplemented if c is None else c <= 0

    def __gt__(self, other: object) -> bool:
        c = self._cmp(other)
        return NotImplemented if c is None else c > 0

    def __ge__(self, other: object) -> bool:
        c = self._cmp(other)
        return NotImplemented if c is None else c >= 0

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        if isinstance(other, Surd):
            return (self.a, self.b, self.r) == (other.a, other.b, other.r)
        if is_rational(other) or isinstance(other, float):
            return False  # b != 0 and r is not a square, so self is irrational
        if isinstance(other, sympy.Basic):
            return bool(sympy.simplify(self._sympy_() - other) == 0)
        return NotImplemented

    def __hash__(self) -> int:
        """From ints (hashing a Fraction costs a modular inverse), once per object: the
        formatting caches look every entry of a matrix up three times."""
        if self._hash is None:
            a, b = self.a, self.b
            self._hash = hash((a.numerator, a.denominator, b.numerator, b.denominator, self.r))
        return self._hash


def _sympy_fallback(x: object, y: object, op: str) -> sympy.Expr:
    return getattr(to_sympy(x), op)(to_sympy(y))


def surd(a: Rational, b: Rational, r: int) -> Scalar:
    """``a + b*sqrt(r)`` in its simplest exact form (a rational where b or r allow)."""
    if b == 0 or r == 1:
        return rational(a + b)  # type: ignore[operator]
    return Surd(a, b, r)


def sqrt(x: Scalar) -> Scalar:
    """The exact square root: a rational, a Surd ``c*sqrt(r)``, or a sympy expression.

    Formed once per variance, so that a 128-column normalization computes 128
    square roots, not 16,384.
    """
    if is_rational(x):
        if x < 0:
            raise ValueError(f"the square root of a negative number ({fmt(x)}) is not real")
        q = Fraction(x)
        if q == 0:
            return 0
        s, r = _split_square(q.numerator * q.denominator)
        return surd(0, Fraction(s, q.denominator), r)
    return sympy.sqrt(to_sympy(x))


def sign(x: Scalar) -> int:
    """-1, 0 or 1, exactly (sympy decides for expressions; symbols raise)."""
    if is_rational(x):
        return (x > 0) - (x < 0)
    if isinstance(x, Surd):
        return x.sign()
    s = sympy.sign(to_sympy(x))
    if s.is_number:
        return int(s)
    raise ValueError(f"the sign of {fmt(x)} is not known")


def is_zero(x: Scalar) -> bool:
    """Exact test for zero (Surds are never zero)."""
    if is_rational(x):
        return x == 0
    if isinstance(x, Surd):
        return False
    return bool(sympy.simplify(to_sympy(x)) == 0)


def power(x: Scalar, n: int) -> Scalar:
    """``x**n`` for an integer ``n``, staying exact."""
    if is_rational(x):
        if n < 0 and x == 0:
            raise ZeroDivisionError("0 to a negative power")
        return rational(Fraction(x) ** n)
    if isinstance(x, Surd):
        return x**n
    return to_sympy(x) ** n


# --------------------------------------------------------------------------- sympy bridge


@lru_cache(maxsize=1024)
def symbol(name: str) -> sympy.Symbol:
    """The one sympy Symbol for a name. Every symbol in dlsolve is real.

    Problem givens, solutions and student answers all create symbols here, so
    ``eta`` in a student's answer is the same object as ``eta`` in the key.
    """
    return sympy.Symbol(name, real=True)


def to_sympy(x: Any) -> Any:
    """A sympy object for a scalar (tensors map elementwise to nested lists)."""
    if isinstance(x, list):
        return [to_sympy(v) for v in x]
    if isinstance(x, bool):
        return sympy.true if x else sympy.false
    if isinstance(x, int):
        return sympy.Integer(x)
    if isinstance(x, Fraction):
        return sympy.Rational(x.numerator, x.denominator)
    if isinstance(x, Surd):
        return x._sympy_()
    if isinstance(x, float):
        raise TypeError("floats are not exact; give the number as a decimal or fraction")
    if isinstance(x, sympy.Basic):
        return x
    if isinstance(x, str):  # text goes through solver.parse, never through sympify
        raise TypeError(f"to_sympy takes exact values, not text ({x[:40]!r})")
    return sympy.sympify(x, strict=True)  # numbers such as numpy's, nothing parsed


def from_sympy(e: sympy.Basic) -> Scalar:
    """The cheapest exact form of a sympy value: an int, a Fraction, a Surd, else itself."""
    if isinstance(e, sympy.Integer):
        return int(e)
    if isinstance(e, sympy.Rational):
        return Fraction(int(e.p), int(e.q))
    if e.is_number and not e.free_symbols:
        a, rest = e.as_coeff_Add()
        b, root = rest.as_coeff_Mul()
        if (
            isinstance(root, sympy.Pow)
            and root.exp == sympy.Rational(1, 2)
            and isinstance(root.base, sympy.Integer)
            and isinstance(a, sympy.Rational)
            and isinstance(b, sympy.Rational)
        ):
            s, r = _split_square(int(root.base))
            if s == 1:
                return surd(from_sympy(a), from_sympy(b), r)  # type: ignore[arg-type]
    return e  # type: ignore[return-value]


def is_numeric(v: Any) -> bool:
    """Whether an answer value is numbers (possibly nested), not a boolean, text or tokens."""
    if isinstance(v, (bool, str)):
        return False
    return not (isinstance(v, list) and any(isinstance(t, (bool, str)) for t in flatten(v)))


def to_float(x: Any) -> Any:
    """Floats for display and for the ``float`` field of JSON; None where there is none."""
    if isinstance(x, list):
        return [to_float(v) for v in x]
    fast = _FAST_FLOAT.get(type(x))  # ints, Fractions and Surds: the entries of big tensors
    if fast is not None:
        try:
            return fast(x)
        except OverflowError:  # a count such as 2000**100 has no float
            return None
    if x is None or isinstance(x, (bool, str)):
        return None
    if is_rational(x) or isinstance(x, Surd):
        try:
            return float(x)
        except OverflowError:  # a count such as 2000**100 has no float
            return None
    return floats.nearest(to_sympy(x))  # each shared subexpression evaluated once


# --------------------------------------------------------------------------- formatting

_GREEK = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi "
    "omicron pi rho sigma tau upsilon phi chi psi omega"
).split()
_GREEK_UNICODE = dict(zip(_GREEK, "αβγδεζηθικλμνξοπρστυφχψω", strict=True))
_GREEK_UNICODE.update(
    {
        "eps": "ε",
        "Gamma": "Γ",
        "Delta": "Δ",
        "Theta": "Θ",
        "Lambda": "Λ",
        "Sigma": "Σ",
        "Phi": "Φ",
        "Psi": "Ψ",
        "Omega": "Ω",
    }
)
_GREEK_LATEX = {name: "\\" + name for name in _GREEK if name != "omicron"}
_GREEK_LATEX.update({"eps": r"\epsilon", "omicron": "o"})
_GREEK_LATEX.update(
    {k: "\\" + k for k in ("Gamma", "Delta", "Theta", "Lambda", "Sigma", "Phi", "Psi", "Omega")}
)
SUBSCRIPT = str.maketrans("0123456789+-=()aeijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
SUPERSCRIPT = str.maketrans("0123456789+-=()nT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿᵀ")
_SUB_CHARS = set("0123456789+-=()aeijklmnoprstuvx")


def greek_unicode(name: str) -> str:
    """``eta`` -> ``η``, ``w1`` -> ``w₁``, ``W_perp`` stays as it is."""
    if name in _GREEK_UNICODE:
        return _GREEK_UNICODE[name]
    head = name.rstrip("0123456789")
    if head and head != name and "_" not in name:
        return greek_unicode(head) + name[len(head) :].translate(SUBSCRIPT)
    return name


def greek_latex(name: str) -> str:
    """``eta`` -> ``\\eta``, ``w1`` -> ``w_{1}``."""
    if name in _GREEK_LATEX:
        return _GREEK_LATEX[name]
    head = name.rstrip("0123456789")
    if head and head != name and "_" not in name:
        return f"{greek_latex(head)}_{{{name[len(head) :]}}}"
    if len(name) > 1:
        escaped = name.replace("_", r"\_")
        return rf"\mathrm{{{escaped}}}"
    return name


# Sums of numbers are ordered without evaluating them. sympy's printers sort the terms of a
# sum of numbers by their numerical values, evaluating every factor of every term on every
# print (seconds for the sums over e of a network's gradients). A sum over e is written in
# ascending powers of e, as a polynomial is (1 + 3e⁶ − e⁹ + e¹⁵); a sum of fractions and
# products of such sums keeps the order it was built in; other sums of numbers (logs, roots)
# are sorted as sympy sorts them, each factor evaluated once.


def e_exponent(x: sympy.Expr) -> Rational | None:
    """q for ``e^q`` (q rational, ``e`` itself included), else None."""
    if x is sympy.E:
        return 1
    if type(x) is sympy.exp:
        q = x.args[0]
        if q.is_Rational:
            return int(q.p) if q.q == 1 else Fraction(int(q.p), int(q.q))
    return None


def _e_term_exponent(x: sympy.Expr) -> Rational | None:
    """The power of e in a term ``c·e^q`` of a sum over e (0 for a rational), else None."""
    if x.is_Rational:
        return 0
    q = e_exponent(x)
    if q is not None:
        return q
    if x.is_Mul:
        args = x.args
        if len(args) == 2 and args[0].is_Rational and args[0] is not sympy.S.One:
            return e_exponent(args[1])
    return None


@lru_cache(maxsize=65536)
def is_over_e(x: sympy.Expr) -> bool:
    """Whether ``x`` is built from rationals and rational powers of e by +, × and integer
    powers (a softmax probability, a network's gradient): no logs, roots or symbols."""
    if x.is_Rational or e_exponent(x) is not None:
        return True
    if x.is_Add or x.is_Mul:
        return all(is_over_e(a) for a in x.args)
    if x.is_Pow:
        return bool(x.exp.is_Integer) and is_over_e(x.base)
    return False


def _terms_in_order(expr: sympy.Expr) -> list[sympy.Expr] | None:
    """The terms of a sum over e in the order they are written; None for any other sum."""
    args = Add.make_args(expr)
    powers = [_e_term_exponent(t) for t in args]
    if all(q is not None for q in powers):
        order = sorted(range(len(args)), key=lambda i: powers[i])  # stable: ties as built
        return [args[i] for i in order]
    if all(is_over_e(t) for t in args):
        return list(args)
    return None


@lru_cache(maxsize=65536)
def _complex_of(factor: sympy.Expr) -> complex | None:
    """A number's complex value as sympy's term ordering computes it (None: not a number)."""
    if not factor.is_number:
        return None
    try:
        return complex(factor)
    except (TypeError, ValueError):
        return None


def _numeric_order(expr: sympy.Expr) -> list[sympy.Expr] | None:
    """The terms of a sum of numbers in the order sympy prints them, with each factor's value
    computed once. None where a term has a symbol (sympy orders those by degree)."""
    args = Add.make_args(expr)
    special = _number_minus_product(args)
    if special is not None:
        return special
    keyed = []
    for term in args:
        coeff, rest = term.as_coeff_Mul()
        value = _complex_of(coeff)
        if value is None:
            return None
        if rest is not sympy.S.One:
            for factor in Mul.make_args(rest):
                v = _complex_of(factor)
                if v is None:
                    return None
                value *= v
        keyed.append((((bool(value.imag), value.imag), (value.real, value.imag)), term))
    keyed.sort(key=lambda kt: kt[0])  # stable, as sympy's sort is
    return [t for _, t in keyed]


def _number_minus_product(args: tuple[sympy.Expr, ...]) -> list[sympy.Expr] | None:
    """sympy's special case of ``as_ordered_terms``: ``1 - e`` stays as written, a positive
    number before a negative multiple."""

    def key(x: sympy.Expr) -> bool:
        return not isinstance(x, (sympy.Number, sympy.NumberSymbol))

    if len(args) != 2:
        return None
    add_args = sorted(args, key=key)
    if isinstance(add_args[0], (sympy.Number, sympy.NumberSymbol)) and isinstance(add_args[1], Mul):
        mul_args = sorted(Mul.make_args(add_args[1]), key=key)
        if (
            len(mul_args) == 2
            and isinstance(mul_args[0], sympy.Number)
            and add_args[0].is_positive
            and mul_args[0].is_negative
        ):
            return add_args
    return None


_WRITTEN_SUMS: dict[tuple[type, sympy.Expr], str] = {}


class _NumericOrder:
    """A printer mixin: sums of numbers ordered without evaluating them (see above), and the
    factors of a product over e written as built (sympy orders a product's factors by sort
    keys that evaluate every sum in them)."""

    order: str | None
    _settings: dict[str, Any]
    _as_built = False

    def _as_ordered_terms(self, expr: sympy.Expr, order: str | None = None) -> list[sympy.Expr]:
        if self._as_built and order is None and expr.is_Add:
            terms = _terms_in_order(expr)
            if terms is not None:
                return terms
        if (order or self.order) is None and expr.is_Add:
            terms = _terms_in_order(expr)
            if terms is None:
                terms = _numeric_order(expr)
            if terms is not None:
                return terms
        return super()._as_ordered_terms(expr, order=order)  # type: ignore[misc]

    def _print_Add(self, expr: sympy.Add, order: str | None = None) -> str:
        """A sum over e, written once per printer class (a softmax row's denominator recurs
        in every entry of a gradient)."""
        if order is not None or self._settings.get("order") not in (None, "none"):
            return super()._print_Add(expr, order)  # type: ignore[misc]
        if (self._settings.get("order") == "none" and not self._as_built) or not is_over_e(expr):
            return super()._print_Add(expr, order)  # type: ignore[misc]
        key = (type(self), expr)
        known = _WRITTEN_SUMS.get(key)
        if known is None:
            known = super()._print_Add(expr, order)  # type: ignore[misc]
            if len(_WRITTEN_SUMS) > 20_000:
                _WRITTEN_SUMS.clear()
            _WRITTEN_SUMS[key] = known
        return known

    def _print_Mul(self, expr: sympy.Mul) -> str:
        if self._as_built or self._settings.get("order") is not None or not is_over_e(expr):
            return super()._print_Mul(expr)  # type: ignore[misc]
        self._settings["order"], self._as_built = "none", True
        try:
            return super()._print_Mul(expr)  # type: ignore[misc]
        finally:
            self._settings["order"], self._as_built = None, False


class _StrPrinter(_NumericOrder, StrPrinter):
    """sympy's str printer (what ``sympy.sstr`` uses), with the cheap order of sums."""


class _LatexPrinter(_NumericOrder, LatexPrinter):
    """sympy's LaTeX printer, with the cheap order of sums."""


class _UnicodePrinter(_NumericOrder, StrPrinter):
    """sympy's str printer with √, superscripts, · and Greek letters: one line, readable."""

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        return greek_unicode(expr.name)

    def _print_Pow(self, expr: sympy.Pow, rational: bool = False) -> str:
        base, exp = expr.as_base_exp()
        if exp == sympy.Rational(1, 2):
            inner = self._print(base)
            return "√" + (inner if base.is_Atom else f"({inner})")
        if exp == -1:  # 1/(1 + e), not (1 + e)^-1
            return "1/" + self.parenthesize(base, 60)
        if exp == -sympy.Rational(1, 2):
            inner = self._print(base)
            return "1/√" + (inner if base.is_Atom else f"({inner})")
        if exp.is_Integer and exp > 0:
            b = self.parenthesize(base, 60)  # PRECEDENCE["Pow"]
            return b + str(exp).translate(SUPERSCRIPT)
        if exp.is_Integer and exp < 0 and not base.is_Atom:  # 1/(1 + e + e²), not (…)^-1
            inner = base if exp == -1 else sympy.Pow(base, -exp, evaluate=False)
            return "1/" + self.parenthesize(inner, 60)
        if exp.is_Rational or exp.is_Symbol:  # x^(5/2), x^T: a caret, not "**" (a product's
            e = self._print(exp)  # "*" becomes "·" below)
            return f"{self.parenthesize(base, 60)}^" + (
                e if exp.is_Atom and "/" not in e else f"({e})"
            )
        return super()._print_Pow(expr, rational)

    def _print_exp(self, expr: Any) -> str:
        arg = expr.args[0]
        if arg.is_Integer:
            return "e" + str(int(arg.p)).translate(SUPERSCRIPT)
        return f"e^({self._print(arg)})"

    def _print_Exp1(self, expr: Any) -> str:
        return "e"

    def _print_Pi(self, expr: Any) -> str:
        return "π"

    def _print_Mul(self, expr: sympy.Mul) -> str:
        return _tighten(super()._print_Mul(expr))


class _FastOverE:
    """Sums over e and their fractions (what a network's gradients are made of:
    ``(13 + 7e⁶⁸ − 6e²⁷⁷)/(40(1 + e⁶⁸ + …))``) written directly, for the one-line printers
    (Unicode and sympy's str): the same text as the generic printer it is mixed into, without
    sympy's machinery (which sorts a product's factors by evaluating them and rebuilds every
    product to find its sign), and each sum over e written once (a softmax row's denominator
    recurs in every entry of a gradient). A product is ``*``-joined by :meth:`_join`, a power
    written by :meth:`_power`; anything else goes to the generic printer."""

    order: str | None
    _as_built: bool

    def __init__(self) -> None:
        super().__init__()  # type: ignore[call-arg]
        self._sums: dict[sympy.Expr, str] = {}

    def _join(self, factors: list[str]) -> str:
        return "*".join(factors)

    def _power(self, base: str, k: int) -> str:
        return f"{base}**{k}"

    def _print_Add(self, expr: sympy.Add, order: str | None = None) -> str:
        if order is not None or (self.order is not None and not self._as_built):
            return super()._print_Add(expr, order)  # type: ignore[misc]
        known = self._sums.get(expr)
        if known is not None:
            return known
        args = expr.args
        powers = [_e_term_exponent(t) for t in args]
        out = []
        if all(q is not None for q in powers):  # a sum over e, in ascending powers of e
            for i in sorted(range(len(args)), key=lambda i: powers[i]):  # type: ignore[arg-type,return-value]
                t = self._e_term(args[i])
                out.append(" - " + t[1:] if t.startswith("-") else " + " + t)
        elif all(is_over_e(t) for t in args):  # fractions over e, as built
            for term in args:
                t = self._print(term)  # type: ignore[attr-defined]
                if term.is_Add:
                    out.append(" + (" + t + ")")
                else:
                    out.append(" - " + t[1:] if t.startswith("-") else " + " + t)
        else:
            return super()._print_Add(expr, order)  # type: ignore[misc]
        text = "".join(out)
        text = "-" + text[3:] if text.startswith(" - ") else text[3:]
        if len(self._sums) > 20_000:
            self._sums.clear()
        self._sums[expr] = text
        return text

    def _e_term(self, t: sympy.Expr) -> str:
        """A term ``c·e^q`` as :meth:`_print` writes it, once per term."""
        known = self._sums.get(t)
        if known is None:
            known = self._sums[t] = self._print(t)  # type: ignore[attr-defined]
        return known

    def _print_Mul(self, expr: sympy.Mul) -> str:
        fraction = _fraction_over_e(expr)
        if fraction is None:
            return super()._print_Mul(expr)  # type: ignore[misc]
        c, num, den = fraction
        p, q = int(c.p), int(c.q)
        sign = "-" if p < 0 else ""
        p = abs(p)
        top = [str(p)] if p != 1 else []
        if num is not None:
            top.append(f"({self._print(num)})" if num.is_Add else self._print(num))  # type: ignore[attr-defined]
        bottom = [str(q)] if q != 1 else []
        if den is not None:
            base, k = den
            b = f"({self._print(base)})" if base.is_Add else self._print(base)  # type: ignore[attr-defined]
            bottom.append(b if k == 1 else self._power(b, k))
        text = sign + self._join(top or ["1"])
        if len(bottom) == 1:
            text += "/" + bottom[0]
        elif bottom:
            text += "/(" + self._join(bottom) + ")"
        return text


class _FastStrPrinter(_FastOverE, _StrPrinter):
    """The str printer of :func:`fmt`, with sums over e and their fractions written directly."""


class _FastUnicodePrinter(_FastOverE, _UnicodePrinter):
    """The Unicode printer with sums over e and their fractions written directly."""

    def _join(self, factors: list[str]) -> str:
        return _tighten("*".join(factors))

    def _power(self, base: str, k: int) -> str:
        return base + str(k).translate(SUPERSCRIPT)


class _FastLatexPrinter(_LatexPrinter):
    """The LaTeX printer with sums over e and their fractions written directly (as
    :class:`_FastOverE` does for the one-line printers): ``\\frac{N}{4 \\left(D\\right)}``
    exactly as sympy's LaTeX printer writes it, without its rebuilding of every product (to
    find its sign and split it into numerator and denominator), each sum over e written once.
    Only numbers: an expression with symbols takes the generic printer, with their names."""

    def __init__(self) -> None:
        super().__init__()
        self._sums: dict[sympy.Expr, str] = {}

    def _print_Add(self, expr: sympy.Add, order: str | None = None) -> str:
        if order is not None or (self.order is not None and not self._as_built):
            return super()._print_Add(expr, order)
        known = self._sums.get(expr)
        if known is not None:
            return known
        terms = _terms_in_order(expr)  # ascending powers of e, or fractions over e as built
        written = None if terms is None else [self._term(t) for t in terms]
        if written is None or None in written:
            return super()._print_Add(expr, order)
        out = []
        for i, (term, t) in enumerate(zip(terms, written, strict=True)):
            negative = (term.is_Rational and term.p < 0) or (
                term.is_Mul and term.args[0].is_Number and term.args[0] < 0
            )
            if i == 0:
                out.append(t)
            elif negative:  # sympy writes " - " and the negated term ("- \frac", "-3" unsigned)
                out.append(" - " + (t[2:] if t.startswith("- ") else t[1:]))
            else:
                out.append(" + " + t)
        text = "".join(out)
        if len(self._sums) > 20_000:
            self._sums.clear()
        self._sums[expr] = text
        return text

    def _term(self, t: sympy.Expr) -> str | None:
        """A term of a sum over e as :meth:`_print` writes it (once per term), or None for a
        term whose sign this printer does not read (it leaves the sum to sympy)."""
        known = self._sums.get(t)
        if known is None:
            if t.is_Mul:
                known = self._fast_mul(t)
                if known is None:
                    return None
            elif t.is_Rational or e_exponent(t) is not None:
                known = self._print(t)
            else:
                return None
            self._sums[t] = known
        return known

    def _print_Mul(self, expr: sympy.Mul) -> str:
        text = self._fast_mul(expr)
        return super()._print_Mul(expr) if text is None else text

    def _fast_mul(self, expr: sympy.Mul) -> str | None:
        """``c·N/D^k`` as sympy writes it, or None for any other product."""
        fraction = _fraction_over_e(expr)
        if fraction is None:
            return None
        c, num, den = fraction
        if num is not None and not num.is_Add and e_exponent(num) <= 0:  # type: ignore[operator]
            return None  # e^(−q) goes under the fraction bar
        if den is not None and not den[0].is_Add:
            return None
        p, q = int(c.p), int(c.q)
        sign = "- " if p < 0 else ""
        p = abs(p)
        if num is None:
            top = str(p)
        elif p == 1:
            top = self._print(num)
        elif num.is_Add:
            top = rf"{p} \left({self._print(num)}\right)"
        else:
            top = f"{p} {self._print(num)}"
        if den is None:
            return sign + (top if q == 1 else rf"\frac{{{top}}}{{{q}}}")
        base, k = den
        b = self._print(base)
        if k != 1:  # (D)^k; D itself alone, or in brackets after the rational's denominator
            bottom = rf"\left({b}\right)^{{{k}}}"
        elif q == 1:
            bottom = b
        else:
            bottom = rf"\left({b}\right)"
        if q != 1:
            bottom = f"{q} {bottom}"
        return sign + rf"\frac{{{top}}}{{{bottom}}}"


def _tighten(s: str) -> str:
    """``2*√3`` → ``2√3``, ``2*η`` → ``2η``, ``3*(1 + e)`` → ``3(1 + e)``; other products
    get a centred dot."""
    pieces = s.split("*")
    out = [pieces[0]]
    for prev, nxt in itertools.pairwise(pieces):
        tight = prev[-1:].isdigit() and (nxt[:1] == "√" or nxt[:1].isalpha() or nxt[:1] == "(")
        out.append(nxt if tight else "·" + nxt)
    return "".join(out)


def _fraction_over_e(
    expr: sympy.Mul,
) -> tuple[sympy.Rational, sympy.Expr | None, tuple[sympy.Expr, int] | None] | None:
    """A product ``c · N / D^k`` with rational c, N a power of e or a sum over e, D a power of
    e or a sum over e (each optional): the parts, or None for any other product (which
    sympy's printer writes, and which may order its factors otherwise)."""
    args = expr.args
    if args[0] is sympy.S.One or not expr.is_commutative:
        return None  # an unevaluated 1·x: sympy writes the 1
    c = sympy.S.One
    num = None
    den = None
    for i, a in enumerate(args):
        if a.is_Rational:
            if i:  # a number after the first factor: sympy writes such a product as built
                return None
            c = a
        elif a.is_Pow:
            k = a.exp
            if not (k.is_Integer and k.p < 0) or den is not None:
                return None
            base = a.base
            if base.is_Integer or not (base.is_Add or e_exponent(base) is not None):
                return None
            if not is_over_e(base):
                return None
            den = (base, -int(k.p))
        elif num is None and (e_exponent(a) is not None or (a.is_Add and is_over_e(a))):
            num = a
        else:
            return None
    if num is None and den is None:
        return None
    return c, num, den


_UNICODE = _FastUnicodePrinter()
_STR = _FastStrPrinter()
_THREAD = threading.local()  # a LaTeX printer per thread: printing sets and resets its settings


def _latex_printer() -> _FastLatexPrinter:
    printer = getattr(_THREAD, "latex", None)
    if printer is None:
        printer = _THREAD.latex = _FastLatexPrinter()
    return printer


def _frac_parts(q: Rational) -> tuple[int, int]:
    return q.numerator, q.denominator  # ints have them too; no Fraction to build


def _coeff_root(b: Rational, root: str, times: str, frac: Callable[[str, str], str]) -> str:
    """Format ``b*root`` (b != 0) as ``root``, ``-root``, ``2*root``, ``root/3``."""
    p, q = _frac_parts(b)
    sign_ = "-" if p < 0 else ""
    p = abs(p)
    top = root if p == 1 else f"{p}{times}{root}"
    return sign_ + (top if q == 1 else frac(top, str(q)))


def _join_terms(a: str, b: str) -> str:
    if b.startswith("-"):
        return f"{a} - {b[1:]}"
    return f"{a} + {b}"


def fmt(x: Any) -> Any:
    """Exact value as a string that sympy's own parser reads back (tensors nest)."""
    if isinstance(x, list):
        return [fmt(v) for v in x]
    fast = _FAST_FMT.get(type(x))
    if fast is not None:
        return fast(x)
    if x is None:
        return None
    if isinstance(x, bool):
        return x
    if is_rational(x):
        return str(rational(x))
    if isinstance(x, Surd):
        return _fmt_surd(x)
    if isinstance(x, str):
        return x
    return _STR.doprint(to_sympy(x))


def unicode(x: Any) -> str:
    """Exact scalar for the terminal: ``-1 - 2√3/3``, ``20/3``, ``η·γ``."""
    if x is None:
        return "undefined"
    if isinstance(x, bool):
        return "true" if x else "false"
    if is_rational(x):
        return str(rational(x))
    if isinstance(x, Surd):
        return _unicode_surd(x)
    if isinstance(x, str):
        return x
    return _UNICODE.doprint(to_sympy(x))


def latex(x: Any) -> str:
    """Exact scalar as LaTeX: ``-1 - \\frac{2 \\sqrt{3}}{3}``."""
    fast = _FAST_LATEX.get(type(x))
    if fast is not None:
        return fast(x)
    if x is None:
        return r"\text{undefined}"
    if isinstance(x, bool):
        return r"\text{true}" if x else r"\text{false}"
    if is_rational(x):
        return _latex_rational(x)
    if isinstance(x, Surd):
        return _latex_surd(x)
    if isinstance(x, str):
        return latex_text(x)
    e = to_sympy(x)
    if is_over_e(e):  # no symbols to name: the shared printer, which writes each sum once
        return _latex_printer().doprint(e)
    return _LatexPrinter(
        {"symbol_names": {s: greek_latex(s.name) for s in e.free_symbols}}
    ).doprint(e)


# A matrix repeats its values (a BatchNorm column has as many distinct outputs as inputs), so
# the float and the three formats of a Surd are cached.


@lru_cache(maxsize=65536)
def _float_surd(x: Surd) -> float:
    """Correctly rounded, from integers: (P + Q√r)/D with Q√r to 2k bits by isqrt.

    Enough bits survive any cancellation, since |P² − Q²r| ≥ 1 for a non-square r.
    """
    a, b = x.a, x.b
    D = math.lcm(a.denominator, b.denominator)
    P, Q = a.numerator * (D // a.denominator), b.numerator * (D // b.denominator)
    k = 2 * max(abs(P).bit_length(), abs(Q).bit_length() + x.r.bit_length()) + 64
    S = math.isqrt(Q * Q * x.r << (2 * k))
    return ((P << k) + (S if Q > 0 else -S)) / (D << k)


@lru_cache(maxsize=65536)
def _fmt_surd(x: Surd) -> str:
    term = _coeff_root(x.b, f"sqrt({x.r})", "*", lambda t, d: f"{t}/{d}")
    return term if x.a == 0 else _join_terms(str(x.a), term)


@lru_cache(maxsize=65536)
def _unicode_surd(x: Surd) -> str:
    term = _coeff_root(x.b, f"√{x.r}", "", lambda t, d: f"{t}/{d}")
    return term if x.a == 0 else _join_terms(str(x.a), term)


@lru_cache(maxsize=65536)
def _latex_surd(x: Surd) -> str:
    term = _coeff_root(x.b, rf"\sqrt{{{x.r}}}", " ", lambda t, d: rf"\frac{{{t}}}{{{d}}}")
    return term if x.a == 0 else _join_terms(_latex_rational(x.a), term)


def _latex_rational(x: Rational) -> str:
    p, q = _frac_parts(x)
    if q == 1:
        return str(p)
    return ("-" if p < 0 else "") + rf"\frac{{{abs(p)}}}{{{q}}}"


_SPECIAL_TOKEN = re.compile(r"<([A-Za-z0-9_/|.-]+)>")
_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "_": r"\_",
    "#": r"\#",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "^": r"\^{}",
    "~": r"\~{}",
}


def escape_text(s: str) -> str:
    """TeX's special characters escaped, for words inside ``\\text{}`` or ``\\mathrm{}``."""
    return "".join(_TEXT_ESCAPES.get(c, c) for c in s)


def latex_text(s: str) -> str:
    """Words as LaTeX: ``\\text{...}`` with TeX's special characters escaped.

    A special token such as ``<BOS>`` becomes ``\\langle\\text{BOS}\\rangle``: a bare
    ``<`` prints as ``¡`` in TeX's text fonts, and GitHub reads ``<BOS>`` as an HTML tag.
    """
    parts = []
    for i, piece in enumerate(_SPECIAL_TOKEN.split(s)):
        if not piece:
            continue
        body = escape_text(piece)
        parts.append(rf"\langle\text{{{body}}}\rangle" if i % 2 else rf"\text{{{body}}}")
    return "".join(parts) or r"\text{}"


def decimal(x: Any, places: int = 12) -> str | None:
    """A rational with a terminating decimal expansion as that decimal (``-91/10`` ->
    ``-9.1``); None for anything else, or when it needs more than ``places`` digits."""
    if not is_rational(x):
        return None
    q = Fraction(x)
    d = q.denominator
    twos = fives = 0
    while d % 2 == 0:
        d //= 2
        twos += 1
    while d % 5 == 0:
        d //= 5
        fives += 1
    digits = max(twos, fives)
    if d != 1 or digits > places:
        return None
    if digits == 0:
        return str(q.numerator)
    scaled = abs(q.numerator) * 10**digits // q.denominator
    whole, frac = divmod(scaled, 10**digits)
    return f"{'-' if q < 0 else ''}{whole}.{frac:0{digits}d}"


# Dispatch on the exact type first: a 128 × 128 answer is 16,384 ints, Fractions and Surds.
_FAST_FLOAT: dict[type, Callable[[Any], float]] = {int: float, Fraction: float, Surd: _float_surd}
_FAST_FMT: dict[type, Callable[[Any], str]] = {
    int: str,
    Fraction: lambda q: str(rational(q)),
    Surd: _fmt_surd,
}
_FAST_LATEX: dict[type, Callable[[Any], str]] = {
    int: str,
    Fraction: _latex_rational,
    Surd: _latex_surd,
}


def is_compound(x: Any) -> bool:
    """Whether a scalar prints as more than one term (and so needs parentheses in a product)."""
    if isinstance(x, Surd):
        return x.a != 0
    if isinstance(x, sympy.Basic):
        return isinstance(x, sympy.Add)
    return False


def is_negative_looking(x: Any) -> bool:
    """Whether the printed form starts with a minus sign."""
    if is_rational(x):
        return x < 0
    return unicode(x).startswith("-")


# --------------------------------------------------------------------------- tensors


class RaggedError(ValueError):
    """A nested list that is not rectangular; ``path`` leads to the first odd entry."""

    def __init__(self, message: str, path: tuple[int, ...]) -> None:
        super().__init__(message)
        self.path = path


def shape(t: Any) -> tuple[int, ...]:
    """The shape of a nested list; a ragged one raises RaggedError naming the first bad entry.

    Level by level over the entries alone; only a ragged list pays for finding where.
    """
    dims: list[int] = []
    level = [t]
    while True:
        kinds_ = {type(v) is list for v in level}
        if kinds_ == {False}:
            return tuple(dims)
        n = len(level[0]) if kinds_ == {True} else -1
        if n < 0 or any(len(v) != n for v in level):
            _ragged(t)
        dims.append(n)
        if n == 0:
            return tuple(dims)
        level = [x for v in level for x in v]


def _ragged(t: Any) -> None:
    """Raise the RaggedError of a ragged nested list, with the path to its first odd entry."""
    level: list[tuple[tuple[int, ...], Any]] = [((), t)]
    while True:
        lists = [isinstance(v, list) for _, v in level]
        first = level[0][0]
        if not all(lists):
            path = level[lists.index(False) if lists[0] else lists.index(True)][0]
            what = ("a number", "a list") if lists[0] else ("a list", "a number")
            raise RaggedError(
                f"is ragged: entry {_where(path)} is {what[0]} but entry "
                f"{_where(first)} is {what[1]}",
                path,
            )
        n = len(level[0][1])
        for path, v in level:
            if len(v) != n:
                raise RaggedError(
                    f"is ragged: entry {_where(path)} has {len(v)} values but "
                    f"entry {_where(first)} has {n}",
                    path,
                )
        level = [((*path, i), x) for path, v in level for i, x in enumerate(v)]


def _where(path: tuple[int, ...]) -> str:
    return "".join(f"[{i}]" for i in path) or "[0]"


def tmap(f: Callable[..., Any], t: Any, *others: Any) -> Any:
    """Apply ``f`` elementwise to one or more tensors of the same shape."""
    if isinstance(t, list):
        return [tmap(f, *parts) for parts in zip(t, *others, strict=True)]
    return f(t, *others)


def flatten(t: Any) -> list[Any]:
    """The entries of a tensor in row-major order (level by level: no recursion per entry)."""
    if type(t) is not list:
        return [t]
    out = t
    while out and all(type(v) is list for v in out):
        out = [x for v in out for x in v]
    if any(type(v) is list for v in out):  # uneven depth: take it entry by entry
        return [x for v in out for x in flatten(v)]
    return out


def transpose(m: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """The transpose of a matrix given as a list of rows."""
    return [list(col) for col in zip(*m, strict=True)]


def total(xs: Iterable[Scalar]) -> Scalar:
    """Exact sum (``sum`` would start from the int 0, which is fine, but say so once)."""
    s: Scalar = 0
    for x in xs:
        s = s + x
    return rational(s) if is_rational(s) else s


def mean(xs: Sequence[Scalar]) -> Scalar:
    """Exact arithmetic mean."""
    s = total(xs)
    if is_rational(s):
        return rational(Fraction(s, len(xs)))
    return s / len(xs)
