"""A graph built from compute lines, its forward pass, and reverse-mode differentiation.

:func:`build` turns parsed lines into a DAG of :class:`GNode` (one per operation,
named or not, and one per given value or constant), checking that every name
is defined before it is used and every function and argument exists.
:func:`forward` computes every value; :func:`backward` walks the nodes in
reverse, and for each one adds up what its consumers send back (upstream ×
local, the op table's ``backward``), which is the sum at a fork. Both take a
hook called on each named value and each final gradient, which is how a
solution carries a student's own earlier answer forward.

Errors are :class:`GraphError`: which line (0-based) and one sentence naming
the expression and the shapes, as in ``h @ W2: [2, 2] @ [3, 3] do not chain``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..parse import MAX_EXPONENT, ParseError
from . import lang
from .ops import BINARY, FUNCTIONS, OPS, Ctx, Op, Rules
from .scalar import GraphValueError, Value
from .tensor import MAX_ELEMENTS, ShapeError, Tensor, show, zeros

MAX_WORK = 3_000_000  # multiply-adds of one matmul or convolution
MAX_NODES = 2_000  # operations in one graph


class GraphError(ValueError):
    """A graph that cannot be built or computed: the line (0-based, None for the givens) and
    a sentence saying why."""

    def __init__(
        self,
        message: str,
        line: int | None = None,
        field: str = "compute",
        parse: ParseError | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.line, self.field = message, line, field
        #: the text and position at fault, when the line could not be read
        self.parse = parse


@dataclass
class GNode:
    id: int
    kind: str  # input | param | const | op
    op: str | None = None
    inputs: list[int] = field(default_factory=list)
    kw: dict[str, Any] = field(default_factory=dict)
    name: str | None = None  # a given's name, or the name a line assigns
    ast: lang.Node | None = None
    line: int | None = None
    source: str = ""  # the expression as written
    value: Tensor | None = None  # a constant's value

    @property
    def label(self) -> str:
        return self.name or f"({self.source})"


@dataclass
class Graph:
    nodes: list[GNode]
    names: dict[str, int]  # every name (given or assigned) -> its node
    statements: list[lang.Statement]
    leaves: list[str]  # given names, in order

    def node(self, name: str) -> GNode:
        return self.nodes[self.names[name]]

    @property
    def assigned(self) -> list[str]:
        return [st.target for st in self.statements]


def build(lines: Sequence[str], leaves: Mapping[str, str]) -> Graph:
    """The graph of ``lines`` over the given names (``leaves``: name -> input or param)."""
    if len(lines) > lang.MAX_LINES:
        raise GraphError(f"a graph has at most {lang.MAX_LINES} lines, got {len(lines)}")
    nodes: list[GNode] = []
    names: dict[str, int] = {}
    for name, kind in leaves.items():
        names[name] = len(nodes)
        nodes.append(GNode(len(nodes), kind, name=name, source=name))
    statements = []
    for i, text in enumerate(lines):
        try:
            st = lang.parse_statement(text)
        except ParseError as err:
            raise GraphError(str(err), i, parse=err) from None
        if st.target in names:
            what = "a given value" if names[st.target] < len(leaves) else "an earlier line"
            raise GraphError(
                str(ParseError(f"{st.target!r} is already defined by {what}", text, st.target_pos)),
                i,
            )
        if st.target in FUNCTIONS:
            raise GraphError(
                str(ParseError(f"{st.target!r} is a function's name", text, st.target_pos)), i
            )
        builder = _Builder(nodes, names, st, i)
        root = builder.expr(st.expr)
        if nodes[root].kind != "op" or nodes[root].name is not None:
            n = GNode(
                len(nodes), "op", "copy", [root], ast=st.expr, line=i, source=st.source(st.expr)
            )
            nodes.append(n)
            root = n.id
        nodes[root].name = st.target
        names[st.target] = root
        statements.append(st)
        if len(nodes) > MAX_NODES:
            raise GraphError(f"the graph has more than {MAX_NODES} operations", i)
    return Graph(nodes, names, statements, list(leaves))


class _Builder:
    def __init__(self, nodes: list[GNode], names: dict[str, int], st: lang.Statement, line: int):
        self.nodes, self.names, self.st, self.line = nodes, names, st, line

    def fail(self, reason: str, pos: int) -> GraphError:
        err = ParseError(reason, self.st.text, pos)
        return GraphError(str(err), self.line, parse=err)

    def add(
        self, op: str, inputs: list[int], node: lang.Node, kw: dict[str, Any] | None = None
    ) -> int:
        n = GNode(
            len(self.nodes),
            "op",
            op,
            inputs,
            kw or {},
            ast=node,
            line=self.line,
            source=self.st.source(node),
        )
        self.nodes.append(n)
        return n.id

    def const(self, value: Any, node: lang.Node) -> int:
        t = Tensor((), [value]) if not isinstance(value, list) else _constant_list(value)
        n = GNode(
            len(self.nodes), "const", value=t, ast=node, line=self.line, source=self.st.source(node)
        )
        self.nodes.append(n)
        return n.id

    def expr(self, node: lang.Node) -> int:
        tag = node.tag
        if tag == "num":
            return self.const(node.value, node)
        if tag == "list":
            return self.const(self.literal(node), node)
        if tag == "name":
            if node.value not in self.names:
                known = ", ".join(self.names) or "none"
                if node.value in FUNCTIONS:
                    raise self.fail(
                        f"{node.value} is a function: write {node.value}(...)", node.start
                    )
                raise self.fail(
                    f"{node.value!r} is not defined before this line (defined so far: {known})",
                    node.start,
                )
            return self.names[node.value]
        if tag == "neg":
            return self.add("neg", [self.expr(node.args[0])], node)
        if tag == "T":
            return self.add("T", [self.expr(node.args[0])], node)
        if tag == "index":
            return self.add("index", [self.expr(node.args[0])], node, {"idx": list(node.value)})
        if tag == "bin":
            if node.value == "^":
                n = self.exponent(node.args[1])
                return self.add("pow", [self.expr(node.args[0])], node, {"n": n})
            return self.add(BINARY[node.value], [self.expr(a) for a in node.args], node)
        return self.call(node)

    def exponent(self, node: lang.Node) -> int:
        if node.tag != "num" or not isinstance(node.value, int):
            raise self.fail("a power must be a whole number, as in x^2 or x^-1", node.start)
        if abs(node.value) > MAX_EXPONENT:
            raise self.fail(f"the exponent {node.value} is larger than {MAX_EXPONENT}", node.start)
        return node.value

    def literal(self, node: lang.Node) -> Any:
        if node.tag == "num":
            return node.value
        if node.tag == "list":
            return [self.literal(a) for a in node.args]
        raise self.fail("a list written in a line may hold numbers only", node.start)

    def call(self, node: lang.Node) -> int:
        fname = node.value
        if fname not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.fail(f"unknown function {fname!r} (known: {known})", node.start)
        op = OPS[fname]
        tensor_slots = [a for a in op.args]
        required = [a for a in tensor_slots if not a.endswith(("?", "*"))]
        args = list(node.args)
        kw_nodes = dict(node.kwargs)
        if op.variadic:
            tensors, statics = args, []
            if not tensors:
                raise self.fail(f"{fname} needs at least one tensor", node.start)
        else:
            tensors = args[: len(tensor_slots)]
            statics = args[len(tensor_slots) :]
            # a keyword may name an optional tensor (b=...)
            for slot in tensor_slots:
                if slot.rstrip("?") in kw_nodes and slot.endswith("?"):
                    if len(tensors) < tensor_slots.index(slot):
                        raise self.fail(f"{fname}: give the earlier arguments first", node.start)
                    if len(tensors) == tensor_slots.index(slot):
                        tensors.append(kw_nodes.pop(slot.rstrip("?")))
            # statics given positionally: leaky_relu(x, 0.1), maxpool2d(x, 2)
            if len(tensors) < len(required):
                raise self.fail(
                    f"{fname} takes {', '.join(required)}; got {len(tensors)} argument(s)",
                    node.start,
                )
            # a positional argument after the required tensors is an optional tensor if the op has
            # one and it is not a number, else the next static parameter
            extra = []
            for a in statics:
                opt = [s for s in tensor_slots[len(tensors) :] if s.endswith("?")]
                if opt and a.tag not in ("num",):
                    tensors.append(a)
                else:
                    extra.append(a)
            statics = extra
        kw: dict[str, Any] = {}
        params = list(op.params)
        if len(statics) > len(params):
            raise self.fail(
                f"{fname} takes at most {len(tensor_slots) + len(params)} arguments", node.start
            )
        for p, a in zip(params, statics, strict=False):
            kw[p.name] = self.static(p.kind, a, fname, p.name)
        for key, a in kw_nodes.items():
            p = next((p for p in params if p.name == key), None)
            if p is None:
                names = [p.name for p in params] + [
                    s.rstrip("?") for s in tensor_slots if s.endswith("?")
                ]
                raise self.fail(
                    f"{fname} has no argument {key!r}"
                    + (f" (it takes {', '.join(names)})" if names else ""),
                    node.kwpos.get(key, node.start),
                )
            if key in kw:
                raise self.fail(f"{fname}: {key!r} is given twice", node.kwpos.get(key, node.start))
            kw[key] = self.static(p.kind, a, fname, key)
        for p in params:
            if p.name not in kw:
                if p.required:
                    raise self.fail(f"{fname} needs the argument {p.name!r}", node.start)
                kw[p.name] = p.default
        return self.add(fname, [self.expr(t) for t in tensors], node, kw)

    def static(self, kind: str, a: lang.Node, fname: str, pname: str) -> Any:
        if kind == "axis" and a.tag == "name" and a.value == "None":
            return None
        if kind == "ints":
            if a.tag == "list" and all(x.tag == "num" and isinstance(x.value, int) for x in a.args):
                return [x.value for x in a.args]
            if a.tag == "num" and isinstance(a.value, int):
                return [a.value]
            raise self.fail(
                f"{fname}: {pname} must be a list of whole numbers such as [2, 3]", a.start
            )
        if a.tag != "num":
            raise self.fail(f"{fname}: {pname} must be a number written in the line", a.start)
        v = a.value
        if kind in ("int", "axis"):
            if not isinstance(v, int):
                raise self.fail(f"{fname}: {pname} must be a whole number", a.start)
            if kind == "int" and (v < (0 if pname == "padding" else 1) or v > 1000):
                raise self.fail(f"{fname}: {pname} = {v} is out of range", a.start)
        return v


def _constant_list(value: Any) -> Tensor:
    from ..exact import RaggedError, shape

    try:
        shape(value)
    except RaggedError as err:
        raise GraphValueError(f"the list {err}") from None
    from .tensor import from_nested

    return from_nested(value)


# --------------------------------------------------------------------------- forward

Hook = Callable[[str, Tensor], Tensor]


@dataclass
class Back:
    """A backward pass: each node's final gradient, what each consumer sent back to it, and the
    order in which the gradients became final (reverse topological)."""

    grads: dict[int, Tensor] = field(default_factory=dict)
    #: node -> [(consumer, argument index, gradient sent)] in the order they arrived
    sent: dict[int, list[tuple[int, int, Tensor]]] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)


@dataclass
class Run:
    graph: Graph
    values: list[Tensor | None]
    ties: set[int] = field(default_factory=set)  # nodes whose forward found a tie
    zeros_at_kinks: set[int] = field(default_factory=set)  # relu-like nodes fed an exact 0

    def value(self, name: str) -> Tensor:
        v = self.values[self.graph.names[name]]
        assert v is not None
        return v


def _where(g: Graph, n: GNode) -> str:
    return n.source if n.name is None or n.kind != "op" else f"{n.source}"


def forward(g: Graph, leaves: Mapping[str, Tensor], hook: Hook | None = None) -> Run:
    """Every value, in order; ``hook(name, value)`` may replace a named value (carried forward)."""
    run = Run(g, [None] * len(g.nodes))
    for n in g.nodes:
        if n.kind in ("input", "param"):
            run.values[n.id] = leaves[n.name or ""]
            continue
        if n.kind == "const":
            run.values[n.id] = n.value
            continue
        op = OPS[n.op or ""]
        ins = [run.values[i] for i in n.inputs]
        ctx = Ctx(ins, zeros(()), zeros(()), n.kw, Rules())  # type: ignore[arg-type]
        try:
            _check_work(op, ins, n.kw)
            out = op.forward(ins, n.kw, ctx)  # type: ignore[arg-type]
        except (ShapeError, GraphValueError) as err:
            raise GraphError(f"{n.source}: {err}", n.line) from None
        except ZeroDivisionError:
            raise GraphError(f"{n.source}: division by zero", n.line) from None
        if out.size > MAX_ELEMENTS:
            raise GraphError(
                f"{n.source}: the result has {out.size:,} entries, more than the {MAX_ELEMENTS:,} "
                "a problem may compute",
                n.line,
            )
        if ctx.ties:
            run.ties.add(n.id)
        if n.op in ("relu", "leaky_relu", "abs") and any(v == 0 for v in ins[0].data):  # type: ignore[union-attr]
            run.zeros_at_kinks.add(n.id)
        if n.name is not None and hook is not None:
            out = hook(n.name, out)
        run.values[n.id] = out
    return run


def _check_work(op: Op, ins: list[Tensor], kw: dict[str, Any]) -> None:
    if op.name == "matmul":
        a, b = ins
        work = a.size * (b.shape[-1] if b.ndim == 2 else 1)
    elif op.name in ("conv1d", "conv2d"):
        work = ins[0].size * ins[1].size
    else:
        return
    if work > MAX_WORK:
        raise ShapeError(f"this needs {work:,} multiplications, more than the {MAX_WORK:,} allowed")


# --------------------------------------------------------------------------- backward


def backward(
    run: Run,
    output: str,
    rules: Rules | None = None,
    hook: Hook | None = None,
    wanted: Sequence[str] = (),
) -> Back:
    """∂output/∂(every node), in reverse order. A node's gradient is final once every node
    after it has sent back its share; then ``hook`` may replace it, and its op sends back
    upstream × local to its inputs."""
    rules = rules or Rules()
    g = run.graph
    out_id = g.names[output]
    y = run.values[out_id]
    assert y is not None
    if y.size != 1:
        raise GraphError(
            f"the output {output} has shape {show(y.shape)}; backpropagation starts from a "
            "scalar (take its sum or mean)",
            None,
            "output",
        )
    back = Back({}, {n.id: [] for n in g.nodes}, [])
    seed = Tensor(y.shape, [1])
    for n in reversed(g.nodes[: out_id + 1]):
        if n.kind == "const":
            continue
        value = run.values[n.id]
        assert value is not None
        if n.id == out_id:
            grad = seed
        else:
            parts = back.sent[n.id]
            if not parts:
                grad = zeros(value.shape)
            elif rules.fork_sum or len(parts) == 1:
                grad = parts[0][2]
                for _, _, t in parts[1:]:
                    grad = Tensor(
                        grad.shape, [a + b for a, b in zip(grad.data, t.data, strict=True)]
                    )
            else:
                grad = parts[0][2]
        if grad.shape != value.shape and not rules.transpose_right:
            back.grads[n.id] = grad  # a transposed gradient goes no further: it does not fit
            back.order.append(n.id)
            continue
        if grad.shape != value.shape:
            raise GraphError(
                f"the gradient of {n.label} has shape {show(grad.shape)} but {n.label} has shape "
                f"{show(value.shape)}",
                n.line,
            )
        if n.name is not None and hook is not None and (n.kind == "op" or n.name in wanted):
            grad = hook(n.name, grad)
        back.grads[n.id] = grad
        back.order.append(n.id)
        if n.kind != "op" or (n.id != out_id and not back.sent[n.id]):
            continue
        op = OPS[n.op or ""]
        ins = [run.values[i] for i in n.inputs]
        ctx = Ctx(ins, value, grad, n.kw, rules)  # type: ignore[arg-type]
        try:
            local = op.backward(ctx)
        except (ShapeError, GraphValueError) as err:
            raise GraphError(f"{n.source}: {err}", n.line) from None
        except ZeroDivisionError:
            raise GraphError(f"{n.source}: division by zero in its gradient", n.line) from None
        for k, (i, d) in enumerate(zip(n.inputs, local, strict=False)):
            if d is None or k in op.nondiff or g.nodes[i].kind == "const":
                continue
            back.sent[i].append((n.id, k, d))
    return back


def differentiable(g: Graph, output: str) -> set[str]:
    """The given names the output depends on through differentiable arguments."""
    reach = {g.names[output]}
    for n in reversed(g.nodes):
        if n.id in reach and n.kind == "op":
            op = OPS[n.op or ""]
            for k, i in enumerate(n.inputs):
                if k not in op.nondiff:
                    reach.add(i)
    return {n.name for n in g.nodes if n.kind in ("input", "param") and n.id in reach and n.name}


# --------------------------------------------------------------------------- for other kinds


def differentiate(expression: str, point: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The value of a scalar ``expression`` (in the graph language) at ``point`` and its
    gradient with respect to each name of the point, exactly: what an optimizer's
    ``objective`` in θ needs at each step. Values come back as exact scalars or nested
    lists (ints, Fractions, sympy); a GraphError says what is wrong with the text."""
    from .scalar import from_exact, to_exact
    from .tensor import from_nested

    leaves = {name: "param" for name in point}
    line = f"objective_value = {expression}"
    try:
        g = build([line], leaves)
    except GraphError as err:
        if err.parse is None or (err.parse.position or 0) < len(line) - len(expression):
            raise
        at = err.parse.shifted(expression, len(expression) - len(line))  # where in the expression
        raise GraphError(str(at), None, "objective", at) from None
    values = {k: from_nested(_map(from_exact, v)) for k, v in point.items()}
    run = forward(g, values)
    back = backward(run, "objective_value")
    value = to_exact(run.value("objective_value").item())
    grads = {k: _map(to_exact, back.grads[g.names[k]].nested()) for k in point}
    return value, grads


def _map(f: Callable[[Any], Any], v: Any) -> Any:
    return [_map(f, x) for x in v] if isinstance(v, list) else f(v)


def leaf_tensor(value: Any) -> Tensor:
    """A given (nested exact values) as a Tensor of graph scalars."""
    from .scalar import from_exact
    from .tensor import from_nested

    return from_nested(_map(from_exact, value))


def exact_nested(t: Tensor) -> Any:
    from .scalar import to_exact

    return _map(to_exact, t.nested())


__all__ = [
    "MAX_ELEMENTS",
    "Back",
    "Fraction",
    "Graph",
    "GraphError",
    "Rules",
    "Run",
    "Value",
    "backward",
    "build",
    "differentiable",
    "differentiate",
    "forward",
    "math",
]
