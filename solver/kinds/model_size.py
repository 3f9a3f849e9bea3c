"""Model size, worked exactly: shapes, blanks, parameters, MACs and memory of a layer list.

``mlp`` and ``conv`` are one computation with two emphases. A *walk* along the layers
carries the shape of what flows through them, fills in the sizes a problem leaves blank
(a Linear layer's ``in`` from what enters it, its ``out`` from what comes next or from
``num_classes``), and counts each layer's parameters and multiply-accumulates. The MLP
worksheet then asks for z1 … zK and for memory; the CNN homework for output sizes and MACs
layer by layer. The same walk validates a problem file, so a layer list that does not
chain is reported at the YAML line of the layer that breaks it.

The output size of a sliding window is PyTorch's ⌊(H + 2p − d(k−1) − 1)/s⌋ + 1, written
once in :class:`SizeRule`; its other settings are the classic mistakes (no +1, dividing by
s + 1, ...), which the misconception options of the kinds and of ``conv_matrix`` reuse.
"""

from __future__ import annotations

import difflib
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Annotated, Any, ClassVar

import sympy
from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from .. import exact
from ..display import (
    BLANK,
    Add,
    Call,
    Floor,
    Frac,
    M,
    Mul,
    Neg,
    Raw,
    Sym,
    Text,
    eq,
    m,
    rel,
    sub,
)
from ..errors import FieldError
from ..given import (
    Count,
    Dim,
    GivenModel,
    Pair,
    Probability,
    TypeDoc,
    pair_validator,
)
from ..solution import Key, Solution, shape_display
from . import Kind, kind
from .common import carried, carry, draw_variant, prod

Shape = list[Any]  # whole numbers, the first possibly a symbol (the batch size n)


# =========================================================================== the output size


@dataclass(frozen=True)
class SizeRule:
    """The output size of a sliding window (a convolution or a pooling) along one axis.

    The default is PyTorch's ⌊(H + 2p − d(k−1) − 1)/s⌋ + 1. Every other setting is a
    mistake students make, kept here so that the mistaken answers come from the same code.
    """

    plus_one: bool = True  # False: forgot the + 1 (counts the steps, not the positions)
    stride_plus_one: bool = False  # True: divided by s + 1
    dilation: bool = True  # False: used k for a dilated kernel
    both_sides: bool = True  # False: padded one side only (H + p)
    round_up: bool = False  # True: rounded up where PyTorch rounds down

    def span(self, n: int, k: int, p: int, d: int) -> int:
        """How far the window can travel: H + 2p − d(k−1) − 1."""
        return n + (2 if self.both_sides else 1) * p - (d if self.dilation else 1) * (k - 1) - 1

    def divisor(self, s: int) -> int:
        return s + 1 if self.stride_plus_one else s

    def size(
        self, n: int, k: int, s: int = 1, p: int = 0, d: int = 1, *, ceil_mode: bool = False
    ) -> int:
        """The output size; ``ceil_mode`` is PyTorch's pooling option of that name."""
        span, div = self.span(n, k, p, d), self.divisor(s)
        steps = -(-span // div) if ceil_mode or self.round_up else span // div
        out = steps + 1 if self.plus_one else steps
        if ceil_mode and self.plus_one and (out - 1) * s >= n + p:
            out -= 1  # PyTorch drops a last window that would start in the right padding
        return out

    def formula(self, axis: str = "H") -> M:
        """The rule in symbols: ⌊(H + 2p − d(k − 1) − 1)/s⌋ + 1."""
        return self._written(Sym(axis), Sym("k"), Sym("s"), Sym("p"), Sym("d"), ceil=False)

    def worked(self, n: int, k: int, s: int, p: int, d: int, *, ceil_mode: bool = False) -> list[M]:
        """The rule with the numbers put in, then with the numerator added up."""
        ceil = ceil_mode or self.round_up
        return [
            self._written(n, k, s, p, d, ceil=ceil),
            self._rounded(Frac(self.span(n, k, p, d), self.divisor(s)), ceil),
        ]

    def _written(self, n: Any, k: Any, s: Any, p: Any, d: Any, *, ceil: bool) -> M:
        pad = Mul(2, p) if self.both_sides else p
        reach = Mul(d, sub(k, 1)) if self.dilation else sub(k, 1)
        den = Add(s, 1) if self.stride_plus_one else s
        return self._rounded(Frac(Add(n, pad, Neg(reach), -1), den), ceil)

    def _rounded(self, frac: M, ceil: bool) -> M:
        f = Floor(frac, ceil=ceil)
        return Add(f, 1) if self.plus_one else f


PYTORCH = SizeRule()
#: solve option ``size_rule`` -> the rule; the names of the misconceptions say what each is
SIZE_RULES = {
    "pytorch": PYTORCH,
    "no_plus_one": SizeRule(plus_one=False),
    "stride_plus_one": SizeRule(stride_plus_one=True),
    "no_plus_one_stride_plus_one": SizeRule(plus_one=False, stride_plus_one=True),
    "no_dilation": SizeRule(dilation=False),
    "one_side_padding": SizeRule(both_sides=False),
    "round_up": SizeRule(round_up=True),
}
SIZE_MISCONCEPTIONS = {
    "output size without the + 1: ⌊(H + 2p − d(k−1) − 1)/s⌋ counts the steps, not the positions": {
        "size_rule": "no_plus_one"
    },
    "output size divided by (s + 1) instead of s": {"size_rule": "stride_plus_one"},
    "output size (H + 2p − k)/(s + 1) without the + 1 (both mistakes at once)": {
        "size_rule": "no_plus_one_stride_plus_one"
    },
    "ignored the dilation (a dilated kernel spans d(k − 1) + 1 inputs)": {
        "size_rule": "no_dilation"
    },
    "padded one side only (H + p instead of H + 2p)": {"size_rule": "one_side_padding"},
    "rounded the output size up (PyTorch rounds down)": {"size_rule": "round_up"},
}


# =========================================================================== layers

ACTIVATIONS = ("ReLU", "LeakyReLU", "GELU", "ELU", "SiLU", "Tanh", "Sigmoid")
#: every layer type, by its family (which decides how shapes, sizes and counts go)
FAMILY = {
    "Linear": "linear",
    "Conv2d": "conv",
    "MaxPool2d": "pool",
    "AvgPool2d": "pool",
    "AdaptiveAvgPool2d": "adaptive",
    "BatchNorm1d": "norm",
    "BatchNorm2d": "norm",
    "LayerNorm": "norm",
    "Dropout": "same",
    "Softmax": "same",
    "Flatten": "flatten",
    "CrossEntropyLoss": "loss",
    **{a: "same" for a in ACTIVATIONS},
}
_NORM_FIELDS = frozenset({"features", "affine"})
#: the fields a layer type takes besides type and name
FIELDS: dict[str, frozenset[str]] = {
    "Linear": frozenset({"in", "out", "bias"}),
    "Conv2d": frozenset({"in", "out", "kernel", "stride", "padding", "dilation", "groups", "bias"}),
    "MaxPool2d": frozenset({"kernel", "stride", "padding", "dilation", "ceil_mode"}),
    "AvgPool2d": frozenset({"kernel", "stride", "padding", "ceil_mode"}),
    "AdaptiveAvgPool2d": frozenset({"output_size"}),
    "BatchNorm1d": _NORM_FIELDS,
    "BatchNorm2d": _NORM_FIELDS,
    "LayerNorm": _NORM_FIELDS,
    "Dropout": frozenset({"p"}),
    "CrossEntropyLoss": frozenset({"reduction"}),
}
SHORT = {
    "Linear": "linear",
    "Conv2d": "conv",
    "MaxPool2d": "pool",
    "AvgPool2d": "pool",
    "AdaptiveAvgPool2d": "pool",
    "BatchNorm1d": "bn",
    "BatchNorm2d": "bn",
    "LayerNorm": "ln",
    "CrossEntropyLoss": "loss",
}
MLP_TYPES = (
    "Linear",
    "BatchNorm1d",
    "LayerNorm",
    *ACTIVATIONS,
    "Dropout",
    "Softmax",
    "Flatten",
    "CrossEntropyLoss",
)
CONV_TYPES = tuple(FAMILY)
RESERVED = ("total", "input", "x", "in", "out")


def _padding(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("same", "valid"):
        return value.strip().lower()
    return pair_validator(0)(value)


Padding = Annotated[
    Any,
    BeforeValidator(_padding),
    TypeDoc("padding", "whole number ≥ 0, [height, width], 'same' or 'valid'"),
]


class LayerSpec(GivenModel):
    """One layer, with PyTorch's constructor arguments (only those its type takes)."""

    # unknown fields are collected and reported by build_layers, which knows the layer's type
    model_config = ConfigDict(extra="allow")

    type: str
    """the PyTorch class: Linear, Conv2d, MaxPool2d, AvgPool2d, BatchNorm1d, ReLU, ..."""
    name: str | None = None
    """the layer's name in answer keys (default: linear1, conv2, bn1, relu3, ...)"""
    in_: Count | None = Field(None, alias="in")
    """in_features (Linear) or in_channels (Conv2d); blank: what the previous layer gives"""
    out: Count | None = None
    """out_features or out_channels; blank: fixed by the next layer or num_classes"""
    kernel: Pair | None = None
    """kernel_size, one number or [height, width]"""
    stride: Pair | None = None
    """stride (default 1 for Conv2d, the kernel size for pooling)"""
    padding: Padding | None = None
    """zero padding on each side (default 0), or 'same' / 'valid'"""
    dilation: Pair | None = None
    """spacing of the kernel taps (default 1)"""
    groups: Count | None = None
    """Conv2d groups (default 1): each output channel sees in/groups input channels"""
    bias: bool = True
    """whether the layer adds a bias"""
    ceil_mode: bool = False
    """pooling: round the output size up (PyTorch's ceil_mode)"""
    output_size: Pair | None = None
    """AdaptiveAvgPool2d's output [height, width]"""
    features: Count | None = None
    """BatchNorm/LayerNorm size, checked against the input (optional)"""
    affine: bool = True
    """BatchNorm/LayerNorm: learnable γ and β"""
    p: Probability | None = None
    """Dropout's drop probability"""
    reduction: str = "mean"
    """CrossEntropyLoss: mean (a scalar), sum (a scalar) or none (one loss per example)"""


@dataclass(frozen=True)
class Layer:
    """A layer of the given list with its type made canonical and its name decided."""

    index: int  # position in the list, from 0
    type: str
    name: str
    spec: LayerSpec

    @property
    def family(self) -> str:
        return FAMILY[self.type]

    @property
    def where(self) -> str:
        """How an error names it: ``linear3 (layer 8, Linear)``."""
        return f"{self.name} (layer {self.index + 1}, {self.type})"

    def field(self, name: str) -> str:
        """The dotted path of one of its fields, for FieldError."""
        return f"layers.{self.index}.{name}"

    def error(self, message: str, field_name: str | None = None) -> FieldError:
        return FieldError(
            f"{self.where} {message}",
            self.field(field_name) if field_name else f"layers.{self.index}",
        )

    @property
    def kernel(self) -> tuple[int, int]:
        return self.spec.kernel or (1, 1)

    @property
    def stride(self) -> tuple[int, int]:
        if self.spec.stride is not None:
            return self.spec.stride
        return self.kernel if self.family == "pool" else (1, 1)

    @property
    def dilation(self) -> tuple[int, int]:
        return self.spec.dilation or (1, 1)

    @property
    def groups(self) -> int:
        return self.spec.groups or 1

    def padding(self) -> tuple[int, int]:
        """Padding per side ('same' pads d(k − 1)/2 on average: the output keeps the size)."""
        p = self.spec.padding
        if p is None or p == "valid":
            return 0, 0
        if p == "same":
            return tuple(d * (k - 1) // 2 for k, d in zip(self.kernel, self.dilation, strict=True))  # type: ignore[return-value]
        return p

    def describe(self, size_in: Any = None, size_out: Any = None) -> str:
        """``Conv2d 128→256, 3×3, stride 2, pad 1`` for the per-layer table."""
        parts = [self.type]
        if self.family in ("linear", "conv"):
            parts[0] += f" {size_in}→{size_out}"
        if self.family in ("conv", "pool"):
            parts.append(_pair(self.kernel, "×"))
            if self.stride != (1, 1):
                parts.append(f"stride {_pair(self.stride)}")
            if self.spec.padding not in (None, (0, 0)):
                pad = self.spec.padding
                parts.append(f"pad {pad if isinstance(pad, str) else _pair(pad)}")
            if self.dilation != (1, 1):
                parts.append(f"dilation {_pair(self.dilation)}")
            if self.groups != 1:
                parts.append(f"groups {self.groups}")
            if self.spec.ceil_mode:
                parts.append("ceil")
        if self.family == "adaptive":
            parts.append(f"→ {_pair(self.spec.output_size or (1, 1), '×')}")
        if self.family in ("linear", "conv") and not self.spec.bias:
            parts.append("no bias")
        if self.type == "Dropout" and self.spec.p is not None:
            parts.append(f"p = {exact.unicode(self.spec.p)}")
        if self.family == "loss":
            parts.append(self.spec.reduction)
        return f"{self.name} ({parts[0]}{', ' if len(parts) > 1 else ''}{', '.join(parts[1:])})"


def _pair(p: tuple[int, int], sep: str = ", ") -> str:
    if p[0] == p[1] and sep != "×":
        return str(p[0])
    return f"{p[0]}{sep}{p[1]}" if sep == "×" else f"({p[0]}, {p[1]})"


def build_layers(specs: Sequence[LayerSpec], allowed: Sequence[str], kind_name: str) -> list[Layer]:
    """Canonical types, checked fields and unique names (given ones first, then linear1, ...)."""
    canonical = {t.lower(): t for t in FAMILY}
    types = []
    for i, spec in enumerate(specs):
        t = canonical.get(spec.type.strip().lower())
        if t is None:
            close = difflib.get_close_matches(spec.type, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise FieldError(
                f"unknown layer type {spec.type!r} ({hint}{kind_name} knows {', '.join(allowed)})",
                f"layers.{i}.type",
            )
        if t not in allowed:
            raise FieldError(
                f"{t} is not a layer of an {kind_name} problem (use kind: conv "
                "for convolutional networks)",
                f"layers.{i}.type",
            )
        takes = sorted(FIELDS.get(t, frozenset()))
        for fname in [*sorted(spec.model_fields_set - {"type", "name"}), *(spec.model_extra or {})]:
            shown = "in" if fname == "in_" else fname
            if shown not in takes:
                close = difflib.get_close_matches(shown, takes, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise FieldError(
                    f"{t} has no field {shown!r} ({hint}it takes "
                    f"{', '.join(takes) or 'nothing but type and name'})",
                    f"layers.{i}.{shown}",
                )
        if spec.reduction not in ("mean", "sum", "none"):
            raise FieldError("must be mean, sum or none", f"layers.{i}.reduction")
        types.append(t)
    given = {}
    for i, spec in enumerate(specs):
        if spec.name is None:
            continue
        if not spec.name.isidentifier() or spec.name in RESERVED:
            raise FieldError(
                f"{spec.name!r} cannot name a layer: use letters, digits and _ "
                f"(and not {', '.join(RESERVED)})",
                f"layers.{i}.name",
            )
        if spec.name in given:
            raise FieldError(
                f"the name {spec.name!r} is used by layer {given[spec.name] + 1} too",
                f"layers.{i}.name",
            )
        given[spec.name] = i
    counts: dict[str, int] = {}
    layers = []
    for i, (spec, t) in enumerate(zip(specs, types, strict=True)):
        name = spec.name
        if name is None:
            short = SHORT.get(t, t.lower())
            while name is None or name in given:
                counts[short] = counts.get(short, 0) + 1
                name = f"{short}{counts[short]}"
        layers.append(Layer(i, t, name, spec))
    return layers


# =========================================================================== the walk


@dataclass(frozen=True)
class Counting:
    """How sizes, parameters and MACs are counted. The defaults are PyTorch's; every other
    value reproduces a known mistake (the kinds' misconceptions)."""

    rule: SizeRule = PYTORCH
    bias_params: bool = True  # False: forgot the bias in the parameter count
    norm_params: bool = True  # False: forgot BatchNorm/LayerNorm's γ and β
    bn_buffers: bool = False  # True: counted the running mean and variance as parameters
    groups: bool = True  # False: ignored groups (every output channel sees every input)
    count_bias: bool = False  # MACs: one more per output value for the bias
    macs_factor: int = 1  # 2: gave FLOPs (a multiply and an add) as MACs
    loss_reduced: bool = True  # False: the loss keeps the batch axis


@dataclass
class Network:
    """The validated layer list and input: what a walk needs."""

    input_shape: Shape
    batched: bool
    layers: list[Layer]
    num_classes: int | None

    def split(self, shape: Shape) -> tuple[Shape, Shape]:
        """(batch, per-example) parts of a full shape."""
        if self.batched and shape:
            return list(shape[:1]), list(shape[1:])
        return [], list(shape)


@dataclass
class Record:
    """One layer after the walk: shapes, sizes (with how blanks were found) and counts."""

    layer: Layer
    z: int  # the output's number: z1, z2, ...
    shape_in: Shape
    shape: Shape = field(default_factory=list)
    size_in: int | None = None
    size_out: int | None = None
    inferred: list[tuple[str, int, str]] = field(default_factory=list)
    size_math: list[M] = field(default_factory=list)
    params: Any = 0
    params_math: M | None = None
    macs: Any = 0
    macs_math: M | None = None
    per_example: Any = 0  # activation elements per example (0 for a reduced loss)


Answerer = Callable[[str, Any], Any]


def _keep(key: str, value: Any) -> Any:
    return value


def walk(
    net: Network,
    c: Counting = Counting(),
    *,
    answer: Answerer = _keep,
    shape_key: Callable[[Record], str] | None = None,
    after: Callable[[Record], None] | None = None,
    strict: bool = False,
) -> list[Record]:
    """Every layer in order: its output shape, blank sizes, parameters and MACs.

    ``answer(key, value)`` records inferred sizes and shapes and returns the value to carry
    on with (a student's under error carried forward); ``after(record)`` sees each layer
    once it is complete. ``strict`` raises a FieldError naming the layer where the list does
    not chain (that is how a problem file is validated); a solve never raises, whatever a
    student's earlier answers were.
    """

    def record(key: str, value: Any) -> Any:
        return carried(answer(key, value), value)

    batch, x = net.split(net.input_shape)
    out: list[Record] = []
    for layer in net.layers:
        rec = Record(layer, len(out) + 1, [*batch, *x])
        if strict:
            _check_input(layer, x, net, out)
        batch, x = _forward(layer, rec, batch, x, net, c, record, strict)
        full = [*batch, *x]
        if shape_key is not None:
            full = record(shape_key(rec), full)
            batch, x = net.split(full) if layer.family != "loss" else ([], list(full))
        rec.shape = list(full)
        rec.per_example = 0 if layer.family == "loss" else prod(x)
        _count(rec, x, prod(rec.shape_in[:1]) if net.batched else 1, c)
        out.append(rec)
        if after is not None:
            after(rec)
    if strict:
        _check_classes(net, out)
    return out


def _check_input(layer: Layer, x: Shape, net: Network, before: list[Record]) -> None:
    """The checks that make a strict walk report where a layer list does not chain."""
    fam, rank = layer.family, len(x)
    if before and before[-1].layer.family == "loss":
        raise layer.error(
            f"comes after the loss {before[-1].layer.name}: CrossEntropyLoss must be the last layer"
        )
    need = {"linear": (1,), "conv": (3,), "pool": (3,), "adaptive": (3,), "loss": (1,)}.get(fam)
    if layer.type == "BatchNorm1d":
        need = (1, 2)
    if layer.type == "BatchNorm2d":
        need = (3,)
    if need is None or rank in need:
        return
    got = f"{f'z{len(before)}' if before else 'the input x'} of shape {shape_display(x).text()}"
    if fam in ("linear", "loss") or layer.type == "BatchNorm1d":
        raise layer.error(
            f"gets {got} per example, but it needs a flat vector of features: add "
            "a Flatten layer before it",
            "type",
        )
    raise layer.error(f"gets {got} per example, but it needs [channels, height, width]", "type")


def _forward(
    layer: Layer,
    rec: Record,
    batch: Shape,
    x: Shape,
    net: Network,
    c: Counting,
    answer: Answerer,
    strict: bool,
) -> tuple[Shape, Shape]:
    """The output (batch, per-example) shape of one layer; fills ``rec``'s sizes."""
    fam = layer.family
    if fam in ("linear", "conv"):
        have = x[0] if fam == "conv" else x[-1]
        rec.size_in = _size_in(layer, rec, have, net, answer, strict)
        rec.size_out = _size_out(layer, rec, net, answer)
        if fam == "linear":
            return batch, [*x[:-1], rec.size_out]
        if strict:
            _check_conv(layer, rec.size_in, rec.size_out)
        return batch, [rec.size_out, *_window(layer, rec, x[1:], c.rule, strict)]
    if fam == "pool":
        if strict:
            _check_pool_padding(layer)
        return batch, [x[0], *_window(layer, rec, x[1:], c.rule, strict)]
    if fam == "adaptive":
        return batch, [x[0], *(layer.spec.output_size or (1, 1))]
    if fam == "norm" and strict:
        have = x[-1] if layer.type == "LayerNorm" else x[0]
        if layer.spec.features is not None and layer.spec.features != have:
            raise layer.error(
                f"has features = {layer.spec.features} but its input has {have}", "features"
            )
    if fam == "flatten":
        return batch, [prod(x)]
    if fam == "loss":
        reduced = layer.spec.reduction != "none" and c.loss_reduced
        return ([], []) if reduced else (batch, [])
    return batch, list(x)


def _size_in(
    layer: Layer, rec: Record, have: int, net: Network, answer: Answerer, strict: bool
) -> int:
    unit = "channels" if layer.family == "conv" else "features"
    before = (
        f"{net.layers[layer.index - 1].name}'s output z{rec.z - 1}"
        if layer.index
        else "the input x"
    )
    if layer.spec.in_ is None:
        rec.inferred.append(("in", have, f"{before} has {have} {unit}"))
        return answer(f"{layer.name}.in", have)
    if strict and layer.spec.in_ != have:
        raise layer.error(f"takes in = {layer.spec.in_} {unit}, but {before} has {have}", "in")
    return layer.spec.in_


def _size_out(layer: Layer, rec: Record, net: Network, answer: Answerer) -> int:
    if layer.spec.out is not None:
        return layer.spec.out
    value, why = fixed_size(layer, net)
    rec.inferred.append(("out", value, why))
    return answer(f"{layer.name}.out", value)


def fixed_size(layer: Layer, net: Network) -> tuple[int, str]:
    """What fixes a blank ``out``: the next layer that states its size, or num_classes.

    Layers that keep the size (activations, dropout, norms, pooling of channels) are
    looked through. A blank that nothing fixes is a FieldError naming the layer.
    """
    unit = "channels" if layer.family == "conv" else "features"
    kept: list[str] = []
    for later in net.layers[layer.index + 1 :]:
        fam = later.family
        if fam in ("linear", "conv"):
            if fam != layer.family:
                break
            if later.spec.in_ is not None:
                return later.spec.in_, _through(f"{later.name} takes in = {later.spec.in_}", kept)
            raise layer.error(
                f"has a blank out and {later.name}'s in is blank too: give one of them", "out"
            )
        if fam == "norm" and later.spec.features is not None:
            return later.spec.features, _through(
                f"{later.name} normalizes {later.spec.features} {unit}", kept
            )
        if fam in ("flatten", "adaptive", "loss") or (fam == "pool" and layer.family != "conv"):
            break
        kept.append(later.name)
    rest = net.layers[layer.index + 1 :]
    last_linear = layer.family == "linear" and all(
        later.family in ("same", "norm", "loss") for later in rest
    )
    if last_linear and net.num_classes is not None:
        return net.num_classes, _through(
            f"the last Linear gives one logit per class: num_classes = {net.num_classes}", kept
        )
    hint = ", or num_classes" if last_linear else ""
    raise layer.error(
        "has a blank out and nothing after it fixes it: give out, or the in "
        f"of the next {layer.type}{hint}",
        "out",
    )


def _through(reason: str, kept: list[str]) -> str:
    if not kept:
        return reason
    return f"{reason}; {', '.join(kept)} keep{'s' if len(kept) == 1 else ''} the size"


def _check_conv(layer: Layer, c_in: int, c_out: int) -> None:
    g = layer.groups
    if c_in % g or c_out % g:
        raise layer.error(
            f"has groups = {g}, which must divide both in = {c_in} and out = {c_out}", "groups"
        )
    if layer.spec.padding == "same" and layer.stride != (1, 1):
        raise layer.error(
            "has padding 'same' with a stride above 1, which PyTorch refuses", "padding"
        )


def _check_pool_padding(layer: Layer) -> None:
    if layer.spec.padding == "same":
        raise layer.error(
            "cannot pad 'same': PyTorch's pooling takes a number of zeros per side", "padding"
        )
    for k, p in zip(layer.kernel, layer.padding(), strict=True):
        if p > k // 2:
            raise layer.error(
                f"pads {p} on a side with a kernel of {k}: PyTorch allows at most "
                "half the kernel size",
                "padding",
            )


def _window(layer: Layer, rec: Record, hw: Shape, rule: SizeRule, strict: bool) -> Shape:
    """Output height and width of a convolution or pooling, with the worked formula."""
    out, worked = [], []
    ceil = layer.spec.ceil_mode
    for axis, n, k, s, p, d in zip(
        ("H", "W"), hw, layer.kernel, layer.stride, layer.padding(), layer.dilation, strict=True
    ):
        reach = d * (k - 1) + 1
        if strict and reach > n + 2 * p:
            what = f"{k}" if d == 1 else f"{k} (spanning {reach} with dilation {d})"
            raise layer.error(
                f"has a kernel of {what} along the "
                f"{'height' if axis == 'H' else 'width'}, larger than its padded "
                f"input {n} + 2·{p} = {n + 2 * p}",
                "kernel",
            )
        if layer.spec.padding == "same" and rule == PYTORCH:
            size, parts = n, [Sym(axis)]
        else:
            size = rule.size(n, k, s, p, d, ceil_mode=ceil)
            parts = rule.worked(n, k, s, p, d, ceil_mode=ceil)
            if (
                ceil
                and size < rule.size(n, k, s, p, d, ceil_mode=False) + 1
                and rule.span(n, k, p, d) % s
            ):
                parts.append(
                    Raw(
                        r"\ldots - 1",
                        "… − 1 (PyTorch drops a last window that would start in the padding)",
                    )
                )
        out.append(size)
        worked.append((Sym(axis, "out"), [*parts, size]))
    if len(worked) == 2 and [m(x).latex() for x in worked[0][1]] == [
        m(x).latex() for x in worked[1][1]
    ]:
        rec.size_math = [eq(worked[0][0], worked[1][0], *worked[0][1])]
    else:
        rec.size_math = [eq(label, *parts) for label, parts in worked]
    return out


def _check_classes(net: Network, records: list[Record]) -> None:
    """The logits must have num_classes entries (where the problem gives num_classes)."""
    if net.num_classes is None:
        return
    logits = logits_record(records)
    if logits is None:
        return
    features = net.split(logits.shape)[1]
    have = features[-1] if features else None
    if have != net.num_classes:
        layer = logits.layer
        fieldname = "out" if layer.family == "linear" and layer.spec.out is not None else None
        raise layer.error(f"gives {have} logits but num_classes is {net.num_classes}", fieldname)


def logits_record(records: list[Record]) -> Record | None:
    """The layer whose output holds the logits: what enters the loss or a Softmax, else the
    last Linear's output."""
    for i, rec in enumerate(records):
        if rec.layer.family == "loss" or rec.layer.type == "Softmax":
            return records[i - 1] if i else None
    linears = [r for r in records if r.layer.family == "linear"]
    return linears[-1] if linears else None


def _count(rec: Record, x: Shape, batch: Any, c: Counting) -> None:
    """Parameters and MACs of one layer (MACs from its output shape ``x``)."""
    layer, spec = rec.layer, rec.layer.spec
    fam = layer.family
    if fam in ("linear", "conv"):
        if fam == "linear":
            taps: list[Any] = [rec.size_in]  # multiplies per output value
            outputs: list[Any] = [*x[:-1], rec.size_out]
        else:
            per_group = rec.size_in // layer.groups if c.groups else rec.size_in
            taps, outputs = [*layer.kernel, per_group], list(x)
        bias = spec.bias and c.bias_params
        weights = (
            Mul(*taps[:-1], taps[-1], rec.size_out)
            if fam == "conv"
            else Mul(rec.size_in, rec.size_out)
        )
        rec.params = prod(taps) * rec.size_out + (rec.size_out if bias else 0)
        rec.params_math = Add(weights, rec.size_out) if bias else weights
        batch_factor = [_factor(batch)] if batch != 1 else []
        rec.macs = (
            c.macs_factor
            * (prod(taps) + (1 if c.count_bias and spec.bias else 0))
            * batch
            * prod(outputs)
        )
        rec.macs_math = Mul(*batch_factor, *taps, *outputs)
        if c.count_bias and spec.bias:
            rec.macs_math = Add(rec.macs_math, Mul(*batch_factor, *outputs))
        if c.macs_factor != 1:
            rec.macs_math = Mul(c.macs_factor, rec.macs_math)
    elif fam == "norm":
        features = x[-1] if layer.type == "LayerNorm" else x[0]
        learnable = 2 if spec.affine and c.norm_params else 0
        buffers = 2 if c.bn_buffers and layer.type != "LayerNorm" else 0
        rec.params = (learnable + buffers) * features
        rec.params_math = Mul(learnable + buffers, features) if rec.params else None


def _factor(x: Any) -> Any:
    """A factor of a product as maths: the batch symbol n as a symbol, numbers as numbers."""
    return Sym(x.name) if isinstance(x, sympy.Symbol) else x


def _net(g: NetworkGiven, allowed: Sequence[str], kind_name: str) -> Network:
    shape = list(g.input_shape)
    layers = build_layers(g.layers, allowed, kind_name)
    return Network(shape, len(shape) == g.batched_rank, layers, g.num_classes)


# =========================================================================== the Givens


class NetworkGiven(GivenModel):
    """What ``mlp`` and ``conv`` share: an input shape, a layer list and how to count."""

    batched_rank: ClassVar[int]
    ranks: ClassVar[tuple[int, ...]]
    allowed: ClassVar[tuple[str, ...]]
    kind_name: ClassVar[str]

    input_shape: Annotated[list[Dim], TypeDoc("shape", "list of sizes")]
    """the input's shape (batch first when there is one; the batch may be a symbol such as n)"""
    layers: Annotated[list[LayerSpec], TypeDoc("layers", "list of {type, name, ...}")]
    """the layers in order, each {type, name, ...} with PyTorch's arguments: Linear (in, out, \
bias), BatchNorm1d/LayerNorm (features, affine), ReLU, Tanh, Sigmoid, GELU, Dropout (p), \
Softmax, Flatten, CrossEntropyLoss (reduction); for conv also Conv2d (in, out, kernel, stride, \
padding, dilation, groups, bias), MaxPool2d/AvgPool2d (kernel, stride, padding, dilation, \
ceil_mode), AdaptiveAvgPool2d (output_size), BatchNorm2d. A blank (null) in or out is inferred"""
    num_classes: Count | None = None
    """the number of classes: fixes the last Linear's out and checks the logits"""
    dtype_bytes: Count = 4
    """bytes per number (4 for float32)"""
    batch_symbol: str | None = None
    """a symbol such as n for the batch size in the memory answers (default: the input's batch)"""
    count_bias: bool = False
    """MACs: also count one addition per output value for the bias (as torchinfo and ptflops)"""

    @model_validator(mode="after")
    def _chain(self) -> NetworkGiven:
        shape = self.input_shape
        if len(shape) not in self.ranks:
            raise FieldError(
                f"{self.kind_name} takes an input of {self.layout()}, got {len(shape)} dimensions",
                "input_shape",
            )
        for i, d in enumerate(shape):
            symbolic = not isinstance(d, int)
            if symbolic and not (i == 0 and len(shape) == self.batched_rank):
                raise FieldError(
                    "only the batch size (the first entry) may be a symbol", "input_shape", (i,)
                )
            if not symbolic and d < 1:
                raise FieldError(f"sizes must be at least 1, got {d}", "input_shape", (i,))
        if not self.layers:
            raise FieldError("needs at least one layer", "layers")
        if self.batch_symbol is not None and not self.batch_symbol.isidentifier():
            raise FieldError("must be a name such as n", "batch_symbol")
        walk(_net(self, self.allowed, self.kind_name), strict=True)
        return self

    @classmethod
    def layout(cls) -> str:
        return " or ".join(f"{r} dimensions" for r in cls.ranks)


class MLPGiven(NetworkGiven):
    batched_rank: ClassVar[int] = 2
    ranks: ClassVar[tuple[int, ...]] = (1, 2)
    allowed: ClassVar[tuple[str, ...]] = MLP_TYPES
    kind_name: ClassVar[str] = "mlp"

    @classmethod
    def layout(cls) -> str:
        return "[batch, features] or [features]"


class ConvGiven(NetworkGiven):
    batched_rank: ClassVar[int] = 4
    ranks: ClassVar[tuple[int, ...]] = (3, 4)
    allowed: ClassVar[tuple[str, ...]] = CONV_TYPES
    kind_name: ClassVar[str] = "conv"

    @classmethod
    def layout(cls) -> str:
        return "[channels, height, width] or [batch, channels, height, width]"


# =========================================================================== shared steps

WEIGHTED = ("linear", "conv", "norm")  # the families that have parameters


class NetworkKind(Kind):
    """What the two network kinds share: the walk under a Solution, the table, the totals."""

    Given: ClassVar[type[NetworkGiven]]

    def network(self, g: NetworkGiven) -> Network:
        return _net(g, g.allowed, g.kind_name)

    def show_givens(self, g: GivenModel) -> list[tuple[M, M]]:
        """The input shape and the settings; the layers are in the table."""
        assert isinstance(g, NetworkGiven)
        out: list[tuple[M, M]] = [(Text("input shape"), shape_display(g.input_shape))]
        if g.num_classes is not None:
            out.append((Text("num_classes"), m(g.num_classes)))
        out.append((Text("bytes per number"), m(g.dtype_bytes)))
        if g.batch_symbol is not None:
            out.append((Text("batch size in the memory answers"), Sym(g.batch_symbol)))
        if g.count_bias:
            out.append((Text("count_bias"), Text("true")))
        return out

    def counting(
        self,
        g: NetworkGiven,
        *,
        size_rule: str = "pytorch",
        bias_params: bool = True,
        norm_params: bool = True,
        bn_buffers: bool = False,
        groups: bool = True,
        flip_bias_macs: bool = False,
        macs_factor: int = 1,
        loss_reduced: bool = True,
    ) -> Counting:
        """The solve options (misconceptions) as a Counting."""
        return Counting(
            SIZE_RULES[size_rule],
            bias_params,
            norm_params,
            bn_buffers,
            groups,
            g.count_bias != flip_bias_macs,
            macs_factor,
            loss_reduced,
        )

    def blanks_step(self, s: Solution, records: list[Record]) -> None:
        lines = [
            _because(f"{r.layer.name}.{what}", value, why)
            for r in records
            for what, value, why in r.inferred
        ]
        if lines:
            s.step(
                "Fill in the blanks. A layer's in is the size of what enters it; a blank out "
                "is fixed by the next layer that states its size or, for the last Linear, "
                "by the number of classes.",
                *lines,
            )

    def counts(self, s: Solution, r: Record, params_key: str, macs_key: str) -> None:
        """Record a weighted layer's parameters and MACs (carrying on with the answers)."""
        name = Text(r.layer.name)
        if r.layer.family in WEIGHTED:
            r.params = carry(s, params_key, r.params, label=Call("params", name))
        if r.layer.family in ("linear", "conv"):
            r.macs = carry(s, macs_key, r.macs, label=Call("MACs", name))

    def table(
        self,
        s: Solution,
        net: Network,
        records: list[Record],
        *,
        z_column: bool,
        totals: tuple[Any, Any],
    ) -> None:
        """The torchinfo-style summary: layer, output shape, parameters, MACs."""
        head = ["Layer (type)", "Output shape", "Params", "MACs"]
        first: list[Any] = ["input", net.input_shape, None, None]
        rows = [
            [
                r.layer.describe(r.size_in, r.size_out),
                r.shape,
                r.params if r.layer.family in WEIGHTED else BLANK,
                r.macs if r.layer.family in ("linear", "conv") else BLANK,
            ]
            for r in records
        ]
        footer: list[Any] = ["Total", None, *totals]
        if z_column:
            head, first, footer = ["Output", *head], ["x", *first], ["", *footer]
            rows = [[f"z{r.z}", *row] for r, row in zip(records, rows, strict=True)]
        s.table(head, [first, *rows], title="Layers (in the manner of torchinfo)", footer=[footer])

    def total(self, s: Solution, key: str, values: list[Any], label: M, what: str) -> Any:
        total = exact.total(values)
        s.step(
            f"The total {what} is the sum over the layers.",
            eq(label, Add(*values) if values else 0, total),
        )
        return carry(s, key, total, label=label)

    def macs_convention(self, c: Counting, net: Network, batch: Any) -> str:
        """How MACs are counted here (torchinfo and ptflops disagree on the bias)."""
        convs = any(layer.family == "conv" for layer in net.layers)
        per = (
            "k_h·k_w·(C_in/groups) per output value of a Conv2d and in_features per output "
            "of a Linear"
            if convs
            else "in_features per output value of a Linear"
        )
        bias = (
            "plus 1 per output value for the bias (count_bias: true, as torchinfo and "
            "ptflops count)"
            if c.count_bias
            else "without the bias additions (torchinfo "
            "and ptflops add 1 per output value; count_bias: true counts them)"
        )
        times = f", times the batch of {exact.unicode(batch)}" if batch != 1 else ""
        flops = " Here each is counted twice, as FLOPs." if c.macs_factor != 1 else ""
        return (
            f"MACs are multiply-accumulates of the weights: {per}{times}, {bias}. "
            f"Normalizations, activations and pooling are not counted.{flops}"
        )


def _macs_line(r: Record) -> M:
    return eq(Call("MACs", Text(r.layer.name)), r.macs_math, r.macs)


def _params_line(r: Record) -> M:
    return eq(Call("params", Text(r.layer.name)), r.params_math or 0, r.params)


def _because(label: str, value: Any, why: str) -> M:
    return Raw(
        rf"{exact.latex_text(label)} = {exact.latex(value)} \quad " + exact.latex_text(f"({why})"),
        f"{label} = {exact.unicode(value)}   ({why})",
    )


def _z(i: int) -> tuple[str, str]:
    """z_i in LaTeX and on the terminal (z₀ is the input x)."""
    return (f"z_{{{i}}}", "z" + str(i).translate(exact.SUBSCRIPT)) if i else ("x", "x")


def _layer_line(r: Record) -> M:
    """``z₃ = relu1(z₂): [4, 128] → [4, 128]`` (the loss also takes the labels y)."""
    z, before = _z(r.z), _z(r.z - 1)
    args = (f"{before[0]}, y", f"{before[1]}, y") if r.layer.family == "loss" else before
    a, b = shape_display(r.shape_in), shape_display(r.shape)
    name = r.layer.name
    return Raw(
        rf"{z[0]} = \mathrm{{{exact.escape_text(name)}}}({args[0]}):\ {a.latex()} \to "
        f"{b.latex()}",
        f"{z[1]} = {name}({args[1]}): {a.text()} → {b.text()}",
    )


def _batch(g: NetworkGiven, net: Network) -> Any:
    """The batch size of the memory answers: batch_symbol, else the input's batch, else 1."""
    if g.batch_symbol is not None:
        return exact.symbol(g.batch_symbol)
    return net.input_shape[0] if net.batched else 1


_NETWORK_MISCONCEPTIONS = {
    "forgot the bias in the parameter count (in·out instead of in·out + out)": {
        "bias_params": False
    },
    "counted BatchNorm's running mean and variance as parameters (they are buffers)": {
        "bn_buffers": True
    },
    "forgot the learnable γ and β of the normalization layers": {"norm_params": False},
    "counted the bias additions in the MACs the other way round from the problem's convention "
    "(torchinfo and ptflops count them, the weight-only convention does not)": {
        "flip_bias_macs": True
    },
    "gave FLOPs (a multiply and an add) as MACs": {"macs_factor": 2},
}


# =========================================================================== mlp


@kind("mlp")
class MLP(NetworkKind):
    """A fully connected network: blanks, shapes z1..zK, parameters, activations and memory."""

    Given = MLPGiven
    keys = (
        Key("<name>.in", "integer", "a blank in_features, inferred"),
        Key("<name>.out", "integer", "a blank out_features, inferred"),
        Key("z<k>", "shape", "the shape of the k-th layer's output (z1 … zK, in layer order)"),
        Key(
            "logits",
            "choice",
            "which z holds the logits (the scores softmax turns into probabilities)",
        ),
        Key("to_probabilities", "choice", "what turns the logits into probabilities"),
        Key("params.total", "integer", "the total number of learnable parameters C"),
        Key("params.<name>", "integer", "the learnable parameters of one layer"),
        Key("macs.total", "expression", "multiply-accumulates of one forward pass"),
        Key("macs.<name>", "expression", "multiply-accumulates of one Linear layer"),
        Key(
            "activations.per_example",
            "integer",
            "K: the elements of all layer outputs for one example",
        ),
        Key(
            "activation_elements",
            "expression",
            "the elements of all layer outputs for the batch: n·K",
        ),
        Key("memory.params_bytes", "integer", "bytes of the parameters"),
        Key("memory.activation_bytes", "expression", "bytes of the activations"),
        Key(
            "memory.crossover_batch",
            "integer",
            "the smallest batch size at which the activations take more memory than the parameters",
        ),
        Key("memory.dominant", "choice", "what dominates memory at large batch sizes"),
    )
    example = {
        "input_shape": ["n", 784],
        "num_classes": 10,
        "layers": [
            {"type": "Linear", "in": 784, "out": None},
            {"type": "ReLU"},
            {"type": "Linear", "in": 128, "out": None},
            {"type": "CrossEntropyLoss"},
        ],
    }
    misconceptions = {
        **_NETWORK_MISCONCEPTIONS,
        "took the loss output for the logits (the logits are the scores that enter the loss)": {
            "logits_at": "loss"
        },
        "took the logits for probabilities already (softmax turns them into probabilities)": {
            "logits_as_probabilities": True
        },
        "kept the batch axis in the loss (mean reduction gives one number)": {
            "loss_reduced": False
        },
        "counted the input x among the activations": {"count_input": True},
    }

    nice = (
        "every blank size is still fixed by its neighbours or num_classes",
        "C/K is not a whole number, so the activations overtake the parameters at one batch "
        "size, between 2 and 4096",
    )

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        g = self.Given.model_validate(given)
        return draw_variant(self, given, rng, lambda raw, r: _draw_network(raw, r, g))

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        C, K = s.answers.get("params.total"), s.answers.get("activations.per_example")
        cross = s.answers.get("memory.crossover_batch")
        if C is None or K is None or cross is None:
            return []
        if not K.value or C.value % K.value == 0 or not 2 <= cross.value <= 4096:
            return [self.nice[1]]
        return []

    def solve(
        self,
        g: MLPGiven,
        s: Solution,
        *,
        logits_at: str = "logits",
        logits_as_probabilities: bool = False,
        count_input: bool = False,
        **counting: Any,
    ) -> None:
        net = self.network(g)
        c = self.counting(g, **counting)
        s.step(
            f"The input x has shape {shape_display(net.input_shape).text()}"
            f"{' (batch first)' if net.batched else ''}. A Linear layer changes the last axis "
            "(in → out features); normalizations, activations and dropout keep the shape; "
            "a loss with mean reduction turns the batch into one number."
        )
        records = walk(net, c, answer=s.answer, shape_key=lambda r: f"z{r.z}")
        self.blanks_step(s, records)
        shown = s.record_steps  # a re-solve for the checker needs the answers only
        s.step("The output of each layer, in order.", *[_layer_line(r) for r in records if shown])
        self.logits(s, records, logits_at, logits_as_probabilities)
        for r in records:
            self.counts(s, r, f"params.{r.layer.name}", f"macs.{r.layer.name}")
        weighted = [r for r in records if r.layer.family in WEIGHTED]
        s.step(
            "Parameters per layer: a Linear layer has in·out weights and out biases; a "
            "normalization layer has γ and β per feature (its running mean and variance are "
            "buffers, not parameters); activations, dropout and the loss have none.",
            *[_params_line(r) for r in weighted if shown],
        )
        total = self.total(
            s, "params.total", [r.params for r in weighted], Sym("C"), "number of parameters C"
        )
        linears = [r for r in records if r.layer.family == "linear"]
        s.step(
            self.macs_convention(c, net, net.input_shape[0] if net.batched else 1),
            *[_macs_line(r) for r in linears if shown],
        )
        total_macs = self.total(
            s, "macs.total", [r.macs for r in linears], Text("MACs"), "number of MACs"
        )
        if shown:
            self.table(s, net, records, z_column=True, totals=(total, total_macs))
        self.memory(s, g, net, records, total, count_input)

    def logits(self, s: Solution, records: list[Record], at: str, as_probabilities: bool) -> None:
        """Which z holds the logits, and softmax."""
        rec = logits_record(records)
        loss = next((r for r in records if r.layer.family == "loss"), None)
        if at == "loss" and loss is not None:
            rec = loss
        if rec is None:
            return
        name = carry(s, "logits", f"z{rec.z}", options=[f"z{r.z}" for r in records])
        text = (
            f"The logits are {name}, the output of {rec.layer.name}: one raw score per class "
            "and example, any real number. Softmax turns them into probabilities (positive, "
            "summing to 1 over the classes)."
        )
        if loss is not None:
            text += (
                f" CrossEntropyLoss takes the logits and applies log-softmax itself, so "
                f"{loss.layer.name} is the mean over the batch of −log p_y."
            )
            if any(r.layer.type == "Softmax" for r in records):
                text += (
                    " A Softmax layer before it applies softmax twice, a classic bug: its "
                    "input holds the logits."
                )
        s.step(
            text,
            eq(
                Sym("p", "j"),
                Frac(Call("exp", Sym("z", "j")), Raw(r"\sum_k e^{z_k}", "Σₖ exp(zₖ)")),
            ),
        )
        carry(
            s,
            "to_probabilities",
            "none" if as_probabilities else "softmax",
            options=["softmax", "sigmoid", "argmax", "none"],
        )

    def memory(
        self,
        s: Solution,
        g: MLPGiven,
        net: Network,
        records: list[Record],
        total: Any,
        count_input: bool,
    ) -> None:
        """Activations per example (K) and for the batch, bytes, and the crossover batch."""
        sizes = [r.per_example for r in records if r.per_example]
        if count_input:
            sizes.insert(0, prod(net.split(net.input_shape)[1]))
        K = carry(s, "activations.per_example", exact.total(sizes), label=Sym("K"))
        n = _batch(g, net)
        elements = carry(s, "activation_elements", K * n, label=Text("activations"))
        reduced = any(r.layer.family == "loss" and not r.per_example for r in records)
        s.step(
            "Per example, the activations are the outputs of all layers, which the forward "
            "pass keeps for the backward pass"
            + (" (the reduced loss is one number for the whole batch)" if reduced else "")
            + ("; the input x is counted too." if count_input else "; the input x is not counted.")
            + f" For a batch of {exact.unicode(n)} that is n·K elements.",
            eq(Sym("K"), Add(*sizes) if sizes else 0, K),
            eq(Text("activations"), Mul(_factor(n), K), elements),
        )
        b = g.dtype_bytes
        pbytes = carry(s, "memory.params_bytes", total * b, label=Text("parameter bytes"))
        abytes = carry(s, "memory.activation_bytes", elements * b, label=Text("activation bytes"))
        s.step(
            f"In bytes, at {b} bytes per number: the parameters take a fixed amount, the "
            "activations grow linearly with the batch size.",
            eq(Text("parameters"), Mul(b, total), pbytes),
            eq(Text("activations"), Mul(b, _factor(n), K), abytes),
        )
        if not K or not (exact.is_rational(total) and exact.is_rational(K)):
            return
        ratio = exact.rational(Fraction(total, K))
        cross = carry(s, "memory.crossover_batch", math.floor(ratio) + 1, label=Sym("n", "*"))
        carry(s, "memory.dominant", "activations", options=["activations", "parameters"])
        s.step(
            "The activations take more memory than the parameters once n·K > C, that is "
            "n > C/K. So at large batch sizes the activations dominate: from batch size "
            f"{exact.unicode(cross)} on. (This compares the weights with the activations "
            "kept for the backward pass, as the question does; training also stores a "
            "gradient per weight and the optimizer's state, e.g. two more copies for Adam, "
            "which would move the crossover.)",
            rel(
                Frac(Sym("C"), Sym("K")),
                "=",
                Frac(total, K),
                "=",
                ratio,
                "~",
                Raw(f"{float(ratio):.4g}", f"{float(ratio):.4g}"),
            ),
        )


# =========================================================================== conv


@kind("conv")
class Conv(NetworkKind):
    """A convolutional network: output sizes, parameters and MACs per layer, activation memory."""

    Given = ConvGiven
    keys = (
        Key("<name>.in", "integer", "a blank in_channels or in_features, inferred"),
        Key("<name>.out", "integer", "a blank out_channels or out_features, inferred"),
        Key("<name>.output_shape", "shape", "the layer's output shape"),
        Key("<name>.output_size", "shape", "[H_out, W_out] of a convolution or pooling"),
        Key("<name>.params", "integer", "the layer's learnable parameters"),
        Key("<name>.macs", "expression", "the layer's multiply-accumulates"),
        Key("params.total", "integer", "all learnable parameters"),
        Key("macs.total", "expression", "all multiply-accumulates of one forward pass"),
        Key("activations.input", "expression", "elements of the input"),
        Key("activations.output", "expression", "elements of the final output"),
        Key("memory.change", "expression", "bytes of the final output minus bytes of the input"),
        Key("memory.ratio", "real", "activation memory of the final output over the input's"),
    )
    example = {
        "input_shape": [3, 32, 32],
        "layers": [
            {"type": "Conv2d", "name": "conv1", "in": 3, "out": 16, "kernel": 3, "padding": 1},
            {"type": "ReLU"},
            {"type": "MaxPool2d", "kernel": 2},
            {"type": "Conv2d", "name": "conv2", "out": 32, "kernel": 3, "stride": 2, "padding": 1},
            {"type": "Flatten"},
            {"type": "Linear", "out": 10},
        ],
    }
    misconceptions = {
        **SIZE_MISCONCEPTIONS,
        **_NETWORK_MISCONCEPTIONS,
        "ignored groups (each output channel sees only in/groups input channels)": {
            "groups": False
        },
    }

    nice = (
        "every convolution and pooling window fits evenly: H + 2p − d(k − 1) − 1 is a "
        "multiple of s, so no rounding is needed",
        "every blank size is still fixed by its neighbours or num_classes",
    )

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        g = self.Given.model_validate(given)
        return draw_variant(self, given, rng, lambda raw, r: _draw_network(raw, r, g, _even_input))

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        net = self.network(g)
        hw = net.split(net.input_shape)[1][1:]
        if all(even_sizes(net.layers, n, axis) for axis, n in enumerate(hw)):
            return []
        return [self.nice[0]]

    def solve(self, g: ConvGiven, s: Solution, **counting: Any) -> None:
        net = self.network(g)
        c = self.counting(g, **counting)
        batch = net.input_shape[0] if net.batched else 1
        s.step(
            "A Conv2d or pooling layer slides its window with stride s over the input padded "
            "by p on each side; with dilation d a kernel of k taps spans d(k − 1) + 1 inputs. "
            "Along each axis the output size is PyTorch's formula below (pooling's stride "
            "defaults to its kernel size). " + self.macs_convention(c, net, batch),
            eq(Sym("H", "out"), c.rule.formula("H")),
        )
        records = walk(
            net,
            c,
            answer=s.answer,
            shape_key=lambda r: f"{r.layer.name}.output_shape",
            after=lambda r: self.layer_step(s, r),
        )
        weighted = [r for r in records if r.layer.family in WEIGHTED]
        total = self.total(
            s, "params.total", [r.params for r in weighted], Text("params"), "number of parameters"
        )
        macs = [r.macs for r in records if r.layer.family in ("linear", "conv")]
        total_macs = self.total(s, "macs.total", macs, Text("MACs"), "number of MACs")
        self.table(s, net, records, z_column=False, totals=(total, total_macs))
        self.memory(s, g, net, records)

    def layer_step(self, s: Solution, r: Record) -> None:
        """One layer: blanks, its output size by the formula, its shape, parameters and MACs."""
        layer = r.layer
        name = layer.name
        lines: list[M] = [_because(f"{name}.{what}", value, why) for what, value, why in r.inferred]
        lines += r.size_math
        if r.size_math:
            size = carry(s, f"{name}.output_size", r.shape[-2:], label=Text(f"{name} size"))
            lines.append(eq(Text("output size"), shape_display(size)))
        lines.append(eq(Text("output shape"), shape_display(r.shape)))
        self.counts(s, r, f"{name}.params", f"{name}.macs")
        if layer.family in WEIGHTED and r.params_math is not None:
            lines.append(_params_line(r))
        if layer.family in ("linear", "conv"):
            lines.append(_macs_line(r))
        s.step(_layer_text(r), *lines)

    def memory(self, s: Solution, g: ConvGiven, net: Network, records: list[Record]) -> None:
        """Activation elements and memory of the input and the final output, and the change."""
        last = next((r for r in reversed(records) if r.layer.family != "loss"), None)
        out_shape = last.shape if last is not None else net.input_shape
        a_in = carry(s, "activations.input", prod(net.input_shape), label=Text("input"))
        a_out = carry(s, "activations.output", prod(out_shape), label=Text("output"))
        b = g.dtype_bytes
        change = carry(s, "memory.change", (a_out - a_in) * b, label=Text("change"))
        ratio = carry(s, "memory.ratio", _ratio(a_out, a_in), label=Text("ratio"))
        s.step(
            f"Activation memory, at {b} bytes per number: the input holds "
            f"{shape_display(net.input_shape).text()} numbers and the final output "
            f"{shape_display(out_shape).text()}.",
            eq(Text("input"), Mul(*map(_factor, net.input_shape)), a_in),
            eq(Text("output"), Mul(*map(_factor, out_shape)) if out_shape else 1, a_out),
            eq(Text("change"), Mul(b, sub(a_out, a_in)), change),
            eq(Text("output/input"), Frac(a_out, a_in), ratio),
        )
        verdict = (
            "unchanged"
            if exact.is_zero(exact.to_sympy(change))
            else "smaller"
            if _negative(change)
            else "larger"
        )
        why = f"{exact.unicode(ratio)} times the input's"
        _, x_in = net.split(net.input_shape)
        _, x_out = net.split(out_shape)
        if len(x_out) == 3:
            where = _ratio(x_out[1] * x_out[2], x_in[1] * x_in[2])
            why += (
                f": the positions per channel change by a factor {exact.unicode(where)} and "
                f"the channels by {exact.unicode(_ratio(x_out[0], x_in[0]))}"
            )
        s.step(
            f"So the activation memory of the final output is {verdict} compared with the "
            f"input's: {why}."
        )


def _ratio(a: Any, b: Any) -> Any:
    """a/b exactly (symbols cancel: 10n/3072n = 5/1536); None where b is 0."""
    if exact.is_rational(b) and b == 0:
        return None
    if exact.is_rational(a) and exact.is_rational(b):
        return exact.rational(Fraction(a) / b)
    return exact.from_sympy(sympy.cancel(exact.to_sympy(a) / exact.to_sympy(b)))


def _layer_text(r: Record) -> str:
    """What a layer does, in words, for its step of a worked CNN solution."""
    layer = r.layer
    what = layer.describe(r.size_in, r.size_out)
    fam = layer.family
    if fam in ("conv", "pool"):
        pad = layer.spec.padding if isinstance(layer.spec.padding, str) else _pair(layer.padding())
        dil = "" if layer.type == "AvgPool2d" else f", d = {_pair(layer.dilation)}"
        text = f"{what}: k = {_pair(layer.kernel)}, s = {_pair(layer.stride)}, p = {pad}{dil}."
        if fam == "conv":
            kh, kw = layer.kernel
            text += (
                f" Its weights are C_out × C_in/groups × k_h × k_w = {r.size_out} × "
                f"{r.size_in // layer.groups} × {kh} × {kw}"
                + (f", plus {r.size_out} biases." if layer.spec.bias else "; it has no bias.")
            )
        return text
    return {
        "flatten": f"{what} joins all axes of each example into one.",
        "linear": f"{what}: in·out weights" + (" and out biases." if layer.spec.bias else "."),
        "adaptive": f"{what} averages each channel down to the size it is given.",
        "loss": f"{what} turns the logits and labels into the loss.",
    }.get(fam, f"{what} keeps the shape.")


def _negative(x: Any) -> bool:
    try:
        return exact.sign(x) < 0
    except ValueError:
        return (
            exact.sign(exact.to_sympy(x).subs({sym: 1 for sym in exact.to_sympy(x).free_symbols}))
            < 0
        )


# =========================================================================== variants
#
# New numbers, same structure: a blank stays blank and is still determined, every window
# divides evenly, a kernel keeps its symbols. Each generator retries until its kind's
# promises hold and the variant differs from the source.

HIDDEN = (8, 16, 20, 32, 40, 50, 64, 100, 128, 200, 256, 300, 512)
CLASSES = (2, 3, 5, 10, 20, 100, 1000)


def _layer_key(layer: Mapping[str, Any], key: str) -> bool:
    """Whether a raw layer gives ``key`` a value (a blank is None or absent)."""
    return layer.get(key) is not None


def _draw_network(
    raw: dict[str, Any],
    rng: random.Random,
    g: NetworkGiven,
    spatial: Callable[[list[Layer], random.Random], list[int] | None] | None = None,
) -> dict[str, Any]:
    """New channels, features, classes and (for a CNN) input size; blanks stay blank.

    Every layer gets a true output size; a size the source gave (an out, an in, a norm's
    features) is given that value, and a blank stays blank, so it is still determined.
    """
    layers = build_layers(g.layers, g.allowed, g.kind_name)
    shape = list(raw["input_shape"])
    if len(shape) == g.batched_rank and isinstance(shape[0], int):
        shape[0] = rng.choice((2, 4, 8, 16, 32, 64))
    G = math.lcm(*(layer.groups for layer in layers))
    if spatial is not None:
        hw = spatial(layers, rng)
        if hw is None:
            return raw
        shape[-3:] = [
            rng.choice((1, 3, 16, 32, 64, 128)) if G == 1 else G * rng.choice((1, 2, 4, 8)),
            *hw,
        ]
    else:
        shape[-1] = rng.choice((16, 20, 32, 52, 64, 100, 128, 784))
    classes = rng.choice(CLASSES) if raw.get("num_classes") is not None else None
    last = max((layer.index for layer in layers if layer.family == "linear"), default=-1)
    outs = [
        G * rng.choice((4, 8, 16, 32, 64, 128))
        if layer.family == "conv"
        else classes
        if layer.index == last and classes is not None
        else rng.choice(HIDDEN)
        for layer in layers
    ]
    full = {
        **raw,
        "input_shape": shape,
        "num_classes": classes,
        "layers": [
            {
                **{k: v for k, v in spec.items() if k not in ("in", "features")},
                **({"out": out} if layer.family in ("linear", "conv") else {}),
            }
            for layer, spec, out in zip(layers, raw["layers"], outs, strict=True)
        ],
    }
    try:
        checked = type(g).model_validate(full)
    except (ValueError, FieldError):
        return raw
    records = walk(_net(checked, checked.allowed, checked.kind_name))
    for rec, spec, out in zip(records, raw["layers"], outs, strict=True):
        if _layer_key(spec, "out"):
            spec["out"] = out
        if _layer_key(spec, "in"):
            spec["in"] = rec.size_in
        if _layer_key(spec, "features"):
            x = checked.batched_rank == len(rec.shape)
            spec["features"] = (
                rec.shape[-1] if rec.layer.type == "LayerNorm" else rec.shape[1 if x else 0]
            )
    raw["input_shape"] = shape
    if classes is not None:
        raw["num_classes"] = classes
    return raw


def even_sizes(layers: Sequence[Layer], n: int, axis: int) -> bool:
    """Whether every convolution and pooling window fits evenly (no rounding) along one
    axis, starting from size ``n``."""
    for layer in layers:
        if layer.family == "adaptive":
            n = (layer.spec.output_size or (1, 1))[axis]
        if layer.family not in ("conv", "pool"):
            continue
        k, s, p, d = (
            layer.kernel[axis],
            layer.stride[axis],
            layer.padding()[axis],
            layer.dilation[axis],
        )
        span = PYTORCH.span(n, k, p, d)
        if span < 0 or span % s or (layer.family == "pool" and p > k // 2):
            return False
        n = PYTORCH.size(n, k, s, p, d)
    return True


def _even_input(layers: list[Layer], rng: random.Random) -> list[int] | None:
    """An input height and width from 8 to 128 whose windows all divide evenly (square
    wherever both axes allow the same size)."""
    good = [{n for n in range(8, 129) if even_sizes(layers, n, axis)} for axis in (0, 1)]
    both = sorted(good[0] & good[1])
    if both:
        return [rng.choice(both)] * 2
    if not good[0] or not good[1]:
        return None
    return [rng.choice(sorted(good[0])), rng.choice(sorted(good[1]))]
