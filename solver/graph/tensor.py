"""Small exact tensors: a shape and its entries in row-major order.

The entries are the scalars of :mod:`solver.graph.scalar` (ints, Fractions,
:class:`~solver.graph.scalar.Tx`). Broadcasting, axes and matrix products follow
numpy, which is what a course writes and what PyTorch does. Nothing here knows
about gradients: the op table composes these pieces.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .scalar import Value, dot, is_rational

Shape = tuple[int, ...]


class ShapeError(ValueError):
    """Shapes that do not fit an operation; the message names them."""


@dataclass
class Tensor:
    shape: Shape
    data: list[Value]

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def item(self) -> Value:
        return self.data[0]

    def map(self, f: Callable[[Value], Value]) -> Tensor:
        return Tensor(self.shape, [f(v) for v in self.data])

    def nested(self) -> Any:
        """The entries as a nested list (a scalar as itself)."""
        return nest(self.data, self.shape)

    def is_rational(self) -> bool:
        return all(is_rational(v) for v in self.data)


def show(shape: Shape) -> str:
    """A shape as a course writes it: ``[2, 3]``; a scalar is ``[]``."""
    return "[" + ", ".join(map(str, shape)) + "]"


def nest(data: Sequence[Any], shape: Shape) -> Any:
    if not shape:
        return data[0]
    out: list[Any] = list(data)
    for n in reversed(shape[1:]):
        out = [out[i : i + n] for i in range(0, len(out), n)]
    return out


def scalar(v: Value) -> Tensor:
    return Tensor((), [v])


def zeros(shape: Shape) -> Tensor:
    return Tensor(shape, [0] * math.prod(shape))


def full(shape: Shape, v: Value) -> Tensor:
    return Tensor(shape, [v] * math.prod(shape))


def from_nested(value: Any) -> Tensor:
    """A nested list (rectangular, checked by the caller) or a scalar as a Tensor."""
    shape: list[int] = []
    probe = value
    while isinstance(probe, list):
        shape.append(len(probe))
        probe = probe[0]
    data = value
    for _ in range(len(shape) - 1):
        data = [x for row in data for x in row]
    return Tensor(tuple(shape), list(data) if shape else [value])


def strides(shape: Shape) -> tuple[int, ...]:
    out = []
    acc = 1
    for n in reversed(shape):
        out.append(acc)
        acc *= n
    return tuple(reversed(out))


def indices(shape: Shape) -> Iterator[tuple[int, ...]]:
    return itertools.product(*(range(n) for n in shape))


def norm_axis(axis: int, ndim: int, what: str) -> int:
    if not -ndim <= axis < ndim or ndim == 0:
        raise ShapeError(f"{what}: axis {axis} does not exist for a tensor of rank {ndim}")
    return axis % ndim


# --------------------------------------------------------------------------- broadcasting


def broadcast_shape(a: Shape, b: Shape) -> Shape | None:
    """numpy's broadcast of two shapes, or None when they do not broadcast."""
    out = []
    for x, y in itertools.zip_longest(reversed(a), reversed(b), fillvalue=1):
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y))
    return tuple(reversed(out))


def _source_index(out_shape: Shape, shape: Shape) -> list[int]:
    """For each entry of the broadcast result, the entry of a tensor of ``shape`` it reads."""
    pad = len(out_shape) - len(shape)
    full_shape = (1,) * pad + shape
    st = strides(full_shape)
    eff = [0 if n == 1 else s for n, s in zip(full_shape, st, strict=True)]
    return [sum(i * s for i, s in zip(idx, eff, strict=True)) for idx in indices(out_shape)]


def expand(t: Tensor, shape: Shape) -> Tensor:
    if t.shape == shape:
        return t
    return Tensor(shape, [t.data[i] for i in _source_index(shape, t.shape)])


MAX_ELEMENTS = 10_000  # entries of any one tensor, given or computed


def binary(f: Callable[[Value, Value], Value], a: Tensor, b: Tensor, out_shape: Shape) -> Tensor:
    if math.prod(out_shape) > MAX_ELEMENTS:
        raise ShapeError(
            f"broadcasting {show(a.shape)} with {show(b.shape)} gives {math.prod(out_shape):,} "
            f"entries, more than the {MAX_ELEMENTS:,} a problem may compute"
        )
    if a.shape == b.shape:
        return Tensor(out_shape, [f(x, y) for x, y in zip(a.data, b.data, strict=True)])
    if not b.shape:
        y = b.data[0]
        return Tensor(out_shape, [f(x, y) for x in expand(a, out_shape).data])
    if not a.shape:
        x = a.data[0]
        return Tensor(out_shape, [f(x, y) for y in expand(b, out_shape).data])
    ea, eb = expand(a, out_shape), expand(b, out_shape)
    return Tensor(out_shape, [f(x, y) for x, y in zip(ea.data, eb.data, strict=True)])


def unbroadcast(g: Tensor, shape: Shape) -> Tensor:
    """The gradient of a broadcast: entries that read the same source entry add up."""
    if g.shape == shape:
        return g
    out: list[Value] = [0] * math.prod(shape)
    for k, src in enumerate(_source_index(g.shape, shape)):
        out[src] = out[src] + g.data[k]
    return Tensor(shape, out)


# --------------------------------------------------------------------------- axes


def transpose(t: Tensor) -> Tensor:
    """``X.T``: the axes reversed (a vector stays as it is, as in numpy)."""
    if t.ndim < 2:
        return t
    return permute(t, tuple(reversed(range(t.ndim))))


def permute(t: Tensor, axes: tuple[int, ...]) -> Tensor:
    st = strides(t.shape)
    shape = tuple(t.shape[a] for a in axes)
    pst = [st[a] for a in axes]
    return Tensor(
        shape, [t.data[sum(i * s for i, s in zip(idx, pst, strict=True))] for idx in indices(shape)]
    )


def reduce(t: Tensor, axis: int | None, f: Callable[[list[Value]], Value]) -> Tensor:
    """``f`` over ``axis`` (all entries when None); the axis is dropped."""
    if axis is None:
        return scalar(f(list(t.data)))
    groups = axis_groups(t.shape, axis)
    shape = t.shape[:axis] + t.shape[axis + 1 :]
    return Tensor(shape, [f([t.data[i] for i in g]) for g in groups])


def axis_groups(shape: Shape, axis: int) -> list[list[int]]:
    """The flat positions of each line along ``axis``, in the order of the reduced result."""
    st = strides(shape)
    rest = shape[:axis] + shape[axis + 1 :]
    rest_st = st[:axis] + st[axis + 1 :]
    out = []
    for idx in indices(rest):
        base = sum(i * s for i, s in zip(idx, rest_st, strict=True))
        out.append([base + k * st[axis] for k in range(shape[axis])])
    return out


def total(xs: Sequence[Value]) -> Value:
    acc: Value = 0
    for x in xs:
        acc = acc + x
    return acc


# --------------------------------------------------------------------------- products


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """numpy's matmul for ranks 1 and 2: vector·vector is a dot product."""
    if a.ndim == 1 and b.ndim == 1:
        return scalar(dot(a.data, b.data))
    A = a if a.ndim == 2 else Tensor((1, a.shape[0]), a.data)
    B = b if b.ndim == 2 else Tensor((b.shape[0], 1), b.data)
    n, k = A.shape
    m = B.shape[1]
    cols = [[B.data[j + p * m] for p in range(k)] for j in range(m)]
    out: list[Value] = []
    for i in range(n):
        row = A.data[i * k : (i + 1) * k]
        if all(is_rational(x) for x in row):
            for col in cols:
                if all(is_rational(y) for y in col):
                    out.append(sum(x * y for x, y in zip(row, col, strict=True) if x and y))
                else:
                    out.append(dot(row, col))
        else:
            out.extend(dot(row, col) for col in cols)
    if a.ndim == 1:
        return Tensor((m,), out)
    if b.ndim == 1:
        return Tensor((n,), out)
    return Tensor((n, m), out)


def outer(a: Tensor, b: Tensor) -> Tensor:
    return Tensor((a.size, b.size), [x * y for x in a.data for y in b.data])
