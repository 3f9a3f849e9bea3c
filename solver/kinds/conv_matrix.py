"""A convolution written as one matrix A (y = A x): its input gradient Aᵀ ∂L/∂y and the
transposed convolution, exactly, with numeric or symbolic kernels.

The output size follows the same :class:`~solver.kinds.model_size.SizeRule` as ``conv``, so
the size mistakes named there are named here too.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BeforeValidator, model_validator

from .. import exact
from ..display import (
    Mat,
    Mul,
    Raw,
    Sym,
    Text,
    eq,
    says,
)
from ..errors import FieldError
from ..given import (
    Count,
    GivenModel,
    Pair,
    SymbolicTensor,
    TypeDoc,
    pair_validator,
)
from ..solution import Key, Solution, shape_display
from . import Kind, kind
from .common import carry, draw_variant, prod, small_ints
from .model_size import PYTORCH, SIZE_MISCONCEPTIONS, SIZE_RULES, SizeRule, SizeRuleName

Shape = list[Any]  # whole numbers, the first possibly a symbol (the batch size n)


# =========================================================================== conv_matrix


def symbol_names(prefix: str, shape: Sequence[int]) -> list[str]:
    """Symbol names for the entries of a tensor, row-major: x1..x4, x11..x24 (x_1_10 when an
    index reaches 10)."""
    sep = "_" if max(shape) > 9 else ""
    return [
        prefix + sep + sep.join(str(i + 1) for i in idx)
        for idx in itertools.product(*(range(n) for n in shape))
    ]


class ConvMatrixGiven(GivenModel):
    kernel: SymbolicTensor
    """the kernel: a list (1-D) or a matrix (2-D) of numbers or symbols such as w1"""
    input_shape: list[Count]
    """the input's shape: the last 1 (or 2) axes are convolved, any axes before them are \
independent rows (or planes) that the same kernel slides over"""
    stride: Pair | None = None
    """the stride (default 1)"""
    padding: Annotated[
        Any,
        BeforeValidator(pair_validator(0)),
        TypeDoc("pair ≥ 0", "whole number ≥ 0, or [height, width]"),
    ] = None
    """zero padding on each side (default 0)"""
    dilation: Pair | None = None
    """spacing of the kernel taps (default 1)"""
    x: SymbolicTensor | None = None
    """the input's values (default: symbols x1, x2, … or x11, x12, … by position)"""
    grad_y: SymbolicTensor | None = None
    """∂L/∂y, shaped as the output (default: symbols dy1, dy2, …)"""

    @model_validator(mode="after")
    def _fit(self) -> ConvMatrixGiven:
        r = len(exact.shape(self.kernel))
        if r not in (1, 2):
            raise FieldError("must be a list (1-D) or a matrix (2-D)", "kernel")
        if len(self.input_shape) < r:
            raise FieldError(f"needs at least {r} axes for a {r}-D kernel", "input_shape")
        for fname in ("stride", "padding", "dilation"):
            pair = getattr(self, fname)
            if r == 1 and pair is not None and pair[0] != pair[1]:
                raise FieldError("a 1-D convolution takes one number", fname)
        geo = self.geometry()
        for axis, (n, k, _, p, d) in enumerate(geo):
            if d * (k - 1) + 1 > n + 2 * p:
                raise FieldError(
                    f"the kernel spans {d * (k - 1) + 1} positions, more than the "
                    f"padded input {n} + 2·{p} = {n + 2 * p} along axis "
                    f"{axis + 1}",
                    "kernel",
                )
        if self.x is not None and list(exact.shape(self.x)) != list(self.input_shape):
            raise FieldError(
                f"has shape {list(exact.shape(self.x))} but input_shape is "
                f"{list(self.input_shape)}",
                "x",
            )
        want = self.output_shape()
        if self.grad_y is not None and list(exact.shape(self.grad_y)) != want:
            raise FieldError(
                f"has shape {list(exact.shape(self.grad_y))} but the output has shape {want}",
                "grad_y",
            )
        return self

    def geometry(self) -> list[tuple[int, int, int, int, int]]:
        """(size, kernel, stride, padding, dilation) per convolved axis."""
        ks = exact.shape(self.kernel)
        sizes = self.input_shape[-len(ks) :]

        def pick(pair: tuple[int, int] | None, default: int) -> list[int]:
            return list((pair or (default, default))[2 - len(ks) :])

        return list(
            zip(
                sizes,
                ks,
                pick(self.stride, 1),
                pick(self.padding, 0),
                pick(self.dilation, 1),
                strict=True,
            )
        )

    def output_shape(self, rule: SizeRule = PYTORCH) -> list[int]:
        rank = len(exact.shape(self.kernel))
        return [
            *self.input_shape[:-rank],
            *(rule.size(n, k, s, p, d) for n, k, s, p, d in self.geometry()),
        ]


def conv_matrix(
    kernel: Any,
    input_shape: Sequence[int],
    geometry: Sequence[tuple[int, int, int, int, int]],
    rule: SizeRule = PYTORCH,
    *,
    flip: bool = False,
) -> list[list[Any]]:
    """The matrix A of a (cross-correlation) convolution over the flattened input: y = A x.

    Row (slice, o) holds kernel entry w_q in the column of input position o·s − p + q·d of the
    same slice; positions in the padding have no column (they are zeros). ``flip`` rotates
    the kernel (the true convolution: a misconception in deep learning).
    """
    ks = [k for _, k, _, _, _ in geometry]
    sizes = [n for n, _, _, _, _ in geometry]
    outs = [rule.size(n, k, s, p, d) for n, k, s, p, d in geometry]
    lead = list(input_shape[: len(input_shape) - len(ks)])
    per_in, per_out = prod(sizes), prod(outs)
    ncols = prod(lead) * per_in
    rows = []
    for block in range(prod(lead)):
        for o in itertools.product(*(range(n) for n in outs)):
            row: list[Any] = [0] * ncols
            for q in itertools.product(*(range(k) for k in ks)):
                pos = [
                    oi * s - p + qi * d
                    for oi, qi, (_, _, s, p, d) in zip(o, q, geometry, strict=True)
                ]
                if all(0 <= pi < n for pi, n in zip(pos, sizes, strict=True)):
                    col = block * per_in + _flat(pos, sizes)
                    tap = [k - 1 - qi for qi, k in zip(q, ks, strict=True)] if flip else q
                    row[col] = row[col] + _at(kernel, tap)
            rows.append(row)
    assert len(rows) == prod(lead) * per_out
    return rows


def _flat(idx: Sequence[int], shape: Sequence[int]) -> int:
    out = 0
    for i, n in zip(idx, shape, strict=True):
        out = out * n + i
    return out


def _at(t: Any, idx: Sequence[int]) -> Any:
    for i in idx:
        t = t[i]
    return t


def matvec(A: list[list[Any]], v: Sequence[Any]) -> list[Any]:
    """A v, exactly, skipping zero entries (so a symbolic product stays short)."""
    return [exact.total(a * x for a, x in zip(row, v, strict=True) if not _zero(a)) for row in A]


def _zero(a: Any) -> bool:
    return exact.is_rational(a) and a == 0


@kind("conv_matrix")
class ConvMatrix(Kind):
    """A convolution as one matrix A (y = A x), its input gradient Aᵀ ∂L/∂y, and the
    transposed convolution (multiplication by Aᵀ)."""

    Given = ConvMatrixGiven
    keys = (
        Key("output_shape", "shape", "the output's shape"),
        Key("matrix", "matrix", "A, with y = A x over the flattened input"),
        Key("output", "vector", "y = A x (the flattened output)"),
        Key("input_gradient", "vector", "∂L/∂x = Aᵀ ∂L/∂y (flattened)"),
        Key("transposed", "matrix", "the transposed convolution's matrix Aᵀ"),
    )
    example = {"kernel": ["w1", "w2", "w3"], "input_shape": [2, 4], "stride": 1, "padding": 0}
    misconceptions = {
        "flipped the kernel (a true convolution; PyTorch's conv is a cross-correlation)": {
            "flip": True
        },
        "took the transposed convolution for A itself (it multiplies by Aᵀ)": {
            "transposed_is_a": True
        },
        **{
            name: opts
            for name, opts in SIZE_MISCONCEPTIONS.items()
            if opts["size_rule"] in ("no_plus_one", "stride_plus_one")
        },
    }

    nice = (
        "the kernel fits evenly along each axis (no rounding in the output size)",
        "numeric kernel entries are small nonzero integers; symbolic ones stay symbols",
    )

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        return draw_variant(self, given, rng, self._draw)

    def _draw(self, raw: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        g = self.Given.model_validate(raw)
        raw["kernel"] = exact.tmap(
            lambda v: v if isinstance(v, str) else rng.choice((-3, -2, -1, 1, 2, 3)),
            raw["kernel"] if isinstance(raw["kernel"], list) else exact.fmt(g.kernel),
        )
        geo = g.geometry()
        sizes = []
        for n, k, st, p, d in geo:
            reach = d * (k - 1) + 1
            good = [
                m
                for m in range(max(reach - 2 * p, 1), reach + 10)
                if (m + 2 * p - reach) % st == 0 and m != n
            ]
            sizes.append(rng.choice(good) if good else n)
        lead = g.input_shape[: len(g.input_shape) - len(geo)]
        if raw.get("x") is None:  # a symbolic input: its leading sizes vary too (1 to 3)
            lead = [rng.randint(1, 3) for _ in lead]
        raw["input_shape"] = [*lead, *sizes]
        if raw.get("x") is not None:
            raw["x"] = small_ints(raw["input_shape"], rng)
        if raw.get("grad_y") is not None:
            shape = self.Given.model_validate({**raw, "grad_y": None}).output_shape()
            raw["grad_y"] = small_ints(shape, rng)
        return raw

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        out = []
        if any(PYTORCH.span(n, k, p, d) % st for n, k, st, p, d in g.geometry()):
            out.append(self.nice[0])
        if any(exact.is_rational(v) and (v == 0 or abs(v) > 3) for v in exact.flatten(g.kernel)):
            out.append(self.nice[1])
        return out

    def solve(
        self,
        g: ConvMatrixGiven,
        s: Solution,
        *,
        flip: bool = False,
        transposed_is_a: bool = False,
        size_rule: SizeRuleName = "pytorch",
    ) -> None:
        rule = SIZE_RULES[size_rule]
        geo = g.geometry()
        rank = len(geo)
        shape_in = list(g.input_shape)
        shape_out = carry(s, "output_shape", g.output_shape(rule), label=Sym("y", sup=None))
        names = "L" if rank == 1 else "HW"
        s.step(
            says(
                "As in PyTorch, the convolution slides the kernel over the input without "
                "flipping it (a cross-correlation): each output is ⟦Σ_q w_q·x_{o·s − p + q·d}⟧. "
                "The output size along each convolved axis:"
            ),
            *[
                eq(Sym(names[i], "out"), *rule.worked(n, k, st, p, d), out)
                for i, ((n, k, st, p, d), out) in enumerate(
                    zip(geo, shape_out[-rank:], strict=True)
                )
            ],
        )
        A = conv_matrix(g.kernel, shape_in, geo, rule, flip=flip)
        x = (
            exact.flatten(g.x)
            if g.x is not None
            else [exact.symbol(n) for n in symbol_names("x", shape_in)]
        )
        y = matvec(A, x)
        s.step(
            says(
                f"Flatten the input {shape_display(shape_in).text()} row by row into x (length "
                f"{len(x)}). Output ⟦y_i⟧ is row i of A times x: the kernel entries sit in the "
                "columns of the inputs that output sees, zeros elsewhere (padded positions are "
                "zeros and drop out)."
            ),
            *[eq(Sym("y", i + 1), yi) for i, yi in enumerate(y[:4])],
            *([Raw(r"\vdots", "⋮")] if len(y) > 4 else []),
        )
        A = carry(s, "matrix", A, label=Sym("A"))
        s.step(
            f"So A has one row per output ({len(A)}) and one column per input ({len(x)}).",
            eq(Sym("A"), Mat(A)),
        )
        y = carry(s, "output", matvec(A, x), label=Sym("y"))
        s.step("The output, y = A x.", eq(Sym("y"), Mat(y)))
        At = exact.transpose(A)
        gy = (
            exact.flatten(g.grad_y)
            if g.grad_y is not None
            else [exact.symbol(n) for n in symbol_names("dy", shape_out)]
        )
        grad = carry(
            s, "input_gradient", matvec(At, gy), label=Raw(r"\partial L / \partial x", "∂L/∂x")
        )
        s.step(
            "Backward: y = A x is linear in x, so ∂L/∂x = Aᵀ ∂L/∂y. Each input collects "
            "the gradient of every output it fed, weighted by the kernel entry that joined "
            "them.",
            eq(
                Raw(r"\frac{\partial L}{\partial x}", "∂L/∂x"),
                Mul(Raw(r"A^{\top}", "Aᵀ"), Mat(gy)),
                Mat(grad),
            ),
        )
        T = carry(s, "transposed", A if transposed_is_a else At, label=Raw(r"A^{\top}", "Aᵀ"))
        s.step(
            f"The transposed convolution multiplies by Aᵀ: it takes a tensor shaped like the "
            f"output {shape_display(shape_out).text()} back to the input's shape "
            f"{shape_display(shape_in).text()}. It swaps the shapes, it does not invert A; "
            "it is exactly the convolution's backward pass, so "
            "conv_transpose(∂L/∂y, w) = Aᵀ ∂L/∂y = ∂L/∂x above.",
            eq(Raw(r"A^{\top}", "Aᵀ"), Mat(T)),
        )
        if rank == 1:
            direct_equivalent(s, g.kernel, geo[0], shape_out, gy, grad)


def direct_equivalent(
    s: Solution,
    kernel: list[Any],
    geometry: tuple[int, int, int, int, int],
    shape_out: Shape,
    gy: list[Any],
    grad: list[Any],
) -> None:
    """Aᵀ ∂L/∂y as an ordinary (direct) convolution, for a 1-D kernel: spread ∂L/∂y out with
    s − 1 zeros between entries, pad it with d(k − 1) − p zeros and slide the flipped kernel.

    The step is written only when that convolution reproduces ∂L/∂x entry for entry (it is
    recomputed here, not assumed), so a solve under a misconception never claims it."""
    n, k, stride, pad, dil = geometry
    border = dil * (k - 1) - pad
    if border < 0:
        return
    flipped = list(reversed(kernel))
    m = shape_out[-1]
    rows = len(gy) // m
    direct = []
    for r in range(rows):
        spread: list[Any] = []
        for i, v in enumerate(gy[r * m : (r + 1) * m]):
            spread += [v] if i == 0 else [0] * (stride - 1) + [v]
        # border zeros after, and more where the last inputs were never reached by the kernel
        after = n + dil * (k - 1) - border - len(spread)
        padded = [0] * border + spread + [0] * max(after, 0)
        direct.append(padded)
        for q in range(n):
            terms = [flipped[j] * padded[q + j * dil] for j in range(k) if padded[q + j * dil] != 0]
            value = sum(terms[1:], terms[0]) if terms else 0
            if exact.to_sympy(value - grad[r * n + q]).expand() != 0:
                return
    spaced = f"insert s − 1 = {stride - 1} zeros between its entries, " if stride > 1 else ""
    s.step(
        "The same transposed convolution as a direct convolution (a cross-correlation, as in "
        f"the forward pass): take ∂L/∂y, {spaced}pad it with d(k − 1) − p = {border} "
        f"zero{'s' if border != 1 else ''} on each side, and slide the flipped kernel over it. "
        "Each row gives that row of ∂L/∂x above.",
        eq(Text("flip(w)"), Mat(flipped)),
        *[
            eq(Text(f"padded ∂L/∂y, row {r + 1}" if rows > 1 else "padded ∂L/∂y"), Mat(row))
            for r, row in enumerate(direct[:2])
        ],
    )
