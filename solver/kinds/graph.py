"""Forward and backward through any small network, by hand: the ``graph`` kind.

The network is a list of assignments in the tensor expression language of
:mod:`solver.graph`. The worked solution is the staged computation a course
teaches: the forward table (node, expression, shape, value), then the
backward pass in reverse order, each node's gradient as upstream × local
for every node it feeds, summed at a fork, then the SGD step.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from fractions import Fraction
from typing import Annotated, Any

from pydantic import BeforeValidator, model_validator

from .. import exact
from ..display import Add, M, Raw, Table, Text, eq, m, rel, says, sub
from ..errors import DlsolveError, FieldError
from ..given import GivenModel, Number, TypeDoc, _scalar_validator, _tensor_validator
from ..graph import (
    MAX_ELEMENTS,
    OPS,
    Graph,
    GraphError,
    Rules,
    Tensor,
    backward,
    build,
    differentiable,
    exact_nested,
    forward,
    leaf_tensor,
)
from ..graph import writing as w
from ..graph.autodiff import Back, Run
from ..graph.ops import FUNCTIONS, TRANSCENDENTAL
from ..graph.tensor import show as show_shape
from ..solution import Key, Solution
from . import Kind, kind
from .common import plain_given, same_shape


def _count(value: Any) -> int:
    """Entries of a raw nested list, counted before anything is parsed (a 10⁶-entry list
    is refused without reading a million numbers)."""
    n, level = 0, [value]
    while level:
        nxt = []
        for v in level:
            if isinstance(v, list):
                nxt.extend(v)
                if len(nxt) > MAX_ELEMENTS:
                    return len(nxt)
            else:
                n += 1
        level = nxt
    return n


def _graph_value(value: Any) -> Any:
    if isinstance(value, list):
        n = _count(value)
        if n > MAX_ELEMENTS:
            raise FieldError(
                f"has more than {MAX_ELEMENTS:,} entries, more than a problem may give"
            )
        return _tensor_validator(None, symbolic=False)(value)
    return _scalar_validator(symbolic=False)(value)


GraphValue = Annotated[
    Any,
    BeforeValidator(_graph_value),
    TypeDoc("value", "a number or a nested list of numbers (exact)"),
]

RULE_OPTIONS = {f.name for f in dataclasses.fields(Rules)}
#: the functions whose exact values stay written as themselves (sin(1)), not in e and logs
TRIG = frozenset({"sin", "cos"})
#: a step writes a tensor of irrational values exactly only up to this many entries (a
#: 16-wide MLP's gradients would fill pages; its answers hold every exact entry)
MAX_EXACT_IN_STEPS = 16


class GraphGiven(GivenModel):
    inputs: dict[str, GraphValue] = {}
    """values that are given (x, targets, class indices), by name"""
    params: dict[str, GraphValue] = {}
    """values an SGD step updates (weights, biases), by name"""
    compute: list[str]
    """the network, one assignment per line: 'h = relu(W1 @ x + b1)', 'L = mean((y - t)^2)'"""
    output: str | None = None
    """the scalar to differentiate (default: the last line); 'none' for a forward pass only"""
    lr: Number | None = None
    """the learning rate of one SGD step θ ← θ − lr·∂L/∂θ (omit for no step)"""
    wrt: list[str] | None = None
    """the given names whose gradients are asked (default: every param and input)"""

    @model_validator(mode="after")
    def _graph(self) -> GraphGiven:
        for field in ("inputs", "params"):
            for name in getattr(self, field):
                if not name.isidentifier() or name.startswith("_") or "__" in name:
                    raise FieldError(f"{name!r} is not a name a line can use", f"{field}.{name}")
                if name in FUNCTIONS:
                    raise FieldError(f"{name!r} is the name of a function", f"{field}.{name}")
        both = set(self.inputs) & set(self.params)
        if both:
            raise FieldError(f"{sorted(both)[0]!r} is both an input and a param", "params")
        if not self.compute:
            raise FieldError("needs at least one line, such as 'L = (w * x - t)^2'", "compute")
        try:
            g = self.graph()
            run = forward(g, self.leaves())
        except GraphError as err:
            raise _field_error(err) from None
        out = self.output_name()
        if out is not None:
            if out not in g.names:
                raise FieldError(f"{out!r} is not a node of the graph", "output")
            if run.value(out).size != 1:
                raise FieldError(
                    f"{out} has shape {show_shape(run.value(out).shape)}; the output must be a "
                    "scalar (take its sum or mean), or 'none' for a forward pass only",
                    "output",
                )
        elif self.lr is not None:
            raise FieldError("an SGD step needs an output to differentiate", "lr")
        for i, name in enumerate(self.wrt or []):
            if name not in g.names:
                raise FieldError(f"{name!r} is not a given value or a node", "wrt", (i,))
        if self.lr is not None and exact.sign(self.lr) <= 0:
            raise FieldError("the learning rate must be positive", "lr")
        return self

    def graph(self) -> Graph:
        leaves = {**dict.fromkeys(self.inputs, "input"), **dict.fromkeys(self.params, "param")}
        return build(self.compute, leaves)

    def leaves(self) -> dict[str, Tensor]:
        return {k: leaf_tensor(v) for k, v in {**self.inputs, **self.params}.items()}

    def output_name(self) -> str | None:
        if self.output is not None and self.output.strip().lower() == "none":
            return None
        if self.output is not None:
            return self.output
        return self.graph().assigned[-1]


def _field_error(err: GraphError) -> FieldError:
    if err.line is None:
        return FieldError(err.message, err.field)
    return FieldError(err.message, "compute", (err.line,))


class NotApplicable(DlsolveError):
    """A misconception that this graph cannot show (no sigmoid for σ' = σ): the checker's
    sign for a mistake that does not apply to these givens, skipped without a bug report."""

    def __init__(self, option: str) -> None:
        super().__init__(f"this graph cannot show the mistake '{option}'")
        self.option = option


#: the ops each misconception needs in the graph to make a difference
_NEEDS = {
    "transpose_right": {"matmul"},
    "mean_scale": {"mean", "mse", "cross_entropy", "bce"},
    "sigmoid_prime": {"sigmoid"},
    "relu_mask": {"relu", "leaky_relu"},
    "ce_sign": {"cross_entropy", "bce"},
    "max_route": {"maxpool2d", "maxpool1d", "max"},
    "cos_sign": {"cos"},
}


@kind("graph")
class GraphKind(Kind):
    """Forward and backward through a small network written as assignments; an SGD step."""

    Given = GraphGiven
    keys = (
        Key("<node>", "tensor", "the value of a node (a line's name)"),
        Key("grad.<name>", "tensor", "∂output/∂name, for every node and every name in wrt"),
        Key("new.<param>", "tensor", "the param after one SGD step θ − lr·∂L/∂θ"),
    )
    example = {
        "inputs": {"x": -2, "y": 5},
        "params": {"z": -4},
        "compute": ["q = x + y", "f = q * z"],
        "lr": "1/10",
    }
    options_from = Rules  # solve's **options are the backward pass's Rules
    misconceptions = {
        "gradients not added up at a fork (a value that feeds several nodes kept only one "
        "gradient)": {"fork_sum": False},
        "the transpose on the wrong side (the gradient of a matrix product came out transposed)": {
            "transpose_right": False
        },
        "forgot the 1/N of the mean": {"mean_scale": False},
        "σ′(z) taken as σ(z) instead of σ(z)(1 − σ(z))": {"sigmoid_prime": False},
        "ReLU passing the gradient for negative inputs too": {"relu_mask": False},
        "y − p instead of p − y (the gradient of the loss with its sign flipped)": {"ce_sign": -1},
        "the update's sign flipped (θ + lr·∂L/∂θ instead of θ − lr·∂L/∂θ)": {"update_sign": 1},
        "max-pool gradient spread over the window instead of routed to the maximum": {
            "max_route": "spread"
        },
        "the derivative of cos taken as sin instead of −sin (the minus sign forgotten)": {
            "cos_sign": False
        },
    }
    nice = (
        "small whole numbers, with every ReLU input away from 0",
        "short answers: every rational answer has numerator and denominator below 10,000",
        "moderate logits: every input of σ, tanh, exp, softmax and cross-entropy within 6 of 0 "
        "(of each other, in a softmax row), so that no probability is within e⁻⁶ of 0 or 1 and "
        "every named mistake changes its answers visibly",
    )

    def show_givens(self, g: GraphGiven) -> list[tuple[M, M]]:
        """The given values by name, then the network's assignments as written."""
        out: list[tuple[M, M]] = [
            (w.name(k).raw(), m(v)) for k, v in {**g.inputs, **g.params}.items()
        ]
        out += w.assignments(g.compute, g.graph)
        if g.output is not None:
            out.append((Text("output"), Text(g.output)))
        if g.lr is not None:
            out.append((Text("lr"), m(g.lr)))
        if g.wrt is not None:
            out.append((Text("wrt"), Text(", ".join(g.wrt))))
        return out

    # ------------------------------------------------------------------ solving

    def solve(self, g: GraphGiven, s: Solution, *, update_sign: int = -1, **options: Any) -> None:
        unknown = set(options) - RULE_OPTIONS
        if unknown:
            raise TypeError(f"unknown options {sorted(unknown)}")
        rules = Rules(**options)
        graph = g.graph()
        self._applies(graph, options, update_sign, g)
        out = g.output_name()
        try:
            run = forward(graph, g.leaves(), _override(s, ""))
        except GraphError as err:
            raise _field_error(err) from None
        self._show_forward(graph, run, s)
        for st in graph.statements:
            s.answer(st.target, exact_nested(run.value(st.target)), label=w.name(st.target).raw())
        if out is None:
            return
        wanted = self._wanted(g, graph, out)
        try:
            back = backward(run, out, rules, _override(s, "grad."), wanted)
            alternatives = self._alternatives(run, out, rules, s, wanted, back)
        except GraphError as err:
            raise _field_error(err) from None
        self._show_backward(graph, run, back, out, s)
        for nid in back.order:
            n = graph.nodes[nid]
            if n.name is None or (n.kind != "op" and n.name not in wanted):
                continue
            key = f"grad.{n.name}"
            alts = [a[nid] for a in alternatives if a[nid] != back.grads[nid]]
            meta = {"alternatives": [exact_nested(t) for t in _distinct(alts)]} if alts else {}
            s.answer(key, exact_nested(back.grads[nid]), label=_partial_raw(out, n.name), **meta)
        later = [st.target for st in graph.statements if graph.names[st.target] not in back.grads]
        for name in later:  # lines after the output do not affect it
            t = run.value(name)
            s.answer(f"grad.{name}", exact_nested(Tensor(t.shape, [0] * t.size)))
        if g.lr is not None:
            self._update(g, graph, run, back, alternatives, out, s, update_sign)

    def _applies(
        self, graph: Graph, options: Mapping[str, Any], update_sign: int, g: GraphGiven
    ) -> None:
        """Refuse a misconception this graph cannot show, so the checker does not re-solve for
        nothing."""
        ops = {n.op for n in graph.nodes if n.kind == "op"}
        for option in options:
            if option in _NEEDS and not ops & _NEEDS[option]:
                raise NotApplicable(option)
        if options.get("fork_sum") is False:
            uses: dict[int, int] = {}
            for n in graph.nodes:
                for i in n.inputs:
                    uses[i] = uses.get(i, 0) + 1
            if max(uses.values(), default=0) < 2:
                raise NotApplicable("fork_sum")
        if update_sign != -1 and g.lr is None:
            raise NotApplicable("update_sign")

    def _wanted(self, g: GraphGiven, graph: Graph, out: str) -> list[str]:
        if g.wrt is not None:
            return list(g.wrt)
        reach = differentiable(graph, out)
        return [name for name in graph.leaves if name in reach]

    def _alternatives(
        self, run: Run, out: str, rules: Rules, s: Solution, wanted: list[str], back: Back
    ) -> list[dict[int, Tensor]]:
        """Where the forward pass met a tie (two equal maxima, a ReLU at exactly 0), the other
        equally valid gradients: routed to the last maximum, split evenly, ReLU′(0) = 1."""
        others: list[Rules] = []
        if run.ties and rules.max_route != "spread":
            others += [
                dataclasses.replace(rules, max_route="last"),
                dataclasses.replace(rules, max_route="even"),
            ]
        if run.zeros_at_kinks:
            others.append(dataclasses.replace(rules, relu_at_zero=1))
        return [backward(run, out, r, _override(s, "grad."), wanted).grads for r in others]

    def _update(
        self,
        g: GraphGiven,
        graph: Graph,
        run: Run,
        back: Back,
        alternatives: list[dict[int, Tensor]],
        out: str,
        s: Solution,
        update_sign: int,
    ) -> None:
        lr = g.lr
        assert lr is not None
        lines = []
        for name in g.params:
            nid = graph.names[name]
            theta = run.value(name)

            def step(grad: Tensor, theta: Tensor = theta) -> Tensor:
                return Tensor(
                    theta.shape,
                    [t + update_sign * lr * d for t, d in zip(theta.data, grad.data, strict=True)],
                )

            grad = back.grads.get(nid, Tensor(theta.shape, [0] * theta.size))
            if grad.shape != theta.shape:  # a transposed gradient (a misconception) takes no step
                continue
            new = step(grad)
            alts = _distinct([step(a[nid]) for a in alternatives if nid in a and a[nid] != grad])
            meta = {"alternatives": [exact_nested(t) for t in alts]} if alts else {}
            value = s.answer(f"new.{name}", exact_nested(new), label=_new_raw(name), **meta)
            sign_word = Sub if update_sign < 0 else Add
            lines.append(
                eq(
                    _new_raw(name),
                    sign_word(
                        w.name(name).raw(),
                        Raw(
                            rf"{exact.latex(lr)} \cdot {w.partial(out, w.name(name)).latex}",
                            f"{exact.unicode(lr)}·{w.partial(out, w.name(name)).text}",
                        ),
                    ),
                    m(value),
                )
            )
        s.step(
            says(
                f"One SGD step with learning rate ⟦lr = {exact.unicode(lr)}⟧: every param moves "
                "against its gradient, ⟦θ ← θ − lr·∂L/∂θ⟧."
            ),
            *lines,
        )

    # ------------------------------------------------------------------ the worked solution

    def _show_forward(self, graph: Graph, run: Run, s: Solution) -> None:
        if not s.record_steps:
            return
        rows = []
        for st in graph.statements:
            n = graph.node(st.target)
            value = run.value(st.target)
            rows.append(
                [
                    w.name(st.target).raw(),
                    w.expression(graph, n).raw(),
                    show_shape(value.shape),
                    _cell(value),
                ]
            )
        trans = sorted({n.op for n in graph.nodes if n.op in TRANSCENDENTAL} - TRIG)
        trig = sorted({n.op for n in graph.nodes if n.op in TRIG})
        note = (
            f" Exact values of {', '.join(trans)} are written in e and logarithms, each with "
            "its decimal."
            if trans
            else ""
        )
        if trig:
            names, takes = " and ".join(reversed(trig)), "take" if len(trig) > 1 else "takes"
            note += (
                f" {names} {takes} radians and {'stay' if len(trig) > 1 else 'stays'} exact "
                "(sin(1) stays sin(1), cos(0) = 1), with decimals beside."
            )
        s.step(
            "Forward pass: compute every node in order, from the given values." + note,
            Table(["node", "expression", "shape", "value"], rows),
        )

    def _show_backward(self, graph: Graph, run: Run, back: Back, out: str, s: Solution) -> None:
        if not s.record_steps:
            return
        outw = w.name(out)
        s.step(
            f"Backward pass, in reverse order. Start from ∂{outw.text}/∂{outw.text} = 1. Each node "
            "sends back upstream × local to each of its inputs; a value that feeds several "
            "nodes adds up what they send (a fork)."
        )
        for nid in back.order[1:]:
            n = graph.nodes[nid]
            if n.kind == "const":
                continue
            parts = back.sent.get(nid, [])
            me = w.label(graph, n)
            d_me = w.partial(out, me)
            value = run.values[nid]
            assert value is not None
            lines: list[Any] = []
            for consumer, k, t in parts:
                c = graph.nodes[consumer]
                r = w.rule(graph, c, k, out)
                via = w.label(graph, c)
                lines.append(
                    eq(
                        _via(d_me, via),
                        r.raw(),
                        _with_float(t),
                    )
                )
            if len(parts) > 1:
                lines.append(
                    eq(
                        d_me.raw(),
                        Add(*[_via(d_me, w.label(graph, graph.nodes[c])) for c, _, _ in parts]),
                        _with_float(back.grads[nid]),
                    )
                )
            feeds = ", ".join(f"⟦{w.label(graph, graph.nodes[c]).text}⟧" for c, _, _ in parts)
            if not parts:
                text = (
                    f"⟦{d_me.text} = 0⟧ (shape {show_shape(value.shape)}): ⟦{me.text}⟧ does not "
                    f"reach ⟦{outw.text}⟧."
                )
                lines.append(eq(d_me.raw(), _with_float(back.grads[nid])))
            elif len(parts) == 1:
                text = (
                    f"⟦{d_me.text}⟧ (shape {show_shape(value.shape)}): ⟦{me.text}⟧ feeds {feeds}."
                )
            else:
                text = (
                    f"⟦{d_me.text}⟧ (shape {show_shape(value.shape)}): ⟦{me.text}⟧ feeds "
                    f"{len(parts)} nodes ({feeds}), so their gradients add up."
                )
            s.step(says(text), *lines)

    # ------------------------------------------------------------------ variants

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        source = plain_given(given)
        g0 = self.Given.model_validate(source)
        graph = g0.graph()
        fixed = _index_leaves(graph)
        for _ in range(200):
            raw = plain_given(given)
            for field in ("inputs", "params"):
                raw[field] = {
                    k: (v if k in fixed else _draw(v, rng))
                    for k, v in (raw.get(field) or {}).items()
                }
            try:
                g = self.Given.model_validate(raw)
                s = self.new_solution(record_steps=False)
                self.solve(g, s)
            except (ValueError, FieldError, GraphError):
                continue
            if raw != source and not self.broken_promises(g, s):
                return raw
        raise ValueError("no variant of this graph problem keeps its promises")

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        out = []
        graph = g.graph()
        run = forward(graph, g.leaves())
        if run.zeros_at_kinks:
            out.append(self.nice[0])
        if not _moderate(graph, run):
            out.append(self.nice[2])
        for a in s.answers.values():
            for v in exact.flatten(a.value) if isinstance(a.value, list) else [a.value]:
                if exact.is_rational(v):
                    q = Fraction(v)
                    if abs(q.numerator) >= 10_000 or q.denominator >= 10_000:
                        out.append(self.nice[1])
                        return out
        return out


Sub = sub


def _override(s: Solution, prefix: str) -> Any:
    """A hook that puts a student's earlier answer in place of a computed value (error carried
    forward), when it has the value's shape; the answers are recorded afterwards."""

    def hook(name: str, t: Tensor) -> Tensor:
        key = prefix + name
        if key not in s.overrides:
            return t
        computed = exact_nested(t)
        given = (
            same_shape(s.overrides[key], computed)
            if isinstance(computed, list)
            else s.overrides[key]
        )
        if given is computed or not (isinstance(given, list) or exact.is_scalar(given)):
            return t
        try:
            return leaf_tensor(given)
        except ValueError:
            return t

    return hook


def _distinct(ts: list[Tensor]) -> list[Tensor]:
    out: list[Tensor] = []
    for t in ts:
        if all(t != u for u in out):
            out.append(t)
    return out


def _via(d: w.Written, consumer: w.Written) -> Raw:
    """∂L/∂h via z: the share of ∂L/∂h that comes back through one consumer."""
    return Raw(rf"{d.latex}\big|_{{{consumer.latex}}}", f"{d.text} via {consumer.text}")


def _partial_raw(out: str, name: str) -> Raw:
    return w.partial(out, w.name(name)).raw()


def _new_raw(name: str) -> Raw:
    n = w.name(name)
    return Raw(rf"{n.latex}^{{\text{{new}}}}", f"{n.text}′")


def _with_float(t: Tensor) -> Any:
    """A value written exactly, with its decimals beside it where it is not rational (the
    floats from the graph's own numbers: cheap, where sympy's evalf of the written form is
    not)."""
    if t.is_rational():
        return m(exact_nested(t))
    floats = _fmt_floats(_nest_floats(t))
    if t.size > MAX_EXACT_IN_STEPS:  # the exact entries are in the answers, once
        return Raw(rf"\approx {floats}", f"≈ {floats} (exact values in the answers)")
    return rel(m(exact_nested(t)), "~", Raw(floats, floats))


def _cell(t: Tensor) -> Raw:
    """A value on one line, for a table: ``[[3, 2], [0, 1]]``, decimals beside irrationals."""
    value = exact_nested(t) if t.is_rational() or t.size <= MAX_EXACT_IN_STEPS else None
    floats = "" if t.is_rational() else _fmt_floats(_nest_floats(t))
    if value is None:
        return Raw(rf"\approx {floats}", f"≈ {floats}")
    text = _one_line(value) + (f" ≈ {floats}" if floats else "")
    latex = m(value).latex() + (rf" \approx {floats}" if floats else "")
    return Raw(latex, text)


def _one_line(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_one_line(x) for x in v) + "]"
    return exact.unicode(v)


def _nest_floats(t: Tensor) -> Any:
    from ..graph.tensor import nest

    return nest([float(v) for v in t.data], t.shape)


def _fmt_floats(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_fmt_floats(x) for x in v) + "]"
    return f"{v:.4g}" if v is not None else "undefined"


LOGIT_BOUND = 6


def _moderate(graph: Graph, run: Run) -> bool:
    """Whether every input of a squashing op stays within LOGIT_BOUND (a softmax row's spread)."""
    for n in graph.nodes:
        if n.op not in ("sigmoid", "tanh", "exp", "softmax", "log_softmax", "cross_entropy"):
            continue
        x = run.values[n.inputs[0]]
        assert x is not None
        floats = [float(v) for v in x.data]
        if n.op in ("softmax", "log_softmax", "cross_entropy"):
            width = x.shape[-1] if x.shape else 1
            rows = [floats[i : i + width] for i in range(0, len(floats), width)]
            if any(max(r) - min(r) > LOGIT_BOUND for r in rows):
                return False
        elif any(abs(v) > LOGIT_BOUND for v in floats):
            return False
    return True


def _index_leaves(graph: Graph) -> set[str]:
    """Given names used only as class indices (cross_entropy's k): a variant keeps them."""
    out = set()
    for n in graph.nodes:
        if n.kind == "op":
            op = OPS[n.op or ""]
            for k, i in enumerate(n.inputs):
                if k in op.nondiff and graph.nodes[i].name:
                    out.add(graph.nodes[i].name or "")
    return out


def _draw(value: Any, rng: random.Random) -> Any:
    """New numbers in the manner of the old: whole numbers stay small whole numbers (of the same
    sign where all were positive or none negative); fractions in (0, 1) stay tenths there."""
    entries = exact.flatten(value) if isinstance(value, list) else [value]
    qs = [Fraction(str(v)) if isinstance(v, str) else Fraction(v) for v in entries]
    if all(q.denominator == 1 for q in qs):
        low = 1 if all(q > 0 for q in qs) else 0 if all(q >= 0 for q in qs) else -2
        high = max(2, min(3, int(max(abs(q) for q in qs))))
        pick = lambda: rng.randint(low, high)  # noqa: E731
    elif all(0 < q < 1 for q in qs):
        pick = lambda: str(Fraction(rng.randint(1, 9), 10))  # noqa: E731
    else:
        pick = lambda: str(Fraction(rng.randint(-6, 6), 2))  # noqa: E731

    def walk(v: Any) -> Any:
        return [walk(x) for x in v] if isinstance(v, list) else pick()

    return walk(value)


__all__ = ["GraphGiven", "GraphKind"]
