"""The registry of problem kinds, and what a kind is.

A kind is one class in one module of this package, registered with
``@kind("name")``: a pydantic ``Given`` (which validates the problem file and
documents itself for ``dlsolve kinds``), the answer ``keys`` it declares, a
``solve`` that fills a :class:`~solver.solution.Solution` with steps and answers,
an ``example`` given for ``dlsolve new`` and the tests, and optionally
``misconceptions``: named options of ``solve`` that reproduce a well-known
mistake, so that the checker can say which mistake a wrong answer comes from.

Modules here are discovered, not listed: a new kind is a new file.
"""

from __future__ import annotations

import importlib
import pkgutil
import random
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ..compare import Match
from ..display import M, Sym, Table, Text, m
from ..given import GivenModel
from ..solution import Key, Solution

_REGISTRY: dict[str, type[Kind]] = {}


def _record_cell(row: Mapping[str, Any], column: str) -> Any:
    """A written given's field in a table: null stays None (a blank to fill in), a field the
    record leaves out is "" (nothing to fill in), a list or mapping as the file writes it."""
    from ..spec import quote

    if column not in row:
        return ""
    x = row[column]
    if x is None:
        return None
    if isinstance(x, (list, dict, bool)) or not isinstance(x, (int, str)):
        return quote(x)
    return x


class Kind:
    """Base of every problem kind; subclasses read like the worked solution they produce."""

    name: ClassVar[str]
    Given: ClassVar[type[GivenModel]]
    keys: ClassVar[tuple[Key, ...]]
    #: a given that solves, shown by ``dlsolve new`` and solved by the tests
    example: ClassVar[dict[str, Any]]
    #: The kind's mistakes, in one place: misconception name -> the keyword options of
    #: ``solve`` that make that mistake. Each option is a keyword-only parameter of
    #: ``solve`` (or of :attr:`options_from`) whose default is the right computation and
    #: whose annotation (a bool, an int, a ``Literal`` of named variants) says which
    #: changes it knows; tests/kinds/test_mistakes.py holds every kind to that.
    misconceptions: ClassVar[dict[str, dict[str, Any]]] = {}
    #: where ``solve`` passes its ``**options`` on, for a kind that collects them: a function
    #: or class (or a tuple of them, in the order the options are passed on) whose keyword
    #: parameters are further mistake options
    options_from: ClassVar[Any] = None
    #: how a given field is written in the maths (default: its name, Greek where it is one)
    labels: ClassVar[dict[str, Any]] = {}

    #: what a generated variant guarantees, in words ("each row's variance is a perfect square")
    nice: ClassVar[tuple[str, ...]] = ()
    #: False for a kind with no numbers to draw (prose): every variant keeps it as it is,
    #: and ``variants`` does not warn about it
    varies: ClassVar[bool] = True

    #: True for a kind whose answers are graded together by :meth:`grade`, by what the
    #: student's values do (a hand-set network run on its cases: many right answers), instead
    #: of each compared with its key's value
    grades_together: ClassVar[bool] = False

    #: the names of per-step keys (``stack`` for ``stack[t]``) that the student page lays out
    #: as one table with a row per step, in this order of columns, instead of a box under
    #: another (a parser's table of configurations); empty: every key its own box
    table_columns: ClassVar[tuple[str, ...]] = ()

    def solve(self, g: Any, s: Solution, **options: Any) -> None:
        """Fill ``s`` with steps and answers for the validated given ``g``."""
        raise NotImplementedError

    def grade(self, g: Any, values: Mapping[str, Any]) -> Mapping[str, Match]:
        """For a kind that :attr:`grades_together`: a :class:`~solver.compare.Match` (share
        of the points, feedback) for each asked key the student gave, from all of the
        student's values at once. ``values`` maps every asked key to the value read by its
        type, None where it is missing or unreadable. The values are untrusted: refuse a wrong
        shape before computing with it. The checker calls this in its sandboxed worker,
        under its time limit; the feedback must state no key value (see solver/reveal.py)."""
        raise NotImplementedError(f"{self.name} grades each answer by its value")

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        """A new given, as YAML values, with the structure of ``given`` and new numbers.

        The numbers are chosen so that the answers stay as nice as :attr:`nice`
        promises. Exact fractions are written as strings (``"1/3"``). Kinds
        without a generator raise NotImplementedError.
        """
        raise NotImplementedError(f"{self.name} has no variant generator")

    def restate(self, text: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
        """A problem's text for a variant whose given went from ``before`` to ``after``:
        by default the givens it quotes as written in the file are replaced."""
        from ..spec import restate

        return restate(text, before, after)

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        """The promises of :attr:`nice` that this solved given breaks (empty: all kept)."""
        return []

    @classmethod
    def summary(cls) -> str:
        """The docstring's first paragraph on one line: what the kind computes."""
        return " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())

    def given_tables(self, given: Mapping[str, Any]) -> list[Table]:
        """The givens that are lists of records (a network's layers), as written, each as a
        table titled with its name: one column per field in the order they first appear,
        null (a size the student fills in) as None, a field a record leaves out as "".
        The handout and the student page both show a network this way."""
        out = []
        for name, value in given.items():
            if not (
                isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value)
            ):
                continue
            columns: list[str] = []
            for row in value:
                columns += [str(k) for k in row if str(k) not in columns]
            rows = [[_record_cell(row, c) for c in columns] for row in value]
            out.append(Table(columns, rows, title=str(name), align="l" * len(columns)))
        return out

    def show_givens(self, g: GivenModel) -> list[tuple[M, M]]:
        """The givens the problem states, as ``(label, value)`` maths for the top of a solution."""
        out = []
        for name in type(g).model_fields:
            if name not in g.model_fields_set:  # a default the author did not write
                continue
            value = getattr(g, name)
            if (
                value is None
                or isinstance(value, (dict, tuple))
                or (isinstance(value, list) and value and isinstance(value[0], dict))
            ):
                continue
            out.append((m(self.labels.get(name, Sym(name))), _show(value)))
        return out

    def new_solution(
        self, overrides: Mapping[str, Any] | None = None, *, record_steps: bool = True
    ) -> Solution:
        return Solution(self.keys, overrides, record_steps=record_steps, owner=type(self))


def _show(value: Any) -> M:
    if isinstance(value, bool):
        return Text("true" if value else "false")
    if isinstance(value, str):
        return Text(value)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return Text(", ".join(value))
    return m(value)


def kind(name: str) -> Callable[[type[Kind]], type[Kind]]:
    """Register a Kind subclass under ``name``."""

    def register(cls: type[Kind]) -> type[Kind]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"kind {name!r} is registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return register


_loaded = False


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True


def names() -> list[str]:
    """Every registered kind, in alphabetical order."""
    _load_all()
    return sorted(_REGISTRY)


def get(name: str) -> Kind:
    """The kind registered under ``name`` (KeyError if there is none)."""
    _load_all()
    return _REGISTRY[name]()
