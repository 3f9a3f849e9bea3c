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
from typing import Annotated, Any, ClassVar, Literal

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
    says,
    sub,
)
from ..errors import FieldError
from ..given import (
    Count,
    Dim,
    GivenModel,
    Index,
    Pair,
    Probability,
    TypeDoc,
    pair_validator,
)
from ..solution import Key, Solution, shape_display
from . import Kind, kind
from .common import carried, carry, draw_variant, prod
from .layers import RULES, SEQUENCE_TYPES, Counted

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
#: the solve option ``size_rule``: PyTorch's output-size rule, or a known mistake's
SizeRuleName = Literal[
    "pytorch",
    "no_plus_one",
    "stride_plus_one",
    "no_plus_one_stride_plus_one",
    "no_dilation",
    "one_side_padding",
    "round_up",
]
#: solve option ``size_rule`` -> the rule; the names of the misconceptions say what each is
SIZE_RULES: dict[SizeRuleName, SizeRule] = {
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
    "Conv1d": "conv",
    "ConvTranspose2d": "conv",
    "ConvTranspose1d": "conv",
    "MaxPool2d": "pool",
    "AvgPool2d": "pool",
    "MaxPool1d": "pool",
    "AvgPool1d": "pool",
    "AdaptiveAvgPool2d": "adaptive",
    "AdaptiveMaxPool2d": "adaptive",
    "AdaptiveAvgPool1d": "adaptive",
    "AdaptiveMaxPool1d": "adaptive",
    "BatchNorm1d": "norm",
    "BatchNorm2d": "norm",
    "LayerNorm": "norm",
    "Dropout": "same",
    "Softmax": "same",
    "Flatten": "flatten",
    "CrossEntropyLoss": "loss",
    **{a: "same" for a in ACTIVATIONS},
    # the sequence layers, whose rules are in .layers
    "Embedding": "embedding",
    **{t: "sequence" for t in SEQUENCE_TYPES if t != "Embedding"},
}
#: the layers whose window slides along one axis ([channels, length]); the rest of the
#: convolutions and poolings slide along two
ONE_AXIS = frozenset(
    {
        "Conv1d",
        "ConvTranspose1d",
        "MaxPool1d",
        "AvgPool1d",
        "AdaptiveAvgPool1d",
        "AdaptiveMaxPool1d",
    }
)
_NORM_FIELDS = frozenset({"features", "affine"})
_CONV_FIELDS = frozenset({"in", "out", "kernel", "stride", "padding", "dilation", "groups", "bias"})
_RNN_FIELDS = frozenset(
    {
        "in",
        "hidden",
        "num_layers",
        "bias",
        "bidirectional",
        "batch_first",
        "nonlinearity",
        "dropout",
    }
)
_TRANSFORMER_FIELDS = frozenset(
    {"d_model", "nhead", "dim_feedforward", "bias", "batch_first", "dropout", "activation"}
    | {"norm_first"}
)
#: the fields a layer type takes besides type and name
FIELDS: dict[str, frozenset[str]] = {
    "Linear": frozenset({"in", "out", "bias"}),
    "Conv2d": _CONV_FIELDS,
    "Conv1d": _CONV_FIELDS,
    "ConvTranspose2d": _CONV_FIELDS | {"output_padding"},
    "ConvTranspose1d": _CONV_FIELDS | {"output_padding"},
    "Embedding": frozenset({"num", "dim", "padding_idx"}),
    "RNN": _RNN_FIELDS,
    "LSTM": _RNN_FIELDS - {"nonlinearity"} | {"proj_size"},
    "GRU": _RNN_FIELDS - {"nonlinearity"},
    "MultiheadAttention": frozenset(
        {"embed_dim", "num_heads", "bias", "batch_first", "dropout", "kdim", "vdim"}
        | {"memory_length"}
    ),
    "TransformerEncoderLayer": _TRANSFORMER_FIELDS,
    "TransformerDecoderLayer": _TRANSFORMER_FIELDS | {"memory_length"},
    "MaxPool2d": frozenset({"kernel", "stride", "padding", "dilation", "ceil_mode"}),
    "AvgPool2d": frozenset({"kernel", "stride", "padding", "ceil_mode"}),
    "MaxPool1d": frozenset({"kernel", "stride", "padding", "dilation", "ceil_mode"}),
    "AvgPool1d": frozenset({"kernel", "stride", "padding", "ceil_mode"}),
    "AdaptiveAvgPool2d": frozenset({"output_size"}),
    "AdaptiveMaxPool2d": frozenset({"output_size"}),
    "AdaptiveAvgPool1d": frozenset({"output_size"}),
    "AdaptiveMaxPool1d": frozenset({"output_size"}),
    "BatchNorm1d": _NORM_FIELDS,
    "BatchNorm2d": _NORM_FIELDS,
    "LayerNorm": _NORM_FIELDS,
    "Dropout": frozenset({"p"}),
    "CrossEntropyLoss": frozenset({"reduction"}),
}
SHORT = {
    "Linear": "linear",
    "Conv2d": "conv",
    "Conv1d": "conv",
    "ConvTranspose2d": "convt",
    "ConvTranspose1d": "convt",
    "MultiheadAttention": "attn",
    "TransformerEncoderLayer": "encoder",
    "TransformerDecoderLayer": "decoder",
    "MaxPool2d": "pool",
    "AvgPool2d": "pool",
    "MaxPool1d": "pool",
    "AvgPool1d": "pool",
    "AdaptiveAvgPool2d": "pool",
    "AdaptiveMaxPool2d": "pool",
    "AdaptiveAvgPool1d": "pool",
    "AdaptiveMaxPool1d": "pool",
    "BatchNorm1d": "bn",
    "BatchNorm2d": "bn",
    "LayerNorm": "ln",
    "CrossEntropyLoss": "loss",
}
MLP_TYPES = (
    "Linear",
    *SEQUENCE_TYPES,
    "BatchNorm1d",
    "LayerNorm",
    *ACTIVATIONS,
    "Dropout",
    "Softmax",
    "Flatten",
    "CrossEntropyLoss",
)
CONV_TYPES = tuple(t for t in FAMILY if t not in SEQUENCE_TYPES)
#: PyTorch's argument names -> the short field names (both are accepted)
ALIASES = {
    "in_features": "in",
    "out_features": "out",
    "in_channels": "in",
    "out_channels": "out",
    "kernel_size": "kernel",
    "input_size": "in",
    "hidden_size": "hidden",
    "num_embeddings": "num",
    "embedding_dim": "dim",
    "num_features": "features",
    "normalized_shape": "features",
    "elementwise_affine": "affine",
}
RESERVED = ("total", "input", "x", "in", "out")
#: the fields a layer type cannot do without
REQUIRED = {
    "Embedding": ("num", "dim"),
    "RNN": ("hidden",),
    "LSTM": ("hidden",),
    "GRU": ("hidden",),
    "MultiheadAttention": ("num_heads",),
    "TransformerEncoderLayer": ("nhead",),
    "TransformerDecoderLayer": ("nhead",),
}


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
    """the PyTorch class: Linear, Conv2d, MaxPool2d, AvgPool2d, BatchNorm1d, ReLU, LSTM, ..."""
    name: str | None = None
    """the layer's name in answer keys (default: linear1, conv2, bn1, relu3, ...)"""
    in_: Count | None = Field(None, alias="in")
    """in_features (Linear), in_channels (Conv) or input_size (RNN, LSTM, GRU); blank: what \
the previous layer gives"""
    out: Count | None = None
    """out_features or out_channels; blank: fixed by the next layer or num_classes"""
    kernel: Pair | None = None
    """kernel_size, one number or [height, width]"""
    output_padding: Padding | None = None
    """ConvTranspose2d/1d: extra rows and columns on one side of the output (default 0)"""
    hidden: Count | None = None
    """hidden_size of an RNN, LSTM or GRU"""
    num_layers: Count | None = None
    """RNN, LSTM, GRU: stacked layers (default 1); layer 2 reads hidden_size × directions"""
    proj_size: Index | None = None
    """LSTM: project the hidden state down to proj_size numbers (W_hr [proj, hidden]); 0 or \
blank: no projection. Smaller than hidden_size"""
    bidirectional: bool = False
    """RNN, LSTM, GRU: a second direction with its own weights (doubles the output features)"""
    batch_first: bool = False
    """sequence layers: the input is [batch, time, features] (PyTorch's default: time first)"""
    nonlinearity: str | None = None
    """RNN: tanh or relu (no effect on the counts)"""
    dropout: Probability | None = None
    """the dropout probability inside an RNN or transformer layer (no parameters)"""
    num: Count | None = None
    """Embedding: num_embeddings, the vocabulary size"""
    dim: Count | None = None
    """Embedding: embedding_dim"""
    padding_idx: int | None = None
    """Embedding: the id whose row stays zero (still a parameter)"""
    embed_dim: Count | None = None
    """MultiheadAttention: E, the size of each position's vector; blank: the input's"""
    num_heads: Count | None = None
    """MultiheadAttention: h, which must divide embed_dim"""
    kdim: Count | None = None
    """MultiheadAttention: the keys' features (default: embed_dim)"""
    vdim: Count | None = None
    """MultiheadAttention: the values' features (default: embed_dim)"""
    d_model: Count | None = None
    """Transformer layers: the model width; blank: the input's"""
    nhead: Count | None = None
    """Transformer layers: attention heads, which must divide d_model"""
    dim_feedforward: Count | None = None
    """Transformer layers: the feed-forward block's width (default 2048)"""
    activation: str | None = None
    """Transformer layers: relu or gelu (no parameters)"""
    norm_first: bool = False
    """Transformer layers: LayerNorm before each sublayer (same counts)"""
    memory_length: Count | None = None
    """TransformerDecoderLayer: S, the length of the encoder's memory; MultiheadAttention: of \
the keys and values (default: T, self-attention); for MACs"""
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
    """an adaptive pooling's output [height, width] (one number: a length for the 1-D ones);
default 1, global pooling"""
    features: Count | None = None
    """BatchNorm/LayerNorm size, checked against the input (optional)"""
    affine: bool = True
    """BatchNorm/LayerNorm: learnable γ and β"""
    p: Probability | None = None
    """Dropout's drop probability"""
    reduction: str = "mean"
    """CrossEntropyLoss: mean (a scalar), sum (a scalar) or none (one loss per example)"""

    @model_validator(mode="before")
    @classmethod
    def _pytorch_names(cls, data: Any) -> Any:
        """PyTorch's argument names (in_channels, hidden_size, ...) as the short ones."""
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        for long, short in ALIASES.items():
            if long not in out:
                continue
            if short in out:
                raise FieldError(f"give {short} or {long}, not both", long)
            out[short] = out.pop(long)
        return out


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
    def spatial(self) -> int:
        """How many axes the window slides along: 1 for Conv1d and the 1-D poolings, else 2."""
        return 1 if self.type in ONE_AXIS else 2

    @property
    def transposed(self) -> bool:
        return self.type.startswith("ConvTranspose")

    @property
    def kernel(self) -> tuple[int, ...]:
        return (self.spec.kernel or (1, 1))[: self.spatial]

    @property
    def stride(self) -> tuple[int, ...]:
        if self.spec.stride is not None:
            return self.spec.stride[: self.spatial]
        return self.kernel if self.family == "pool" else (1,) * self.spatial

    @property
    def dilation(self) -> tuple[int, ...]:
        return (self.spec.dilation or (1, 1))[: self.spatial]

    @property
    def output_padding(self) -> tuple[int, ...]:
        return (self.spec.output_padding or (0, 0))[: self.spatial]

    @property
    def output_size(self) -> tuple[int, ...]:
        """An adaptive pooling's output size per axis (default 1: global pooling)."""
        return (self.spec.output_size or (1, 1))[: self.spatial]

    @property
    def groups(self) -> int:
        return self.spec.groups or 1

    def padding(self) -> tuple[int, ...]:
        """Padding per side ('same' pads d(k − 1)/2 on average: the output keeps the size)."""
        p = self.spec.padding
        if p is None or p == "valid":
            return (0,) * self.spatial
        if p == "same":
            return tuple(d * (k - 1) // 2 for k, d in zip(self.kernel, self.dilation, strict=True))
        return p[: self.spatial]

    def describe(self, size_in: Any = None, size_out: Any = None) -> str:
        """``Conv2d 128→256, 3×3, stride 2, pad 1`` for the per-layer table."""
        parts = [self.type]
        if self.family in ("linear", "conv"):
            parts[0] += f" {size_in}→{size_out}"
        if self.family in ("conv", "pool"):
            parts.append(_pair(self.kernel, "×"))
            if set(self.stride) != {1}:
                parts.append(f"stride {_pair(self.stride)}")
            if self.spec.padding not in (None, (0, 0)):
                pad = self.spec.padding
                parts.append(f"pad {pad if isinstance(pad, str) else _pair(self.padding())}")
            if set(self.output_padding) != {0}:
                parts.append(f"output_padding {_pair(self.output_padding)}")
            if set(self.dilation) != {1}:
                parts.append(f"dilation {_pair(self.dilation)}")
            if self.groups != 1:
                parts.append(f"groups {self.groups}")
            if self.spec.ceil_mode:
                parts.append("ceil")
        if self.family == "adaptive":
            parts.append(f"→ {_pair(self.output_size, '×')}")
        if self.family in ("embedding", "sequence"):
            self._describe_sequence(parts, size_in)
        if self.family in ("linear", "conv") and not self.spec.bias:
            parts.append("no bias")
        if self.type == "Dropout" and self.spec.p is not None:
            parts.append(f"p = {exact.unicode(self.spec.p)}")
        if self.family == "loss":
            parts.append(self.spec.reduction)
        return f"{self.name} ({parts[0]}{', ' if len(parts) > 1 else ''}{', '.join(parts[1:])})"

    def _describe_sequence(self, parts: list[str], size_in: Any) -> None:
        """The sizes of an Embedding, recurrent, attention or transformer layer, in ``parts``."""
        sp = self.spec
        if self.type == "Embedding":
            parts[0] += f" {sp.num}×{sp.dim}"
        if self.type in ("RNN", "LSTM", "GRU"):
            parts[0] += f" {size_in}→{sp.hidden}"
            if sp.proj_size:
                parts.append(f"proj {sp.proj_size}")
            if (sp.num_layers or 1) > 1:
                parts.append(f"{sp.num_layers} layers")
            if sp.bidirectional:
                parts.append("bidirectional")
        if self.type == "MultiheadAttention":
            parts[0] += f" {size_in}, {sp.num_heads} heads"
            if sp.kdim is not None or sp.vdim is not None:
                parts.append(f"kdim {sp.kdim or size_in}, vdim {sp.vdim or size_in}")
        if self.type.startswith("Transformer"):
            parts[0] += f" {size_in}, {sp.nhead} heads, ff {sp.dim_feedforward or 2048}"
        if self.family == "sequence" and not sp.bias:
            parts.append("no bias")


def _pair(p: tuple[int, ...], sep: str = ", ") -> str:
    if len(p) == 1 or (p[0] == p[1] and sep != "×"):
        return str(p[0])
    return f"{p[0]}{sep}{p[1]}" if sep == "×" else f"({p[0]}, {p[1]})"


def _check_values(i: int, t: str, spec: LayerSpec) -> None:
    """The checks of one layer's values that need its type: what PyTorch would refuse."""
    if spec.reduction not in ("mean", "sum", "none"):
        raise FieldError("must be mean, sum or none", f"layers.{i}.reduction")
    for fname in REQUIRED.get(t, ()):
        if getattr(spec, fname) is None:
            long = next((k for k, v in ALIASES.items() if v == fname), None)
            raise FieldError(
                f"{t} needs {fname}" + (f" (or {long})" if long else ""), f"layers.{i}"
            )
    if spec.proj_size and spec.hidden is not None and spec.proj_size >= spec.hidden:
        raise FieldError(
            f"{t} has proj_size = {spec.proj_size}, which PyTorch requires to be smaller "
            f"than hidden_size = {spec.hidden} (the projection maps h down to proj_size)",
            f"layers.{i}.proj_size",
        )
    if t in ONE_AXIS:
        for fname in ("kernel", "stride", "padding", "dilation", "output_padding", "output_size"):
            value = getattr(spec, fname)
            if isinstance(value, tuple) and value[0] != value[1]:
                raise FieldError(
                    f"{t} works along one axis, so it takes one number here",
                    f"layers.{i}.{fname}",
                )


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
        _check_values(i, t, spec)
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


#: how a ConvTranspose2d's output is sized: PyTorch's rule, or the convolution's by mistake
TransposedRule = Literal["pytorch", "conv"]


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
    rnn_bias_vectors: int = 2  # 1: one bias vector per gate (Keras) instead of b_ih and b_hh
    swapped_gates: bool = False  # True: 3 gates for an LSTM, 4 for a GRU
    bidirectional_doubled: bool = True  # False: a bidirectional layer counted once
    stacked_input: bool = True  # False: every stacked layer reads input_size features
    out_projection: bool = True  # False: attention without its output projection
    kv_dims: bool = True  # False: the key and value projections taken as E×E despite kdim, vdim
    projection_weight: bool = True  # False: an LSTM's projection W_hr [P, H] forgotten
    projected_recurrence: bool = True  # False: W_hh taken as [4H, H] despite the projection
    rf_strides: bool = True  # False: receptive fields grow by k − 1, not (k − 1)·jump
    transposed_rule: TransposedRule = "pytorch"  # "conv": ConvTranspose2d sized like a conv
    pool_stride_one: bool = False  # True: a pooling's default stride taken as 1, not its kernel


@dataclass
class Network:
    """The validated layer list and input: what a walk needs."""

    input_shape: Shape
    batched: bool
    layers: list[Layer]
    num_classes: int | None
    batch_axis: int = 0  # 1 for a sequence [T, N, ...] (batch_first false, PyTorch's default)

    def split(self, shape: Shape) -> tuple[Shape, Shape]:
        """(batch, per-example) parts of a full shape."""
        if self.batched and shape:
            a = self.batch_axis if len(shape) > self.batch_axis else 0
            return [shape[a]], [*shape[:a], *shape[a + 1 :]]
        return [], list(shape)

    def join(self, batch: Shape, x: Shape) -> Shape:
        """The full shape of a batch and a per-example shape (the inverse of split)."""
        if batch and x and self.batch_axis == 1:
            return [x[0], *batch, *x[1:]]
        return [*batch, *x]

    @property
    def batch_size(self) -> Any:
        return self.split(self.input_shape)[0][0] if self.batched else 1

    @property
    def sequence(self) -> bool:
        """Whether the layers read sequences (an Embedding, a recurrent or attention layer)."""
        return any(layer.family in ("embedding", "sequence") for layer in self.layers)


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
    counted: Counted | None = None  # a sequence layer's counts, with their worked lines
    rf: tuple[Any, ...] | None = None  # receptive field per axis, in input positions
    jump: tuple[Any, ...] | None = None  # distance in the input between adjacent outputs
    rf_math: list[M] = field(default_factory=list)


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
    sized: Callable[[Record], Any] | None = None,
) -> list[Record]:
    """Every layer in order: its output shape, blank sizes, parameters and MACs.

    ``answer(key, value)`` records inferred sizes and shapes and returns the value to carry
    on with (a student's under error carried forward); ``after(record)`` sees each layer
    once it is complete. ``strict`` raises a FieldError naming the layer where the list does
    not chain (that is how a problem file is validated); a solve never raises, whatever a
    student's earlier answers were. ``sized(record)`` is a student's [H, W] for a layer
    whose output size is worked out, carried on with as its shape's spatial axes (so that a
    later answer gets credit from a wrong size, not only from a wrong shape).
    """

    def record(key: str, value: Any) -> Any:
        return carried(answer(key, value), value)

    batch, x = net.split(net.input_shape)
    out: list[Record] = []
    spatial = len(x) - 1
    field_: tuple[Any, ...] | None = (1,) * spatial if not net.sequence else None
    jump: tuple[Any, ...] = (1,) * spatial
    for layer in net.layers:
        rec = Record(layer, len(out) + 1, net.join(batch, x))
        if strict:
            _check_input(layer, x, net, out)
        n = prod(batch)
        batch, x = _forward(layer, rec, batch, x, net, c, record, strict)
        if sized is not None and rec.size_math and len(x) == 3:
            x = [x[0], *carried(sized(rec), x[1:])]
        full = net.join(batch, x)
        if shape_key is not None:
            full = record(shape_key(rec), full)
            batch, x = net.split(full) if layer.family != "loss" else ([], list(full))
        rec.shape = list(full)
        rec.per_example = 0 if layer.family == "loss" else prod(x)
        _count(rec, x, n, c)
        field_, jump = _receptive_field(rec, field_, jump, c)
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
    need = {
        "linear": (1, 2) if net.sequence else (1,),
        "conv": (layer.spatial + 1,),
        "pool": (layer.spatial + 1,),
        "adaptive": (layer.spatial + 1,),
        "loss": (1,),
        "embedding": (1,),
        "sequence": (2,),
    }.get(fam)
    if layer.type == "BatchNorm1d":
        need = (1, 2)
    if layer.type == "BatchNorm2d":
        need = (3,)
    if fam == "embedding" and before:
        raise layer.error("takes token ids, so it must be the first layer", "type")
    if layer.type == "BatchNorm1d" and net.sequence and net.batch_axis == 1 and rank == 2:
        raise layer.error(
            "would normalize axis 1 of a [T, N, features] sequence, which is the batch here "
            "(batch_first is false): use LayerNorm, or batch_first: true",
            "type",
        )
    if need is None or rank in need:
        return
    got = f"{f'z{len(before)}' if before else 'the input x'} of shape {shape_display(x).text()}"
    if fam == "sequence":
        raise layer.error(
            f"gets {got} per example, but it needs a sequence [time, features]", "type"
        )
    if fam in ("conv", "pool", "adaptive") and layer.spatial == 1:
        raise layer.error(f"gets {got} per example, but it needs [channels, length]", "type")
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
        if layer.transposed:
            hw = _transposed(layer, rec, x[1:], c)
            if strict and min(hw) < 1:
                raise layer.error(
                    f"gives an output of {shape_display(hw).text()}: (H − 1)s − 2p + d(k − 1) "
                    "+ output_padding + 1 must be at least 1",
                    "padding",
                )
            return batch, [rec.size_out, *hw]
        return batch, [rec.size_out, *_window(layer, rec, x[1:], c.rule, strict)]
    if fam in ("embedding", "sequence"):
        if fam == "sequence":
            rec.size_in = _size_in(layer, rec, x[-1], net, answer, strict)
            if strict:
                _check_heads(layer, rec.size_in)
            x = [*x[:-1], rec.size_in]
        rec.counted = RULES[layer.type](layer.type, layer.spec, list(x), c)
        return batch, rec.counted.shape
    if fam == "pool":
        if strict:
            _check_pool_padding(layer)
        return batch, [x[0], *_window(layer, rec, x[1:], c.rule, strict, _stride(layer, c))]
    if fam == "adaptive":
        return batch, [x[0], *layer.output_size]
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


#: the field that holds a layer's input size, where it is not ``in``
IN_FIELD = {
    "MultiheadAttention": "embed_dim",
    "TransformerEncoderLayer": "d_model",
    "TransformerDecoderLayer": "d_model",
}


def _size_in(
    layer: Layer, rec: Record, have: int, net: Network, answer: Answerer, strict: bool
) -> int:
    unit = "channels" if layer.family == "conv" else "features"
    before = (
        f"{net.layers[layer.index - 1].name}'s output z{rec.z - 1}"
        if layer.index
        else "the input x"
    )
    fname = IN_FIELD.get(layer.type, "in")
    given = getattr(layer.spec, "in_" if fname == "in" else fname)
    if given is None:
        rec.inferred.append(("in", have, f"{before} has {have} {unit}"))
        return answer(f"{layer.name}.in", have)
    if strict and given != have:
        raise layer.error(f"takes {fname} = {given} {unit}, but {before} has {have}", fname)
    return given


def _check_heads(layer: Layer, width: int) -> None:
    heads = layer.spec.num_heads or layer.spec.nhead
    if heads is not None and width % heads:
        fname = "num_heads" if layer.type == "MultiheadAttention" else "nhead"
        raise layer.error(
            f"has {heads} heads, which must divide its width {width} (each head gets "
            "width/heads dimensions)",
            fname,
        )


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
        if fam in ("sequence", "embedding"):
            given = getattr(later.spec, IN_FIELD.get(later.type, "in_"))
            if fam == "sequence" and layer.family == "linear" and given is not None:
                name = IN_FIELD.get(later.type, "in")
                return given, _through(f"{later.name} takes {name} = {given}", kept)
            break
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
    if layer.spec.padding == "same" and set(layer.stride) != {1}:
        raise layer.error(
            "has padding 'same' with a stride above 1, which PyTorch refuses", "padding"
        )
    if layer.transposed and isinstance(layer.spec.padding, str):
        raise layer.error(
            f"cannot pad 'same' or 'valid': PyTorch's {layer.type} takes a number", "padding"
        )
    for op, s, d in zip(layer.output_padding, layer.stride, layer.dilation, strict=True):
        if op >= max(s, d):
            raise layer.error(
                f"has output_padding {op}, which PyTorch requires to be smaller than the "
                f"stride {s} or the dilation {d}",
                "output_padding",
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


def _stride(layer: Layer, c: Counting) -> tuple[int, ...]:
    """The stride a count uses: the layer's, or 1 for a pooling whose stride is left to its
    default (the kernel size) when the mistake takes it as 1."""
    if c.pool_stride_one and layer.family == "pool" and layer.spec.stride is None:
        return (1,) * layer.spatial
    return layer.stride


def _window(
    layer: Layer,
    rec: Record,
    hw: Shape,
    rule: SizeRule,
    strict: bool,
    stride: tuple[int, ...] | None = None,
) -> Shape:
    """Output height and width of a convolution or pooling, with the worked formula."""
    out, worked = [], []
    ceil = layer.spec.ceil_mode
    names = ("H", "W") if layer.spatial == 2 else ("L",)
    for axis, n, k, s, p, d in zip(
        names,
        hw,
        layer.kernel,
        stride or layer.stride,
        layer.padding(),
        layer.dilation,
        strict=True,
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


def _transposed(layer: Layer, rec: Record, hw: Shape, c: Counting) -> Shape:
    """Output height and width of a ConvTranspose2d (the length of a ConvTranspose1d), with
    the worked formula: each input position spreads a k×k patch (k taps) s apart, so the
    stride multiplies,
    H_out = (H − 1)·s − 2p + d(k − 1) + output_padding + 1."""
    if c.transposed_rule == "conv":  # the stride on the wrong side: sized like a convolution
        return _window(layer, rec, hw, c.rule, strict=False)
    axes = list(
        zip(
            hw,
            layer.kernel,
            layer.stride,
            layer.padding(),
            layer.dilation,
            layer.output_padding,
            strict=True,
        )
    )
    out = [transposed_size(*a) for a in axes]
    labels = [[Sym("H", "out")], [Sym("W", "out")]] if len(axes) == 2 else [[Sym("L", "out")]]
    if len(axes) == 2 and axes[0] == axes[1]:
        axes, labels = axes[:1], [[Sym("H", "out"), Sym("W", "out")]]
    for label, (n, k, s, p, d, op), size in zip(labels, axes, out, strict=False):
        numbers = Add(Mul(sub(n, 1), s), Neg(Mul(2, p)), Mul(d, sub(k, 1)), op, 1)
        rec.size_math.append(eq(*label, numbers, size))
    return out


def transposed_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1, op: int = 0) -> int:
    """PyTorch's ConvTranspose output size: (H − 1)s − 2p + d(k − 1) + output_padding + 1."""
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


TRANSPOSED_FORMULA = Add(
    Mul(sub(Sym("H"), 1), Sym("s")),
    Neg(Mul(2, Sym("p"))),
    Mul(Sym("d"), sub(Sym("k"), 1)),
    Text("output_padding"),
    1,
)


def _receptive_field(
    rec: Record, rf: tuple[Any, ...] | None, jump: tuple[Any, ...], c: Counting
) -> tuple[tuple[Any, ...] | None, tuple[Any, ...]]:
    """How many input positions one output position sees (r) and how far apart in the input
    two neighbouring outputs are (the jump j): a window of k taps with dilation d adds
    d(k − 1)·j to r, and its stride multiplies j. Layers that keep positions keep both;
    after a Flatten, a Linear, an adaptive pooling or a transposed convolution the field is
    no longer a window, so it is not followed further."""
    layer = rec.layer
    if rf is None:
        return None, jump
    if layer.family in ("same", "norm"):
        return rf, jump
    if layer.family not in ("conv", "pool") or layer.transposed or len(rf) != layer.spatial:
        return None, jump
    axes = list(zip(rf, jump, layer.kernel, _stride(layer, c), layer.dilation, strict=True))
    grown = [r + d * (k - 1) * (j if c.rf_strides else 1) for r, j, k, s, d in axes]
    rec.rf, rec.jump = tuple(grown), tuple(j * s for r, j, k, s, d in axes)
    names = ["H", "W"] if len(axes) == 2 else [""]
    if len(axes) == 2 and axes[0] == axes[1]:
        axes, names = axes[:1], [""]
    for name, (r, j, k, s, d), new in zip(names, axes, grown, strict=False):
        reach = Mul(d, sub(k, 1)) if d != 1 else sub(k, 1)
        rec.rf_math += [
            eq(
                Sym("r", name or None),
                Add(r, Mul(reach, j)) if c.rf_strides else Add(r, reach),
                new,
            ),
            eq(Sym("j", name or None), Mul(j, s), j * s),
        ]
    return rec.rf, rec.jump


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
        elif layer.transposed:
            # each input value is spread over k_h·k_w·(C_out/groups) outputs (fvcore counts
            # a transposed convolution by its input positions)
            per_group = rec.size_out // layer.groups if c.groups else rec.size_out
            positions = rec.shape_in[-layer.spatial :]
            taps, outputs = [*layer.kernel, per_group], [rec.size_in, *positions]
        else:
            per_group = rec.size_in // layer.groups if c.groups else rec.size_in
            taps, outputs = [*layer.kernel, per_group], list(x)
        bias = spec.bias and c.bias_params
        weights = (
            Mul(*taps[:-1], taps[-1], rec.size_in if layer.transposed else rec.size_out)
            if fam == "conv"
            else Mul(rec.size_in, rec.size_out)
        )
        other = rec.size_in if fam == "conv" and layer.transposed else rec.size_out
        rec.params = prod(taps) * other + (rec.size_out if bias else 0)
        rec.params_math = Add(weights, rec.size_out) if bias else weights
        batch_factor = [_factor(batch)] if batch != 1 else []
        adds = list(x) if fam == "conv" and layer.transposed else outputs  # one per output
        with_bias = c.count_bias and spec.bias
        rec.macs = (
            c.macs_factor * batch * (prod(taps) * prod(outputs) + (prod(adds) if with_bias else 0))
        )
        rec.macs_math = Mul(*batch_factor, *taps, *outputs)
        if with_bias:
            rec.macs_math = Add(rec.macs_math, Mul(*batch_factor, *adds))
        if c.macs_factor != 1:
            rec.macs_math = Mul(c.macs_factor, rec.macs_math)
    elif rec.counted is not None:
        rec.params = rec.counted.params
        rec.macs = c.macs_factor * batch * rec.counted.macs
        factors = [f for f in (c.macs_factor, _factor(batch)) if f != 1]
        rec.macs_math = Mul(*factors, rec.counted.macs) if factors else None
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
    batched = len(shape) == g.example_rank(layers) + 1
    return Network(shape, batched, layers, g.num_classes, batch_axis(layers) if batched else 0)


def batch_axis(layers: Sequence[Layer]) -> int:
    """Where the batch is in a sequence's shape: after the time axis unless the recurrent and
    attention layers say batch_first (they must agree, as the data has one layout)."""
    seq = [layer for layer in layers if layer.family == "sequence"]
    if not seq:
        return 0
    first = seq[0].spec.batch_first
    for layer in seq[1:]:
        if layer.spec.batch_first != first:
            raise layer.error(
                f"has batch_first {str(layer.spec.batch_first).lower()} but {seq[0].name} "
                f"has {str(first).lower()}: the layers of one network read one layout",
                "batch_first",
            )
    return 0 if first else 1


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
        if not self.layers:
            raise FieldError("needs at least one layer", "layers")
        layers = build_layers(self.layers, self.allowed, self.kind_name)
        rank = self.example_rank(layers)
        if len(shape) not in (rank, rank + 1):
            raise FieldError(
                f"{self.kind_name} takes an input of {self.layout(layers)}, got {len(shape)} "
                "dimensions",
                "input_shape",
            )
        axis = batch_axis(layers) if len(shape) == rank + 1 else None
        for i, d in enumerate(shape):
            symbolic = not isinstance(d, int)
            if symbolic and i != axis:
                where = "the first entry" if axis in (0, None) else "entry 2: batch_first is false"
                raise FieldError(
                    f"only the batch size ({where}) may be a symbol", "input_shape", (i,)
                )
            if not symbolic and d < 1:
                raise FieldError(f"sizes must be at least 1, got {d}", "input_shape", (i,))
        if self.batch_symbol is not None and not self.batch_symbol.isidentifier():
            raise FieldError("must be a name such as n", "batch_symbol")
        walk(_net(self, self.allowed, self.kind_name), strict=True)
        return self

    def example_rank(self, layers: Sequence[Layer]) -> int:
        """The rank of one example's input (the batch adds one axis)."""
        return self.batched_rank - 1

    def layout(self, layers: Sequence[Layer]) -> str:
        return " or ".join(f"{r} dimensions" for r in self.ranks)


class MLPGiven(NetworkGiven):
    batched_rank: ClassVar[int] = 2
    ranks: ClassVar[tuple[int, ...]] = (1, 2)
    allowed: ClassVar[tuple[str, ...]] = MLP_TYPES
    kind_name: ClassVar[str] = "mlp"

    input_shape: Annotated[list[Dim], TypeDoc("shape", "list of sizes")]
    """the input's shape: [batch, features] or [features]; for sequences [batch, time, \
features] with batch_first, else [time, batch, features] (PyTorch's default), and token ids \
[batch, time] or [time, batch] for an Embedding; the batch may be a symbol such as n"""
    layers: Annotated[list[LayerSpec], TypeDoc("layers", "list of {type, name, ...}")]
    """the layers in order, each {type, name, ...} with PyTorch's arguments (its own names, \
such as in_features or hidden_size, or the short ones): Linear (in, out, bias), \
BatchNorm1d/LayerNorm (features, affine), ReLU, LeakyReLU, GELU, ELU, SiLU, Tanh, Sigmoid, \
Dropout (p), Softmax, Flatten, CrossEntropyLoss (reduction); Embedding (num_embeddings/num, \
embedding_dim/dim); RNN, LSTM, GRU (input_size/in, hidden_size/hidden, num_layers, bias, \
bidirectional, batch_first); MultiheadAttention (embed_dim, num_heads, bias, batch_first); \
TransformerEncoderLayer, TransformerDecoderLayer (d_model, nhead, dim_feedforward, bias, \
batch_first; the decoder's memory_length). A blank (null) in, out, embed_dim or d_model is \
inferred"""

    def example_rank(self, layers: Sequence[Layer]) -> int:
        """[features], or [time, features] for a sequence ([time] token ids for an Embedding)."""
        sequence = any(layer.family == "sequence" for layer in layers)
        return 2 if sequence and layers[0].type != "Embedding" else 1

    def layout(self, layers: Sequence[Layer]) -> str:
        if layers[0].type == "Embedding":
            return "[time] token ids, or [batch, time] ([time, batch] with batch_first false)"
        if self.example_rank(layers) == 2:
            first = batch_axis(layers) == 0
            batched = "[batch, time, features]" if first else "[time, batch, features]"
            return f"[time, features] or {batched}"
        return "[batch, features] or [features]"


class ConvGiven(NetworkGiven):
    batched_rank: ClassVar[int] = 4
    ranks: ClassVar[tuple[int, ...]] = (3, 4)
    allowed: ClassVar[tuple[str, ...]] = CONV_TYPES
    kind_name: ClassVar[str] = "conv"

    input_shape: Annotated[list[Dim], TypeDoc("shape", "list of sizes")]
    """the input's shape: [channels, height, width] or [batch, channels, height, width] \
([channels, length] and [batch, channels, length] for Conv1d and the 1-D poolings); the batch \
may be a symbol"""
    layers: Annotated[list[LayerSpec], TypeDoc("layers", "list of {type, name, ...}")]
    """the layers in order, each {type, name, ...} with PyTorch's arguments (its own names, \
such as in_channels or kernel_size, or the short ones): Conv2d and Conv1d (in, out, kernel, \
stride, padding, dilation, groups, bias), ConvTranspose2d/ConvTranspose1d (the same and \
output_padding), MaxPool2d/AvgPool2d and MaxPool1d/AvgPool1d (kernel, stride, padding, \
dilation, ceil_mode), AdaptiveAvgPool2d/AdaptiveMaxPool2d and AdaptiveAvgPool1d/\
AdaptiveMaxPool1d (output_size), BatchNorm2d/BatchNorm1d/LayerNorm (features, affine), ReLU, \
LeakyReLU, GELU, ELU, SiLU, Tanh, Sigmoid, Dropout (p), Softmax, Flatten, Linear (in, out, \
bias), CrossEntropyLoss (reduction). A blank (null) in or out is inferred"""

    def example_rank(self, layers: Sequence[Layer]) -> int:
        """[channels, height, width], or [channels, length] for a Conv1d network."""
        return 2 if any(layer.spatial == 1 for layer in layers) else 3

    def layout(self, layers: Sequence[Layer]) -> str:
        if self.example_rank(layers) == 2:
            return "[channels, length] or [batch, channels, length]"
        return "[channels, height, width] or [batch, channels, height, width]"


# =========================================================================== shared steps

WEIGHTED = ("linear", "conv", "norm", "embedding", "sequence")  # the families with parameters
COUNTED = ("linear", "conv", "sequence")  # the families whose MACs are counted


#: the layer whose output is taken for the logits: the one before the loss, or the loss's
LogitsAt = Literal["logits", "loss"]


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
        size_rule: SizeRuleName = "pytorch",
        bias_params: bool = True,
        norm_params: bool = True,
        bn_buffers: bool = False,
        groups: bool = True,
        flip_bias_macs: bool = False,
        macs_factor: int = 1,
        loss_reduced: bool = True,
        **sequence: Any,
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
            **sequence,
        )

    options_from = (counting, Counting)  # solve's **counting go to counting(), then Counting

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
        if r.layer.family in COUNTED:
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
                r.macs if r.layer.family in COUNTED else BLANK,
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
        types = {layer.type for layer in net.layers}
        per = "in_features per output value of a Linear"
        if "Conv2d" in types:
            per = "⟦k_h·k_w·(C_in/groups)⟧ per output value of a Conv2d and " + per
        if "Conv1d" in types:
            per = "⟦k·(C_in/groups)⟧ per output value of a Conv1d, " + per
        if "ConvTranspose2d" in types:
            per = (
                "⟦k_h·k_w·(C_out/groups)⟧ per input value of a ConvTranspose2d (as fvcore "
                "counts it), " + per
            )
        if "ConvTranspose1d" in types:
            per = (
                "⟦k·(C_out/groups)⟧ per input value of a ConvTranspose1d (as fvcore counts "
                "it), " + per
            )
        bias = (
            "plus 1 per output value for the bias (count_bias: true, as torchinfo and "
            "ptflops count)"
            if c.count_bias
            else "without the bias additions (torchinfo "
            "and ptflops add 1 per output value; count_bias: true counts them)"
        )
        times = f", times the batch of {exact.unicode(batch)}" if batch != 1 else ""
        if net.sequence:
            per += (
                "; a recurrent layer ⟦G·H·(in + H)⟧ per step, layer and direction (its products "
                "⟦W_ih x_t⟧ and ⟦W_hh h_{t−1}⟧)"
                + (
                    ", an LSTM with a projection ⟦G·H·(in + P) + P·H⟧"
                    if any(layer.spec.proj_size for layer in net.layers)
                    else ""
                )
                + "; attention its projections plus the products ⟦QKᵀ⟧ and ⟦AV⟧ (⟦T·S·E⟧ "
                "each), as fvcore counts them; an Embedding is a lookup with none"
            )
        flops = " Here each is counted twice, as FLOPs." if c.macs_factor != 1 else ""
        return (
            f"MACs are multiply-accumulates of the weights: {per}{times}, {bias}. "
            f"Normalizations, activations and pooling are not counted.{flops}"
        )


def _macs_line(r: Record) -> M:
    return eq(Call("MACs", Text(r.layer.name)), r.macs_math, r.macs)


def _params_line(r: Record) -> M:
    if r.params_math is None:
        return eq(Call("params", Text(r.layer.name)), r.params)
    return eq(Call("params", Text(r.layer.name)), r.params_math, r.params)


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
    return net.batch_size


SEQUENCE_MISCONCEPTIONS = {
    "one bias vector per gate, as Keras keeps (PyTorch's RNN, LSTM and GRU have two: b_ih and "
    "b_hh)": {"rnn_bias_vectors": 1},
    "3 gates for an LSTM or 4 for a GRU (an LSTM has 4: input, forget, cell, output; a GRU 3: "
    "reset, update, new)": {"swapped_gates": True},
    "counted a bidirectional layer once (each direction has its own weights and its own "
    "hidden_size outputs)": {"bidirectional_doubled": False},
    "took a stacked layer's input as input_size (layer 2 reads hidden_size × directions)": {
        "stacked_input": False
    },
    "forgot attention's output projection (one more E×E matrix and bias after the heads)": {
        "out_projection": False
    },
    "took the key and value projections as E×E, using embed_dim for kdim and vdim (they are "
    "E×kdim and E×vdim)": {"kv_dims": False},
    "forgot the LSTM projection's weight W_hr (proj_size × hidden_size, one per layer and "
    "direction)": {"projection_weight": False},
    "took an LSTM's W_hh as [4H, H] despite the projection (the recurrence reads the projected "
    "state: W_hh is [4H, proj_size])": {"projected_recurrence": False},
}
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
    """A fully connected or sequence network: blanks, shapes z1..zK, parameters, MACs, memory.

    Sequence layers (Embedding, RNN/LSTM/GRU, MultiheadAttention, transformer layers) take
    PyTorch's layouts with a time axis; their counts are explained in :mod:`.layers`."""

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
        Key(
            "macs.<name>",
            "expression",
            "multiply-accumulates of one Linear, recurrent, attention or transformer layer",
        ),
        Key(
            "<name>.h_n",
            "shape",
            "the final hidden state h_n of an RNN, LSTM or GRU: [directions·num_layers, batch, "
            "hidden_size] (proj_size for an LSTM with a projection)",
        ),
        Key(
            "<name>.c_n",
            "shape",
            "the final cell state c_n of an LSTM: [directions·num_layers, batch, hidden_size] "
            "(hidden_size even with a projection)",
        ),
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
        **SEQUENCE_MISCONCEPTIONS,
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
        logits_at: LogitsAt = "logits",
        logits_as_probabilities: bool = False,
        count_input: bool = False,
        **counting: Any,
    ) -> None:
        net = self.network(g)
        c = self.counting(g, **counting)
        if net.sequence:
            self.sequence_intro(s, net)
        else:
            s.step(
                f"The input x has shape {shape_display(net.input_shape).text()}"
                f"{' (batch first)' if net.batched else ''}. A Linear layer changes the last "
                "axis (in → out features); normalizations, activations and dropout keep the "
                "shape; a loss with mean reduction turns the batch into one number."
            )
        records = walk(net, c, answer=s.answer, shape_key=lambda r: f"z{r.z}")
        self.blanks_step(s, records)
        shown = s.record_steps  # a re-solve for the checker needs the answers only
        s.step("The output of each layer, in order.", *[_layer_line(r) for r in records if shown])
        for r in records:
            if r.counted is not None:
                self.sequence_step(s, net, r)
        self.logits(s, records, logits_at, logits_as_probabilities)
        for r in records:
            self.counts(s, r, f"params.{r.layer.name}", f"macs.{r.layer.name}")
        weighted = [r for r in records if r.layer.family in WEIGHTED]
        s.step(
            says(
                "Parameters per layer: a Linear layer has ⟦in·out⟧ weights and out biases; a "
                "normalization layer has γ and β per feature (its running mean and variance are "
                "buffers, not parameters); activations, dropout and the loss have none"
                + ("; the sequence layers are counted above." if net.sequence else ".")
            ),
            *[_params_line(r) for r in weighted if shown],
        )
        total = self.total(
            s, "params.total", [r.params for r in weighted], Sym("C"), "number of parameters C"
        )
        linears = [r for r in records if r.layer.family in COUNTED]
        s.step(
            says(self.macs_convention(c, net, net.batch_size)),
            *[_macs_line(r) for r in linears if shown],
        )
        total_macs = self.total(
            s, "macs.total", [r.macs for r in linears], Text("MACs"), "number of MACs"
        )
        if shown:
            self.table(s, net, records, z_column=True, totals=(total, total_macs))
        self.memory(s, g, net, records, total, count_input)

    def sequence_intro(self, s: Solution, net: Network) -> None:
        """Where the time axis is, as PyTorch lays a sequence out."""
        first = net.batch_axis == 0
        seq = [layer for layer in net.layers if layer.family == "sequence"]
        if net.layers[0].type == "Embedding":
            layout = "token ids [N, T]" if first else "token ids [T, N]"
        else:
            layout = "[N, T, features]" if first else "[T, N, features]"
        why = (
            f"batch_first is {'true' if first else 'false'} on "
            f"{', '.join(layer.name for layer in seq)}" + ("" if first else " (PyTorch's default)")
            if seq
            else "an Embedding keeps the layout of its ids"
        )
        shape = shape_display(net.input_shape).text()
        s.step(
            f"The input x has shape {shape}, a batch of sequences laid out {layout}: {why}. "
            "Each layer works on every position of every sequence; a Linear acts on the last "
            "axis at each position."
            if net.batched
            else f"The input x has shape {shape}: one sequence of T positions, without a "
            "batch axis."
        )

    def sequence_step(self, s: Solution, net: Network, r: Record) -> None:
        """A sequence layer's parameters and MACs, each count explained, and h_n's shape."""
        k = r.counted
        assert k is not None
        lines = [*k.params_lines, *k.macs_lines]
        if r.macs_math is not None and k.macs_lines:
            lines.append(eq(Call("MACs", Text(r.layer.name)), r.macs_math, r.macs))
        text = k.text
        if k.hidden_state is not None:
            batch = net.split(r.shape)[0]
            DL, H = k.hidden_state
            h = carry(s, f"{r.layer.name}.h_n", [DL, *batch, H], label=Text("h_n"))
            lines.append(eq(Text("h_n"), shape_display(h)))
            width = "P" if r.layer.spec.proj_size else "H"
            layout = (
                f"⟦[D·num_layers, N, {width}]⟧ whatever batch_first says"
                if batch
                else f"⟦[D·num_layers, {width}]⟧ for one sequence"
            )
            text += f" ⟦h_n⟧ is {layout}"
            if k.cell_state is not None:
                DL, H = k.cell_state
                cell = carry(s, f"{r.layer.name}.c_n", [DL, *batch, H], label=Text("c_n"))
                lines.append(eq(Text("c_n"), shape_display(cell)))
                text += (
                    "; ⟦c_n⟧ has H features: the projection applies to h only."
                    if r.layer.spec.proj_size
                    else "; ⟦c_n⟧ has the same shape."
                )
            else:
                text += "."
        s.step(says(text), *lines)

    def logits(
        self, s: Solution, records: list[Record], at: LogitsAt, as_probabilities: bool
    ) -> None:
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
                f"{loss.layer.name} is the mean over the batch of ⟦−log p_y⟧."
            )
            if any(r.layer.type == "Softmax" for r in records):
                text += (
                    " A Softmax layer before it applies softmax twice, a classic bug: its "
                    "input holds the logits."
                )
        s.step(
            says(text),
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
            says(
                "Per example, the activations are the outputs of all layers, which the forward "
                "pass keeps for the backward pass"
                + (" (the reduced loss is one number for the whole batch)" if reduced else "")
                + (
                    "; the input x is counted too."
                    if count_input
                    else "; the input x is not counted."
                )
                + f" For a batch of {exact.unicode(n)} that is ⟦n·K⟧ elements."
            ),
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
            says(
                "The activations take more memory than the parameters once ⟦n·K > C⟧, that is "
                "⟦n > C/K⟧. So at large batch sizes the activations dominate: from batch size "
                f"{exact.unicode(cross)} on. (This compares the weights with the activations "
                "kept for the backward pass, as the question does; training also stores a "
                "gradient per weight and the optimizer's state, e.g. two more copies for Adam, "
                "which would move the crossover.)"
            ),
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
    """A convolutional network: output sizes, parameters, MACs and receptive fields per layer.

    Conv2d, Conv1d, ConvTranspose2d and ConvTranspose1d, 2-D and 1-D pooling, normalization
    and a Linear head; the activation memory of the input and the final output."""

    Given = ConvGiven
    keys = (
        Key("<name>.in", "integer", "a blank in_channels or in_features, inferred"),
        Key("<name>.out", "integer", "a blank out_channels or out_features, inferred"),
        Key("<name>.output_shape", "shape", "the layer's output shape"),
        Key("<name>.output_size", "shape", "[H_out, W_out] of a convolution or pooling"),
        Key("<name>.params", "integer", "the layer's learnable parameters"),
        Key("<name>.macs", "expression", "the layer's multiply-accumulates"),
        Key(
            "<name>.receptive_field",
            "integer",
            "how many input positions (per axis) one output position of a convolution or "
            "pooling sees",
        ),
        Key("<name>.jump", "integer", "the effective stride: input positions between neighbours"),
        Key("<name>.receptive_field_hw", "shape", "[height, width] of a non-square field"),
        Key("<name>.jump_hw", "shape", "[height, width] of a jump that differs by axis"),
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
        "added the kernels' reaches to the receptive field without the product of the strides "
        "before them (r grows by (k − 1)·j)": {"rf_strides": False},
        "took a pooling layer's stride as 1 where it is left out (PyTorch's pooling stride "
        "defaults to the kernel size)": {"pool_stride_one": True},
        "put the stride of a transposed convolution on the wrong side: sized it like a "
        "convolution, ⌊(H + 2p − d(k − 1) − 1)/s⌋ + 1, instead of (H − 1)s − 2p + d(k − 1) + "
        "output_padding + 1": {"transposed_rule": "conv"},
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
        batch = net.batch_size
        formulas = [eq(Sym("H", "out"), c.rule.formula("H"))]
        transposed = any(layer.transposed for layer in net.layers)
        if transposed:
            formulas.append(eq(Sym("H", "out"), TRANSPOSED_FORMULA))
        first = next((la for la in net.layers if la.family not in ("same", "norm")), None)
        field = first is not None and first.family in ("conv", "pool") and not first.transposed
        if field:
            formulas += [
                eq(
                    Sym("r", "l"),
                    Add(Sym("r", "l−1"), Mul(Sym("d"), sub(Sym("k"), 1), Sym("j", "l−1"))),
                ),
                eq(Sym("j", "l"), Mul(Sym("j", "l−1"), Sym("s"))),
            ]
        s.step(
            says(
                "A convolution or pooling layer slides its window with stride s over the input "
                "padded by p on each side; with dilation d a kernel of k taps spans ⟦d(k − 1) + 1⟧ "
                "inputs. Along each axis the output size is PyTorch's formula below (pooling's "
                "stride defaults to its kernel size)"
                + (
                    "; a transposed convolution goes the other way, its stride multiplying the "
                    "size (the second formula)"
                    if transposed
                    else ""
                )
                + ". "
                + (
                    "The receptive field r of a layer is how many input positions one of its "
                    "outputs sees, and the jump j how far apart in the input two neighbouring "
                    "outputs are: starting from ⟦r = j = 1⟧ at the input, each window adds its "
                    "reach ⟦d(k − 1)⟧ times the jump before it, and its stride multiplies the "
                    "jump. "
                    if field
                    else ""
                )
                + self.macs_convention(c, net, batch)
            ),
            *formulas,
        )
        records = walk(
            net,
            c,
            answer=s.answer,
            shape_key=lambda r: f"{r.layer.name}.output_shape",
            after=lambda r: self.layer_step(s, r),
            sized=lambda r: s.overrides.get(f"{r.layer.name}.output_size"),
        )
        weighted = [r for r in records if r.layer.family in WEIGHTED]
        total = self.total(
            s, "params.total", [r.params for r in weighted], Text("params"), "number of parameters"
        )
        macs = [r.macs for r in records if r.layer.family in COUNTED]
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
            spatial = r.shape[-layer.spatial :]
            size = carry(s, f"{name}.output_size", spatial, label=Text(f"{name} size"))
            lines.append(eq(Text("output size"), shape_display(size)))
        lines.append(eq(Text("output shape"), shape_display(r.shape)))
        self.counts(s, r, f"{name}.params", f"{name}.macs")
        if layer.family in WEIGHTED and r.params_math is not None:
            lines.append(_params_line(r))
        if layer.family in ("linear", "conv"):
            lines.append(_macs_line(r))
        if r.rf is not None and r.jump is not None:
            lines += r.rf_math
            square = len(set(r.rf)) == 1 and len(set(r.jump)) == 1
            for what, value in (("receptive_field", r.rf), ("jump", r.jump)):
                if square:
                    carry(s, f"{name}.{what}", value[0], label=Text(f"{name} {what}"))
                else:
                    carry(s, f"{name}.{what}_hw", list(value), label=Text(f"{name} {what}"))
        s.step(says(_layer_text(r)), *lines)

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
        dil = "" if layer.type.startswith("AvgPool") else f", d = {_pair(layer.dilation)}"
        dil = f", ⟦{dil[2:]}⟧" if dil else ""
        text = (
            f"{what}: ⟦k = {_pair(layer.kernel)}⟧, ⟦s = {_pair(layer.stride)}⟧, ⟦p = {pad}⟧{dil}."
        )
        if layer.transposed:
            text += f" output_padding = {_pair(layer.output_padding)}."
        if fam == "pool":
            what_of = "maximum" if layer.type.startswith("Max") else "average"
            text += (
                f" Each output is the {what_of} of its window, channel by channel: the "
                "channels stay, and pooling has no parameters."
            )
        taps = " × ".join(map(str, layer.kernel))
        ks = "k_h × k_w" if layer.spatial == 2 else "k"
        bias = f", plus {r.size_out} biases." if layer.spec.bias else "; it has no bias."
        if fam == "conv" and layer.transposed:
            patch, apart = (
                ("a ⟦k×k⟧ patch", "patches") if layer.spatial == 2 else ("k taps", "windows")
            )
            text += (
                " A transposed convolution runs a convolution backwards: each input position "
                f"adds {patch} of weights into the output, {apart} s apart, so the "
                "stride multiplies the size. Its weights are ⟦C_in × C_out/groups × "
                f"{ks} = {r.size_in} × {(r.size_out or 0) // layer.groups} × {taps}⟧{bias} "
                f"MACs: every input value meets ⟦C_out/groups × {ks}⟧ weights (counted, as "
                "fvcore does, over the input positions)."
            )
        elif fam == "conv":
            text += (
                f" Its weights are ⟦C_out × C_in/groups × {ks} = {r.size_out} × "
                f"{(r.size_in or 0) // layer.groups} × {taps}⟧{bias}"
            )
        return text
    return {
        "flatten": f"{what} joins all axes of each example into one.",
        "linear": f"{what}: ⟦in·out⟧ weights" + (" and out biases." if layer.spec.bias else "."),
        "adaptive": _adaptive_text(layer, what),
        "loss": f"{what} turns the logits and labels into the loss.",
    }.get(fam, f"{what} keeps the shape.")


def _adaptive_text(layer: Layer, what: str) -> str:
    """An adaptive pooling in words: it picks its windows so the output has the size given."""
    how = "takes the maximum of" if "Max" in layer.type else "averages"
    text = (
        f"{what} {how} each channel down to the size it is given, choosing its windows to fit "
        "whatever size comes in; it has no parameters."
    )
    if set(layer.output_size) == {1}:
        text += " With output size 1 it pools each channel globally" + (
            " (max-over-time pooling)." if layer.spatial == 1 and "Max" in layer.type else "."
        )
    return text


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


def _draw_layer_sizes(
    layers: list[Layer], rng: random.Random, G: int, classes: int | None
) -> list[dict[str, Any]]:
    """Each layer's new sizes (out, num and dim, hidden, dim_feedforward), multiples of the
    network's groups and heads G; the last Linear gives the classes."""
    last = max((layer.index for layer in layers if layer.family == "linear"), default=-1)

    def width() -> int:
        return G * rng.choice((4, 8, 16, 32, 64)) if G > 1 else rng.choice(HIDDEN)

    drawn: list[dict[str, Any]] = []
    vocabulary: dict[int, int] = {}  # a Linear back to an Embedding's vocabulary stays one
    for layer in layers:
        new: dict[str, Any] = {}
        if layer.family == "conv":
            new["out"] = G * rng.choice((4, 8, 16, 32, 64, 128))
        elif layer.family == "linear":
            new["out"] = classes if layer.index == last and classes is not None else width()
        elif layer.type == "Embedding":
            new["num"] = rng.choice((1000, 5000, 10000, 20000, 30000))
            new["dim"] = width()
            vocabulary[layer.spec.num] = new["num"]
        elif layer.type in ("RNN", "LSTM", "GRU") and layer.spec.proj_size:
            # the projection stays narrower than the state it projects
            new["proj_size"] = width()
            new["hidden"] = new["proj_size"] * rng.choice((2, 3, 4))
        elif layer.type in ("RNN", "LSTM", "GRU"):
            new["hidden"] = width()
        elif layer.type == "MultiheadAttention" and (layer.spec.kdim or layer.spec.vdim):
            for fname in ("kdim", "vdim"):
                if getattr(layer.spec, fname) is not None:
                    new[fname] = rng.choice(HIDDEN)
        elif layer.spec.dim_feedforward is not None:
            new["dim_feedforward"] = rng.choice((256, 512, 1024, 2048))
        drawn.append(new)
    for layer, new in zip(layers, drawn, strict=True):
        if layer.family == "linear" and layer.spec.out in vocabulary:
            new["out"] = vocabulary[layer.spec.out]
    return drawn


def _draw_network(
    raw: dict[str, Any],
    rng: random.Random,
    g: NetworkGiven,
    spatial: Callable[[list[Layer], random.Random], list[int] | None] | None = None,
) -> dict[str, Any]:
    """New channels, features, classes, sequence sizes and (for a CNN) input size; blanks
    stay blank.

    Every layer gets a true output size; a size the source gave (an out, an in, a norm's
    features, an attention width) is given that value, and a blank stays blank, so it is
    still determined. PyTorch's argument names in the source are kept.
    """
    net = _net(g, g.allowed, g.kind_name)
    layers = net.layers
    shape = list(raw["input_shape"])
    axis = net.batch_axis if net.batched else None
    if axis is not None and isinstance(shape[axis], int):
        shape[axis] = rng.choice((2, 4, 8, 16, 32, 64))
    heads = [layer.spec.num_heads or layer.spec.nhead or 1 for layer in layers]
    G = math.lcm(*(layer.groups for layer in layers), *heads)
    if spatial is not None:
        hw = spatial(layers, rng)
        if hw is None:
            return raw
        channels = rng.choice((1, 3, 16, 32, 64, 128)) if G == 1 else G * rng.choice((1, 2, 4, 8))
        shape[-len(hw) - 1 :] = [channels, *hw]
    elif net.sequence:
        time = 1 if axis == 0 else 0
        shape[time] = rng.choice((8, 10, 16, 20, 32, 35, 50))
        if layers[0].type != "Embedding":
            shape[-1] = G * rng.choice((4, 8, 16, 32, 64))
    else:
        shape[-1] = rng.choice((16, 20, 32, 52, 64, 100, 128, 784))
    classes = rng.choice(CLASSES) if raw.get("num_classes") is not None else None
    drawn = _draw_layer_sizes(layers, rng, G, classes)
    dropped = ("in", "features", "embed_dim", "d_model")
    short = [{ALIASES.get(k, k): v for k, v in spec.items()} for spec in raw["layers"]]
    full = {
        **raw,
        "input_shape": shape,
        "num_classes": classes,
        "layers": [
            {**{k: v for k, v in spec.items() if k not in dropped}, **new}
            for spec, new in zip(short, drawn, strict=True)
        ],
    }
    try:
        checked = type(g).model_validate(full)
    except (ValueError, FieldError):
        return raw
    checked_net = _net(checked, checked.allowed, checked.kind_name)
    records = walk(checked_net)
    for rec, spec, new in zip(records, raw["layers"], drawn, strict=True):
        values = {**new, "in": rec.size_in, "embed_dim": rec.size_in, "d_model": rec.size_in}
        x = checked_net.split(rec.shape)[1]
        values["features"] = x[-1] if rec.layer.type == "LayerNorm" else (x[0] if x else None)
        for key in list(spec):
            name = ALIASES.get(key, key)
            drawn_fields = ("out", "num", "dim", "hidden", "dim_feedforward", "proj_size")
            if name in (*drawn_fields, "kdim", "vdim") and name in new:
                spec[key] = new[name]
            elif name in ("in", "embed_dim", "d_model", "features") and spec[key] is not None:
                spec[key] = values[name]
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
        if layer.transposed:
            n = transposed_size(n, k, s, p, d, layer.output_padding[axis])
            if n < 1:
                return False
            continue
        span = PYTORCH.span(n, k, p, d)
        if span < 0 or span % s or (layer.family == "pool" and p > k // 2):
            return False
        n = PYTORCH.size(n, k, s, p, d)
    return True


def _even_input(layers: list[Layer], rng: random.Random) -> list[int] | None:
    """An input height and width (a length for Conv1d) from 8 to 128 whose windows all divide
    evenly (square wherever both axes allow the same size)."""
    axes = 1 if any(layer.spatial == 1 for layer in layers) else 2
    good = [{n for n in range(8, 129) if even_sizes(layers, n, axis)} for axis in range(axes)]
    if axes == 1:
        return [rng.choice(sorted(good[0]))] if good[0] else None
    both = sorted(good[0] & good[1])
    if both:
        return [rng.choice(both)] * 2
    if not good[0] or not good[1]:
        return None
    return [rng.choice(sorted(good[0])), rng.choice(sorted(good[1]))]
