"""The numbers a graph computes with: rationals, and rational combinations of a few
transcendental atoms.

Everything before the first σ, tanh, exp, log, sin, cos or softmax is rational, and a
backward pass is *linear* in its upstream gradient: so almost every value a
course's graph produces is ``r + Σ c·a``, a rational ``r`` plus rational
multiples of a handful of atoms such as ``1/(1 + e)`` or ``e²/(1 + e + e²)``.
:class:`Tx` keeps exactly that form, with the atoms as sympy expressions and
the coefficients as Python Fractions, so adding and scaling never calls sympy
(the hot path of a 3-layer MLP's backward pass stays in integers and
Fractions). Only a product of two atoms, or a transcendental function of a
transcendental value, builds a new sympy atom.

Atoms are written in the canonical textbook form:

* ``σ(z) = e^z/(1 + e^z)`` for z > 0 and ``1/(1 + e^{−z})`` for z < 0 (one atom
  ``u = 1/(1 + e^{|z|})`` per |z|, so ``σ(z) + σ(−z) = 1`` exactly);
* ``tanh(z) = (e^{2z} − 1)/(e^{2z} + 1)`` (the same kind of atom);
* ``softmax(z)_i = e^{z_i − m}/Σ_j e^{z_j − m}`` with ``m = min z``, so every
  exponent is ≥ 0 and the common denominator is the same for the whole row;
* ``sin(q)`` and ``cos(q)`` as sympy writes them: ``sin(1)`` stays ``sin(1)``, with the
  sign taken out (``sin(−1) = −sin(1)``, ``cos(−1) = cos(1)``) and exact values where they
  exist (``cos(0) = 1``, ``sin(π/6) = 1/2``).

:func:`to_exact` turns a value into what an answer holds (int, Fraction or a
sympy expression, terms over a common denominator grouped), and
:func:`from_exact` reads a student's value back for error carried forward.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any, Union

import sympy

from .. import exact

Rational = Union[int, Fraction]  # noqa: UP007 - a runtime alias
Value = Union[int, Fraction, "Tx"]

MAX_ATOMS = 400  # distinct atoms in one value: beyond this a value is too large to show


class GraphValueError(ValueError):
    """A value that cannot be computed exactly (log of 0, a number grown too large)."""


def is_rational(x: object) -> bool:
    t = type(x)
    return t is int or t is Fraction


def rat(x: Rational) -> Rational:
    """An integral Fraction as an int (prints as ``3``)."""
    if type(x) is Fraction and x.denominator == 1:
        return x.numerator
    return x


@lru_cache(maxsize=65536)
def _atom_float(a: sympy.Expr) -> float:
    f = _ratio_float(a)
    if f is not None:
        return f
    v = a.evalf(30)
    try:
        f = float(v)
    except (TypeError, OverflowError):
        raise GraphValueError("a value grows beyond what can be computed") from None
    if not math.isfinite(f) or abs(f) > 1e300:
        raise GraphValueError("a value grows beyond what can be computed")
    return f


def _ratio_float(a: sympy.Expr) -> float | None:
    """The float of an atom ``e^k/Σ c·e^q`` (a softmax probability, σ's ``1/(1 + e^q)``) as
    ``1/Σ c·e^(q − k)``: a sum of positive floats, to within an ulp or two of sympy's evalf
    and a hundred times faster. None for any other atom, or where a power would leave the
    range of floats."""
    k: Any = 0
    den = None
    for f in sympy.Mul.make_args(a):
        q = exact.e_exponent(f)
        if q is not None and not k:
            k = q
        elif f.is_Pow and f.exp == -1 and f.base.is_Add and den is None:
            den = f.base
        else:
            return None
    if den is None:
        return None
    terms = []
    for t in den.args:
        c = t if t.is_Rational else sympy.S.One
        q = exact.e_exponent(t) if not t.is_Rational else 0
        if q is None and t.is_Mul and len(t.args) == 2 and t.args[0].is_Rational:
            c, q = t.args[0], exact.e_exponent(t.args[1])
        if q is None or c <= 0:
            return None
        x = float(q - k)
        if abs(x) > 700:
            return None
        terms.append(float(c) * math.exp(x))
    return 1 / math.fsum(terms)


@lru_cache(maxsize=65536)
def _split(expr: sympy.Expr) -> tuple[Fraction, tuple[tuple[sympy.Expr, Fraction], ...]]:
    """``expr`` as a rational part and (atom, coefficient) pairs."""
    r = Fraction(0)
    terms: dict[sympy.Expr, Fraction] = {}
    for term in sympy.Add.make_args(expr):
        if term.is_Rational:
            r += Fraction(int(term.p), int(term.q))
            continue
        c, atom = term.as_coeff_Mul()
        if not c.is_Rational:  # a float coefficient never arises from exact inputs
            c, atom = sympy.Integer(1), term
        terms[atom] = terms.get(atom, Fraction(0)) + Fraction(int(c.p), int(c.q))
    return r, tuple((a, c) for a, c in terms.items() if c)


@lru_cache(maxsize=65536)
def _product(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    return a * b


class Tx:
    """``r + Σ c·atom``: a rational part and rational multiples of sympy atoms (never empty)."""

    __slots__ = ("r", "terms", "written")

    def __init__(self, r: Rational, terms: dict[sympy.Expr, Fraction]) -> None:
        self.r, self.terms = r, terms
        self.written: Any = None  # to_exact's result, once (a value is never changed)

    # -- building
    @staticmethod
    def make(r: Rational, terms: dict[sympy.Expr, Fraction]) -> Value:
        if not terms:
            return rat(r)
        if len(terms) > MAX_ATOMS:
            raise GraphValueError(f"a value has more than {MAX_ATOMS} distinct terms")
        return Tx(r, terms)

    @staticmethod
    def of(expr: Any) -> Value:
        """A sympy expression as a value (rational where it is one)."""
        expr = exact.to_sympy(expr)
        if expr.is_Rational:
            return rat(Fraction(int(expr.p), int(expr.q)))
        if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I):
            raise GraphValueError("the result is not a finite real number")
        r, pairs = _split(expr)
        return Tx.make(rat(r), dict(pairs))

    # -- arithmetic
    def __add__(self, o: object) -> Value:
        if is_rational(o):
            return Tx(self.r + o, self.terms) if o else self
        if isinstance(o, Tx):
            terms = dict(self.terms)
            for a, c in o.terms.items():
                v = terms.get(a, 0) + c
                if v:
                    terms[a] = v
                else:
                    del terms[a]
            return Tx.make(rat(self.r + o.r), terms)
        return NotImplemented

    __radd__ = __add__

    def __neg__(self) -> Tx:
        return Tx(-self.r, {a: -c for a, c in self.terms.items()})

    def __sub__(self, o: object) -> Value:
        if is_rational(o) or isinstance(o, Tx):
            return self + (-o)  # type: ignore[operator]
        return NotImplemented

    def __rsub__(self, o: object) -> Value:
        return (-self) + o

    def __mul__(self, o: object) -> Value:
        if is_rational(o):
            if o == 0:
                return 0
            if o == 1:
                return self
            return Tx(self.r * o, {a: c * o for a, c in self.terms.items()})
        if isinstance(o, Tx):
            out: Value = self * o.r if o.r else 0
            if self.r:
                out = out + Tx(0, {a: c * self.r for a, c in o.terms.items()})
            for a, c in self.terms.items():
                for b, d in o.terms.items():
                    out = out + Tx.of(_product(a, b)) * (c * d)
            return out
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, o: object) -> Value:
        if is_rational(o):
            if o == 0:
                raise GraphValueError("division by zero")
            return self * (1 / Fraction(o))
        if isinstance(o, Tx):
            return self * o.inverse()
        return NotImplemented

    def __rtruediv__(self, o: object) -> Value:
        if is_rational(o):
            return self.inverse() * o
        return NotImplemented

    def inverse(self) -> Value:
        if len(self.terms) == 1 and not self.r:
            ((a, c),) = self.terms.items()
            return Tx.of(1 / a) * (1 / c)
        return Tx.of(1 / self.sympy())  # over one denominator: 1/(e/(1 + e)²) = (1 + e)²/e

    def __pow__(self, n: int) -> Value:
        if n == 0:
            return 1
        if n < 0:
            return self.inverse() ** (-n)
        out: Value = self
        for _ in range(n - 1):
            out = out * self
        return out

    # -- reading
    def sympy(self) -> sympy.Expr:
        """The value as one sympy expression, terms over a common denominator (to_exact)."""
        return exact.to_sympy(to_exact(self))

    def __float__(self) -> float:
        return float(self.r) + math.fsum(float(c) * _atom_float(a) for a, c in self.terms.items())

    def __eq__(self, o: object) -> bool:
        if isinstance(o, Tx):
            return self.r == o.r and self.terms == o.terms
        return False

    def __hash__(self) -> int:
        return hash((self.r, frozenset(self.terms.items())))

    def __repr__(self) -> str:
        return f"Tx({exact.fmt(to_exact(self))})"


def dot(xs: Sequence[Value], ys: Sequence[Value]) -> Value:
    """``Σ x·y``, exactly: the products of a rational with a value gathered atom by atom in
    integers over one common denominator (a matrix product of a network's backward pass:
    one new value per entry, not one per product and per sum)."""
    pairs: list[tuple[Tx, Rational]] = []  # (value with atoms, rational factor)
    r: Rational = 0
    for x, y in zip(xs, ys, strict=True):
        if not x or not y:
            continue
        tx, ty = type(x) is Tx, type(y) is Tx
        if tx and ty:
            xy = x * y
            if type(xy) is Tx:
                pairs.append((xy, 1))
            else:
                r += xy
        elif tx:
            pairs.append((x, y))  # type: ignore[arg-type]
        elif ty:
            pairs.append((y, x))  # type: ignore[arg-type]
        else:
            r += x * y  # type: ignore[operator]
    if not pairs:
        return rat(r)
    scale = 1  # every coefficient an integer over `scale`
    for v, f in pairs:
        fd = f.denominator
        for c in (v.r, *v.terms.values()):
            d = c.denominator * fd
            if scale % d:
                scale = math.lcm(scale, d)
    acc: dict[sympy.Expr, int] = {}
    rest = 0
    for v, f in pairs:
        fn, fd = f.numerator, f.denominator
        if v.r:
            rest += v.r.numerator * fn * (scale // (v.r.denominator * fd))
        for a, c in v.terms.items():
            acc[a] = acc.get(a, 0) + c.numerator * fn * (scale // (c.denominator * fd))
    terms = {a: Fraction(n, scale) for a, n in acc.items() if n}
    return Tx.make(rat(Fraction(rest, scale) + r), terms)


def div(x: Value, y: Value) -> Value:
    """``x/y`` exactly (two ints make a Fraction, never a float)."""
    if is_rational(y):
        if y == 0:
            raise GraphValueError("division by zero")
        if is_rational(x):
            return rat(Fraction(x) / y)
    return x / y


# --------------------------------------------------------------------------- comparing


def to_float(x: Value) -> float:
    return float(x)


def sign(x: Value) -> int:
    """-1, 0 or 1, exactly: floats decide unless the value is within rounding of 0."""
    if is_rational(x):
        return (x > 0) - (x < 0)
    f = float(x)
    scale = abs(float(x.r)) + sum(abs(float(c) * _atom_float(a)) for a, c in x.terms.items())
    if abs(f) > 1e-9 * max(scale, 1.0):
        return 1 if f > 0 else -1
    e = x.sympy()
    v = e.evalf(80)
    if (v == 0 or abs(v) < sympy.Float(10) ** -70) and sympy.simplify(e) == 0:
        return 0
    return 1 if v > 0 else -1


def compare(a: Value, b: Value) -> int:
    """The sign of a − b."""
    if is_rational(a) and is_rational(b):
        return (a > b) - (a < b)
    return sign(a - b)


# --------------------------------------------------------------------------- functions

E = sympy.E


def _exp_of(q: Rational) -> sympy.Expr:
    return sympy.exp(exact.to_sympy(q))


@lru_cache(maxsize=4096)
def _u(q: Fraction) -> sympy.Expr:
    """The atom ``1/(1 + e^q)`` for q > 0."""
    return 1 / (1 + _exp_of(q))


def exp(x: Value) -> Value:
    if is_rational(x):
        if x == 0:
            return 1
        return Tx(0, {_exp_of(x): Fraction(1)})
    return Tx.of(sympy.exp(x.sympy()))


def log(x: Value) -> Value:
    if sign(x) <= 0:
        raise GraphValueError(f"the logarithm of {exact.unicode(to_exact(x))} is not defined")
    if is_rational(x):
        if x == 1:
            return 0
        return Tx.of(sympy.log(exact.to_sympy(x)))
    e = x.sympy()
    if isinstance(e, sympy.exp):  # log e^z = z
        return Tx.of(e.args[0])
    return Tx.of(sympy.expand_log(sympy.log(sympy.factor(e)), force=True))


def sigmoid(x: Value) -> Value:
    """σ(x): ``e^x/(1 + e^x)`` for x > 0, ``1/(1 + e^{−x})`` for x < 0, 1/2 at 0."""
    if is_rational(x):
        if x == 0:
            return Fraction(1, 2)
        u = Tx(0, {_u(Fraction(abs(x))): Fraction(1)})
        return u if x < 0 else 1 - u
    return Tx.of(1 / (1 + sympy.exp(-x.sympy())))


def tanh(x: Value) -> Value:
    """tanh(x) = 1 − 2/(1 + e^{2x}): ``(e^{2x} − 1)/(e^{2x} + 1)`` once written over its
    denominator."""
    if is_rational(x):
        if x == 0:
            return 0
        u = Tx(0, {_u(Fraction(2 * abs(x))): Fraction(2)})
        t = 1 - u
        return t if x > 0 else -t
    e = sympy.exp(2 * x.sympy())
    return Tx.of((e - 1) / (e + 1))


def sin(x: Value) -> Value:
    """sin(x), exact: sympy's sine of the exact argument, so ``sin(1)`` stays ``sin(1)``,
    ``sin(−1) = −sin(1)``, and ``sin(0) = 0`` or ``sin(π/6) = 1/2`` where a value exists."""
    return _trig(sympy.sin, x)


def cos(x: Value) -> Value:
    """cos(x), exact: ``cos(0) = 1``, ``cos(−2) = cos(2)``, ``cos(1)`` stays as it is."""
    return _trig(sympy.cos, x)


def _trig(f: Any, x: Value) -> Value:
    if is_rational(x):
        if x == 0:
            return 0 if f is sympy.sin else 1
        return Tx.of(_trig_of(f, Fraction(x)))
    return Tx.of(f(x.sympy()))


@lru_cache(maxsize=4096)
def _trig_of(f: Any, q: Fraction) -> sympy.Expr:
    """The atom sin(q) or cos(q) of a rational (a positional encoding's table repeats them)."""
    return f(exact.to_sympy(q))


def sqrt(x: Value) -> Value:
    if sign(x) < 0:
        raise GraphValueError(
            f"the square root of {exact.unicode(to_exact(x))} (a negative number) is not real"
        )
    if is_rational(x):
        root = exact.sqrt(x)
        return root if exact.is_rational(root) else Tx.of(exact.to_sympy(root))
    return Tx.of(sympy.sqrt(x.sympy()))


def softmax_row(z: list[Value]) -> list[Value]:
    """``e^{z_i − m}/Σ_j e^{z_j − m}``, m the smallest entry: one denominator for the row."""
    if all(is_rational(v) for v in z):
        m = min(z)
        shifted = [v - m for v in z]
        den = sympy.Add(*(_exp_of(v) for v in shifted))
        return [Tx.of(_exp_of(v) / den) for v in shifted]
    m = z[min(range(len(z)), key=lambda i: float(z[i]))]
    shifted_s = [(v - m) for v in z]
    exps = [sympy.exp(exact.to_sympy(to_exact(v))) for v in shifted_s]
    den = sympy.Add(*exps)
    return [Tx.of(e / den) for e in exps]


def logsumexp_row(z: list[Value]) -> Value:
    """``m + log Σ_j e^{z_j − m}`` with m the smallest entry, so that every exponent is ≥ 0:
    ``log(1 + e + e²) − 2`` for the cross-entropy of class 2 of [1, 2, 3]."""
    i = min(range(len(z)), key=lambda k: float(z[k]))
    m = z[i]
    rest = [sympy.exp(exact.to_sympy(to_exact(v - m))) for k, v in enumerate(z)]
    return m + Tx.of(sympy.log(sympy.Add(*rest)))


# --------------------------------------------------------------------------- answers


def to_exact(x: Value) -> Any:
    """The value as an answer holds it: an int, a Fraction, or a sympy expression whose
    terms over the same denominator are written as one fraction."""
    if is_rational(x):
        return rat(x)
    if x.written is None:  # a gradient passed on unchanged is written once
        x.written = _written(x.r, tuple(x.terms.items()), True)  # in the order the terms arose
    return x.written


def _written(
    r: Rational, terms: tuple[tuple[sympy.Expr, Fraction], ...], fast: bool = False
) -> Any:
    """Terms whose denominators are powers of the same factors go over one denominator (the
    highest powers), numerator expanded and cleared of fractions: σ(1)(1 − σ(1)) is written
    e/(1 + e)², and what adds up to a rational (a softmax row's sum) comes out as that
    rational. Terms over unrelated denominators (two examples of a batch) stay apart."""
    groups: dict[frozenset[sympy.Expr], list[Any]] = {}
    for a, c in terms:
        num, powers, content, key, num_terms = _parts(a)
        groups.setdefault(key, []).append(
            (num, powers, c if content == 1 else c / content, num_terms)
        )
    items = [item for group in groups.values() for item in group]
    bases = frozenset().union(*groups)
    if len(groups) > 1 and len(bases) <= 2 and sum(len(sympy.Add.make_args(b)) for b in bases) <= 6:
        groups = {frozenset().union(*groups): items}  # 1/e and 1/(e(1 + e)): one fraction
    fold_r = len(groups) == 1 and bool(r) and next(iter(groups)) != frozenset()
    parts = []
    plain = True  # every part built by sympy's own (evaluating) constructors
    for group in groups.values():
        part = _one_denominator(group, r if fold_r else 0) if fast else None
        if part is None:
            part = _over_one(group, r if fold_r else 0)
        else:
            plain = False
        if exact.is_rational(part):  # the terms add up to a rational (r already in it if folded)
            r = part if fold_r else r + part
            fold_r = False
            continue
        parts.append(part)
    rest = 0 if fold_r else exact.to_sympy(r)
    if plain:
        return exact.from_sympy(sympy.Add(rest, *parts))
    parts = [p for p in parts if p != 0]
    if not parts:
        return exact.from_sympy(exact.to_sympy(rest))
    return sympy.Add(*(parts if rest == 0 else [*parts, rest]), evaluate=False)


def _one_denominator(items: list[Any], r: Rational) -> Any:
    """The fast way for terms over the very same denominator (one softmax row: e^{k}/D):
    coefficients collected in integers over their common denominator, the fraction built
    without sympy's canonicalisation; None where the terms need lifting to a common
    denominator. A rational comes back as one."""
    powers = items[0][1]
    if not powers or any(p is not powers and p != powers for _, p, _, _ in items):
        return None
    if r and not (len(powers) == 1 and next(iter(powers.values())) == 1):
        return None
    den, den_terms = _denominator(tuple(powers.items()))
    if den_terms is None:
        return None
    scale = 1  # every coefficient as an integer over one common denominator
    for _, _, c, _ in items:
        d = c.denominator
        if scale % d:
            scale = math.lcm(scale, d)
    if r and scale % r.denominator:
        scale = math.lcm(scale, r.denominator)
    coeffs: dict[sympy.Expr, int] = {}
    for _, _, c, num_terms in items:
        if num_terms is None:
            return None
        k = c.numerator * (scale // c.denominator)
        for base, cc in num_terms:
            coeffs[base] = coeffs.get(base, 0) + k * cc
    if r:
        kr = r.numerator * (scale // r.denominator)
        for base, cc in den_terms.items():
            coeffs[base] = coeffs.get(base, 0) + kr * cc
    coeffs = {b: c for b, c in coeffs.items() if c}
    if not coeffs:
        return 0
    if coeffs.keys() == den_terms.keys():  # a multiple of the denominator: a rational
        b0 = next(iter(coeffs))
        c0, d0 = coeffs[b0], den_terms[b0]
        if all(c * d0 == c0 * den_terms[b] for b, c in coeffs.items()):
            return rat(Fraction(c0, d0 * scale))
    g = math.gcd(scale, *coeffs.values())
    scale //= g
    if len(coeffs) == 1:  # one term: as sympy writes c·e^k/D
        ((b, c),) = coeffs.items()
        return _one_term(sympy.Rational(c // g, scale), b, den)
    # unevaluated sums and products, built as sympy.Add(..., evaluate=False) builds them
    # (no term is 0, no factor 1) without its checks of every argument; numbers commute
    numer = sympy.Add._from_args([_times(c // g, b) for b, c in coeffs.items()], True)
    over = _over(den)
    if scale == 1:
        return sympy.Mul._from_args((numer, over), True)
    return sympy.Mul._from_args((sympy.Rational(1, scale), numer, over), True)


def _one_term(c: sympy.Rational, b: sympy.Expr, den: sympy.Expr) -> sympy.Expr:
    """``c·b/den`` as sympy's evaluating product writes it (the coefficient in front of the
    factors of b/den, in their order), without evaluating the product again."""
    bd = _ratio(b, den)
    if c == 1:
        return bd
    if bd.is_Mul and not bd.args[0].is_Number:
        return sympy.Mul._from_args((c, *bd.args), True)
    if bd.is_Pow:
        return sympy.Mul._from_args((c, bd), True)
    return c * bd


@lru_cache(maxsize=65536)
def _ratio(b: sympy.Expr, den: sympy.Expr) -> sympy.Expr:
    return b / den


@lru_cache(maxsize=4096)
def _over(den: sympy.Expr) -> sympy.Expr:
    """``1/den``, unevaluated: one per softmax row."""
    return sympy.Pow(den, -1, evaluate=False)


@lru_cache(maxsize=4096)
def _denominator(
    powers: tuple[tuple[sympy.Expr, Any], ...],
) -> tuple[sympy.Expr, dict[sympy.Expr, int] | None]:
    """A denominator from its factors, and its terms as base -> coefficient (None if a
    coefficient is not an integer). One per softmax row, shared by every entry."""
    den = sympy.Mul(*(b**k for b, k in powers))
    terms: dict[sympy.Expr, int] = {}
    for term in sympy.Add.make_args(den):
        cc, base = term.as_coeff_Mul()
        if not cc.is_Integer:
            return den, None
        terms[base] = terms.get(base, 0) + int(cc)
    return den, terms


def _int_terms_of(num: sympy.Expr) -> tuple[tuple[sympy.Expr, int], ...] | None:
    """A numerator's terms as (base, integer coefficient); None if a coefficient is not an
    integer."""
    out = []
    for term in sympy.Add.make_args(num):
        cc, base = term.as_coeff_Mul()
        if not cc.is_Integer:
            return None
        out.append((base, int(cc)))
    return tuple(out)


@lru_cache(maxsize=65536)
def _times(c: int, b: sympy.Expr) -> sympy.Expr:
    """``c·b`` without sympy's canonicalisation (which costs a millisecond per product)."""
    if b is sympy.S.One:
        return sympy.Integer(c)
    if c == 1:
        return b
    return sympy.Mul._from_args((sympy.Integer(c), b), True)  # as Mul(c, b, evaluate=False)


def _over_one(items: list[Any], r: Rational) -> sympy.Expr:
    """Σ c·num/den over the highest power of each factor, the numerator's fractions cleared."""
    top: dict[sympy.Expr, Any] = {}
    for _, powers, _, _ in items:
        for b, k in powers.items():
            top[b] = max(top.get(b, k), k)
    den = sympy.Mul(*(b**k for b, k in top.items()))
    nums = []
    for num, powers, c, _ in items:
        lift = sympy.Mul(*(b ** (k - powers.get(b, 0)) for b, k in top.items()))
        nums.append(exact.to_sympy(c) * num * lift)
    if r:
        nums.append(exact.to_sympy(r) * den)
    numerator = sympy.Add(*nums)
    lifted = r or any(powers != top for _, powers, _, _ in items)
    if lifted and len(nums) > 1:  # over one shared denominator the terms are already collected
        numerator = sympy.expand(numerator)
    if den == 1:
        return numerator
    coeffs = [t.as_coeff_Mul()[0] for t in sympy.Add.make_args(numerator)]
    scale = math.lcm(*(int(q.q) for q in coeffs if q.is_Rational)) if coeffs else 1
    if scale > 1:
        k = sympy.Integer(scale)
        numerator = sympy.Add(*(k * t for t in sympy.Add.make_args(numerator)))
        return numerator / sympy.Mul(scale, den, evaluate=False)
    return numerator / den


@lru_cache(maxsize=65536)
def _parts(
    a: sympy.Expr,
) -> tuple[sympy.Expr, dict[sympy.Expr, Any], Fraction, frozenset[sympy.Expr], Any]:
    """An atom as numerator, denominator factors with their powers, and the rational content
    taken out of those factors (2 + 2e⁶ is 2(1 + e⁶)); the set of those factors, by which
    terms are grouped; the numerator's terms with integer coefficients (or None)."""
    num, den = a.as_numer_denom()
    powers: dict[sympy.Expr, Any] = {}
    content_total = Fraction(1)
    for b, k in (den.as_powers_dict() if den != 1 else {}).items():
        content, prim = b.as_content_primitive()
        if content != 1 and k.is_Integer:
            content_total *= Fraction(int(content.p), int(content.q)) ** int(k)
            b = prim
        powers[b] = powers.get(b, 0) + k
    return num, powers, content_total, frozenset(powers), _int_terms_of(num)


def from_exact(x: Any) -> Value:
    """A student's exact value (int, Fraction, Surd, sympy) as a value to compute with."""
    if exact.is_rational(x):
        return rat(Fraction(x))
    if isinstance(x, (exact.Surd, sympy.Basic)):
        e = exact.to_sympy(x)
        if e.free_symbols:
            raise GraphValueError("a value with symbols cannot be computed with")
        return Tx.of(e)
    raise GraphValueError(f"{x!r} is not a number")
