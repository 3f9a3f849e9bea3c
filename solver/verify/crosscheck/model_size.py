"""Model-size answers recomputed by PyTorch itself.

Networks are built from real ``torch.nn`` modules and run on random data: output shapes
come from the tensors, parameter counts from ``module.parameters()``, MACs from forward
hooks on Conv2d and Linear (the weight's taps per output value, plus one for the bias when
the problem counts it), and a blank ``in`` from the size of what actually arrives; a blank
``out`` is the solver's, and passes when every later layer (and a loss with num_classes
targets) accepts it, else the layer torch refuses is reported. The
convolution matrix A is read off ``F.conv1d``/``F.conv2d`` column by column (the response
to each unit input), Aᵀ off ``F.conv_transpose1d``/``2d``, and ∂L/∂x comes from autograd;
symbolic kernels and inputs get random integers, and the exact answers are compared at
the same point. Softmax, cross-entropy and its gradient come from ``F.cross_entropy`` and
autograd (through z/T at a temperature); distillation's soft loss from ``F.kl_div`` times T².
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ... import exact
from ...solution import Solution
from . import At, Refused, at_point, crosscheck, random_point, symbols_of

BATCH = 3  # the batch size torch runs with where the problem's is a symbol such as n


# --------------------------------------------------------------------------- networks

# Read off the given alone, without the kind's layer code: a layer's type is the torch.nn
# class its name spells (any case), its family what the answers ask of it, and its name in
# the answer keys the given one, else the short name of its type numbered in order
# (linear1, conv2, bn1, relu3: the naming the answer keys are documented with).
_NN_CLASSES = {name.lower(): name for name in dir(nn) if isinstance(getattr(nn, name), type)}
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
    "Flatten": "flatten",
    "CrossEntropyLoss": "loss",
    "Embedding": "embedding",
    **{
        t: "sequence"
        for t in (
            "RNN",
            "LSTM",
            "GRU",
            "MultiheadAttention",
            "TransformerEncoderLayer",
            "TransformerDecoderLayer",
        )
    },
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
    **dict.fromkeys(
        ("MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool2d"), "pool"
    ),
    **dict.fromkeys(("AdaptiveMaxPool2d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d"), "pool"),
    "BatchNorm1d": "bn",
    "BatchNorm2d": "bn",
    "LayerNorm": "ln",
    "CrossEntropyLoss": "loss",
}


@dataclass(frozen=True)
class Layer:
    """One layer of the given list: its torch class name, its name in the answer keys and
    its fields as the given states them."""

    index: int
    type: str
    name: str
    spec: Any

    @property
    def family(self) -> str:
        return FAMILY.get(self.type, "same")  # activations, dropout, softmax keep the shape


def layers_of(specs: list[Any]) -> list[Layer]:
    """The given's layers with torch's class names and the answer keys' names."""
    types = [_NN_CLASSES[spec.type.strip().lower()] for spec in specs]
    taken = {spec.name for spec in specs if spec.name is not None}
    counts: dict[str, int] = {}
    out = []
    for i, (spec, t) in enumerate(zip(specs, types, strict=True)):
        name = spec.name
        while name is None or (name in taken and spec.name is None):
            short = SHORT.get(t, t.lower())
            counts[short] = counts.get(short, 0) + 1
            name = f"{short}{counts[short]}"
        out.append(Layer(i, t, name, spec))
    return out


RECURRENT = ("RNN", "LSTM", "GRU")
SEQUENCE = (*RECURRENT, "MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer")


class Sequence(nn.Module):
    """A recurrent, attention or transformer module called as PyTorch's own layer list would:
    self-attention takes x as query, key and value; attention with ``memory_length``, kdim or
    vdim gets random keys and values of that length and those widths; a decoder layer gets a
    random memory of ``memory_length`` positions; a recurrent layer keeps h_n (and an
    LSTM's c_n) for the shape check."""

    def __init__(self, inner: nn.Module, kind: str, memory_length: int | None) -> None:
        super().__init__()
        self.inner, self.kind, self.memory_length = inner, kind, memory_length
        self.h_n: torch.Tensor | None = None
        self.c_n: torch.Tensor | None = None

    def _source(self, x: torch.Tensor, batch_first: bool, width: int) -> torch.Tensor:
        """Random keys, values or memory like x, with memory_length positions of width."""
        time = 1 if batch_first and x.dim() == 3 else 0
        shape = list(x.shape)
        shape[time] = self.memory_length or shape[time]
        shape[-1] = width
        return torch.randn(*shape, dtype=x.dtype, device=x.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind in RECURRENT:
            y, h = self.inner(x)
            self.h_n, self.c_n = h if isinstance(h, tuple) else (h, None)
            return y
        if self.kind == "MultiheadAttention":
            a = self.inner
            if self.memory_length is None and a.kdim == a.vdim == a.embed_dim:
                return a(x, x, x, need_weights=False)[0]
            key = self._source(x, a.batch_first, a.kdim)
            value = self._source(x, a.batch_first, a.vdim)
            return a(x, key, value, need_weights=False)[0]
        if self.kind == "TransformerDecoderLayer":
            memory = self._source(x, self.inner.self_attn.batch_first, x.shape[-1])
            return self.inner(x, memory)
        return self.inner(x)


def _sequence_module(sp: Any, t: str, x: torch.Tensor) -> nn.Module:
    """The torch module of a sequence layer from the given's fields (PyTorch's defaults for
    the rest; dropout 0 so that a training-mode run, which counts every product, is exact)."""
    width = x.shape[-1]
    if t in RECURRENT:
        inner: nn.Module = getattr(nn, t)(
            sp.in_ or width,
            sp.hidden,
            num_layers=sp.num_layers or 1,
            bias=sp.bias,
            batch_first=sp.batch_first,
            bidirectional=sp.bidirectional,
            **({"proj_size": sp.proj_size or 0} if t == "LSTM" else {}),
        )
    elif t == "MultiheadAttention":
        inner = nn.MultiheadAttention(
            sp.embed_dim or width,
            sp.num_heads,
            bias=sp.bias,
            batch_first=sp.batch_first,
            kdim=sp.kdim,
            vdim=sp.vdim,
        )
    else:
        inner = getattr(nn, t)(
            sp.d_model or width,
            sp.nhead,
            dim_feedforward=sp.dim_feedforward or 2048,
            dropout=0.0,
            bias=sp.bias,
            batch_first=sp.batch_first,
        )
    return Sequence(inner, t, sp.memory_length)


def _module(layer: Layer, x: torch.Tensor, out: Any) -> nn.Module:
    """The torch module for one layer, given what enters it (a blank in is taken from x)."""
    sp, t = layer.spec, layer.type
    opt: dict[str, Any] = {}
    if t in SEQUENCE:
        return _sequence_module(sp, t, x)
    if t == "Embedding":
        return nn.Embedding(sp.num, sp.dim, padding_idx=sp.padding_idx)
    one_axis = t.endswith("1d") and t != "BatchNorm1d"
    one = (lambda v: v[0]) if one_axis else (lambda v: v)  # a 1-D layer's number, not a pair
    if t in ("Conv1d", "ConvTranspose2d", "ConvTranspose1d"):
        transposed = t.startswith("ConvTranspose")
        extra = {"output_padding": sp.output_padding or (0, 0)} if transposed else {}
        pad = sp.padding if isinstance(sp.padding, str) else one(sp.padding or (0, 0))
        return getattr(nn, t)(
            sp.in_ or x.shape[1],
            out,
            one(sp.kernel),
            stride=one(sp.stride or (1, 1)),
            padding=pad,
            dilation=one(sp.dilation or (1, 1)),
            groups=sp.groups or 1,
            bias=sp.bias,
            **{k: one(v) for k, v in extra.items()},
        )
    if t == "Linear":
        return nn.Linear(sp.in_ or x.shape[-1], out, bias=sp.bias)
    if t == "Conv2d":
        return nn.Conv2d(
            sp.in_ or x.shape[1],
            out,
            sp.kernel,
            stride=sp.stride or 1,
            padding=sp.padding or 0,
            dilation=sp.dilation or 1,
            groups=sp.groups or 1,
            bias=sp.bias,
        )
    if t in ("MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d"):
        opt = {
            "stride": None if sp.stride is None else one(sp.stride),
            "padding": 0 if sp.padding in (None, "valid") else one(sp.padding),
            "ceil_mode": sp.ceil_mode,
        }
        if t.startswith("MaxPool"):
            opt["dilation"] = one(sp.dilation or (1, 1))
        return getattr(nn, t)(one(sp.kernel), **opt)
    if t.startswith("Adaptive"):
        return getattr(nn, t)(one(sp.output_size or (1, 1)))
    if t in ("BatchNorm1d", "BatchNorm2d"):
        return getattr(nn, t)(x.shape[1], affine=sp.affine)
    if t == "LayerNorm":
        return nn.LayerNorm(x.shape[-1], elementwise_affine=sp.affine)
    if t == "Dropout":
        return nn.Dropout(float(sp.p) if sp.p is not None else 0.5)
    if t == "Softmax":
        return nn.Softmax(dim=-1)
    if t == "Flatten":
        return nn.Flatten()
    if t == "CrossEntropyLoss":
        return nn.CrossEntropyLoss(reduction=sp.reduction)
    return getattr(nn, t)()


def _sdpa(q: Any, k: Any, v: Any, *args: Any, out_shape: Any = None, **kw: Any) -> int:
    """FLOPs of PyTorch's CPU attention kernel, which FlopCounterMode does not know: QKᵀ and
    AV, b·h·T·S·d multiply-adds each."""
    b, h, t, d = q
    return 2 * 2 * b * h * t * k[-2] * d


FLOPS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _sdpa}


def _sequence_macs(module: Sequence, x: torch.Tensor) -> int:
    """MACs of a recurrent or attention module as torch's FlopCounterMode counts its matrix
    products (2 FLOPs per MAC), run in training mode so that no fused fast path hides them."""
    module.train()
    with FlopCounterMode(display=False, custom_mapping=FLOPS) as counter, torch.no_grad():
        module(x)
    module.eval()
    return counter.get_total_flops() // 2


def _macs(module: nn.Module, y: torch.Tensor, count_bias: bool, x: Any = None) -> int:
    """Multiply-accumulates of a convolution or Linear, read off the output it produced."""
    if isinstance(module, (nn.ConvTranspose2d, nn.ConvTranspose1d)):
        # every input value meets C_out/groups·k·k (k along one axis)
        bias = y.numel() if count_bias and module.bias is not None else 0
        return x.numel() * module.weight[0].numel() + bias
    if isinstance(module, Sequence):
        return _sequence_macs(module, x)
    if isinstance(module, (nn.Conv2d, nn.Conv1d)):
        taps = module.weight[0].numel()  # in_channels/groups · k_h · k_w
    elif isinstance(module, nn.Linear):
        taps = module.in_features
    else:
        return 0
    return y.numel() * (taps + (1 if count_bias and module.bias is not None else 0))


def run_network(g: Any, s: Solution, device: Any) -> dict[str, Any]:
    """Run the layer list as torch modules: per layer its module, output and MACs."""
    layers = layers_of(g.layers)
    shape = list(g.input_shape)
    batched = len(shape) == _example_rank(g) + 1
    axis = _batch_axis(g)
    batch = (shape[axis] if isinstance(shape[axis], int) else BATCH) if batched else 1
    torch.manual_seed(0)
    if batched:
        shape[axis] = batch
    else:  # one example runs as a batch of one (Flatten keeps the batch axis); shapes drop it
        shape.insert(axis if len(shape) >= axis else 0, 1)
    first = g.layers[0]
    if first.type.lower() == "embedding":
        x = torch.randint(0, first.num, shape, device=device)
    else:
        x = torch.randn(*shape, dtype=torch.float64, device=device)
    runs: list[dict[str, Any]] = []
    for layer in layers:
        out = layer.spec.out
        if out is None and f"{layer.name}.out" in s.answers:
            out = s[f"{layer.name}.out"]  # a blank out: torch checks that what follows takes it
        try:
            module = _module(layer, x, out).to(device=device, dtype=torch.float64).eval()
            if layer.family == "loss":
                classes = g.num_classes or x.shape[-1]
                target = torch.randint(0, classes, (x.shape[0],), device=device)
                y = module(x, target)
            else:
                with torch.no_grad():
                    y = module(x)
        except (RuntimeError, IndexError, ValueError) as err:
            return {
                "runs": runs,
                "batched": batched,
                "batch": batch,
                "failed": (layer, f"torch refuses this layer: {err}"),
            }
        runs.append(
            {
                "layer": layer,
                "module": module,
                "x": x,
                "y": y,
                "macs": _macs(module, y, g.count_bias, x),
            }
        )
        x = y
    return {
        "runs": runs,
        "batched": batched,
        "batch": batch,
        "batch_axis": axis,
        "failed": None,
    }


def _sequence(g: Any) -> bool:
    return any(
        spec.type.lower() in {t.lower() for t in (*SEQUENCE, "Embedding")} for spec in g.layers
    )


def _example_rank(g: Any) -> int:
    """The rank of one example, read off the given: token ids [T] for an Embedding, [T, F]
    for a sequence, [C, L] for a Conv1d network, [C, H, W] for a CNN, else [F]."""
    types = [spec.type.lower() for spec in g.layers]
    if types[0] == "embedding":
        return 1
    one_axis = {t for t in types if t.endswith("1d") and t != "batchnorm1d"}
    if any(t in {s.lower() for s in SEQUENCE} for t in types) or one_axis:
        return 2
    return 3 if g.kind_name == "conv" else 1


def _batch_axis(g: Any) -> int:
    """PyTorch's sequence layers put the batch second unless batch_first."""
    seq = [spec for spec in g.layers if spec.type.lower() in {s.lower() for s in SEQUENCE}]
    return 1 if seq and not seq[0].batch_first else 0


def _refused(net: dict[str, Any], key: str) -> dict[str, Any]:
    """Where torch refused a layer (a wrong inferred size), its answer is reported as such."""
    return {key: Refused(net["failed"][1])} if net["failed"] is not None else {}


def _blank_outs(net: dict[str, Any]) -> dict[str, Any]:
    """Blank outs, once torch has run every layer after them (and the loss with num_classes
    targets): the sizes the network accepted."""
    if net["failed"] is not None:
        return {}
    return {
        f"{r['layer'].name}.out": r["module"].out_features
        if isinstance(r["module"], nn.Linear)
        else r["module"].out_channels
        for r in net["runs"]
        if r["layer"].family in ("linear", "conv") and r["layer"].spec.out is None
    }


def _shape(y: torch.Tensor, batched: bool, axis: int = 0) -> list[int]:
    """The shape as the problem has it: without the batch of one an example ran in."""
    shape = list(y.shape)
    if not batched and shape:
        del shape[axis if len(shape) > axis else 0]
    return shape


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _point(g: Any, batch: int) -> dict[str, int]:
    """The symbols of a network's answers and what torch ran with."""
    point = {str(d): batch for d in g.input_shape if not isinstance(d, int)}
    if g.batch_symbol is not None:
        point[g.batch_symbol] = BATCH
    return point


def _inferred_in(run: dict[str, Any]) -> int:
    m = run["module"]
    return m.in_features if isinstance(m, nn.Linear) else m.in_channels


@crosscheck("mlp")
def mlp(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    net = run_network(g, s, device)
    runs, batched = net["runs"], net["batched"]
    point = _point(g, net["batch"])
    out: dict[str, Any] = {}
    for k, run in enumerate(runs, start=1):
        layer = run["layer"]
        out[f"z{k}"] = At(_shape(run["y"], batched, net["batch_axis"]), point)
        if layer.spec.in_ is None and layer.family == "linear":
            out[f"{layer.name}.in"] = _inferred_in(run)
        if layer.family in ("linear", "norm", "embedding", "sequence"):
            out[f"params.{layer.name}"] = _params(run["module"])
        if layer.family == "linear" or (layer.family == "sequence" and not g.count_bias):
            out[f"macs.{layer.name}"] = At(run["macs"], point)
        if layer.family == "sequence":
            module = run["module"]
            width = run["x"].shape[-1]
            if f"{layer.name}.in" in s.answers:
                out[f"{layer.name}.in"] = width
            if module.h_n is not None:
                out[f"{layer.name}.h_n"] = At(_shape(module.h_n, batched, 1), point)
            if module.c_n is not None:
                out[f"{layer.name}.c_n"] = At(_shape(module.c_n, batched, 1), point)
    scored = next(
        (r for r in runs if r["layer"].family == "loss" or r["layer"].type == "Softmax"), None
    )
    if scored is not None and "logits" in s.answers:
        out["logits"] = next(
            (f"z{j}" for j, r in enumerate(runs, start=1) if r["y"] is scored["x"]), "x"
        )
    if net["failed"] is not None:
        return {**out, **_refused(net, f"z{len(runs) + 1}")}
    out.update(_blank_outs(net))
    C = sum(_params(r["module"]) for r in runs)
    out["params.total"] = C
    if not (g.count_bias and _sequence(g)):  # FlopCounterMode does not count bias additions
        out["macs.total"] = At(sum(r["macs"] for r in runs), point)
    K = sum(
        r["y"].numel() // net["batch"]
        for r in runs
        if r["y"].dim() > 0 and r["layer"].family != "loss"
    )
    n = BATCH if g.batch_symbol is not None else net["batch"]
    out["activations.per_example"] = K
    out["activation_elements"] = At(n * K, point)
    out["memory.params_bytes"] = C * g.dtype_bytes
    out["memory.activation_bytes"] = At(n * K * g.dtype_bytes, point)
    out["memory.crossover_batch"] = next(b for b in range(1, C + 2) if b * K > C)
    out["memory.dominant"] = "activations" if K > 0 else "parameters"  # as n·K grows past C
    return out


@crosscheck("conv")
def conv(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    net = run_network(g, s, device)
    runs, batched = net["runs"], net["batched"]
    point = _point(g, net["batch"])
    out: dict[str, Any] = {}
    for run in runs:
        layer, y = run["layer"], run["y"]
        name = layer.name
        out[f"{name}.output_shape"] = At(_shape(y, batched), point)
        if layer.family in ("conv", "pool"):
            out[f"{name}.output_size"] = list(y.shape[2:])
        if layer.spec.in_ is None and layer.family in ("linear", "conv"):
            out[f"{name}.in"] = _inferred_in(run)
        if layer.family in ("linear", "conv", "norm"):
            out[f"{name}.params"] = _params(run["module"])
        if layer.family in ("linear", "conv"):
            out[f"{name}.macs"] = At(run["macs"], point)
    if net["failed"] is not None:
        return {**out, **_refused(net, f"{net['failed'][0].name}.output_shape")}
    out.update(_receptive_fields(runs, s, device))
    out.update(_blank_outs(net))
    out["params.total"] = sum(_params(r["module"]) for r in runs)
    out["macs.total"] = At(sum(r["macs"] for r in runs), point)
    first = runs[0]["x"]
    last = next(r["y"] for r in reversed(runs) if r["layer"].family != "loss")
    out["activations.input"] = At(first.numel(), point)
    out["activations.output"] = At(last.numel(), point)
    out["memory.change"] = At((last.numel() - first.numel()) * g.dtype_bytes, point)
    out["memory.ratio"] = last.numel() / first.numel()
    return out


# --------------------------------------------------------------------------- receptive fields

PROBE = 1 << 12
#: layers that keep every position where it is: the field passes through them
KEEP_POSITIONS = (
    *("ReLU", "LeakyReLU", "GELU", "ELU", "SiLU", "Tanh", "Sigmoid", "Dropout", "Softmax"),
    *("BatchNorm1d", "BatchNorm2d"),
)  # the probe's input length: wide enough that the middle output's field fits


def _probe(windows: list[tuple[int, int, int, int]], device: Any) -> list[tuple[int, int]]:
    """Receptive field and jump after each window (k, s, p, d) along one axis, found by
    autograd: a stack of all-ones 1-d convolutions over a long input; the input positions
    whose gradient reaches a middle output are its field, and the field of the next output
    starts the jump further on."""
    found = []
    for n in range(1, len(windows) + 1):
        x = torch.ones(1, 1, PROBE, dtype=torch.float64, device=device, requires_grad=True)
        y = x
        for k, s, p, d in windows[:n]:
            w = torch.ones(1, 1, k, dtype=torch.float64, device=device)
            y = F.conv1d(y, w, stride=s, padding=p, dilation=d)
        mid = y.shape[-1] // 2
        starts, width = [], 0
        for j in (mid, mid + 1):
            (grad,) = torch.autograd.grad(y[0, 0, j], x, retain_graph=True)
            seen = torch.nonzero(grad[0, 0]).flatten()
            starts.append(int(seen[0]))
            width = int(seen[-1] - seen[0]) + 1
        found.append((width, starts[1] - starts[0]))
    return found


def _receptive_fields(runs: list[dict[str, Any]], s: Solution, device: Any) -> dict[str, Any]:
    """``<name>.receptive_field`` and ``.jump`` of the convolutions and poolings, from the
    given's kernels, strides and dilations of the layers torch ran, until a layer that ends
    the window structure (Flatten, Linear, adaptive pooling, a transposed convolution)."""
    layers = [run["layer"] for run in runs]
    axes = 1 if any(layer.type in ("Conv1d", "MaxPool1d", "AvgPool1d") for layer in layers) else 2
    windows: list[list[tuple[int, int, int, int]]] = [[] for _ in range(axes)]
    names = []
    for layer in layers:
        sp, t = layer.spec, layer.type
        if t in ("Conv2d", "Conv1d", "MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d"):
            k = sp.kernel or (1, 1)
            st = sp.stride or ((1, 1) if t.startswith("Conv") else k)
            d = sp.dilation if sp.dilation and not t.startswith("AvgPool") else (1, 1)
            for a in range(axes):
                windows[a].append((k[a], st[a], 0, d[a]))
            names.append(layer.name)
        elif t in KEEP_POSITIONS:
            continue
        else:
            break
    if not names:
        return {}
    per_axis = [_probe(w, device) for w in windows]
    out: dict[str, Any] = {}
    for i, name in enumerate(names):
        rf = [axis[i][0] for axis in per_axis]
        jump = [axis[i][1] for axis in per_axis]
        if f"{name}.receptive_field" in s.answers:
            out[f"{name}.receptive_field"], out[f"{name}.jump"] = rf[0], jump[0]
        else:
            out[f"{name}.receptive_field_hw"], out[f"{name}.jump_hw"] = rf, jump
    return out


# --------------------------------------------------------------------------- conv_matrix


def _tensor(values: Any, point: Mapping[str, Any], device: Any) -> torch.Tensor:
    """Exact values (symbols replaced by the point's numbers) as a float64 tensor."""
    return torch.tensor(
        exact.to_float(at_point(exact.tmap(exact.to_sympy, values), point)),
        dtype=torch.float64,
        device=device,
    )


@crosscheck("conv_matrix")
def conv_matrix(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    rank = len(exact.shape(g.kernel))
    stride, padding, dilation = (
        _per_axis(g.stride, 1, rank),
        _per_axis(g.padding, 0, rank),
        _per_axis(g.dilation, 1, rank),
    )
    lead = list(g.input_shape[: len(g.input_shape) - rank])
    spatial = list(g.input_shape[-rank:])
    slices = math.prod(lead)
    conv, conv_t = (F.conv1d, F.conv_transpose1d) if rank == 1 else (F.conv2d, F.conv_transpose2d)

    def forward(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return conv(
            x.reshape(slices, 1, *spatial), w, stride=stride, padding=padding, dilation=dilation
        )

    kernel_shape = exact.shape(g.kernel)
    n_in = slices * math.prod(spatial)
    probe = torch.zeros(n_in, dtype=torch.float64, device=device)
    out_sp = list(forward(probe, torch.zeros(1, 1, *kernel_shape, dtype=probe.dtype)).shape[2:])
    x_exact = g.x if g.x is not None else _symbols_of("x", g.input_shape)
    dy_exact = g.grad_y if g.grad_y is not None else _symbols_of("dy", [*lead, *out_sp])
    point = random_point(symbols_of(g.kernel, x_exact, dy_exact), seed=len(exact.flatten(g.kernel)))
    w = _tensor(g.kernel, point, device).reshape(1, 1, *kernel_shape)

    columns = [
        forward(torch.eye(n_in, dtype=torch.float64, device=device)[j], w).reshape(-1)
        for j in range(n_in)
    ]
    A = torch.stack(columns, dim=1)
    x = _tensor(x_exact, point, device).reshape(-1).requires_grad_(True)
    y = forward(x, w)
    dy = _tensor(dy_exact, point, device).reshape(y.shape)
    y.backward(dy)
    extra = [
        n + 2 * p - d * (k - 1) - 1 - (o - 1) * st
        for n, p, d, k, o, st in zip(
            spatial, padding, dilation, exact.shape(g.kernel), out_sp, stride, strict=True
        )
    ]
    n_out = slices * math.prod(out_sp)
    rows = [
        conv_t(
            torch.eye(n_out, dtype=torch.float64, device=device)[i].reshape(slices, 1, *out_sp),
            w,
            stride=stride,
            padding=padding,
            output_padding=extra,
            dilation=dilation,
        ).reshape(-1)
        for i in range(n_out)
    ]
    return {
        "output_shape": [*lead, *out_sp],
        "matrix": At(A, point),
        "output": At(y.reshape(-1), point),
        "input_gradient": At(x.grad, point),
        "transposed": At(torch.stack(rows, dim=1), point),
    }


def _per_axis(pair: Any, default: int, rank: int) -> list[int]:
    """A given's stride, padding or dilation for each convolved axis (one number, or a
    [height, width] pair of which a 1-D kernel takes the last)."""
    if pair is None:
        return [default] * rank
    values = list(pair) if isinstance(pair, (list, tuple)) else [pair, pair]
    return [int(v) for v in values[2 - rank :]]


def _symbols_of(prefix: str, shape: list[int]) -> list[Any]:
    """The symbols the kind names a tensor's entries with, row-major: x1..x4, x11..x24
    (x_1_10 once an index reaches 10): the names its symbolic answers are written in."""
    sep = "_" if max(shape) > 9 else ""
    return [
        exact.symbol(prefix + sep + sep.join(str(i + 1) for i in idx))
        for idx in itertools.product(*(range(n) for n in shape))
    ]


# --------------------------------------------------------------------------- softmax_ce


@crosscheck("softmax_ce")
def softmax_ce(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    point = random_point(symbols_of(g.logits), seed=1)
    z = _tensor(g.logits, point, device)
    single = z.dim() == 1
    z = (z.unsqueeze(0) if single else z).clone().requires_grad_(True)
    if g.target is not None:
        target = _tensor(g.target, {}, device)
        target = target.unsqueeze(0) if single else target
    else:
        labels = [g.label] if single else g.labels
        target = torch.tensor(labels, device=device)
    T = 1.0 if g.temperature is None else float(g.temperature)
    loss = F.cross_entropy(z / T, target, reduction=g.reduction)
    loss.backward()  # autograd through z/T: the 1/T of the gradient is torch's, not ours
    p = torch.softmax(z.detach() / T, dim=-1)
    pred = z.detach().argmax(dim=-1)
    out = {
        "probabilities": At(p[0] if single else p, point),
        "loss": At(loss, point),
        "grad_logits": At(z.grad[0] if single else z.grad, point),
    }
    if "predicted" in s.answers:  # not for symbolic logits
        out["predicted"] = int(pred[0]) if single else pred
    if g.temperature is not None:
        H = torch.distributions.Categorical(probs=p).entropy()
        out["entropy"] = At(H[0] if single else H, point)
        # the limits as a very cold and a very hot softmax: float64 makes both exact to 1e-12
        for key, very in (("cold_limit", 1e-9), ("hot_limit", 1e15)):
            if key in s.answers:
                limit = torch.softmax(z.detach() / very, dim=-1)
                out[key] = limit[0] if single else limit
    return out


# --------------------------------------------------------------------------- distillation


@crosscheck("distillation")
def distillation(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    """The soft loss as PyTorch recipes write it, T²·kl_div(log_softmax(z_s/T), softmax(z_t/T)),
    its gradient by autograd, the hard loss by cross_entropy."""
    T = float(g.temperature)
    zt = _tensor(g.teacher, {}, device)
    zs = _tensor(g.student, {}, device).clone().requires_grad_(True)
    q = torch.softmax(zt / T, dim=-1)
    log_p = F.log_softmax(zs / T, dim=-1)
    kl = F.kl_div(log_p, q, reduction="sum")
    soft = kl * T * T
    soft.backward()
    out = {
        "soft_targets": q,
        "student_probabilities": log_p.detach().exp(),
        "kl": kl.detach(),
        "soft_loss": soft.detach(),
        "grad_student": zs.grad,
    }
    if g.label is not None:
        target = torch.tensor([g.label], device=device)
        hard = F.cross_entropy(zs.detach().unsqueeze(0), target)
        out["hard_loss"] = hard
        if g.alpha is not None:
            alpha = float(g.alpha)
            out["loss"] = alpha * soft.detach() + (1 - alpha) * hard
    return out
