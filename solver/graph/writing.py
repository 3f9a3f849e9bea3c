"""How a graph's expressions and derivative rules are written, from the op table's templates.

A named node is written by its name (``W1`` as W₁), a constant by its value,
and an operation by its template with its arguments filled in, in parentheses
where they bind more loosely (``(a + b) ⊙ c``). The same walk gives Unicode for
the terminal and LaTeX for Markdown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import exact
from ..display import Raw, Text
from .autodiff import GNode, Graph, GraphError
from .ops import OPS


@dataclass(frozen=True)
class Written:
    text: str
    latex: str
    prec: int = 100

    def raw(self) -> Raw:
        return Raw(self.latex, self.text, self.prec)


def name(n: str) -> Written:
    return Written(exact.greek_unicode(n), exact.greek_latex(n))


def assignments(compute: Sequence[str], graph: Callable[[], Graph]) -> list[tuple[Any, Any]]:
    """A network's lines as ``(name, expression)`` pairs, written as the forward table writes
    them (W₁x + b₁, ½(a − t)²), for the givens of a handout or the page; the text as typed
    when the graph cannot be built."""
    try:
        g = graph()
    except GraphError:
        pairs = (line.partition("=") for line in compute)
        return [(Text(n.strip()), Text(e.strip())) for n, _, e in pairs]
    return [(name(st.target).raw(), expression(g, g.node(st.target)).raw()) for st in g.statements]


def _kw_fields(n: GNode) -> dict[str, str]:
    op = OPS[n.op or ""]
    kw = n.kw
    out: dict[str, str] = {}
    for key in ("n", "a"):
        if key in kw:
            out[key] = exact.unicode(kw[key]) if kw[key] is not None else ""
    if "n" in kw and kw["n"] is not None:
        n1 = kw["n"] - 1
        out["n1"] = "" if n1 == 1 else f"^{n1}" if n1 >= 0 else f"^({n1})"
        out["n1_latex"] = "" if n1 == 1 else f"^{{{n1}}}"
    if "idx" in kw:
        out["idx"] = ", ".join(map(str, kw["idx"]))
    if "shape" in kw:
        out["shape"] = str(kw["shape"])
    axis = kw.get("axis")
    default_axis = next((p.default for p in op.params if p.name == "axis"), None)
    out["axis"] = f", axis={axis}" if axis is not None and axis != default_axis else ""
    out["axis_latex"] = rf"_{{\text{{axis }} {axis}}}" if out["axis"] else ""
    rest = [
        f"{p.name}={kw[p.name]}"
        for p in op.params
        if p.name not in ("axis", "n", "a", "idx", "shape")
        and kw.get(p.name) is not None
        and (kw[p.name] != p.default or p.required)
    ]
    out["rest"] = "".join(", " + r for r in rest)
    out["rest_latex"] = r",\ " + r",\ ".join(r.replace("=", " = ") for r in rest) if rest else ""
    return out


def expression(g: Graph, n: GNode, *, top: bool = True) -> Written:
    """Node ``n`` as written; its named inputs by name (its own name only when not ``top``)."""
    if n.kind in ("input", "param") or (n.name is not None and not top):
        return name(n.name or "")
    if n.kind == "const":
        assert n.value is not None
        v = n.value.nested()
        if isinstance(v, list):
            return Written(str(exact.fmt(v)).replace("'", ""), _latex_list(v))
        return Written(exact.unicode(v), exact.latex(v), 100 if exact.sign(v) >= 0 else 15)
    op = OPS[n.op or ""]
    args = [expression(g, g.nodes[i], top=False) for i in n.inputs]
    fields = _kw_fields(n)
    if op.name == "copy":
        return args[0]
    if op.variadic:
        return Written(
            op.show[0].format(", ".join(a.text for a in args), **fields),
            op.show[1].format(r",\ ".join(a.latex for a in args), **fields),
            op.prec,
        )
    texts, latexes = [], []
    for k, a in enumerate(args):
        tight = op.prec >= 100 and op.show[0].startswith(
            "{0}"
        )  # x.T, x[i]: wrap anything but atoms
        need = a.prec < op.prec or (
            k == 1 and op.name in ("sub", "div", "matmul") and a.prec <= op.prec
        )
        if op.prec >= 100 and not tight:  # a function call: its own parentheses
            need = False
        if tight:
            need = a.prec < 100
        texts.append(f"({a.text})" if need else a.text)
        latexes.append(rf"\left({a.latex}\right)" if need else a.latex)
    if op.name == "mul" and any(_scalar_constant(g.nodes[i]) for i in n.inputs):
        # ½(a − t)², not ½ ⊙ (a − t)²: a number times a tensor is how a course writes it.
        times = " " if _scalar_constant(g.nodes[n.inputs[0]]) else r" \cdot "
        return Written(f"{texts[0]}·{texts[1]}", f"{latexes[0]}{times}{latexes[1]}", op.prec)
    return Written(
        op.show[0].format(*texts, **fields), op.show[1].format(*latexes, **fields), op.prec
    )


def _scalar_constant(n: GNode) -> bool:
    return n.kind == "const" and n.value is not None and not isinstance(n.value.nested(), list)


def _latex_list(v: Any) -> str:
    from ..display import Mat

    return Mat(v).latex()


def label(g: Graph, n: GNode) -> Written:
    """How a node is named in the backward pass: its name, or its expression in parentheses."""
    if n.name is not None:
        return name(n.name)
    w = expression(g, n)
    return Written(f"({w.text})", rf"\left({w.latex}\right)")


def partial(output: str, of: Written) -> Written:
    """∂L/∂x."""
    out = name(output)
    return Written(
        f"∂{out.text}/∂{of.text}", rf"\frac{{\partial {out.latex}}}{{\partial {of.latex}}}"
    )


def rule(g: Graph, consumer: GNode, k: int, output: str) -> Written:
    """The local rule by which ``consumer`` sends its gradient back to argument ``k``."""
    op = OPS[consumer.op or ""]
    text_t, latex_t = op.rules[min(k, len(op.rules) - 1)]
    up = partial(output, label(g, consumer))
    args = [label(g, g.nodes[i]) for i in consumer.inputs]
    fields = _kw_fields(consumer)
    y = label(g, consumer)
    return Written(
        text_t.format(*(a.text for a in args), up=up.text, y=y.text, **fields),
        latex_t.format(*(a.latex for a in args), up=up.latex, y=y.latex, **fields),
        20,
    )
