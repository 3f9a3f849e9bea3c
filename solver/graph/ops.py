"""The one table of operations: for each, its forward rule, its local gradient (the
vector-Jacobian product: upstream gradient in, one gradient per input out) and how
it is written, in Unicode and in LaTeX, both the expression and the derivative rule.

An entry of :data:`OPS` is everything dlsolve knows about an operation: the
parser only reads names, the autodiff engine (:mod:`solver.graph.autodiff`)
only calls ``forward`` and ``backward``, and the worked solution only prints
``show`` and ``rules``. Adding an op is adding one entry here.

The backward rules take :class:`Rules`: the conventions of a correct backward
pass (sum at forks, the transpose on the right side, the 1/N of a mean,
σ' = σ(1 − σ), cos′ = −sin, ReLU's mask, p − y, routing to the maximum) each as a switch,
so that a misconception is the same computation with one switch flipped, and
the tie rules (which maximum a max-pool routes to, ReLU's derivative at 0)
that give a tie's other, equally valid, answers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from . import scalar as sc
from .scalar import Value
from .tensor import (
    Shape,
    ShapeError,
    Tensor,
    axis_groups,
    binary,
    broadcast_shape,
    expand,
    from_nested,
    indices,
    matmul,
    norm_axis,
    reduce,
    show,
    strides,
    total,
    transpose,
    unbroadcast,
    zeros,
)


@dataclass(frozen=True)
class Rules:
    """How the backward pass differentiates: the right conventions by default; each
    misconception flips one; ``max_route``/``relu_at_zero`` pick a tie's routing."""

    fork_sum: bool = True  # False: a node that feeds several keeps only one gradient
    transpose_right: bool = True  # False: a matmul's operand gradients come out transposed
    mean_scale: bool = True  # False: mean (and the mean in mse, ce, bce) forgets its 1/N
    sigmoid_prime: bool = True  # False: σ'(z) taken as σ(z)
    relu_mask: bool = True  # False: ReLU passes the gradient for negative inputs too
    ce_sign: Literal[1, -1] = 1  # -1: y − p instead of p − y
    max_route: Literal["first", "last", "even", "spread"] = "first"  # spread: the misconception
    relu_at_zero: Literal[0, 1] = 0  # ReLU'(0): 0 as PyTorch; 1 is the other subgradient
    cos_sign: bool = True  # False: cos′ taken as sin instead of −sin


@dataclass
class Ctx:
    """What a backward rule sees: the inputs, the output, the upstream gradient, the
    static arguments and the rules."""

    ins: list[Tensor]
    out: Tensor
    up: Tensor
    kw: dict[str, Any]
    rules: Rules
    #: set by a forward rule that found a tie (a max-pool window with two maxima)
    ties: bool = False


@dataclass(frozen=True)
class Param:
    """A static argument: a whole number, a number, an axis or a list of whole numbers."""

    name: str
    kind: str  # int | number | axis | ints | pair
    default: Any = None
    required: bool = False


@dataclass(frozen=True)
class Op:
    name: str
    #: names of the tensor arguments; a name ending in "?" is optional, "*" variadic
    args: tuple[str, ...]
    forward: Callable[[list[Tensor], dict[str, Any], Ctx], Tensor]
    backward: Callable[[Ctx], list[Tensor | None]]
    #: the expression: unicode and LaTeX templates over {0}, {1}, ... and {kw}
    show: tuple[str, str]
    #: the local derivative rule for each tensor argument, over {up}, {0}, {1}, {y}
    rules: tuple[tuple[str, str], ...]
    params: tuple[Param, ...] = ()
    nondiff: frozenset[int] = frozenset()
    #: binding strength of the written expression (for parentheses)
    prec: int = 100
    #: whether the op is defined entrywise and keeps the input's shape
    doc: str = ""
    variadic: bool = False
    keeps: dict[str, Any] = field(default_factory=dict)


def _shape_pair(a: Tensor, b: Tensor, sym: str) -> Shape:
    out = broadcast_shape(a.shape, b.shape)
    if out is None:
        raise ShapeError(f"{show(a.shape)} {sym} {show(b.shape)} do not broadcast")
    return out


# --------------------------------------------------------------------------- elementwise binary


def _add_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    a, b = ins
    return binary(lambda x, y: x + y, a, b, _shape_pair(a, b, "+"))


def _add_b(c: Ctx) -> list[Tensor | None]:
    return [unbroadcast(c.up, t.shape) for t in c.ins]


def _sub_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    a, b = ins
    return binary(lambda x, y: x - y, a, b, _shape_pair(a, b, "-"))


def _sub_b(c: Ctx) -> list[Tensor | None]:
    a, b = c.ins
    return [unbroadcast(c.up, a.shape), unbroadcast(c.up.map(lambda v: -v), b.shape)]


def _mul_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    a, b = ins
    return binary(lambda x, y: x * y, a, b, _shape_pair(a, b, "*"))


def _mul_b(c: Ctx) -> list[Tensor | None]:
    a, b = c.ins
    shape = c.out.shape
    da = binary(lambda g, y: g * y, c.up, expand(b, shape), shape)
    db = binary(lambda g, x: g * x, c.up, expand(a, shape), shape)
    return [unbroadcast(da, a.shape), unbroadcast(db, b.shape)]


def _div_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    a, b = ins
    shape = _shape_pair(a, b, "/")

    def div(x: Value, y: Value) -> Value:
        if sc.sign(y) == 0:
            raise sc.GraphValueError("division by zero")
        return sc.div(x, y)

    return binary(div, a, b, shape)


def _div_b(c: Ctx) -> list[Tensor | None]:
    a, b = c.ins
    shape = c.out.shape
    B = expand(b, shape)
    da = binary(sc.div, c.up, B, shape)
    q = binary(sc.div, c.out, B, shape)
    db = binary(lambda g, qq: -(g * qq), c.up, q, shape)
    return [unbroadcast(da, a.shape), unbroadcast(db, b.shape)]


MAX_EXPONENT = 64


def _pow_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    (a,) = ins
    n = kw["n"]

    def pw(x: Value) -> Value:
        if n < 0 and sc.sign(x) == 0:
            raise sc.GraphValueError("0 to a negative power (division by zero)")
        if sc.is_rational(x):
            bits = abs(n) * max(
                Fraction(x).numerator.bit_length(), Fraction(x).denominator.bit_length()
            )
            if bits > 20_000:
                raise sc.GraphValueError("the power is too large to compute")
            return sc.rat(Fraction(x) ** n)
        return x**n

    return a.map(pw)


def _pow_b(c: Ctx) -> list[Tensor | None]:
    (a,) = c.ins
    n = c.kw["n"]
    if n == 1:
        return [c.up]
    d = a.map(lambda x: n * x ** (n - 1))
    return [binary(lambda g, y: g * y, c.up, d, a.shape)]


def _neg_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    return ins[0].map(lambda v: -v)


def _neg_b(c: Ctx) -> list[Tensor | None]:
    return [c.up.map(lambda v: -v)]


# ------------------------------------------------------------------- matmul, transpose, index


def _matmul_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    a, b = ins
    if a.ndim not in (1, 2) or b.ndim not in (1, 2):
        raise ShapeError(
            f"{show(a.shape)} @ {show(b.shape)}: @ takes vectors and matrices (rank 1 or 2)"
        )
    k1 = a.shape[-1]
    k2 = b.shape[0]
    if k1 != k2:
        raise ShapeError(f"{show(a.shape)} @ {show(b.shape)} do not chain")
    return matmul(a, b)


def _matmul_b(c: Ctx) -> list[Tensor | None]:
    a, b = c.ins
    g = c.up
    if a.ndim == 1 and b.ndim == 1:  # dot product: g is a scalar
        s = g.item()
        da, db = b.map(lambda v: s * v), a.map(lambda v: s * v)
    elif a.ndim == 2 and b.ndim == 2:  # G = A B: dA = G Bᵀ, dB = Aᵀ G
        da, db = matmul(g, transpose(b)), matmul(transpose(a), g)
    elif a.ndim == 2:  # y = A x: dA = g xᵀ, dx = Aᵀ g
        da = Tensor(a.shape, [u * v for u in g.data for v in b.data])
        db = matmul(transpose(a), g)
    else:  # y = xᵀ B: dx = B g, dB = x gᵀ
        da = matmul(b, g)
        db = Tensor(b.shape, [u * v for u in a.data for v in g.data])
    if not c.rules.transpose_right:
        da, db = transpose(da), transpose(db)
    return [da, db]


def _T_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    return transpose(ins[0])


def _T_b(c: Ctx) -> list[Tensor | None]:
    return [transpose(c.up)]


def _flat_index(shape: Shape, idx: Sequence[int]) -> tuple[int, Shape]:
    if len(idx) > len(shape):
        raise ShapeError(f"{len(idx)} indices for a tensor of shape {show(shape)}")
    st = strides(shape)
    pos = 0
    for k, (i, n) in enumerate(zip(idx, shape, strict=False)):
        if not -n <= i < n:
            raise ShapeError(f"index {i} is out of range for axis {k} of length {n}")
        pos += (i % n) * st[k]
    return pos, shape[len(idx) :]


def _index_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    (a,) = ins
    pos, rest = _flat_index(a.shape, kw["idx"])
    n = math.prod(rest)
    return Tensor(rest, a.data[pos : pos + n])


def _index_b(c: Ctx) -> list[Tensor | None]:
    (a,) = c.ins
    pos, _ = _flat_index(a.shape, c.kw["idx"])
    out = zeros(a.shape)
    out.data[pos : pos + len(c.up.data)] = c.up.data
    return [out]


# --------------------------------------------------------------------------- activations


def _relu_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    return ins[0].map(lambda v: v if sc.sign(v) > 0 else 0)


def _relu_b(c: Ctx) -> list[Tensor | None]:
    (x,) = c.ins
    r = c.rules

    def d(g: Value, v: Value) -> Value:
        if not r.relu_mask:
            return g
        s = sc.sign(v)
        return g if s > 0 or (s == 0 and r.relu_at_zero) else 0

    return [binary(d, c.up, x, x.shape)]


def _leaky_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    a = kw["a"]
    return ins[0].map(lambda v: v if sc.sign(v) > 0 else a * v)


def _leaky_b(c: Ctx) -> list[Tensor | None]:
    (x,) = c.ins
    a = c.kw["a"]
    r = c.rules

    def d(g: Value, v: Value) -> Value:
        if not r.relu_mask:
            return g
        s = sc.sign(v)
        return g if s > 0 or (s == 0 and r.relu_at_zero) else a * g

    return [binary(d, c.up, x, x.shape)]


def _sigmoid_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    return ins[0].map(sc.sigmoid)


def _sigmoid_b(c: Ctx) -> list[Tensor | None]:
    y = c.out
    d = y.map(lambda s: s * (1 - s)) if c.rules.sigmoid_prime else y  # the mistake: σ′ = σ
    return [binary(lambda g, v: g * v, c.up, d, y.shape)]


def _tanh_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    return ins[0].map(sc.tanh)


def _tanh_b(c: Ctx) -> list[Tensor | None]:
    y = c.out
    return [binary(lambda g, t: g * (1 - t * t), c.up, y, y.shape)]


def _sin_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    return ins[0].map(sc.sin)


def _sin_b(c: Ctx) -> list[Tensor | None]:
    (x,) = c.ins
    return [binary(lambda g, v: g * sc.cos(v), c.up, x, x.shape)]


def _cos_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    return ins[0].map(sc.cos)


def _cos_b(c: Ctx) -> list[Tensor | None]:
    (x,) = c.ins
    if c.rules.cos_sign:
        return [binary(lambda g, v: -(g * sc.sin(v)), c.up, x, x.shape)]
    return [binary(lambda g, v: g * sc.sin(v), c.up, x, x.shape)]  # the mistake: cos′ = sin


def _exp_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    return ins[0].map(sc.exp)


def _exp_b(c: Ctx) -> list[Tensor | None]:
    return [binary(lambda g, y: g * y, c.up, c.out, c.out.shape)]


def _log_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    return ins[0].map(sc.log)


def _log_b(c: Ctx) -> list[Tensor | None]:
    (x,) = c.ins
    return [binary(sc.div, c.up, x, x.shape)]


def _sqrt_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    return ins[0].map(sc.sqrt)


def _sqrt_b(c: Ctx) -> list[Tensor | None]:
    def d(g: Value, y: Value) -> Value:
        if sc.sign(y) == 0:
            raise sc.GraphValueError("the derivative of sqrt at 0 is not defined")
        return sc.div(g, 2 * y)

    return [binary(d, c.up, c.out, c.out.shape)]


def _abs_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    return ins[0].map(lambda v: v if sc.sign(v) >= 0 else -v)


def _abs_b(c: Ctx) -> list[Tensor | None]:
    (x,) = c.ins
    return [binary(lambda g, v: g * sc.sign(v), c.up, x, x.shape)]


# --------------------------------------------------------------------------- reductions


def _axis(kw: dict[str, Any], t: Tensor, what: str) -> int | None:
    axis = kw.get("axis")
    return None if axis is None else norm_axis(axis, t.ndim, what)


def _spread(up: Tensor, shape: Shape, axis: int | None, scale: Value = 1) -> Tensor:
    """A reduction's gradient: each entry of ``up`` copied (times ``scale``) back over the
    entries it reduced."""
    out = zeros(shape)
    if axis is None:
        g = up.item() * scale
        return Tensor(shape, [g] * len(out.data))
    for k, group in enumerate(axis_groups(shape, axis)):
        g = up.data[k] * scale
        for i in group:
            out.data[i] = g
    return out


def _sum_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    (x,) = ins
    return reduce(x, _axis(kw, x, "sum"), total)


def _sum_b(c: Ctx) -> list[Tensor | None]:
    (x,) = c.ins
    return [_spread(c.up, x.shape, _axis(c.kw, x, "sum"))]


def _count(x: Tensor, axis: int | None) -> int:
    return x.size if axis is None else x.shape[axis]


def _mean_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    (x,) = ins
    axis = _axis(kw, x, "mean")
    n = _count(x, axis)
    return reduce(x, axis, lambda vs: total(vs) * Fraction(1, n))


def _mean_b(c: Ctx) -> list[Tensor | None]:
    (x,) = c.ins
    axis = _axis(c.kw, x, "mean")
    scale = Fraction(1, _count(x, axis)) if c.rules.mean_scale else 1
    return [_spread(c.up, x.shape, axis, scale)]


def _argmaxes(vs: Sequence[Value]) -> list[int]:
    best = [0]
    for i in range(1, len(vs)):
        s = sc.compare(vs[i], vs[best[0]])
        if s > 0:
            best = [i]
        elif s == 0:
            best.append(i)
    return best


def _route(g: Value, positions: list[int], window: list[int], rule: str) -> list[tuple[int, Value]]:
    """Where a maximum's gradient goes: to the first maximum (PyTorch's CPU kernels), the last,
    split evenly over tied maxima, or (the misconception) spread over the whole window."""
    if rule == "spread":
        share = g * Fraction(1, len(window))
        return [(i, share) for i in window]
    if rule == "even" and len(positions) > 1:
        share = g * Fraction(1, len(positions))
        return [(i, share) for i in positions]
    return [(positions[-1] if rule == "last" else positions[0], g)]


def _max_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    (x,) = ins
    axis = _axis(kw, x, "max")
    groups = [list(range(x.size))] if axis is None else axis_groups(x.shape, axis)
    vals = []
    for grp in groups:
        vs = [x.data[i] for i in grp]
        best = _argmaxes(vs)
        c.ties = c.ties or len(best) > 1
        vals.append(vs[best[0]])
    shape = () if axis is None else x.shape[:axis] + x.shape[axis + 1 :]
    return Tensor(shape, vals)


def _max_b(c: Ctx) -> list[Tensor | None]:
    (x,) = c.ins
    axis = _axis(c.kw, x, "max")
    groups = [list(range(x.size))] if axis is None else axis_groups(x.shape, axis)
    out = zeros(x.shape)
    for k, grp in enumerate(groups):
        best = [grp[i] for i in _argmaxes([x.data[i] for i in grp])]
        for i, g in _route(c.up.data[k], best, grp, c.rules.max_route):
            out.data[i] = out.data[i] + g
    return [out]


def _rows(x: Tensor, kw: dict[str, Any], what: str) -> list[list[int]]:
    axis = norm_axis(kw.get("axis", -1), x.ndim, what)
    return axis_groups(x.shape, axis)


def _softmax_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    (x,) = ins
    out = zeros(x.shape)
    for grp in _rows(x, kw, "softmax"):
        for i, p in zip(grp, sc.softmax_row([x.data[i] for i in grp]), strict=True):
            out.data[i] = p
    return out


def _softmax_b(c: Ctx) -> list[Tensor | None]:
    y, g = c.out, c.up
    out = zeros(y.shape)
    for grp in _rows(y, c.kw, "softmax"):
        dot = total([g.data[i] * y.data[i] for i in grp])
        for i in grp:
            out.data[i] = y.data[i] * (g.data[i] - dot)
    return [out]


def _log_softmax_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    (x,) = ins
    out = zeros(x.shape)
    for grp in _rows(x, kw, "log_softmax"):
        lse = sc.logsumexp_row([x.data[i] for i in grp])
        for i in grp:
            out.data[i] = x.data[i] - lse
    return out


def _log_softmax_b(c: Ctx) -> list[Tensor | None]:
    (x,) = c.ins
    g = c.up
    out = zeros(x.shape)
    for grp in _rows(x, c.kw, "log_softmax"):
        p = sc.softmax_row([x.data[i] for i in grp])
        s = total([g.data[i] for i in grp])
        for i, pi in zip(grp, p, strict=True):
            out.data[i] = g.data[i] - pi * s
    return [out]


def _lse_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    (x,) = ins
    axis = norm_axis(kw.get("axis", -1), x.ndim, "logsumexp")
    return reduce(x, axis, sc.logsumexp_row)


def _lse_b(c: Ctx) -> list[Tensor | None]:
    (x,) = c.ins
    out = zeros(x.shape)
    for k, grp in enumerate(_rows(x, c.kw, "logsumexp")):
        p = sc.softmax_row([x.data[i] for i in grp])
        for i, pi in zip(grp, p, strict=True):
            out.data[i] = c.up.data[k] * pi
    return [out]


# --------------------------------------------------------------------------- losses


def _classes(z: Tensor, k: Tensor) -> list[int]:
    if z.ndim not in (1, 2):
        raise ShapeError(f"cross_entropy takes logits of shape [C] or [N, C], got {show(z.shape)}")
    n = 1 if z.ndim == 1 else z.shape[0]
    want: Shape = () if z.ndim == 1 else (n,)
    if k.shape != want and not (z.ndim == 1 and k.shape == (1,)):
        raise ShapeError(
            f"the classes have shape {show(k.shape)} but logits of shape {show(z.shape)} "
            f"need {'one class' if z.ndim == 1 else f'{n} classes (one per row)'}"
        )
    C = z.shape[-1]
    out = []
    for v in k.data:
        if not (sc.is_rational(v) and Fraction(v).denominator == 1 and 0 <= v < C):
            raise ShapeError(f"a class must be a whole number from 0 to {C - 1}, got {v}")
        out.append(int(v))
    return out


def _ce_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    z, k = ins
    ks = _classes(z, k)
    C = z.shape[-1]
    losses = []
    for row, y in enumerate(ks):
        zr = z.data[row * C : (row + 1) * C]
        losses.append(sc.logsumexp_row(zr) - zr[y])
    return Tensor((), [total(losses) * Fraction(1, len(losses))])


def _ce_b(c: Ctx) -> list[Tensor | None]:
    z, k = c.ins
    ks = _classes(z, k)
    C = z.shape[-1]
    n = len(ks)
    g = c.up.item() * (Fraction(1, n) if c.rules.mean_scale else 1) * c.rules.ce_sign
    out = []
    for row, y in enumerate(ks):
        p = sc.softmax_row(z.data[row * C : (row + 1) * C])
        out += [(pj - (1 if j == y else 0)) * g for j, pj in enumerate(p)]
    return [Tensor(z.shape, out), None]


def _mse_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    y, t = ins
    if y.shape != t.shape:
        raise ShapeError(f"mse of shapes {show(y.shape)} and {show(t.shape)}: they must match")
    return Tensor(
        (),
        [
            total([(a - b) * (a - b) for a, b in zip(y.data, t.data, strict=True)])
            * Fraction(1, y.size)
        ],
    )


def _mse_b(c: Ctx) -> list[Tensor | None]:
    y, t = c.ins
    scale = c.up.item() * (Fraction(2, y.size) if c.rules.mean_scale else 2)
    d = [(a - b) * scale for a, b in zip(y.data, t.data, strict=True)]
    return [Tensor(y.shape, d), Tensor(t.shape, [-v for v in d])]


def _bce_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    p, t = ins
    if p.shape != t.shape:
        raise ShapeError(f"bce of shapes {show(p.shape)} and {show(t.shape)}: they must match")
    terms = []
    for pi, ti in zip(p.data, t.data, strict=True):
        term: Value = 0
        if ti != 0:
            term = term - ti * sc.log(pi)
        if ti != 1:
            term = term - (1 - ti) * sc.log(1 - pi)
        terms.append(term)
    return Tensor((), [total(terms) * Fraction(1, p.size)])


def _bce_b(c: Ctx) -> list[Tensor | None]:
    p, t = c.ins
    scale = c.up.item() * (Fraction(1, p.size) if c.rules.mean_scale else 1) * c.rules.ce_sign
    out = []
    for pi, ti in zip(p.data, t.data, strict=True):
        den = pi * (1 - pi)
        if sc.sign(den) == 0:
            raise sc.GraphValueError("the gradient of bce at p = 0 or p = 1 is not defined")
        out.append(sc.div(pi - ti, den) * scale)
    return [Tensor(p.shape, out), None]


# ------------------------------------------------------------------- convolution and pooling


def _conv_layout(x: Tensor, w: Tensor, nd: int, name: str) -> tuple[Tensor, Tensor, Shape]:
    """x as [N, C, *spatial] and w as [out, C, *kernel]; returns the shape to give back."""
    if x.ndim == nd and w.ndim == nd:  # one channel in, one out, no batch
        return Tensor((1, 1, *x.shape), x.data), Tensor((1, 1, *w.shape), w.data), ()
    if w.ndim != nd + 2:
        raise ShapeError(
            f"{name}: the kernel has shape {show(w.shape)}; it must be [out, in, "
            f"{', '.join('k' * nd)}] (or [{', '.join('k' * nd)}] with an input of rank {nd})"
        )
    if x.ndim == nd + 1:
        return Tensor((1, *x.shape), x.data), w, ("unbatched",)
    if x.ndim == nd + 2:
        return x, w, ("batched",)
    raise ShapeError(f"{name}: an input of shape {show(x.shape)} has the wrong rank")


def _conv_geometry(X: Tensor, W: Tensor, kw: dict[str, Any], nd: int, name: str) -> list[int]:
    if X.shape[1] != W.shape[1]:
        raise ShapeError(
            f"{name}: the input has {X.shape[1]} channels but the kernel expects {W.shape[1]}"
        )
    out = []
    for d in range(nd):
        n = X.shape[2 + d] + 2 * kw["padding"] - kw["dilation"] * (W.shape[2 + d] - 1) - 1
        if n < 0:
            raise ShapeError(f"{name}: the kernel is larger than the (padded) input")
        out.append(n // kw["stride"] + 1)
    return out


def _conv_taps(X: Tensor, W: Tensor, kw: dict[str, Any], nd: int, outs: list[int]) -> Any:
    """Every (output position, input position, kernel position) of the convolution; input
    positions in the padding are None."""
    s, p, dil = kw["stride"], kw["padding"], kw["dilation"]
    spatial = X.shape[2:]
    for o_idx in itertools.product(*(range(n) for n in outs)):
        for k_idx in itertools.product(*(range(n) for n in W.shape[2:])):
            pos = [o * s + k * dil - p for o, k in zip(o_idx, k_idx, strict=True)]
            inside = all(0 <= q < n for q, n in zip(pos, spatial, strict=True))
            yield o_idx, (tuple(pos) if inside else None), k_idx


def _flat(shape: Shape, idx: Sequence[int]) -> int:
    return sum(i * s for i, s in zip(idx, strides(shape), strict=True))


def _conv_f(nd: int, name: str) -> Callable[[list[Tensor], dict[str, Any], Ctx], Tensor]:
    def forward(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
        x, w = ins[0], ins[1]
        b = ins[2] if len(ins) > 2 else None
        X, W, layout = _conv_layout(x, w, nd, name)
        outs = _conv_geometry(X, W, kw, nd, name)
        N, C, Co = X.shape[0], X.shape[1], W.shape[0]
        if (b is not None and b.shape not in ((Co,), ())) or (
            b is not None and b.shape == () and Co != 1
        ):
            raise ShapeError(
                f"{name}: the bias has shape {show(b.shape)} but there are {Co} output channels"
            )
        out_shape = (N, Co, *outs)
        data: list[Value] = [0] * math.prod(out_shape)
        taps = list(_conv_taps(X, W, kw, nd, outs))
        for n in range(N):
            for o in range(Co):
                for ci in range(C):
                    for o_idx, x_idx, k_idx in taps:
                        if x_idx is None:
                            continue
                        xv = X.data[_flat(X.shape, (n, ci, *x_idx))]
                        wv = W.data[_flat(W.shape, (o, ci, *k_idx))]
                        if xv and wv:
                            j = _flat(out_shape, (n, o, *o_idx))
                            data[j] = data[j] + xv * wv
                if b is not None:
                    bv = b.data[o if b.shape else 0]
                    for o_idx in itertools.product(*(range(m) for m in outs)):
                        j = _flat(out_shape, (n, o, *o_idx))
                        data[j] = data[j] + bv
        if layout == ():
            return Tensor(tuple(outs), data)
        if layout == ("unbatched",):
            return Tensor(out_shape[1:], data)
        return Tensor(out_shape, data)

    return forward


def _conv_b(nd: int, name: str) -> Callable[[Ctx], list[Tensor | None]]:
    def backward(c: Ctx) -> list[Tensor | None]:
        x, w = c.ins[0], c.ins[1]
        b = c.ins[2] if len(c.ins) > 2 else None
        X, W, _ = _conv_layout(x, w, nd, name)
        outs = _conv_geometry(X, W, c.kw, nd, name)
        N, C, Co = X.shape[0], X.shape[1], W.shape[0]
        out_shape = (N, Co, *outs)
        G = Tensor(out_shape, c.up.data)
        dx: list[Value] = [0] * X.size
        dw: list[Value] = [0] * W.size
        taps = list(_conv_taps(X, W, c.kw, nd, outs))
        for n in range(N):
            for o in range(Co):
                for ci in range(C):
                    for o_idx, x_idx, k_idx in taps:
                        if x_idx is None:
                            continue
                        g = G.data[_flat(out_shape, (n, o, *o_idx))]
                        if not g:
                            continue
                        xi = _flat(X.shape, (n, ci, *x_idx))
                        wi = _flat(W.shape, (o, ci, *k_idx))
                        dx[xi] = dx[xi] + g * W.data[wi]
                        dw[wi] = dw[wi] + g * X.data[xi]
        grads: list[Tensor | None] = [Tensor(x.shape, dx), Tensor(w.shape, dw)]
        if b is not None:
            per = [
                total(
                    [
                        G.data[_flat(out_shape, (n, o, *idx))]
                        for n in range(N)
                        for idx in indices(tuple(outs))
                    ]
                )
                for o in range(Co)
            ]
            grads.append(Tensor(b.shape, per if b.shape else per[:1]))
        return grads

    return backward


def _pool_layout(x: Tensor, nd: int, name: str) -> tuple[int, Shape]:
    if x.ndim < nd:
        raise ShapeError(f"{name}: an input of shape {show(x.shape)} has fewer than {nd} axes")
    lead = math.prod(x.shape[: x.ndim - nd])
    return lead, x.shape[x.ndim - nd :]


def _pool_windows(
    x: Tensor, kw: dict[str, Any], nd: int, name: str
) -> tuple[Shape, list[list[int]]]:
    """The output shape, and for each output entry the flat input positions of its window."""
    k, s = kw["k"], kw.get("stride") or kw["k"]
    lead, spatial = _pool_layout(x, nd, name)
    outs = []
    for n in spatial:
        if n < k:
            raise ShapeError(f"{name}: the window {k} is larger than the input ({n})")
        outs.append((n - k) // s + 1)
    block = math.prod(spatial)
    windows = []
    for li in range(lead):
        for o_idx in itertools.product(*(range(m) for m in outs)):
            win = []
            for k_idx in itertools.product(*(range(k) for _ in range(nd))):
                pos = [o * s + kk for o, kk in zip(o_idx, k_idx, strict=True)]
                win.append(li * block + _flat(spatial, pos))
            windows.append(win)
    return (*x.shape[: x.ndim - nd], *outs), windows


def _maxpool_f(nd: int, name: str) -> Callable[[list[Tensor], dict[str, Any], Ctx], Tensor]:
    def forward(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
        (x,) = ins
        shape, windows = _pool_windows(x, kw, nd, name)
        vals = []
        for win in windows:
            best = _argmaxes([x.data[i] for i in win])
            c.ties = c.ties or len(best) > 1
            vals.append(x.data[win[best[0]]])
        return Tensor(shape, vals)

    return forward


def _maxpool_b(nd: int, name: str) -> Callable[[Ctx], list[Tensor | None]]:
    def backward(c: Ctx) -> list[Tensor | None]:
        (x,) = c.ins
        _, windows = _pool_windows(x, c.kw, nd, name)
        out = zeros(x.shape)
        for g, win in zip(c.up.data, windows, strict=True):
            best = [win[i] for i in _argmaxes([x.data[i] for i in win])]
            for i, v in _route(g, best, win, c.rules.max_route):
                out.data[i] = out.data[i] + v
        return [out]

    return backward


def _avgpool_f(nd: int, name: str) -> Callable[[list[Tensor], dict[str, Any], Ctx], Tensor]:
    def forward(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
        (x,) = ins
        shape, windows = _pool_windows(x, kw, nd, name)
        return Tensor(shape, [total([x.data[i] for i in w]) * Fraction(1, len(w)) for w in windows])

    return forward


def _avgpool_b(nd: int, name: str) -> Callable[[Ctx], list[Tensor | None]]:
    def backward(c: Ctx) -> list[Tensor | None]:
        (x,) = c.ins
        _, windows = _pool_windows(x, c.kw, nd, name)
        out = zeros(x.shape)
        for g, win in zip(c.up.data, windows, strict=True):
            share = g * Fraction(1, len(win))
            for i in win:
                out.data[i] = out.data[i] + share
        return [out]

    return backward


# --------------------------------------------------------------------------- shape changes


def _concat_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    first = ins[0]
    axis = norm_axis(kw.get("axis", 0), first.ndim, "concat")
    for t in ins[1:]:
        if t.ndim != first.ndim or any(
            a != b for i, (a, b) in enumerate(zip(t.shape, first.shape, strict=True)) if i != axis
        ):
            raise ShapeError(
                f"concat along axis {axis} of shapes {', '.join(show(u.shape) for u in ins)}: "
                "the other axes must match"
            )
    outer = math.prod(first.shape[:axis])
    data: list[Value] = []
    for o in range(outer):
        for t in ins:
            chunk = math.prod(t.shape[axis:])
            data += t.data[o * chunk : (o + 1) * chunk]
    shape = (*first.shape[:axis], sum(t.shape[axis] for t in ins), *first.shape[axis + 1 :])
    return Tensor(shape, data)


def _concat_b(c: Ctx) -> list[Tensor | None]:
    first = c.ins[0]
    axis = norm_axis(c.kw.get("axis", 0), first.ndim, "concat")
    outer = math.prod(first.shape[:axis])
    parts: list[list[Value]] = [[] for _ in c.ins]
    pos = 0
    for _ in range(outer):
        for j, t in enumerate(c.ins):
            chunk = math.prod(t.shape[axis:])
            parts[j] += c.up.data[pos : pos + chunk]
            pos += chunk
    return [Tensor(t.shape, p) for t, p in zip(c.ins, parts, strict=True)]


def _reshape_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    (x,) = ins
    shape = list(kw["shape"])
    if shape.count(-1) > 1 or any(n < -1 or n == 0 for n in shape):
        raise ShapeError(f"reshape to {shape}: sizes must be positive (one may be -1)")
    if -1 in shape:
        rest = math.prod(n for n in shape if n != -1)
        if x.size % rest:
            raise ShapeError(f"reshape of {show(x.shape)} to {shape}: {x.size} entries do not fit")
        shape[shape.index(-1)] = x.size // rest
    if math.prod(shape) != x.size:
        raise ShapeError(f"reshape of {show(x.shape)} ({x.size} entries) to {show(tuple(shape))}")
    return Tensor(tuple(shape), list(x.data))


def _reshape_b(c: Ctx) -> list[Tensor | None]:
    return [Tensor(c.ins[0].shape, list(c.up.data))]


def _copy_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    return ins[0]


def _copy_b(c: Ctx) -> list[Tensor | None]:
    return [c.up]


def _flatten_f(ins: list[Tensor], kw: dict[str, Any], c: Ctx) -> Tensor:
    return Tensor((ins[0].size,), list(ins[0].data))


# --------------------------------------------------------------------------- the table

_AXIS = Param("axis", "axis", None)
_LAST = Param("axis", "axis", -1)
_CONV = (Param("stride", "int", 1), Param("padding", "int", 0, False), Param("dilation", "int", 1))
_POOL = (Param("k", "int", None, True), Param("stride", "int", None))

UP = "{up}"

OPS: dict[str, Op] = {
    op.name: op
    for op in [
        Op(
            "add",
            ("a", "b"),
            _add_f,
            _add_b,
            ("{0} + {1}", "{0} + {1}"),
            (("{up}", "{up}"), ("{up}", "{up}")),
            prec=10,
        ),
        Op(
            "sub",
            ("a", "b"),
            _sub_f,
            _sub_b,
            ("{0} - {1}", "{0} - {1}"),
            (("{up}", "{up}"), ("-{up}", "-{up}")),
            prec=10,
        ),
        Op(
            "mul",
            ("a", "b"),
            _mul_f,
            _mul_b,
            ("{0} ⊙ {1}", r"{0} \odot {1}"),
            (("{up} ⊙ {1}", r"{up} \odot {1}"), ("{up} ⊙ {0}", r"{up} \odot {0}")),
            prec=20,
        ),
        Op(
            "div",
            ("a", "b"),
            _div_f,
            _div_b,
            ("{0}/{1}", r"\frac{{{0}}}{{{1}}}"),
            (
                ("{up}/{1}", r"\frac{{{up}}}{{{1}}}"),
                ("-{up} ⊙ {0}/{1}²", r"-{up} \odot \frac{{{0}}}{{{1}^2}}"),
            ),
            prec=20,
        ),
        Op(
            "matmul",
            ("a", "b"),
            _matmul_f,
            _matmul_b,
            ("{0} {1}", "{0} {1}"),
            (("{up} {1}ᵀ", r"{up} \, {1}^\top"), ("{0}ᵀ {up}", r"{0}^\top {up}")),
            prec=20,
        ),
        Op(
            "pow",
            ("a",),
            _pow_f,
            _pow_b,
            ("{0}^{n}", "{0}^{{{n}}}"),
            (("{up} ⊙ {n}{0}{n1}", r"{up} \odot {n}\,{0}{n1_latex}"),),
            params=(Param("n", "int", None, True),),
            prec=30,
        ),
        Op("neg", ("a",), _neg_f, _neg_b, ("-{0}", "-{0}"), (("-{up}", "-{up}"),), prec=15),
        Op("T", ("a",), _T_f, _T_b, ("{0}ᵀ", r"{0}^\top"), (("{up}ᵀ", r"{up}^\top"),), prec=100),
        Op(
            "index",
            ("a",),
            _index_f,
            _index_b,
            ("{0}[{idx}]", r"{0}_{{{idx}}}"),
            (
                (
                    "{up} at [{idx}], 0 elsewhere",
                    r"{up} \text{{ at }} [{idx}]\text{{, 0 elsewhere}}",
                ),
            ),
            params=(Param("idx", "ints", None, True),),
            prec=100,
        ),
        Op(
            "relu",
            ("x",),
            _relu_f,
            _relu_b,
            ("relu({0})", r"\operatorname{{ReLU}}({0})"),
            (("{up} ⊙ 1[{0} > 0]", r"{up} \odot \mathbb{{1}}[{0} > 0]"),),
        ),
        Op(
            "leaky_relu",
            ("x",),
            _leaky_f,
            _leaky_b,
            ("leaky_relu({0}, {a})", r"\operatorname{{LeakyReLU}}_{{{a}}}({0})"),
            (
                (
                    "{up} ⊙ (1 if {0} > 0, else {a})",
                    r"{up} \odot \begin{{cases}} 1 & {0} > 0 \\ {a} & \text{{else}} \end{{cases}}",
                ),
            ),
            params=(Param("a", "number", Fraction(1, 100)),),
        ),
        Op(
            "sigmoid",
            ("x",),
            _sigmoid_f,
            _sigmoid_b,
            ("σ({0})", r"\sigma({0})"),
            (("{up} ⊙ {y}(1 - {y})", r"{up} \odot {y}(1 - {y})"),),
        ),
        Op(
            "tanh",
            ("x",),
            _tanh_f,
            _tanh_b,
            ("tanh({0})", r"\tanh({0})"),
            (("{up} ⊙ (1 - {y}²)", r"{up} \odot (1 - {y}^2)"),),
        ),
        Op(
            "sin",
            ("x",),
            _sin_f,
            _sin_b,
            ("sin({0})", r"\sin({0})"),
            (("{up} ⊙ cos({0})", r"{up} \odot \cos({0})"),),
        ),
        Op(
            "cos",
            ("x",),
            _cos_f,
            _cos_b,
            ("cos({0})", r"\cos({0})"),
            (("-{up} ⊙ sin({0})", r"-{up} \odot \sin({0})"),),
        ),
        Op(
            "exp",
            ("x",),
            _exp_f,
            _exp_b,
            ("exp({0})", r"e^{{{0}}}"),
            (("{up} ⊙ {y}", r"{up} \odot {y}"),),
        ),
        Op(
            "log",
            ("x",),
            _log_f,
            _log_b,
            ("log({0})", r"\log({0})"),
            (("{up}/{0}", r"\frac{{{up}}}{{{0}}}"),),
        ),
        Op(
            "sqrt",
            ("x",),
            _sqrt_f,
            _sqrt_b,
            ("√({0})", r"\sqrt{{{0}}}"),
            (("{up}/(2{y})", r"\frac{{{up}}}{{2 {y}}}"),),
        ),
        Op(
            "abs",
            ("x",),
            _abs_f,
            _abs_b,
            ("|{0}|", r"\left|{0}\right|"),
            (("{up} ⊙ sign({0})", r"{up} \odot \operatorname{{sign}}({0})"),),
        ),
        Op(
            "sum",
            ("x",),
            _sum_f,
            _sum_b,
            ("sum({0}{axis})", r"\sum{axis_latex} {0}"),
            (
                (
                    "{up}, copied to every entry summed",
                    r"{up} \text{{, copied to every entry summed}}",
                ),
            ),
            params=(_AXIS,),
        ),
        Op(
            "mean",
            ("x",),
            _mean_f,
            _mean_b,
            ("mean({0}{axis})", r"\operatorname{{mean}}{axis_latex}({0})"),
            (
                (
                    "(1/n)·{up}, copied to every entry averaged",
                    r"\tfrac{{1}}{{n}}{up} \text{{, copied to every entry averaged}}",
                ),
            ),
            params=(_AXIS,),
        ),
        Op(
            "max",
            ("x",),
            _max_f,
            _max_b,
            ("max({0}{axis})", r"\max{axis_latex}({0})"),
            (
                (
                    "{up} routed to the maximum (the first, on a tie)",
                    r"{up} \text{{ routed to the maximum (the first, on a tie)}}",
                ),
            ),
            params=(_AXIS,),
        ),
        Op(
            "softmax",
            ("x",),
            _softmax_f,
            _softmax_b,
            ("softmax({0})", r"\operatorname{{softmax}}({0})"),
            (
                (
                    "{y} ⊙ ({up} - Σ {up} ⊙ {y})",
                    r"{y} \odot \left({up} - \textstyle\sum {up} \odot {y}\right)",
                ),
            ),
            params=(_LAST,),
        ),
        Op(
            "log_softmax",
            ("x",),
            _log_softmax_f,
            _log_softmax_b,
            ("log_softmax({0})", r"\log\operatorname{{softmax}}({0})"),
            (
                (
                    "{up} - softmax({0}) Σ {up}",
                    r"{up} - \operatorname{{softmax}}({0}) \textstyle\sum {up}",
                ),
            ),
            params=(_LAST,),
        ),
        Op(
            "logsumexp",
            ("x",),
            _lse_f,
            _lse_b,
            ("logsumexp({0})", r"\log\textstyle\sum e^{{{0}}}"),
            (("{up} ⊙ softmax({0})", r"{up} \odot \operatorname{{softmax}}({0})"),),
            params=(_LAST,),
        ),
        Op(
            "cross_entropy",
            ("z", "k"),
            _ce_f,
            _ce_b,
            ("CE({0}, {1})", r"\operatorname{{CE}}({0}, {1})"),
            (
                (
                    "{up} (softmax({0}) - onehot({1}))/N",
                    r"{up} \, \frac{{\operatorname{{softmax}}({0}) - "
                    r"\operatorname{{onehot}}({1})}}{{N}}",
                ),
                ("", ""),
            ),
            nondiff=frozenset({1}),
        ),
        Op(
            "mse",
            ("y", "t"),
            _mse_f,
            _mse_b,
            ("mse({0}, {1})", r"\operatorname{{MSE}}({0}, {1})"),
            (
                ("{up} 2({0} - {1})/n", r"{up} \frac{{2({0} - {1})}}{{n}}"),
                ("-{up} 2({0} - {1})/n", r"-{up} \frac{{2({0} - {1})}}{{n}}"),
            ),
        ),
        Op(
            "bce",
            ("p", "t"),
            _bce_f,
            _bce_b,
            ("bce({0}, {1})", r"\operatorname{{BCE}}({0}, {1})"),
            (
                (
                    "{up} ({0} - {1})/({0}(1 - {0}) n)",
                    r"{up} \frac{{{0} - {1}}}{{{0}(1 - {0})\, n}}",
                ),
                ("", ""),
            ),
            nondiff=frozenset({1}),
        ),
        Op(
            "conv1d",
            ("x", "w", "b?"),
            _conv_f(1, "conv1d"),
            _conv_b(1, "conv1d"),
            ("conv1d({0}, {1}{rest})", r"{0} \star {1}{rest_latex}"),
            (
                (
                    "{up} sent back through each tap: Σ {up}[o]·w[k] at input o·s + k·d",
                    r"\textstyle\sum_{{o,k}} {up}_o \, w_k \text{{ at input }} o s + k d",
                ),
                (
                    "Σ_o {up}[o]·x[o·s + k·d] for each tap k",
                    r"\textstyle\sum_o {up}_o \, x_{{o s + k d}}",
                ),
                ("Σ {up} over the positions", r"\textstyle\sum_o {up}_o"),
            ),
            params=_CONV,
        ),
        Op(
            "conv2d",
            ("x", "w", "b?"),
            _conv_f(2, "conv2d"),
            _conv_b(2, "conv2d"),
            ("conv2d({0}, {1}{rest})", r"{0} \star {1}{rest_latex}"),
            (
                (
                    "{up} sent back through each tap of the kernel",
                    r"{up} \text{{ sent back through each tap of the kernel}}",
                ),
                (
                    "Σ over positions of {up} times the input under each tap",
                    r"\textstyle\sum {up} \cdot x \text{{ under each tap}}",
                ),
                ("Σ {up} over the positions", r"\textstyle\sum {up}"),
            ),
            params=_CONV,
        ),
        Op(
            "maxpool2d",
            ("x",),
            _maxpool_f(2, "maxpool2d"),
            _maxpool_b(2, "maxpool2d"),
            ("maxpool2d({0}{rest})", r"\operatorname{{maxpool}}({0}{rest_latex})"),
            (
                (
                    "{up} routed to the maximum of each window (the first, on a tie)",
                    r"{up} \text{{ routed to each window's maximum (the first on a tie)}}",
                ),
            ),
            params=_POOL,
        ),
        Op(
            "maxpool1d",
            ("x",),
            _maxpool_f(1, "maxpool1d"),
            _maxpool_b(1, "maxpool1d"),
            ("maxpool1d({0}{rest})", r"\operatorname{{maxpool}}({0}{rest_latex})"),
            (
                (
                    "{up} routed to the maximum of each window (the first, on a tie)",
                    r"{up} \text{{ routed to each window's maximum (the first on a tie)}}",
                ),
            ),
            params=_POOL,
        ),
        Op(
            "avgpool2d",
            ("x",),
            _avgpool_f(2, "avgpool2d"),
            _avgpool_b(2, "avgpool2d"),
            ("avgpool2d({0}{rest})", r"\operatorname{{avgpool}}({0}{rest_latex})"),
            (
                (
                    "{up}/k² spread over each window",
                    r"\tfrac{{1}}{{k^2}} {up} \text{{ spread over each window}}",
                ),
            ),
            params=_POOL,
        ),
        Op(
            "concat",
            ("x*",),
            _concat_f,
            _concat_b,
            ("concat({0})", r"\left[{0}\right]"),
            (("the matching slice of {up}", r"\text{{the matching slice of }} {up}"),),
            params=(Param("axis", "axis", 0),),
            variadic=True,
        ),
        Op(
            "reshape",
            ("x",),
            _reshape_f,
            _reshape_b,
            ("reshape({0}, {shape})", r"\operatorname{{reshape}}({0})"),
            (("{up} reshaped back", r"{up} \text{{ reshaped back}}"),),
            params=(Param("shape", "ints", None, True),),
        ),
        Op("copy", ("x",), _copy_f, _copy_b, ("{0}", "{0}"), (("{up}", "{up}"),)),
        Op(
            "flatten",
            ("x",),
            _flatten_f,
            _reshape_b,
            ("flatten({0})", r"\operatorname{{flatten}}({0})"),
            (("{up} reshaped back", r"{up} \text{{ reshaped back}}"),),
        ),
    ]
}

#: the names a compute line may call (the operators +, -, *, /, @, ^, .T and [i] are ops too)
FUNCTIONS = frozenset(
    n
    for n in OPS
    if n not in ("add", "sub", "mul", "div", "matmul", "pow", "neg", "T", "index", "copy")
)
BINARY = {"+": "add", "-": "sub", "*": "mul", "/": "div", "@": "matmul", "^": "pow"}
TRANSCENDENTAL = frozenset(
    {
        "sigmoid",
        "tanh",
        "sin",
        "cos",
        "exp",
        "log",
        "sqrt",
        "softmax",
        "log_softmax",
        "logsumexp",
        "cross_entropy",
        "bce",
    }
)


def constant(value: Any) -> Tensor:
    return from_nested(value)
