"""Helpers that several kinds share: carrying a student's earlier answer forward, and drawing
variants that validate and keep a kind's promises.

No kind lives here; the module holds what would otherwise be copied between kind modules.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import sympy

from .. import exact
from ..errors import FieldError
from ..solution import Solution
from . import Kind


def carried(value: Any, computed: Any) -> Any:
    """A student's earlier answer to carry on with where the walk can use it (a positive whole
    size; a shape of the same rank), else the computed value: later answers are then judged
    against what follows from the correct one."""

    def size(v: Any) -> Any:
        if exact.is_rational(v) and Fraction(v).denominator == 1 and v >= 1:
            return int(v)
        return v if isinstance(v, sympy.Basic) and v.free_symbols else None

    if isinstance(computed, list):
        if not isinstance(value, list) or len(value) != len(computed):
            return computed
        dims = [size(v) for v in value]
        return computed if None in dims else dims
    return size(value) or computed


def prod(xs: Sequence[Any]) -> Any:
    return math.prod(xs) if xs else 1


def carry(s: Solution, key: str, value: Any, **meta: Any) -> Any:
    """``s.answer``, carrying on with a student's earlier answer only where it has the form of
    ours (a number for a number, a shape of the same rank, a tensor of the same shape, a word
    for a word); otherwise later answers follow from the correct value."""
    given = s.answer(key, value, **meta)
    if s.declared(key).type == "shape" or key.endswith((".in", ".out")):
        return carried(given, value)
    if isinstance(value, list):
        return same_shape(given, value)
    if isinstance(value, str) or value is None:
        return given if isinstance(given, type(value)) else value
    return given if exact.is_scalar(given) else value


def same_shape(value: Any, computed: Any) -> Any:
    """A student's earlier tensor to carry on with if it has the right shape, else ours."""
    try:
        ok = exact.shape(value) == exact.shape(computed) and all(
            exact.is_scalar(v) for v in exact.flatten(value)
        )
    except exact.RaggedError:
        ok = False
    return value if ok else computed


def is_symbolic(v: Any) -> bool:
    return isinstance(v, sympy.Basic) and bool(v.free_symbols)


def plain_given(value: Any) -> Any:
    """A raw given as YAML values: Fractions become strings such as "1/2"."""
    if isinstance(value, Mapping):
        return {k: plain_given(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_given(v) for v in value]
    if isinstance(value, Fraction):
        return str(exact.rational(value))
    if isinstance(value, sympy.Basic):
        return exact.fmt(value)
    return value


def draw_variant(
    kind_: Kind,
    given: Mapping[str, Any],
    rng: random.Random,
    draw: Callable[[dict[str, Any], random.Random], dict[str, Any]],
) -> dict[str, Any]:
    """Draw until a variant validates, keeps the kind's promises and differs from the source."""
    source = plain_given(given)
    for _ in range(TRIES):
        raw = draw(plain_given(given), rng)
        try:
            g = kind_.Given.model_validate(raw)
        except (ValueError, FieldError):
            continue
        s = kind_.new_solution()
        kind_.solve(g, s)
        if raw != source and not kind_.broken_promises(g, s):
            return raw
    raise ValueError(f"no variant of this {kind_.name} problem keeps its promises")


def small_ints(
    shape: Sequence[int], rng: random.Random, low: int = -3, high: int = 3, nonzero: bool = False
) -> Any:
    choices = [v for v in range(low, high + 1) if v or not nonzero]
    if not shape:
        return rng.choice(choices)
    return [small_ints(shape[1:], rng, low, high, nonzero) for _ in range(shape[0])]


def tenths(C: int, rng: random.Random) -> list[str]:
    """A probability vector over C classes in tenths, as YAML strings ("3/10")."""
    cuts = sorted(rng.randint(0, 10) for _ in range(C - 1))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, 10], strict=True)]
    return [str(Fraction(p, 10)) for p in parts]


TRIES = 200


def approx(x: Any) -> Any:
    """``≈ 0.6931`` beside an exact value (nothing to show for an undefined one)."""
    from ..display import Raw

    f = exact.to_float(x)
    if f is None:
        return Raw(r"\text{undefined}", "undefined")
    return Raw(f"{f:.6g}", f"{f:.6g}")


def about(label: Any, *parts: Any) -> Any:
    """``label = parts... ≈ float`` for an exact value with a float beside it (nothing beside a
    plain fraction or an undefined value)."""
    from ..display import eq, rel

    value = parts[-1]
    if value is None or isinstance(value, bool) or exact.is_rational(value):
        return eq(label, *parts)
    return rel(label, *[x for p in parts for x in ("=", p)], "~", approx(value))


def validate_nested(model: Any, value: Mapping[str, Any], name: str) -> Any:
    """A sub-model of a given (an optimizer, a layer) validated with errors that name their
    place: ``schedule.step_size``, not ``step_size``."""
    from pydantic import ValidationError

    try:
        return model.model_validate(dict(value))
    except FieldError as err:
        field = f"{name}.{err.field}" if err.field else name
        raise FieldError(err.message, field, err.path) from None
    except ValidationError as err:
        e = err.errors()[0]
        loc = ".".join(str(x) for x in e.get("loc", ()))
        cause = (e.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            inner = cause.field or loc
            raise FieldError(
                cause.message, f"{name}.{inner}" if inner else name, cause.path
            ) from None
        if e["type"] == "extra_forbidden":
            message = "there is no such setting"
        elif e["type"] == "missing":
            message = "is needed"
        else:
            message = e.get("msg", "invalid value")
        raise FieldError(message, f"{name}.{loc}" if loc else name) from None
