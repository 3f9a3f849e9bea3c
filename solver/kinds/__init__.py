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

from ..display import M, Sym, Text, m
from ..given import GivenModel
from ..solution import Key, Solution

_REGISTRY: dict[str, type[Kind]] = {}


class Kind:
    """Base of every problem kind; subclasses read like the worked solution they produce."""

    name: ClassVar[str]
    Given: ClassVar[type[GivenModel]]
    keys: ClassVar[tuple[Key, ...]]
    #: a given that solves, shown by ``dlsolve new`` and solved by the tests
    example: ClassVar[dict[str, Any]]
    #: misconception name -> keyword options of ``solve`` that make that mistake
    misconceptions: ClassVar[dict[str, dict[str, Any]]] = {}
    #: how a given field is written in the maths (default: its name, Greek where it is one)
    labels: ClassVar[dict[str, Any]] = {}

    #: what a generated variant guarantees, in words ("each row's variance is a perfect square")
    nice: ClassVar[tuple[str, ...]] = ()
    #: False for a kind with no numbers to draw (prose): every variant keeps it as it is,
    #: and ``variants`` does not warn about it
    varies: ClassVar[bool] = True

    def solve(self, g: Any, s: Solution, **options: Any) -> None:
        """Fill ``s`` with steps and answers for the validated given ``g``."""
        raise NotImplementedError

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
        return Solution(self.keys, overrides, record_steps=record_steps)


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
