"""The float beside an exact value: the double nearest to it, computed cheaply.

An answer's ``float`` (JSON) and its ``≈`` (Markdown) used to come from sympy's
``evalf(30)``, which walks the whole expression tree of every entry again: a
network's gradient is a sum of fractions over e whose denominators (one per
softmax row) and powers of e recur in every entry, so a 3-layer MLP spent most
of its export evaluating the same subexpressions thousands of times.

Here each distinct subexpression is evaluated once (per working precision) in
mpmath's interval arithmetic, so the result is an enclosure of the exact value,
not an estimate: when both ends of the interval round to the same double, that
double is the correctly rounded value (what ``float(evalf(30))`` gives, up to
its second rounding from 30 digits). When they do not (cancellation, a value
too close to a rounding boundary) the precision doubles; an expression this
module does not know (symbols, functions other than exp, log and square roots),
a value that is 0, or one beyond the range of normal doubles goes back to
sympy's evalf.
"""

from __future__ import annotations

import sympy
from mpmath.libmp import (
    from_int,
    from_rational,
    fzero,
    mpf_mul,
    mpf_sign,
    round_ceiling,
    round_floor,
    round_nearest,
    to_float,
)
from mpmath.libmp.libmpi import (
    mpi_add,
    mpi_div,
    mpi_exp,
    mpi_log,
    mpi_mul,
    mpi_pi,
    mpi_pow_int,
    mpi_sqrt,
)

Interval = tuple[tuple, tuple]  # mpmath's raw intervals: (lower, upper) mpf tuples

#: working precisions in bits, tried in turn; beyond the last, sympy's evalf decides
PRECISIONS = (96, 192, 384, 768)
_LIMIT = 1e300  # beyond this (or below its inverse) a float may overflow or be subnormal


class _Unsupported(Exception):
    """A node the interval evaluator does not handle (the caller falls back to evalf)."""


_CACHE: dict[int, dict[sympy.Basic, Interval]] = {p: {} for p in PRECISIONS}
_MAX_CACHED = 200_000


def nearest(x: sympy.Expr) -> float | None:
    """The double nearest to ``x`` (a sympy number), or None where it has none (symbols, a
    complex value, a value beyond the range of floats)."""
    for prec in PRECISIONS:
        try:
            lo, hi = _interval(x, prec)
        except (_Unsupported, ZeroDivisionError, ValueError):
            break
        a, b = to_float(lo, rnd=round_nearest), to_float(hi, rnd=round_nearest)
        if a == b and _LIMIT**-1 < abs(a) < _LIMIT:
            return a
    return _evalf(x)


def _evalf(x: sympy.Expr) -> float | None:
    """sympy's evalf at 30 digits, as before: the fallback, and the slow path in tests."""
    if x.free_symbols:
        return None
    try:
        return float(x.evalf(30))
    except (TypeError, ValueError):
        return None


def _interval(x: sympy.Basic, prec: int) -> Interval:
    cache = _CACHE[prec]
    known = cache.get(x)
    if known is None:
        if len(cache) > _MAX_CACHED:
            cache.clear()
        known = cache[x] = _evaluate(x, prec)
    return known


def _exact(n: int, d: int, prec: int) -> Interval:
    if d == 1:
        return from_int(n, prec, round_floor), from_int(n, prec, round_ceiling)
    return from_rational(n, d, prec, round_floor), from_rational(n, d, prec, round_ceiling)


def _widened(iv: Interval, prec: int) -> Interval:
    """An elementary function's enclosure widened by a few units in the last place, so that
    it holds even if mpmath's directed rounding of exp, log or a root is off by one."""
    lo, hi = iv
    shrink, grow = _SCALES.get(prec) or _scales(prec)
    lo = mpf_mul(lo, shrink if mpf_sign(lo) >= 0 else grow, prec, round_floor)
    hi = mpf_mul(hi, grow if mpf_sign(hi) >= 0 else shrink, prec, round_ceiling)
    return lo, hi


_SCALES: dict[int, tuple[tuple, tuple]] = {}


def _scales(prec: int) -> tuple[tuple, tuple]:
    """1 − 2^(4−prec) and 1 + 2^(4−prec), exactly."""
    one = 1 << (prec - 4)
    _SCALES[prec] = (from_rational(one - 1, one, prec + 8), from_rational(one + 1, one, prec + 8))
    return _SCALES[prec]


def _magnitude(x: tuple) -> int:
    """Bits before the binary point of an mpf (its exponent plus its mantissa's length)."""
    _, man, exp, bc = x
    if man:
        return exp + bc
    return 0 if x == fzero else 1 << 30  # ±inf and nan: mantissa 0, a special exponent


def _evaluate(x: sympy.Basic, prec: int) -> Interval:
    if x.is_Integer:
        return _exact(int(x.p), 1, prec)
    if x.is_Rational:
        return _exact(int(x.p), int(x.q), prec)
    if x.is_Add or x.is_Mul:
        combine = mpi_add if x.is_Add else mpi_mul
        acc = _interval(x.args[0], prec)
        for a in x.args[1:]:
            acc = combine(acc, _interval(a, prec), prec)
        return acc
    if x.is_Pow:
        base, k = x.args
        b = _interval(base, prec)
        if k.is_Integer:
            if k < 0 and mpf_sign(b[0]) * mpf_sign(b[1]) <= 0:
                raise _Unsupported  # a denominator that may be 0
            return mpi_pow_int(b, int(k), prec)
        if k in (sympy.S.Half, -sympy.S.Half):
            if mpf_sign(b[0]) <= 0:
                raise _Unsupported  # a root of a value that may be negative
            root = _widened(mpi_sqrt(b, prec), prec)
            return root if k.p > 0 else mpi_div(_exact(1, 1, prec), root, prec)
        raise _Unsupported
    if x is sympy.E:
        return _widened(mpi_exp(_exact(1, 1, prec), prec), prec)
    if isinstance(x, sympy.exp):
        arg = _interval(x.args[0], prec)
        if any(_magnitude(end) > 64 for end in arg):
            raise _Unsupported  # e^(e^(e^96)): as far beyond floats as before, sympy decides
        return _widened(mpi_exp(arg, prec), prec)
    if isinstance(x, sympy.log):
        arg = _interval(x.args[0], prec)
        if mpf_sign(arg[0]) <= 0:
            raise _Unsupported  # the logarithm of a value that may not be positive
        return _widened(mpi_log(arg, prec), prec)
    if x is sympy.pi:
        return _widened(mpi_pi(prec), prec)
    raise _Unsupported
