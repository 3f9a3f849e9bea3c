"""A worked solution: ordered steps and named, typed, exact answers.

Kinds fill a :class:`Solution`; renderers, the checker, the verifier and the
variant generator only read it. Every answer has a type, and the type alone
decides how it is printed and how a student's value is compared.

A solution can be built under *overrides*: ``s.answer("mean", mu)`` returns
the override for ``mean`` when there is one, and the kind carries on with it.
That is how the checker finds errors carried forward: it re-solves with the
student's own earlier answers and sees whether a later answer follows from them.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property, lru_cache
from typing import Any

import sympy

from . import exact
from .display import M, Mat, Num, Raw, Table, Text, m
from .vocab import TENSOR_TYPES, AnswerType, answer_type

#: The answer types and how each is compared (see :class:`~solver.vocab.AnswerType`).
TYPES = {t: t.doc for t in AnswerType}


@dataclass(frozen=True)
class Key:
    """A declared answer key: ``mean``, ``running_mean[t]`` or ``<name>.params``.

    ``[t]``/``[i]`` stand for a 1-based index, ``<name>`` for a layer name.
    """

    pattern: str
    type: AnswerType  # a kind may write the word ("real"); it is checked and made a member
    doc: str = ""
    #: shapes the kind accepts besides the answer's own: "" (none: a shape is part of the
    #: answer), "column" (axes of size 1 added at the end, as keepdim=True gives: a column
    #: for a vector) or "squeeze" (axes of size 1 added or dropped anywhere)
    lenient_shape: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", answer_type(self.type))

    @cached_property
    def regex(self) -> re.Pattern[str]:
        out = ""
        for part in re.split(r"(\[[a-z]\]|<[a-z_]+>)", self.pattern):
            if part.startswith("[") and part.endswith("]"):
                out += r"\[\d+\]"
            elif part.startswith("<"):
                out += r"[A-Za-z0-9_]+"
            else:
                out += re.escape(part)
        return re.compile(out)

    def matches(self, key: str) -> bool:
        return self.regex.fullmatch(key) is not None

    @property
    def is_pattern(self) -> bool:
        return self.regex.pattern != re.escape(self.pattern)


@dataclass
class Step:
    """One step of a worked solution: a sentence, then its maths (one equation per line)."""

    text: str
    math: list[M | Table] = field(default_factory=list)

    @property
    def equations(self) -> list[M]:
        """The maths of the step without its tables."""
        return [x for x in self.math if not isinstance(x, Table)]

    @property
    def tables(self) -> list[Table]:
        return [x for x in self.math if isinstance(x, Table)]


@dataclass
class Answer:
    """A named exact answer with its type (see :data:`TYPES`)."""

    key: str
    value: Any
    type: AnswerType
    doc: str = ""
    label: M | None = None
    #: the options of a ``choice`` answer, the unit of a count, ...: whatever the checker needs;
    #: ``alternatives``: other, equally valid values (ties); ``entry_alternatives``: per entry
    #: of a flat value, the other values that entry may take on its own; ``tie``: why
    meta: dict[str, Any] = field(default_factory=dict)
    #: how many steps the solution had when this answer was given: the last of them is
    #: the reason for it (quoted in feedback that would otherwise only say the value)
    step: int = 0

    @property
    def symbols(self) -> frozenset[str]:
        """Names of the symbols in the value: what a student's answer may use."""
        names: set[str] = set()
        for x in exact.flatten(self.value) if isinstance(self.value, list) else [self.value]:
            if isinstance(x, sympy.Basic):
                names |= {s.name for s in x.free_symbols}
        return frozenset(names)

    @property
    def shape(self) -> tuple[int, ...]:
        return exact.shape(self.value) if self.type in TENSOR_TYPES else ()

    def display(self) -> M:
        """The value as maths (``undefined`` where the value is None).

        A list of sequences (the hypotheses of a beam) shows them separated by
        semicolons; ``meta["decimal"]`` shows terminating fractions as decimals;
        ``meta["written"] == "list"`` shows a sequence as a list, ``[ROOT, parsed]`` (a parser's
        stack, whose empty value must still show).
        """
        if self.type == AnswerType.SEQUENCE and isinstance(self.value, list):
            if self.meta.get("written") == "list":
                return Text("[" + ", ".join(str(t) for t in self.value) + "]")
            if self.value and all(isinstance(v, list) for v in self.value):
                return Text("; ".join(" ".join(map(str, seq)) for seq in self.value))
            return Text(" ".join(str(t) for t in self.value))
        if self.type == AnswerType.SHAPE and isinstance(self.value, list):
            return shape_display(self.value)
        if self.type == AnswerType.COMPLEXITY:
            inner = m(self.value)
            return Raw(rf"O\left({inner.latex()}\right)", f"O({inner.text()})")
        if isinstance(self.value, str):
            return Text(self.value)
        if self.meta.get("decimal"):
            return (
                Mat(self.value, decimal=True)
                if isinstance(self.value, list)
                else Num(self.value, decimal=True)
            )
        return m(self.value)


def shape_display(dims: list[Any]) -> M:
    """A shape as it is written in code, ``[4, 128]``; ``[]`` is a scalar."""
    if not dims:
        return Raw(r"[\,]\ \text{(a scalar)}", "[] (a scalar)")
    return Raw(
        "[" + ", ".join(exact.latex(d) for d in dims) + "]",
        "[" + ", ".join(exact.unicode(d) for d in dims) + "]",
    )


def _concrete_type(declared: AnswerType, value: Any) -> AnswerType:
    """The type an answer gets from its declaration and value: a tensor by its rank (a single
    example's ``predicted`` class is an integer), a real with symbols is an expression."""
    if declared in TENSOR_TYPES:
        if isinstance(value, list):
            try:
                return tensor_type(value)
            except exact.RaggedError:  # a student's ragged answer, carried as it is
                return declared
        if exact.is_rational(value):
            return AnswerType.INTEGER if Fraction(value).denominator == 1 else AnswerType.REAL
        if exact.is_scalar(value):
            return AnswerType.REAL
    if declared == AnswerType.REAL and isinstance(value, sympy.Basic) and value.free_symbols:
        return AnswerType.EXPRESSION
    return declared


def tensor_type(value: Any) -> AnswerType:
    """``vector``, ``matrix`` or ``tensor`` by the rank of a nested list."""
    rank = len(exact.shape(value))
    return {1: AnswerType.VECTOR, 2: AnswerType.MATRIX}.get(rank, AnswerType.TENSOR)


class Solution:
    """What a kind produces: givens as shown, steps, answers; built by the kind's ``solve``."""

    def __init__(
        self,
        keys: Iterable[Key],
        overrides: Mapping[str, Any] | None = None,
        *,
        record_steps: bool = True,
        owner: type | None = None,
    ) -> None:
        self.keys = tuple(keys)
        self._declared = _declarations(owner, self.keys)
        self.record_steps = record_steps
        self.overrides = dict(overrides or {})
        self.steps: list[Step] = []
        self.answers: dict[str, Answer] = {}
        self.givens: list[tuple[M, M]] = []
        #: summaries shown before the steps (a per-layer table of a network, ...)
        self.tables: list[Table] = []
        #: filled by the framework: problem id, kind, title, text and asked keys
        self.id = ""
        self.kind = ""
        self.title: str | None = None
        self.text: str | None = None
        self.ask: list[str] | None = None
        self.points: dict[str, Any] = {}
        #: givens that are lists of records (a network's layers) as tables, null as a blank
        self.given_tables: list[Table] = []
        #: the text as words and those tables, where it quotes one as ``{{layers}}`` (else
        #: empty: the renderers show ``text``)
        self.text_parts: list[str | Table] = []

    def points_for(self, key: str) -> Fraction:
        """The points an asked key is worth: the file's ``points`` (a key or a pattern), else 1."""
        if key in self.points:
            return Fraction(self.points[key])
        for pattern, value in self.points.items():
            if pattern_matches(pattern, key):
                return Fraction(value)
        return Fraction(1)

    def declared(self, key: str) -> Key:
        """The declaration a concrete key matches (a kind's own answer keys only)."""
        found = self._declared.get(key)
        if found is None:
            for k in self.keys:
                if k.matches(key):
                    found = self._declared[key] = k
                    break
            else:
                raise KeyError(f"answer key {key!r} is not declared by this kind")
        return found

    def step(self, text: str, *math: Any) -> None:
        """Append a step: a sentence, then one equation (or :class:`Table`) per argument.

        A solution rebuilt only for its answers (the checker's re-solves) keeps none.
        """
        if self.record_steps:
            self.steps.append(Step(text, [m(x) for x in math]))

    def table(
        self,
        columns: list[str],
        rows: list[list[Any]],
        *,
        title: str | None = None,
        footer: list[list[Any]] | None = None,
    ) -> Table:
        """Attach a table (shown before the steps); see :class:`~solver.display.Table`."""
        t = Table(list(columns), [list(r) for r in rows], title, [list(r) for r in footer or []])
        self.tables.append(t)
        return t

    def answer(self, key: str, value: Any, *, label: Any = None, **meta: Any) -> Any:
        """Record an answer and return the value the kind should carry on with.

        That is ``value`` itself, or the override for ``key`` when the solution
        is being rebuilt from a student's earlier answers.
        """
        decl = self.declared(key)
        if key in self.overrides:
            value = self.overrides[key]
            meta.pop("alternatives", None)  # they were ties of the kind's value, not this one
            meta.pop("entry_alternatives", None)
        typ = _concrete_type(decl.type, value)
        if decl.lenient_shape:
            meta.setdefault("lenient_shape", decl.lenient_shape)
        self.answers[key] = Answer(
            key,
            value,
            typ,
            decl.doc,
            m(label) if label is not None else None,
            meta,
            len(self.steps),
        )
        return value

    def asked(self) -> list[Answer]:
        """The answers the problem asks for, in the order the kind produced them."""
        if self.ask is None:
            return list(self.answers.values())
        return [
            a for a in self.answers.values() if any(pattern_matches(p, a.key) for p in self.ask)
        ]

    def __getitem__(self, key: str) -> Any:
        return self.answers[key].value


#: a kind's class -> its concrete keys' declarations: answer() runs per answer, and a
#: kind's keys are a class attribute, so each class looks each key up once
_DECLARED: dict[type, dict[str, Key]] = {}
_DECLARED_FROM: dict[type, tuple[Key, ...]] = {}


def _declarations(owner: type | None, keys: tuple[Key, ...]) -> dict[str, Key]:
    """The lookup cache for a solution of ``owner``'s (a fresh one without an owner, or
    when the class's keys were replaced since)."""
    if owner is None:
        return {}
    if _DECLARED_FROM.get(owner) is not keys:
        _DECLARED_FROM[owner] = keys
        _DECLARED[owner] = {}
    return _DECLARED[owner]


@lru_cache(maxsize=4096)
def pattern_matches(pattern: str, key: str) -> bool:
    """Whether a concrete key is ``pattern`` or matches it as a declared pattern
    (``running_mean[t]``, ``<name>.params``) or as a wildcard (``grad.*``): how ``ask`` and
    ``points`` name keys."""
    if "*" in pattern:
        return fnmatch.fnmatchcase(key, pattern)
    return pattern == key or Key(pattern, AnswerType.TEXT).matches(key)
