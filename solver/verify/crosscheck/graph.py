"""The ``graph`` kind recomputed by PyTorch autograd in float64.

Each compute line is parsed by the language's own whitelist parser
(:mod:`solver.graph.lang`, a tree of the text, nothing evaluated) and the tree
is translated here, independently of the kind's op table, to torch calls:
``@`` is ``torch.matmul``, ``softmax`` is ``torch.softmax``, ``conv1d`` is
``torch.nn.functional.conv1d``, ``cross_entropy`` is ``F.cross_entropy``, and
so on. Every named node keeps its gradient (``retain_grad``), the output's
``backward()`` fills them, and the SGD step is ``torch.optim.SGD``. A max-pool
or max with a tie routes as torch's CPU kernels do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F

from ... import exact
from ...graph import lang
from ...solution import Solution
from . import crosscheck

F64 = torch.float64


def _t(x: Any, device: Any) -> torch.Tensor:
    return torch.tensor(exact.to_float(x), dtype=F64, device=device)


def _rev(x: torch.Tensor) -> torch.Tensor:
    return x.permute(*reversed(range(x.ndim))) if x.ndim >= 2 else x


def _spatial(fn: Callable[..., torch.Tensor], nd: int) -> Callable[..., torch.Tensor]:
    """A conv or pool that torch wants batched: unbatched inputs get the axes it needs."""

    def call(x: torch.Tensor, *rest: Any, **kw: Any) -> torch.Tensor:
        if x.ndim == nd:
            return fn(x[None, None], *rest, **kw)[0, 0]
        if x.ndim == nd + 1:
            return fn(x[None], *rest, **kw)[0]
        return fn(x, *rest, **kw)

    return call


def _conv(nd: int) -> Callable[..., torch.Tensor]:
    conv = F.conv1d if nd == 1 else F.conv2d

    def call(
        x: torch.Tensor,
        w: torch.Tensor,
        b: torch.Tensor | None = None,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
    ) -> torch.Tensor:
        if x.ndim == nd and w.ndim == nd:
            bias = None if b is None else b.reshape(1)
            y = conv(x[None, None], w[None, None], bias, stride, padding, dilation)
            return y[0, 0]
        if x.ndim == nd + 1:
            return conv(x[None], w, b, stride, padding, dilation)[0]
        return conv(x, w, b, stride, padding, dilation)

    return call


def _max(x: torch.Tensor, axis: int | None = None) -> torch.Tensor:
    if axis is None:
        return x.reshape(-1).max(dim=0).values
    return x.max(dim=axis).values


def _ce(z: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    if z.ndim == 1:
        return F.cross_entropy(z[None], k.reshape(1).long())
    return F.cross_entropy(z, k.long())


def _pool(fn: Callable[..., torch.Tensor], nd: int) -> Callable[..., torch.Tensor]:
    inner = _spatial(fn, nd)

    def call(x: torch.Tensor, k: int, stride: int | None = None) -> torch.Tensor:
        return inner(x, k, stride or k)

    return call


TORCH: dict[str, Callable[..., torch.Tensor]] = {
    "relu": torch.relu,
    "leaky_relu": lambda x, a=0.01: F.leaky_relu(x, float(a)),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "sin": torch.sin,
    "cos": torch.cos,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "sum": lambda x, axis=None: x.sum() if axis is None else x.sum(dim=axis),
    "mean": lambda x, axis=None: x.mean() if axis is None else x.mean(dim=axis),
    "max": _max,
    "softmax": lambda x, axis=-1: torch.softmax(x, dim=axis),
    "log_softmax": lambda x, axis=-1: torch.log_softmax(x, dim=axis),
    "logsumexp": lambda x, axis=-1: torch.logsumexp(x, dim=axis),
    "cross_entropy": _ce,
    "mse": F.mse_loss,
    "bce": F.binary_cross_entropy,
    "conv1d": _conv(1),
    "conv2d": _conv(2),
    "maxpool2d": _pool(F.max_pool2d, 2),
    "maxpool1d": _pool(F.max_pool1d, 1),
    "avgpool2d": _pool(F.avg_pool2d, 2),
    "concat": lambda *xs, axis=0: torch.cat(xs, dim=axis),
    "reshape": lambda x, shape: x.reshape(shape),
    "flatten": lambda x: x.reshape(-1),
}
#: arguments that are numbers written in the line, not tensors
STATIC = {"axis", "stride", "padding", "dilation", "k", "a", "shape"}
POSITIONAL_STATIC = {"leaky_relu": 1, "maxpool2d": 1, "maxpool1d": 1, "avgpool2d": 1, "reshape": 1}


class TorchExpression:
    """Evaluates a parsed line with torch operations."""

    def __init__(self, env: dict[str, torch.Tensor], device: Any) -> None:
        self.env, self.device = env, device

    def num(self, v: Any) -> torch.Tensor:
        return torch.tensor(float(v), dtype=F64, device=self.device)

    def static(self, node: lang.Node) -> Any:
        if node.tag == "num":
            return node.value
        if node.tag == "list":
            return [self.static(a) for a in node.args]
        if node.tag == "name" and node.value == "None":
            return None
        raise ValueError(f"not a static argument: {node.tag}")

    def eval(self, node: lang.Node) -> torch.Tensor:
        tag = node.tag
        if tag == "num":
            return self.num(node.value)
        if tag == "list":
            return torch.tensor(exact.to_float(self.static(node)), dtype=F64, device=self.device)
        if tag == "name":
            return self.env[node.value]
        if tag == "neg":
            return -self.eval(node.args[0])
        if tag == "T":
            return _rev(self.eval(node.args[0]))
        if tag == "index":
            return self.eval(node.args[0])[tuple(node.value)]
        if tag == "bin":
            a = self.eval(node.args[0])
            if node.value == "^":
                return a ** int(node.args[1].value)
            b = self.eval(node.args[1])
            return {
                "+": torch.add,
                "-": torch.sub,
                "*": torch.mul,
                "/": torch.div,
                "@": torch.matmul,
            }[node.value](a, b)
        fname = node.value
        fn = TORCH[fname]
        n_static = POSITIONAL_STATIC.get(fname)
        args = list(node.args)
        statics = []
        if n_static is not None and len(args) > n_static:
            statics = [self.static(a) for a in args[n_static:]]
            args = args[:n_static]
        tensors = [self.eval(a) for a in args]
        kwargs = {
            k: (self.static(v) if k in STATIC else self.eval(v)) for k, v in node.kwargs.items()
        }
        if fname in ("conv1d", "conv2d") and len(tensors) == 3:
            kwargs["b"] = tensors.pop()
        return fn(*tensors, *statics, **kwargs)


@crosscheck("graph")
def graph(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    env: dict[str, torch.Tensor] = {}
    leaves: dict[str, torch.Tensor] = {}
    for name, value in {**g.inputs, **g.params}.items():
        leaves[name] = env[name] = _t(value, device).requires_grad_(True)
    nodes: dict[str, torch.Tensor] = {}
    ev = TorchExpression(env, device)
    for line in g.compute:
        st = lang.parse_statement(line)
        y = ev.eval(st.expr)
        if any(y is t for t in env.values()):
            y = y.clone()
        if y.requires_grad:
            y.retain_grad()
        env[st.target] = nodes[st.target] = y
    out: dict[str, Any] = {name: v.detach().clone() for name, v in nodes.items()}
    output = g.output_name()
    if output is None:
        return out
    env[output].backward()
    for name, v in {**nodes, **leaves}.items():
        key = f"grad.{name}"
        if key in s.answers:
            out[key] = (
                v.grad.detach().clone() if v.grad is not None else torch.zeros_like(v.detach())
            )
    if g.lr is not None:
        params = [leaves[name] for name in g.params]
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        torch.optim.SGD(params, lr=float(exact.to_float(g.lr))).step()
        for name in g.params:
            out[f"new.{name}"] = leaves[name].detach()
    return out
