"""Hand-set weights: choose the unknowns of a small network so that it does what is asked.

Courses ask "choose weights and biases so that this network computes XOR on {0, 1}²", "set w
and b so the perceptron implements AND", "give a two-layer ReLU net that outputs |x|",
"find q so that the attention output is the average of v1 and v2". There is no single right
answer: scale a ReLU layer up and the next one down, swap two hidden units, and the network
computes the same thing. So a student's weights are never compared with the instructor's;
the checker *runs the student's network* on every case and counts the cases it passes
(:meth:`Design.grade`). The instructor's own choice (``reference``) is checked the same way
when the problem is solved, and the worked solution shows its forward pass case by case.

The network is written in the tensor language of :mod:`solver.graph` and run by its
``build`` and ``forward``, exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Any, Literal

import sympy
from pydantic import model_validator

from .. import exact
from ..compare import Match
from ..display import Raw, Sym, Table, Text, eq, m
from ..errors import FieldError
from ..given import GivenModel, TypeDoc
from ..graph import GraphError, Tensor, build, exact_nested, forward, leaf_tensor
from ..graph import writing as written
from ..graph.ops import FUNCTIONS
from ..parse import ParseError, parse_value
from ..solution import Key, Solution
from ..vocab import AnswerType
from . import Kind, kind
from .graph import GraphValue

#: entries one unknown may have: a student's value is refused by its shape before anything
#: is computed, so this bounds the work of a check (a 16 × 16 layer is already more than a
#: course sets by hand)
MAX_UNKNOWN = 1024
MAX_CASES = 64
#: failing cases named in feedback before "and k more"
SHOWN_CASES = 3

Constraint = Literal["integer", "nonnegative"]
#: how a case's output is judged (see :class:`Requirement`)
Relation = Literal["=", "<", "≤", ">", "≥", "argmax", "within"]

_OPERATORS: dict[str, Relation] = {
    "<=": "≤",
    "≤": "≤",
    ">=": "≥",
    "≥": "≥",
    "<": "<",
    ">": ">",
    "==": "=",
    "=": "=",
}
_CONDITION = re.compile(r"\s*(<=|>=|==|≤|≥|<|>|=)\s*(.+)")


# --------------------------------------------------------------------------- what a case asks


@dataclass(frozen=True)
class Requirement:
    """What the output must be on one case: ``=`` a value, ``<``/``≤``/``>``/``≥`` a value
    (every entry), ``argmax`` an index (strictly the largest entry), or ``within`` a
    tolerance of a value (every entry)."""

    op: Relation
    value: Any
    tol: Any = None

    def holds(self, y: Any) -> bool:
        """Whether the exact output ``y`` meets this requirement (decided exactly)."""
        if self.op == "argmax":
            k = int(self.value)
            return all(exact.sign(_minus(y[k], v)) > 0 for j, v in enumerate(y) if j != k)
        ys = exact.flatten(y) if isinstance(y, list) else [y]
        if isinstance(self.value, list):
            if not isinstance(y, list) or exact.shape(y) != exact.shape(self.value):
                return False
            vs = exact.flatten(self.value)
        else:
            vs = [self.value] * len(ys)
        for a, b in zip(ys, vs, strict=True):
            d = _minus(a, b)
            if self.op == "within":
                if exact.sign(_minus(_abs(d), self.tol)) > 0:
                    return False
                continue
            s = exact.sign(d)
            ok = {"=": s == 0, "<": s < 0, "≤": s <= 0, ">": s > 0, "≥": s >= 0}[self.op]
            if not ok:
                return False
        return True

    def text(self, output: str) -> str:
        """The requirement as a sentence says it: ``y = 0``, ``y > 0``, ``argmax y = 1``."""
        if self.op == "argmax":
            return f"argmax {output} = {self.value}"
        if self.op == "within":
            return f"{output} within {exact.unicode(self.tol)} of {_one_line(self.value)}"
        return f"{output} {self.op} {_one_line(self.value)}"

    def math(self, output: str) -> Raw:
        y = Sym(output).latex()
        if self.op == "argmax":
            return Raw(rf"\operatorname{{argmax}} {y} = {self.value}", self.text(output))
        if self.op == "within":
            return Raw(
                rf"\lvert {y} - {m(self.value).latex()} \rvert \le {exact.latex(self.tol)}",
                self.text(output),
            )
        rel = {"=": "=", "<": "<", "≤": r"\le", ">": ">", "≥": r"\ge"}[self.op]
        return Raw(f"{y} {rel} {m(self.value).latex()}", self.text(output))


def _minus(a: Any, b: Any) -> Any:
    if exact.is_rational(a) and exact.is_rational(b):
        return Fraction(a) - Fraction(b)
    return exact.to_sympy(a) - exact.to_sympy(b)


def _abs(x: Any) -> Any:
    return abs(x) if exact.is_rational(x) else sympy.Abs(x)


def _exact_value(value: Any, field: str, path: tuple[Any, ...] = ()) -> Any:
    try:
        x = parse_value(value)
    except ParseError as err:
        raise FieldError(str(err), field, path) from None
    if isinstance(x, list):
        try:
            exact.shape(x)
        except exact.RaggedError as err:
            raise FieldError(str(err), field, (*path, *err.path)) from None
    return exact.tmap(_rational, x) if isinstance(x, list) else _rational(x)


def _rational(x: Any) -> Any:
    return Fraction(x) if exact.is_rational(x) else x


def requirement(raw: Any, field: str, path: tuple[Any, ...]) -> Requirement:
    """A case's requirement as the file writes it (see :class:`DesignGiven`'s ``cases``)."""
    if isinstance(raw, dict):
        if set(raw) == {"argmax"}:
            k = raw["argmax"]
            if isinstance(k, bool) or not isinstance(k, int) or k < 0:
                raise FieldError("argmax must be an index 0, 1, 2, ...", field, (*path, "argmax"))
            return Requirement("argmax", k)
        if set(raw) == {"value", "within"}:
            tol = _exact_value(raw["within"], field, (*path, "within"))
            if isinstance(tol, list) or exact.sign(tol) < 0:
                raise FieldError("'within' must be a number ≥ 0", field, (*path, "within"))
            return Requirement("within", _exact_value(raw["value"], field, (*path, "value")), tol)
        raise FieldError(
            "a requirement is a value (y: 0), a condition ('> 0', '<= 1/2'), {argmax: k} or "
            "{value: v, within: tolerance}",
            field,
            path,
        )
    if isinstance(raw, str):
        found = _CONDITION.fullmatch(raw)
        if found:
            value = _exact_value(found.group(2), field, path)
            op = _OPERATORS[found.group(1)]
            if op != "=" and isinstance(value, list):
                raise FieldError(f"'{op}' compares every entry with one number", field, path)
            return Requirement(op, value)
    return Requirement("=", _exact_value(raw, field, path))


@dataclass(frozen=True)
class Case:
    """One case: the input values, and what the output must be."""

    inputs: dict[str, Any]
    need: Requirement

    def where(self) -> str:
        """``x = [1, 1]``: the inputs of the case, as feedback names it."""
        return ", ".join(f"{k} = {_one_line(v)}" for k, v in self.inputs.items())


def _irrational(v: Any) -> bool:
    flat = exact.flatten(v) if isinstance(v, list) else [v]
    return not all(exact.is_rational(x) for x in flat)


#: characters of an exact irrational value a sentence shows before keeping to its decimals
SAID = 60


def _said(v: Any) -> str:
    """``= value`` for a sentence: exact, with its decimals where it is not rational, and
    only the decimals where the exact form is long (a student's e^(e⁵) fills lines)."""
    if not _irrational(v):
        return f"= {_one_line(v)}"
    floats = _floats(exact.to_float(v))
    written = _one_line(v)
    return f"≈ {floats}" if len(written) > SAID else f"= {written} ≈ {floats}"


def _floats(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_floats(x) for x in v) + "]"
    return f"{v:.6g}"


def _one_line(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_one_line(x) for x in v) + "]"
    return exact.unicode(v)


# --------------------------------------------------------------------------- the given


class DesignGiven(GivenModel):
    inputs: Annotated[list[str], TypeDoc("names", "a list of names")] = []
    """the names whose values each case gives (x), in order"""
    unknowns: Annotated[dict[str, list[int]], TypeDoc("shapes", "name: shape ([] a number)")]
    """the names the student chooses, with their shapes: {W1: [2, 2], b1: [2], b2: []}"""
    fixed: Annotated[dict[str, GraphValue], TypeDoc("values", "name: value (exact)")] = {}
    """values the network uses that are given, not chosen (W2 = [1, -2], keys K, values V)"""
    constraints: Annotated[
        dict[str, Constraint | list[Constraint]],
        TypeDoc("constraints", "name: integer, nonnegative or a list of them"),
    ] = {}
    """what an unknown's entries must be besides: integer, nonnegative"""
    compute: list[str]
    """the network, one assignment per line: 'h = relu(W1 @ x + b1)', 'y = W2 @ h + b2'"""
    output: str | None = None
    """the node the cases are about (default: the last line)"""
    cases: Annotated[
        list[dict[str, Any]], TypeDoc("cases", "a list of mappings: inputs and a requirement")
    ]
    """each case: a value for every input and the requirement on the output: an exact value
    (y: 0), a condition ('> 0', '<= -1'; every entry), {argmax: k} (entry k strictly the
    largest, counted from 0) or {value: v, within: tol} (every entry within tol of v)"""
    reference: Annotated[dict[str, GraphValue], TypeDoc("values", "name: value (exact)")]
    """the instructor's own choice of every unknown: checked against every case, shown in the
    worked solution (one right answer among many)"""

    @model_validator(mode="after")
    def _design(self) -> DesignGiven:
        self._check_names()
        self._check_unknowns()
        if not self.compute:
            raise FieldError("needs at least one line, such as 'y = w @ x + b'", "compute")
        if not self.cases:
            raise FieldError("needs at least one case", "cases")
        if len(self.cases) > MAX_CASES:
            raise FieldError(f"has more than {MAX_CASES} cases", "cases")
        try:
            g = self.graph()
        except GraphError as err:
            raise _field_error(err) from None
        out = self.output_name()
        if out not in g.names:
            raise FieldError(f"{out!r} is not a node of the network", "output")
        self.parsed_cases()  # each case reads
        try:  # and chains with the network (whether the reference passes is solve's to say)
            run_cases(self, self.reference)
        except CaseError as err:
            raise FieldError(err.message, "cases", (err.case,)) from None
        except GraphError as err:
            raise _field_error(err) from None
        return self

    def _check_names(self) -> None:
        names: list[tuple[str, str]] = [(n, "inputs") for n in self.inputs]
        names += [(n, "unknowns") for n in self.unknowns] + [(n, "fixed") for n in self.fixed]
        seen: set[str] = set()
        for name, field in names:
            if not name.isidentifier() or name.startswith("_") or "__" in name:
                raise FieldError(f"{name!r} is not a name a line can use", f"{field}.{name}")
            if name in FUNCTIONS:
                raise FieldError(f"{name!r} is the name of a function", f"{field}.{name}")
            if name in seen:
                raise FieldError(f"{name!r} is named twice", f"{field}.{name}")
            seen.add(name)

    def _check_unknowns(self) -> None:
        if not self.unknowns:
            raise FieldError("name at least one value to choose, such as {w: [2]}", "unknowns")
        for name, shape in self.unknowns.items():
            if any(d < 1 for d in shape) or len(shape) > 4:
                raise FieldError(
                    "a shape is a list of at most 4 sizes ≥ 1 ([] for a single number)",
                    f"unknowns.{name}",
                )
            if _size(shape) > MAX_UNKNOWN:
                raise FieldError(
                    f"has more than {MAX_UNKNOWN} entries, more than a hand-set layer may have",
                    f"unknowns.{name}",
                )
        for name in self.constraints:
            if name not in self.unknowns:
                raise FieldError(f"{name!r} is not an unknown", f"constraints.{name}")
        for name in self.unknowns:
            if name not in self.reference:
                raise FieldError(f"gives no value for the unknown {name!r}", "reference")
        for name, value in self.reference.items():
            if name not in self.unknowns:
                raise FieldError(f"{name!r} is not an unknown", f"reference.{name}")
            wrong = admit(self, name, value)
            if wrong:
                raise FieldError(wrong, f"reference.{name}")

    def graph(self) -> Any:
        leaves = {
            **dict.fromkeys(self.inputs, "input"),
            **dict.fromkeys(self.unknowns, "param"),
            **dict.fromkeys(self.fixed, "param"),
        }
        return build(self.compute, leaves)

    def output_name(self) -> str:
        if self.output is not None:
            return self.output
        return self.graph().assigned[-1]

    def parsed_cases(self) -> list[Case]:
        """The cases, read: exact input values and a :class:`Requirement` each."""
        out_name = self.output_name()
        cases = []
        for i, raw in enumerate(self.cases):
            where = ("cases", (i,))
            if not isinstance(raw, dict):
                raise FieldError(f"a case maps {', '.join(self.inputs)} and {out_name}", *where)
            extra = [k for k in raw if k not in self.inputs and k != out_name]
            if extra:
                raise FieldError(
                    f"{extra[0]!r} is neither an input nor the output {out_name!r}", *where
                )
            missing = [k for k in (*self.inputs, out_name) if k not in raw]
            if missing:
                raise FieldError(f"gives no {missing[0]!r}", *where)
            inputs = {}
            for k in self.inputs:
                v = raw[k]
                if isinstance(v, list) and len(exact.flatten(v)) > MAX_UNKNOWN:
                    raise FieldError(f"{k} has more than {MAX_UNKNOWN} entries", *where)
                inputs[k] = _exact_value(v, "cases", (i, k))
            cases.append(Case(inputs, requirement(raw[out_name], "cases", (i, out_name))))
        return cases


def _size(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _field_error(err: GraphError) -> FieldError:
    if err.line is None:
        return FieldError(err.message, err.field)
    return FieldError(err.message, "compute", (err.line,))


def _shape_words(shape: Sequence[int]) -> str:
    return "be a single number" if not shape else f"have shape {list(shape)}"


def _has_words(shape: Sequence[int]) -> str:
    return "is a single number" if not shape else f"has shape {list(shape)}"


def admit(g: DesignGiven, name: str, value: Any) -> str | None:
    """Why ``value`` cannot be the unknown ``name`` (its shape, an entry that is not a number,
    a constraint it breaks), in a sentence about the value alone; None if it can.

    The shape is looked at first, before any entry is converted: a hostile 10⁵-entry matrix
    is refused here and no network is run with it."""
    shape = tuple(g.unknowns[name])
    if isinstance(value, list):
        try:
            got = exact.shape(value)
        except exact.RaggedError:
            return f"{name} must {_shape_words(shape)}; yours is a ragged list."
    else:
        got = ()
    if got != shape:
        return f"{name} must {_shape_words(shape)}; yours {_has_words(got)}."
    flat = exact.flatten(value) if isinstance(value, list) else [value]
    for i, x in enumerate(flat):
        if x is None or not exact.is_scalar(x):
            return f"{name} needs a number in every entry; {_entry(shape, i)} is not one."
        if isinstance(x, sympy.Basic) and x.free_symbols:
            return f"{name} needs a number in every entry; {_entry(shape, i)} is not one."
    wanted = g.constraints.get(name) or []
    for c in [wanted] if isinstance(wanted, str) else wanted:
        for i, x in enumerate(flat):
            if c == "integer" and not (exact.is_rational(x) and Fraction(x).denominator == 1):
                return f"{name} must have whole-number entries ({_entry(shape, i)} is not one)."
            if c == "nonnegative" and exact.sign(x) < 0:
                return f"{name} must have nonnegative entries ({_entry(shape, i)} is negative)."
    return None


def _entry(shape: Sequence[int], i: int) -> str:
    if not shape:
        return "its value"
    idx = []
    for d in reversed(shape):
        idx.append(i % d + 1)
        i //= d
    idx.reverse()
    if len(idx) == 1:
        return f"entry {idx[0]}"
    if len(idx) == 2:
        return f"row {idx[0]}, column {idx[1]}"
    return "entry (" + ", ".join(map(str, idx)) + ")"


# --------------------------------------------------------------------------- running a network


@dataclass(frozen=True)
class Outcome:
    """One case run through a network: every node's exact value and whether it passes."""

    case: Case
    values: dict[str, Any]
    output: Any
    passed: bool


class CaseError(GraphError):
    """A line that cannot be computed on one case (its input does not chain with the
    weights), with the case's index."""

    def __init__(self, message: str, case: int) -> None:
        super().__init__(message, None, "cases")
        self.case = case


def run_cases(
    g: DesignGiven, chosen: Mapping[str, Any], compute: Sequence[str] | None = None
) -> list[Outcome]:
    """Every case through the network with ``chosen`` as the unknowns (GraphError if a line
    cannot be computed with them)."""
    lines = list(compute if compute is not None else g.compute)
    leaves = {
        **dict.fromkeys(g.inputs, "input"),
        **dict.fromkeys(g.unknowns, "param"),
        **dict.fromkeys(g.fixed, "param"),
    }
    graph = build(lines, leaves)
    out_name = g.output_name()
    given: dict[str, Tensor] = {k: leaf_tensor(v) for k, v in {**g.fixed, **chosen}.items()}
    outcomes = []
    for i, case in enumerate(g.parsed_cases()):
        try:
            run = forward(graph, {**given, **{k: leaf_tensor(v) for k, v in case.inputs.items()}})
        except GraphError as err:
            on = f"on {case.where()}" if case.inputs else "on the case"
            raise CaseError(f"{on}, {err.message}", i) from None
        values = {name: exact_nested(run.value(name)) for name in graph.assigned}
        y = values[out_name]
        passed = _meets(case.need, y)
        outcomes.append(Outcome(case, values, y, passed))
    return outcomes


def _meets(need: Requirement, y: Any) -> bool:
    if need.op == "argmax" and (not isinstance(y, list) or len(exact.shape(y)) != 1):
        return False
    if need.op == "argmax" and int(need.value) >= len(y):
        return False
    try:
        return need.holds(y)
    except (ValueError, TypeError):  # a sign sympy cannot decide: not shown to hold
        return False


def _without_relu(lines: Sequence[str]) -> list[str] | None:
    """The network with every ReLU taken out (``relu(z)`` read as ``(z)``), None if it has
    none."""
    changed = [re.sub(r"\brelu\s*\(", "(", line) for line in lines]
    return changed if changed != list(lines) else None


# --------------------------------------------------------------------------- the kind


@kind("design")
class Design(Kind):
    """Hand-set weights: choose a network's unknowns so that every case holds; checked by
    running the student's network.

    Many answers are right (scale a ReLU layer up and the next one down, swap two hidden
    units, build the function another way), so a student's values are never compared with
    the reference: the checker runs the student's network, all unknowns together, on every
    case. Each unknown earns the share of cases passed, and the feedback names the failing
    cases with what the student's own network gives there ("On x = [1, 1] your network gives
    y = 1; the case needs y = 0."). A wrong shape is refused before anything runs; a missing
    unknown is missing, and the others say the network cannot run without it.

    A case's requirement is an exact value (y: 0), a condition on every entry ('> 0',
    '<= -1/2'), {argmax: k} (entry k strictly the largest, from 0) or {value: v, within:
    tol}. fixed holds values the student does not choose; constraints asks for integer or
    nonnegative entries. solve runs the reference on every case and refuses one that fails.

    Named slips: weights that pass every case only with the ReLU taken out, and an unknown
    whose sign, flipped, makes every case pass. Under --reveal never the case sentences stay
    (they state the student's network and the cases the problem shows) and the reference is
    never shown. Variants keep a design problem as it is.
    """

    Given = DesignGiven
    keys = (
        Key(
            "<name>",
            "tensor",
            "an unknown you choose (a weight, a bias); graded by running your network with all "
            "of them on every case, so any values that pass are right",
        ),
    )
    example = {
        "inputs": ["x"],
        "unknowns": {"W1": [2, 2], "b1": [2], "W2": [2], "b2": []},
        "compute": ["h = relu(W1 @ x + b1)", "y = W2 @ h + b2"],
        "cases": [
            {"x": [0, 0], "y": 0},
            {"x": [0, 1], "y": 1},
            {"x": [1, 0], "y": 1},
            {"x": [1, 1], "y": 0},
        ],
        "reference": {"W1": [[1, 1], [1, 1]], "b1": [0, -1], "W2": [1, -2], "b2": 0},
    }
    #: many right answers and no numbers that a variant could redraw without the author
    #: designing the reference again: every variant keeps the problem as it is
    varies = False
    #: answers are graded together, by running them (see :meth:`grade`), not each by its value
    grades_together = True

    def show_givens(self, g: DesignGiven) -> list[tuple[Any, Any]]:
        """What the problem states: the network, what is given and what is chosen. Never the
        reference: it is the key."""
        out: list[tuple[Any, Any]] = []
        if g.inputs:
            out.append((Text("inputs"), Text(", ".join(g.inputs))))
        for name, shape in g.unknowns.items():
            kind_of = "a number" if not shape else f"shape {list(shape)}"
            rule = g.constraints.get(name)
            if rule:
                kind_of += ", " + (rule if isinstance(rule, str) else ", ".join(rule))
            out.append((Sym(name), Text(f"to choose ({kind_of})")))
        for name, value in g.fixed.items():
            out.append((Sym(name), m(value)))
        return out + written.assignments(g.compute, g.graph)

    def solve(self, g: DesignGiven, s: Solution) -> None:
        out = g.output_name()
        cases = g.parsed_cases()
        s.step(
            f"What is asked: on every case the output {out} must meet its requirement. Any "
            "values of the unknowns that do are right; a network is checked by running it.",
            Table(
                ["case", *g.inputs, "required"],
                [
                    [str(i + 1), *(m(v) for v in c.inputs.values()), c.need.math(out)]
                    for i, c in enumerate(cases)
                ],
            ),
        )
        chosen = dict(g.reference)
        try:
            outcomes = run_cases(g, chosen)
        except CaseError as err:
            raise FieldError(err.message, "cases", (err.case,)) from None
        except GraphError as err:
            raise _field_error(err) from None
        many = (
            "among many: scaling a ReLU layer up and the next one down, or swapping two hidden "
            "units, computes the same function"
            if _without_relu(g.compute) is not None
            else "one of many"
        )
        s.step(
            f"A choice of the unknowns ({many}):",
            *(eq(Sym(name), m(value)) for name, value in chosen.items()),
        )
        self._show_cases(g, outcomes, s)
        failed = [(i, o) for i, o in enumerate(outcomes) if not o.passed]
        if failed:
            i, o = failed[0]
            on = f"on {o.case.where()} " if o.case.inputs else ""
            raise FieldError(
                f"does not meet case {i + 1}: {on}the network gives "
                f"{out} {_said(o.output)}; the case needs {o.case.need.text(out)}",
                "reference",
            )
        every = "The case holds" if len(outcomes) == 1 else f"All {len(outcomes)} cases hold"
        s.step(
            f"{every}, so these values are an answer. Another choice is right exactly when its "
            "network passes every case too."
        )
        for name, value in chosen.items():
            s.answer(name, value, label=Sym(name))
            if not isinstance(value, list):  # a chosen number need not be whole, like the 0 shown
                s.answers[name].type = AnswerType.REAL

    def _show_cases(self, g: DesignGiven, outcomes: list[Outcome], s: Solution) -> None:
        """The forward table, exact; the decimals of irrational values on lines below it (a
        table with both is too wide for a page)."""
        if not s.record_steps:
            return
        out = g.output_name()
        shown = [*(n for n in g.graph().assigned if n != out), out]
        rows = [
            [
                str(i + 1),
                *(m(v) for v in o.case.inputs.values()),
                *(m(o.values[n]) for n in shown),
                o.case.need.math(out),
                "✓" if o.passed else "✗",
            ]
            for i, o in enumerate(outcomes)
        ]
        decimals = [
            Raw(
                rf"\text{{case {i + 1}: }} {Sym(n).latex()} \approx {_floats(exact.to_float(v))}",
                f"case {i + 1}: {n} ≈ {_floats(exact.to_float(v))}",
            )
            for i, o in enumerate(outcomes)
            for n in shown
            if _irrational(v := o.values[n])
        ]
        s.step(
            "The forward pass on every case, with these values:",
            Table(["case", *g.inputs, *shown, "required", "✓"], rows),
            *decimals,
        )

    # ------------------------------------------------------------------ grading by running

    def grade(self, g: DesignGiven, values: Mapping[str, Any]) -> dict[str, Match]:
        """The student's unknowns, run: every key gets the share of cases the whole network
        passes, and feedback naming the failing cases with what the student's own network
        gives there (never the reference).

        ``values`` holds each asked unknown as the checker read it, None where it is missing
        or unreadable; an unknown the problem does not ask is the reference's (the text
        states it). A value of the wrong shape, or one that breaks a constraint, is refused
        before anything runs."""
        out_name = g.output_name()
        own: dict[str, str] = {}
        chosen: dict[str, Any] = {}
        for name in g.unknowns:
            if name not in values:
                chosen[name] = g.reference[name]
                continue
            v = values[name]
            if v is None:
                continue
            wrong = admit(g, name, v)
            if wrong:
                own[name] = wrong
            else:
                chosen[name] = exact.tmap(_plain, v) if isinstance(v, list) else _plain(v)
        given = [n for n in g.unknowns if n in values and values[n] is not None]
        unusable = [n for n in g.unknowns if n not in chosen]
        if unusable:
            blocked = f"Your network cannot be run without a usable value for {_names(unusable)}."
            return {n: Match(Fraction(0), [s for s in (own.get(n), blocked) if s]) for n in given}
        try:
            outcomes = run_cases(g, chosen)
        except GraphError as err:
            blocked = f"Your network cannot be run with these values: {_sentence(err.message)}"
            return {n: Match(Fraction(0), [blocked]) for n in given}
        passed, total = sum(o.passed for o in outcomes), len(outcomes)
        share = Fraction(passed, total)
        if passed == total:
            note = (
                f"Your network passes all {total} cases."
                if total > 1
                else "Your network passes the case."
            )
            return {n: Match(Fraction(1), [note]) for n in given}
        feedback = [
            f"Your network passes {passed} of {total} "
            + ("case" if total == 1 else "cases")
            + (f" ({_points(share)} of the points)." if passed else ".")
        ]
        failing = [o for o in outcomes if not o.passed]
        for o in failing[:SHOWN_CASES]:
            on = f"On {o.case.where()} your" if o.case.inputs else "Your"
            feedback.append(
                f"{on} network gives {out_name} {_said(o.output)}; "
                f"the case needs {o.case.need.text(out_name)}."
            )
        if len(failing) > SHOWN_CASES:
            more = len(failing) - SHOWN_CASES
            feedback.append(f"And {more} more {'case fails' if more == 1 else 'cases fail'}.")
        mistake = self._mistake(g, chosen)
        if mistake:
            feedback.insert(0, f"This is what you get with a well-known mistake: {mistake}.")
        return {n: Match(share, list(feedback), mistake) for n in given}

    def _mistake(self, g: DesignGiven, chosen: Mapping[str, Any]) -> str | None:
        """A slip that explains a failing network: weights that pass every case without the
        ReLU (checked on paper without it), or with one unknown's sign flipped."""
        for name, change in self._slips(g, chosen):
            try:
                if all(o.passed for o in run_cases(g, change[0], change[1])):
                    return name
            except GraphError:
                continue
        return None

    def _slips(
        self, g: DesignGiven, chosen: Mapping[str, Any]
    ) -> Iterator[tuple[str, tuple[Mapping[str, Any], list[str] | None]]]:
        plain = _without_relu(g.compute)
        if plain is not None:
            yield (
                "the ReLU left out when checking (your values pass every case in the network "
                "without it)",
                (chosen, plain),
            )
        for name, v in chosen.items():
            flipped = exact.tmap(lambda x: -x, v) if isinstance(v, list) else -v
            if flipped == v:
                continue
            yield (
                f"a sign flipped (with −{name} in place of {name} your network passes every case)",
                ({**chosen, name: flipped}, None),
            )


def _plain(x: Any) -> Any:
    """A student's entry as an exact number (a written decimal as its exact value)."""
    if isinstance(x, Fraction):
        return exact.rational(Fraction(x))
    return x


def _names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _points(q: Fraction) -> str:
    return f"{q.numerator}/{q.denominator}" if q.denominator != 1 else str(q.numerator)


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


__all__ = ["Case", "Design", "DesignGiven", "Requirement", "admit", "run_cases"]
