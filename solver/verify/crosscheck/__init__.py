"""Cross-checks: every answer with a numeric meaning, recomputed with PyTorch in float64.

Adding the cross-check of a kind
--------------------------------
One module per family of kinds (``normalization.py``, ``model_size.py``, ...)
registers one function per kind::

    @crosscheck("layernorm")
    def layernorm(g, s, device) -> dict[str, Any]:
        X = torch.tensor(exact.to_float(g.X), dtype=torch.float64, device=device)
        return {"mean": X.mean(dim=1), ...}

It receives the validated given ``g``, the exact :class:`~solver.solution.Solution`
``s`` and a torch device, and returns ``{answer key: recomputation}``, computed
independently of the kind's own code (torch modules, torch.optim, autograd,
brute force) in float64. Read the given, not the exact answers: ``s`` is there
to learn which answers exist (``"predicted" in s.answers``), never as the value
to compare (the one exception: a layer size only the solver can infer, which
model_size feeds to torch to see whether the rest of the network accepts it).
These modules import torch at their top; this one does not, and they are
imported only when ``dlsolve verify`` runs.

A recomputation is one of three things, and :func:`compare` gives every answer
of the solution exactly one verdict (see :data:`VERDICTS`):

``value``
    a tensor, number, boolean, string or token list (or nested lists of them),
    set beside the exact answer's float: they agree when the shapes match and
    every entry is within ``ATOL + RTOL·|exact entry|`` (1e-9 each); booleans,
    strings and tokens must be equal. An undefined exact value (None, e.g. 0/0)
    agrees with nan or ±inf and with nothing else. A floating tensor that is
    not float64 is a disagreement, whatever its values.
:class:`At` ``(value, point)``
    torch's value at a point, for an answer with symbols: a formula
    (λ = −2ηγ), a shape ``[n, 128]``, a symbolic kernel. The point gives each
    symbol a number (ints and Fractions exactly; a float means the binary
    fraction it is), or a list of numbers to evaluate the formula entry by
    entry (u the vector of a formula γu/‖u‖), and each undefined function a
    concrete one (``{"sigma": sympy.tanh}``). :func:`compare` substitutes the
    same point into the exact answer, exactly, and compares as above. A formula
    is never "checked" by returning None or a flag: it gets a number and a
    verdict like every other answer.
:class:`Refused` ``(reason)``
    torch cannot compute the value (it refuses the input). That agrees with an
    undefined exact answer and is a disagreement otherwise, reported with the
    reason. Where torch refuses but the answer is defined (BatchNorm training
    on one value per channel), recompute it with plain torch operations instead.

Keys the family leaves out get the verdict ``no numeric meaning`` when the
answer's type is one of :data:`NON_NUMERIC_TYPES` (a multiple choice, a big-O
class, a text), else ``not recomputed``: a gap in the cross-check, shown by
``dlsolve verify``. Keys the solution does not have are ignored, so a family
may recompute more than a problem's answers; a choice it can recompute (which
z holds the logits) it should. A cross-check that raises is reported by
``dlsolve verify`` as failed, never as agreement; better, the family foresees
its refusal cases. :func:`symbols_of` and :func:`random_point` help build a
point for a kind whose givens may hold symbols.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy

from ... import exact
from ...solution import Solution
from ...vocab import AnswerType, Word

Check = Callable[[Any, Solution, Any], Mapping[str, Any]]
CHECKS: dict[str, Check] = {}
RTOL = 1e-9
ATOL = 1e-9


class CrossVerdict(Word):
    """The verdict :func:`compare` gives an answer; only ``disagree`` is a failure."""

    AGREE = "agree"
    DISAGREE = "disagree"
    NOT_NUMERIC = "no numeric meaning"
    NOT_RECOMPUTED = "not recomputed"


AGREE, DISAGREE, NOT_NUMERIC, NOT_RECOMPUTED = CrossVerdict
#: every verdict :func:`compare` gives
VERDICTS = tuple(CrossVerdict)
#: answer types that have no number to recompute (unless a family returns one anyway)
NON_NUMERIC_TYPES = (AnswerType.CHOICE, AnswerType.COMPLEXITY, AnswerType.TEXT)


def crosscheck(kind_name: str) -> Callable[[Check], Check]:
    """Register the torch recomputation of a kind's answers."""

    def register(fn: Check) -> Check:
        CHECKS[kind_name] = fn
        return fn

    return register


def load_all() -> None:
    """Import every family module (they import torch)."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


# --------------------------------------------------------------------------- what families return


@dataclass(frozen=True)
class At:
    """A value torch computed at a point: numbers in place of the exact answer's symbols
    (a symbolic kernel w1, w2, ...; a batch size n; η and γ of a formula), concrete
    functions in place of undefined ones. :func:`compare` puts the same point into the
    exact answer before comparing."""

    value: Any
    point: Mapping[str, Any]  # symbol name -> number (or list of numbers), or a sympy function


@dataclass(frozen=True)
class Refused:
    """Torch refuses to compute this answer; the reason is reported."""

    reason: str


def symbols_of(*values: Any) -> set[str]:
    """The names of the symbols in exact values (scalars or nested lists)."""
    names: set[str] = set()
    for v in values:
        for x in exact.flatten(v) if isinstance(v, list) else [v]:
            if x is None or isinstance(x, (bool, str)):
                continue
            e = exact.to_sympy(x)
            names |= {sym.name for sym in getattr(e, "free_symbols", ())}
    return names


def random_point(
    names: set[str], seed: int, choices: tuple[Any, ...] = (-3, -2, -1, 1, 2, 3, 4, 5)
) -> dict[str, Any]:
    """Random exact numbers (nonzero integers by default) for symbols, the same for a seed."""
    rng = random.Random(seed)
    return {n: rng.choice(choices) for n in sorted(names)}


def _exact_number(x: Any) -> Any:
    """A point's number as an exact sympy number: a float is the binary fraction it is."""
    x = _plain(x)
    if isinstance(x, float):
        return sympy.Rational(*Fraction(x).as_integer_ratio())
    return exact.to_sympy(x)


def _broadcast(point: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """A point whose symbols take lists, as one point per entry (None when none does)."""
    lists = {k: _plain(v) for k, v in point.items() if isinstance(_plain(v), list)}
    if not lists:
        return None
    sizes = {len(v) for v in lists.values()}
    if len(sizes) != 1:
        raise ValueError(f"the point's lists have different lengths {sorted(sizes)}")
    return [{**point, **{k: v[i] for k, v in lists.items()}} for i in range(sizes.pop())]


def at_point(value: Any, point: Mapping[str, Any]) -> Any:
    """An exact answer with the point's numbers and functions put in for its symbols."""
    if isinstance(value, list):
        return [at_point(v, point) for v in value]
    entries = _broadcast(point)
    if entries is not None:
        return [at_point(value, p) for p in entries]
    if not isinstance(value, sympy.Basic):
        return value
    e = value
    for name, f in point.items():
        if isinstance(f, sympy.FunctionClass):
            e = e.replace(sympy.Function(name), f)
    numbers = {
        exact.symbol(k): _exact_number(v)
        for k, v in point.items()
        if not isinstance(v, sympy.FunctionClass)
    }
    return exact.from_sympy(e.subs(numbers)) if e.free_symbols else exact.from_sympy(e)


# --------------------------------------------------------------------------- comparing


@dataclass
class Agreement:
    """One answer of a solution beside its torch recomputation, with its verdict."""

    key: str
    verdict: CrossVerdict
    exact: Any = None  # the exact answer as floats (or as itself when it is not a number)
    torch: Any = None  # torch's value as Python floats/lists (or the Refused reason)
    max_diff: float = 0.0  # largest absolute difference (inf when shapes or kinds differ)
    type: str = ""  # the answer's type
    note: str = ""  # why torch refused, or which symbols a point left in the answer

    @property
    def ok(self) -> bool:
        """Not a disagreement."""
        return self.verdict != DISAGREE

    @property
    def compared(self) -> bool:
        return self.verdict in (AGREE, DISAGREE)


def _plain(x: Any) -> Any:
    """Torch tensors and numpy arrays as nested Python lists; numbers as floats."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().tolist()
    elif hasattr(x, "tolist") and not isinstance(x, (list, str)):
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def difference(a: Any, b: Any) -> float:
    """Largest |a − b| over nested values; inf when the shapes or kinds differ."""
    if isinstance(a, list) or isinstance(b, list):
        if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
            return math.inf
        return max((difference(x, y) for x, y in zip(a, b, strict=True)), default=0.0)
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        return 0.0 if a == b else math.inf
    if a is None or b is None:  # an undefined exact value: torch gives nan or inf
        other = b if a is None else a
        return 0.0 if other is None or not math.isfinite(float(other)) else math.inf
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    if a == b:  # equal infinities too (log 0 = -inf on both sides), where a - b is nan
        return 0.0
    return abs(a - b)


def within(exact_value: Any, torch_value: Any) -> bool:
    """Whether every entry agrees within ATOL + RTOL·|exact entry|."""
    if isinstance(exact_value, list) and isinstance(torch_value, list):
        return len(exact_value) == len(torch_value) and all(
            within(x, y) for x, y in zip(exact_value, torch_value, strict=True)
        )
    d = difference(exact_value, torch_value)
    scale = (
        abs(exact_value)
        if isinstance(exact_value, (int, float))
        and not isinstance(exact_value, bool)
        and math.isfinite(exact_value)
        else 0.0
    )
    return d <= ATOL + RTOL * scale


def _not_float64(value: Any) -> str:
    """Why a recomputation does not count: a floating tensor that is not float64."""
    dtype = getattr(value, "dtype", None)
    if (
        dtype is not None
        and getattr(value, "is_floating_point", lambda: False)()
        and str(dtype) != "torch.float64"
    ):
        return f"torch computed this in {dtype}, not float64"
    return ""


def _undefined(x: Any) -> bool:
    return all(v is None for v in exact.flatten(x)) if isinstance(x, list) else x is None


def compare_one(key: str, value: Any, answer_value: Any, answer_type: str = "") -> Agreement:
    """One answer (its exact value) beside one recomputation (value, At or Refused)."""
    v, note = answer_value, ""
    if isinstance(value, At):
        v, value = at_point(v, value.point), value.value
        left = symbols_of(v)
        if left:
            note = f"the point leaves {', '.join(sorted(left))} in the exact answer"
    mine = exact.to_float(v) if exact.is_numeric(v) else v
    if isinstance(value, Refused):
        ok = _undefined(mine)
        return Agreement(
            key,
            AGREE if ok else DISAGREE,
            mine,
            f"refused: {value.reason}",
            0.0 if ok else math.inf,
            answer_type,
            value.reason,
        )
    note = note or _not_float64(value)
    theirs = _plain(value)
    d = math.inf if note else difference(mine, theirs)
    ok = not note and within(mine, theirs)
    return Agreement(key, AGREE if ok else DISAGREE, mine, theirs, d, answer_type, note)


def compare(solution: Solution, recomputed: Mapping[str, Any]) -> list[Agreement]:
    """A verdict for every answer of the solution, in the solution's order: each recomputed
    one beside its exact float (within rtol/atol 1e-9); the others 'no numeric meaning'
    (by type) or 'not recomputed'."""
    out = []
    for key, answer in solution.answers.items():
        if key in recomputed:
            out.append(compare_one(key, recomputed[key], answer.value, answer.type))
        elif answer.type in NON_NUMERIC_TYPES:
            out.append(Agreement(key, NOT_NUMERIC, answer.value, type=answer.type))
        else:
            out.append(Agreement(key, NOT_RECOMPUTED, answer.value, type=answer.type))
    return out
