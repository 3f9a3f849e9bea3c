"""Every kind's mistakes are declared as data its solve reads: typed options, each a change.

A kind lists its mistakes in one place, ``misconceptions`` (name -> keyword
options of ``solve``). These tests hold every registered kind, new ones
included, to that: an option is a keyword parameter of ``solve`` (or of the
kind's ``options_from``), its value is one the annotation allows (a
``Literal`` names the variants, so a misspelt variant is caught here instead
of silently falling back to the right computation), and each mistake changes
something (at least one changes the kind's own example).
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest

from solver import kinds
from solver.errors import DlsolveError, FieldError
from solver.kinds.derivations import MISTAKES
from solver.kinds.model_size import SIZE_RULES, SizeRuleName

KINDS = kinds.names()
#: options whose values are ids of a table of the kind's (checked against the table)
ID_OPTIONS = {("derivation", "mistake"): MISTAKES}


def _hints(fn: Any, cls: type) -> dict[str, Any]:
    target = fn.__init__ if inspect.isclass(fn) else fn
    return get_type_hints(target, localns={**vars(cls), **vars(inspect.getmodule(cls))})


def option_types(k: kinds.Kind) -> dict[str, Any]:
    """Every keyword option a kind's solve accepts, with its annotation."""
    cls = type(k)
    params = inspect.signature(cls.solve).parameters
    hints = _hints(cls.solve, cls)
    out = {n: hints.get(n, Any) for n, p in params.items() if p.kind is p.KEYWORD_ONLY}
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        assert cls.options_from is not None, f"{cls.name}: solve takes **options from where?"
        targets = cls.options_from if isinstance(cls.options_from, tuple) else (cls.options_from,)
        named = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        for target in targets:
            more = inspect.signature(target).parameters
            more_hints = _hints(target, cls)
            out |= {
                n: more_hints.get(n, Any)
                for n, p in more.items()
                if p.kind in named and n not in ("self", "g") and n not in out
            }
    return out


def allows(annotation: Any, value: Any) -> bool:
    origin = get_origin(annotation)
    if annotation is Any:
        return True
    if origin is Literal:
        return value in get_args(annotation)
    if origin in (Union, types.UnionType):
        return any(allows(a, value) for a in get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def free_strings(annotation: Any) -> bool:
    """Whether an annotation lets any string through (the options must be named instead)."""
    if annotation is str:
        return True
    return get_origin(annotation) in (Union, types.UnionType) and any(
        free_strings(a) for a in get_args(annotation)
    )


@pytest.mark.parametrize("name", KINDS)
def test_mistake_options_are_declared_and_typed(name: str) -> None:
    k = kinds.get(name)
    options = option_types(k)
    for mistake, opts in k.misconceptions.items():
        assert opts, f"{name}: {mistake!r} changes nothing"
        for option, value in opts.items():
            assert option in options, f"{name}: {mistake!r}: solve has no option {option!r}"
            table = ID_OPTIONS.get((name, option))
            if table is not None:
                assert value in table, f"{name}: {mistake!r}: {value!r} is not in its table"
                continue
            annotation = options[option]
            assert not free_strings(annotation), (
                f"{name}: option {option!r} takes any string; name its values with a Literal"
            )
            assert allows(annotation, value), (
                f"{name}: {mistake!r}: {option}={value!r} is not a {annotation}"
            )


@pytest.mark.parametrize("name", [n for n in KINDS if kinds.get(n).misconceptions])
def test_mistakes_are_distinct_and_reach_the_computation(name: str) -> None:
    """Each mistake is a different change; on the kind's example every one solves (or says
    it cannot be made with these givens) and at least one gives different answers. Some
    mistakes leave a given unchanged (ε = 0 inside or outside a root, no dilation to
    ignore), so not every one must change the example."""
    k = kinds.get(name)
    distinct = {tuple(sorted(o.items(), key=lambda kv: kv[0])) for o in k.misconceptions.values()}
    assert len(distinct) == len(k.misconceptions)
    given = k.Given.model_validate(k.example)
    right = k.new_solution(record_steps=False)
    k.solve(given, right)
    changed = 0
    for opts in k.misconceptions.values():
        wrong = k.new_solution(record_steps=False)
        try:
            k.solve(given, wrong, **opts)
        except (DlsolveError, FieldError):
            continue  # a mistake that cannot be made with these givens
        changed += any(
            key not in wrong.answers or wrong.answers[key].value != a.value
            for key, a in right.answers.items()
        )
    assert changed, f"{name}: no mistake changes the example's answers"


def test_the_size_rule_names_are_the_size_rules() -> None:
    assert set(get_args(SizeRuleName)) == set(SIZE_RULES)


def test_a_misspelt_variant_is_caught() -> None:
    k = kinds.get("dropout")
    hint = option_types(k)["scale"]
    assert allows(hint, "none") and not allows(hint, "nothing")
    assert typing.get_origin(hint) is Literal
