"""T steps of an optimizer exactly as ``torch.optim`` takes them, under a learning-rate schedule
exactly as ``torch.optim.lr_scheduler`` sets it.

Each optimizer follows torch's single-tensor code line by line:

* SGD: g ← g + λθ; the momentum buffer is b₁ = g on the first step (no dampening) and
  b ← μb + (1 − τ)g after; Nesterov uses g + μb, plain momentum b; θ ← θ − η·(that).
* Adagrad: g ← g + λθ; s ← s + g²; θ ← θ − η/(1 + (t − 1)·lr_decay) · g/(√s + ε).
* RMSprop: g ← g + λθ; v ← αv + (1 − α)g²; centered: ḡ ← αḡ + (1 − α)g and
  v − ḡ² under the root; ε is added outside the root; with momentum
  b ← μb + g/(√· + ε), θ ← θ − ηb, else θ ← θ − η·g/(√· + ε).
* Adam/AdamW: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g²; AMSGrad keeps v_max = max(v_max, v);
  θ ← θ − η/(1 − β₁ᵗ) · m/(√v/√(1 − β₂ᵗ) + ε). Adam's decay is coupled (g + λθ), AdamW's
  decoupled (θ(1 − ηλ) first).

The learning rate of step t is the scheduler's value after t − 1 calls of
``scheduler.step()`` (one per optimizer step): StepLR η₀γ^⌊e/s⌋, MultiStepLR
η₀γ^(milestones passed), ExponentialLR η₀γ^e, CosineAnnealingLR
η_min + (η₀ − η_min)(1 + cos(πe/T_max))/2 and LinearLR (the linear warm-up)
η₀(f₀ + (f₁ − f₀)·min(e, n)/n), with e = t − 1.

Square roots stay surds and cosines stay exact; floats are written beside. Gradients are
given per step, or come from an objective in θ, differentiated exactly at each step.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Annotated, Any, Literal

import sympy
from pydantic import BeforeValidator, model_validator

from .. import exact
from ..display import Add, Frac, Mat, Mul, Raw, Sym, Table, Text, eq, rel, says, sub
from ..errors import FieldError
from ..given import Count, GivenModel, Index, NonNegative, Positive, TypeDoc, Vector
from ..graph import GraphError, differentiate
from ..graph import lang as graph_lang
from ..graph.ops import FUNCTIONS, TRANSCENDENTAL
from ..parse import ParseError
from ..solution import Key, Solution
from . import Kind, kind
from .common import draw_variant, validate_nested

# How many steps stay exact at a reasonable size (measured: a fourth Adam step on a quadratic
# objective prints 54 kB of nested roots and a fifth 366 kB; 20 SGD steps under a cosine
# schedule with T_max = 7 take minutes, 6 take a second).
MAX_STEPS = 50  # SGD with rational (or single-surd) rates: cheap
MAX_ADAPTIVE_STEPS = 8  # gradients given: the roots add up, they do not nest
MAX_NESTED_STEPS = 3  # gradients that depend on θ: each step's roots go under the next one's
MAX_COSINE_STEPS = 6  # SGD on θ-dependent gradients with cos(π/T_max) beyond surds
# exp, log, σ or tanh of θ: five SGD steps print 2.5 kB per weight and eight 68 kB (5 minutes);
# Adam's roots over them, 0.4 kB after two steps and 28 s for a third
MAX_TRANSCENDENTAL_STEPS = 4
MAX_TRANSCENDENTAL_ADAPTIVE_STEPS = 2
DETAILED_STEPS = 4  # beyond this, every step goes into one table and the first few are worked

OptimizerName = Literal["sgd", "adagrad", "rmsprop", "adam", "adamw"]
ScheduleName = Literal["step", "multistep", "exponential", "cosine", "linear_warmup"]


# --------------------------------------------------------------------------- givens


class OptimizerSpec(GivenModel):
    """An optimizer by torch.optim's argument names; None means torch's default for it."""

    name: OptimizerName
    lr: Positive | None = None
    momentum: NonNegative = 0
    dampening: NonNegative = 0
    nesterov: bool = False
    weight_decay: NonNegative | None = None
    alpha: NonNegative = Fraction(99, 100)
    eps: NonNegative | None = None
    centered: bool = False
    betas: Vector | None = None
    amsgrad: bool = False
    lr_decay: NonNegative = 0
    initial_accumulator_value: NonNegative = 0

    @model_validator(mode="after")
    def _check(self) -> OptimizerSpec:
        allowed = {
            "sgd": {"lr", "momentum", "dampening", "nesterov", "weight_decay"},
            "adagrad": {"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"},
            "rmsprop": {"lr", "alpha", "eps", "weight_decay", "momentum", "centered"},
            "adam": {"lr", "betas", "eps", "weight_decay", "amsgrad"},
            "adamw": {"lr", "betas", "eps", "weight_decay", "amsgrad"},
        }[self.name]
        extra = sorted(self.model_fields_set - allowed - {"name"})
        if extra:
            raise FieldError(
                f"torch.optim's {self.name} has no argument {extra[0]} "
                f"(it takes {', '.join(sorted(allowed))})",
                extra[0],
            )
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise FieldError("Nesterov momentum needs momentum > 0 and dampening 0", "nesterov")
        if self.momentum >= 1 and self.name in ("sgd", "rmsprop"):
            raise FieldError("must be below 1", "momentum")
        if self.betas is not None and (
            len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas)
        ):
            raise FieldError("needs two values [β₁, β₂] in [0, 1)", "betas")
        if not self.alpha < 1 and self.name == "rmsprop":
            raise FieldError("must be below 1", "alpha")
        return self

    # torch's defaults, per optimizer
    def resolved_lr(self) -> Any:
        if self.lr is not None:
            return self.lr
        return Fraction(1, 100) if self.name in ("adagrad", "rmsprop") else Fraction(1, 1000)

    def resolved_eps(self) -> Any:
        if self.eps is not None:
            return self.eps
        return Fraction(1, 10**10) if self.name == "adagrad" else Fraction(1, 10**8)

    def resolved_decay(self) -> Any:
        if self.weight_decay is not None:
            return self.weight_decay
        return Fraction(1, 100) if self.name == "adamw" else 0

    def resolved_betas(self) -> tuple[Any, Any]:
        b = self.betas or [Fraction(9, 10), Fraction(999, 1000)]
        return b[0], b[1]


def _optimizer(value: Any) -> Any:
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, Mapping):
        raise FieldError("expected {name: sgd, lr: 0.1, ...} with torch.optim's argument names")
    return validate_nested(OptimizerSpec, value, "optimizer")


class ScheduleSpec(GivenModel):
    """A learning-rate schedule by torch.optim.lr_scheduler's argument names."""

    name: ScheduleName
    step_size: Count | None = None
    gamma: Positive | None = None
    milestones: list[Index] | None = None
    T_max: Count | None = None
    eta_min: NonNegative = 0
    start_factor: Positive = Fraction(1, 3)
    end_factor: NonNegative = 1
    total_iters: Count = 5

    @model_validator(mode="after")
    def _check(self) -> ScheduleSpec:
        needs = {
            "step": ("step_size", "gamma"),
            "multistep": ("milestones", "gamma"),
            "exponential": ("gamma",),
            "cosine": ("T_max",),
            "linear_warmup": (),
        }[self.name]
        for arg in needs:
            if getattr(self, arg) is None:
                raise FieldError(f"is needed by the {self.name} schedule", arg)
        if self.start_factor > 1:
            raise FieldError("must be in (0, 1], as torch's LinearLR requires", "start_factor")
        if self.end_factor > 1:
            raise FieldError("must be in [0, 1], as torch's LinearLR requires", "end_factor")
        return self


def _schedule(value: Any) -> Any:
    if value is None or isinstance(value, ScheduleSpec):
        return value
    if not isinstance(value, Mapping):
        raise FieldError("expected {name: step, step_size: 2, gamma: 0.5} or another schedule")
    return validate_nested(ScheduleSpec, value, "schedule")


OptimizerField = Annotated[
    OptimizerSpec,
    BeforeValidator(_optimizer),
    TypeDoc(
        "optimizer",
        "{name: sgd|adagrad|rmsprop|adam|adamw, lr, momentum, dampening, nesterov, weight_decay, "
        "alpha, eps, centered, betas, amsgrad, lr_decay} (torch.optim's names and defaults)",
    ),
]
ScheduleField = Annotated[
    ScheduleSpec | None,
    BeforeValidator(_schedule),
    TypeDoc(
        "schedule",
        "{name: step|multistep|exponential|cosine|linear_warmup, step_size, gamma, milestones, "
        "T_max, eta_min, start_factor, end_factor, total_iters} (lr_scheduler's names)",
    ),
]


# --------------------------------------------------------------------------- the objective

MAX_DEGREE = 8  # a power of θ beyond this makes each step's exact weights too long to print


@dataclass
class Objective:
    """The loss in θ, written in the graph language (:mod:`solver.graph`) and differentiated
    by its reverse mode at each step: one language and one table of derivatives serve the
    ``graph`` kind and this one. ``theta`` is the weight vector (``theta[0]``, ``sum(theta^2)``);
    with one weight, ``theta`` alone reads as that weight."""

    text: str
    #: the outermost of exp, log, sigmoid, ... the loss applies to θ (None for a polynomial): its
    #: exact values nest from step to step, which limits the steps
    transcendental: str | None
    _seen: dict[tuple[Any, ...], tuple[Any, list[Any]]] = field(default_factory=dict, repr=False)

    def value(self, theta: Sequence[Any], where: str = "θ") -> Any:
        return self.at(theta, where)[0]

    def gradient(self, theta: Sequence[Any], where: str = "θ") -> list[Any]:
        return self.at(theta, where)[1]

    def at(self, theta: Sequence[Any], where: str) -> tuple[Any, list[Any]]:
        """L and ∇L at θ (the loss at θ_t and the gradient of step t + 1 share one pass); an
        objective that cannot be evaluated there (log of 0, a scalar expected) says so."""
        key = tuple(theta)
        if key not in self._seen:
            point = [_weight(i, x) for i, x in enumerate(theta)]
            back = {a: exact.to_sympy(x) for a, x in zip(point, theta, strict=True) if a is not x}
            try:
                value, grads = differentiate(self.text, {"theta": point})
            except GraphError as err:
                raise _objective_error(err, where) from None

            def weights_in(v: Any) -> Any:
                if not back:
                    return _tidy(v)
                if self.transcendental is None:  # sympy's own form of the polynomial
                    return _tidy(exact.to_sympy(v).xreplace(back))
                with sympy.evaluate(False):  # e^(nested roots): sympy's checks take minutes
                    return exact.from_sympy(exact.to_sympy(v).xreplace(back))

            self._seen = {key: (weights_in(value), [weights_in(x) for x in grads["theta"]])}
        return self._seen[key]


def _weight(i: int, x: Any) -> Any:
    """θ_i as the graph should see it: a rational as itself; an irrational weight (after an
    adaptive step, nested roots) as one opaque atom that knows its value, so that the graph
    writes L and ∇L as expressions in the weights, as a textbook substitutes them, rather
    than expanding products of nested roots over a common denominator."""
    if exact.is_rational(x):
        return x
    value = exact.to_sympy(x)
    known: list[Any] = []  # the value to the most digits asked so far (sympy asks often)

    def evalf(_: Any, prec: int) -> Any:  # prec in bits; 120 digits serve every check
        if not known or known[0]._prec < prec:
            known[:] = [value.evalf(max(120, int(prec / 3.3) + 10))]
        return known[0]

    return type(f"theta_{i}", (sympy.Function,), {"_eval_evalf": evalf})(sympy.Integer(i))


def _objective_error(err: GraphError, where: str) -> FieldError:
    if err.field == "output":
        return FieldError(
            "is not a scalar: with several weights, sum or index theta, as in "
            "sum((theta - 1)^2) or theta[0]^2 + theta[1]^2",
            "objective",
        )
    if err.parse is not None:  # the text itself: its message says where
        return FieldError(err.message, "objective")
    return FieldError(f"cannot be evaluated at {where}: {err.message}", "objective")


def read_objective(text: str, theta: Sequence[Any]) -> Objective:
    """The objective read by the graph language's whitelist parser, checked for what a trace
    needs (θ the only name, a bounded degree, a scalar loss) and tried at the starting point
    ``theta``; the message of a bad one names where in the text it goes wrong."""
    try:
        tree = graph_lang.parse_expression(text)
    except ParseError as err:
        raise FieldError(str(err), "objective") from None
    degree, transcendental = _walk(tree, text)
    if degree == 0:
        raise FieldError("does not depend on theta", "objective")
    objective = Objective(text, transcendental)
    objective.at(theta, "θ₀")
    return objective


def _walk(node: graph_lang.Node, text: str) -> tuple[int, str | None]:
    """A bound on the degree in θ of the tree and the first transcendental function it calls;
    names other than theta, and powers beyond :data:`MAX_DEGREE`, are refused where written."""
    if node.tag == "num":
        return 0, None
    if node.tag == "name":
        if node.value in ("theta", "None") or node.value in FUNCTIONS:
            return int(node.value == "theta"), None  # a function's name alone: the graph says
        raise _refuse(
            f"{node.value!r} is not theta: the weights are theta[0], theta[1], ...",
            text,
            node.start,
        )
    parts = [_walk(a, text) for a in [*node.args, *node.kwargs.values()]]
    degrees = [d for d, _ in parts]
    called = node.value if node.tag == "call" and node.value in TRANSCENDENTAL else None
    trans = called or next((t for _, t in parts if t), None)
    if node.tag == "bin" and node.value == "^":
        exponent = node.args[1].value if node.args[1].tag == "num" else 1
        degree = degrees[0] * abs(exponent) if isinstance(exponent, int) else degrees[0]
        if degree > MAX_DEGREE:
            raise _refuse(
                f"the power makes a degree of {degree} in theta, above the {MAX_DEGREE} an exact "
                "trace can print",
                text,
                node.kwpos.get("op", node.start),
            )
        return degree, trans
    if node.tag == "bin" and node.value in ("*", "/", "@"):
        return sum(degrees), trans
    return max(degrees, default=0), trans


def _refuse(reason: str, text: str, position: int) -> FieldError:
    """A bad objective, in the words and with the position the parser would give."""
    return FieldError(str(ParseError(reason, text, position)), "objective")


# --------------------------------------------------------------------------- exact helpers


def _tidy(x: Any) -> Any:
    """The cheapest exact form: an int for an integral Fraction, a Surd, else sympy's."""
    if exact.is_rational(x):
        return exact.rational(x)
    if isinstance(x, exact.Surd):
        return x
    return exact.from_sympy(sympy.sympify(exact.to_sympy(x)))


def _div(a: Any, b: Any) -> Any:
    if exact.is_rational(a) and exact.is_rational(b):
        return exact.rational(Fraction(a) / Fraction(b))
    if isinstance(b, exact.Surd) and (exact.is_rational(a) or isinstance(a, exact.Surd)):
        return _tidy(a * b.inverse())
    return _tidy(exact.to_sympy(a) / exact.to_sympy(b))


def _sqrt(x: Any) -> Any:
    if exact.is_rational(x) or isinstance(x, exact.Surd):
        return exact.sqrt(x) if exact.is_rational(x) else _tidy(sympy.sqrt(exact.to_sympy(x)))
    return _tidy(sympy.sqrt(exact.to_sympy(x)))


def fast_float(x: Any) -> float:
    """A float for an exact value, walking a sympy expression once per distinct node (the
    traces share subexpressions, which sympy's evalf would evaluate again every time)."""
    if exact.is_rational(x) or isinstance(x, exact.Surd):
        return float(x)
    cache: dict[Any, float] = {}

    def walk(e: Any) -> float:
        hit = cache.get(e)
        if hit is not None:
            return hit
        if e.is_Number or e.is_NumberSymbol:
            v = float(e)
        elif e.is_Add:
            v = math.fsum(walk(a) for a in e.args)
        elif e.is_Mul:
            v = math.prod(walk(a) for a in e.args)
        elif e.is_Pow:
            v = walk(e.base) ** walk(e.exp)
        elif isinstance(e, sympy.cos):
            v = math.cos(walk(e.args[0]))
        elif isinstance(e, sympy.exp):
            v = math.exp(walk(e.args[0]))
        elif isinstance(e, sympy.log):
            v = math.log(walk(e.args[0]))
        else:
            v = float(e.evalf(30))
        cache[e] = v
        return v

    try:
        return walk(exact.to_sympy(x))
    except (OverflowError, ValueError, ZeroDivisionError):  # parts beyond a float's range
        return float(exact.to_sympy(x).evalf(30))


def _sign(x: Any) -> int:
    """The exact sign, decided by a float where the float is far from 0 (sympy's sign of a
    long nested-root expression is slow), exactly otherwise."""
    if exact.is_rational(x) or isinstance(x, exact.Surd):
        return exact.sign(x)
    f = fast_float(x)
    if abs(f) > 1e-9:
        return 1 if f > 0 else -1
    return exact.sign(x)


def _max(a: Any, b: Any) -> Any:
    return a if _sign(_tidy(a - b)) >= 0 else b


def vec(f: Callable[..., Any], *xs: Sequence[Any]) -> list[Any]:
    return [_tidy(f(*args)) for args in zip(*xs, strict=True)]


def approx_vec(v: Sequence[Any]) -> Any:
    """``≈ [0.1, 0.2]`` beside a vector with irrational entries (None when all are fractions)."""
    if all(exact.is_rational(x) for x in v):
        return None
    fs = [fast_float(x) for x in v]
    body = ", ".join(f"{x:.6g}" for x in fs)
    return Raw(rf"\left[{body}\right]", f"[{body}]")


def about(label: Any, *parts: Any) -> Any:
    """``label = parts ≈ float`` for a scalar (nothing beside a fraction)."""
    value = parts[-1]
    if exact.is_rational(value):
        return eq(label, *parts)
    near = f"{fast_float(value):.6g}"
    return rel(label, *[x for p in parts for x in ("=", p)], "~", Raw(near, near))


def show(label: Any, *parts: Any) -> Any:
    """``label = parts ≈ floats`` for a vector."""
    near = approx_vec(parts[-1]) if isinstance(parts[-1], list) else None
    shown = [Mat(list(p)) if isinstance(p, list) else p for p in parts]
    if near is None:
        return eq(label, *shown)
    return rel(label, *[x for p in shown for x in ("=", p)], "~", near)


# --------------------------------------------------------------------------- schedules


def scheduled_lr(spec: ScheduleSpec | None, base: Any, epoch: int) -> tuple[Any, str]:
    """torch's closed form of the learning rate after ``epoch`` scheduler steps, with how."""
    if spec is None:
        return base, "⟦η₀⟧ (no schedule)"
    if spec.name == "step":
        k = epoch // spec.step_size
        return _tidy(base * spec.gamma**k), f"StepLR: ⟦η₀·γ^⌊{epoch}/{spec.step_size}⌋ = η₀·γ^{k}⟧"
    if spec.name == "multistep":
        passed = sum(1 for m in spec.milestones if m <= epoch)
        return (
            _tidy(base * spec.gamma**passed),
            f"MultiStepLR: {passed} of the milestones {list(spec.milestones)} passed, "
            f"⟦η₀·γ^{passed}⟧",
        )
    if spec.name == "exponential":
        return _tidy(base * spec.gamma**epoch), f"ExponentialLR: ⟦η₀·γ^{epoch}⟧"
    if spec.name == "cosine":
        cos = sympy.cos(sympy.pi * sympy.Rational(epoch, spec.T_max))
        lr = _tidy(
            exact.to_sympy(spec.eta_min) + exact.to_sympy(base - spec.eta_min) * (1 + cos) / 2
        )
        return lr, (f"CosineAnnealingLR: ⟦η_min + (η₀ − η_min)(1 + cos(π·{epoch}/{spec.T_max}))/2⟧")
    f0, f1, n = spec.start_factor, spec.end_factor, spec.total_iters
    factor = f0 + (f1 - f0) * Fraction(min(n, epoch), n)
    return _tidy(base * factor), (
        f"LinearLR (warm-up): ⟦η₀·(f₀ + (f₁ − f₀)·min({epoch}, {n})/{n}) "
        f"= η₀·{exact.unicode(factor)}⟧"
    )


def cosine_chainable(spec: ScheduleSpec, base: Any, epochs: int) -> list[Any]:
    """CosineAnnealingLR's recursive (chainable) form, as torch's get_lr computes it step by
    step; it agrees with the closed form (the tests confirm it)."""
    pi, T, eta_min = sympy.pi, spec.T_max, exact.to_sympy(spec.eta_min)
    lrs = [exact.to_sympy(base)]
    for e in range(1, epochs + 1):
        prev = lrs[-1]
        if (e - 1 - T) % (2 * T) == 0:
            lrs.append(prev + (exact.to_sympy(base) - eta_min) * (1 - sympy.cos(pi / T)) / 2)
        else:
            lrs.append(
                (1 + sympy.cos(pi * e / T)) / (1 + sympy.cos(pi * (e - 1) / T)) * (prev - eta_min)
                + eta_min
            )
    return lrs


# --------------------------------------------------------------------------- the kind


@dataclass
class Options:
    """How a run departs from torch (the misconceptions); the defaults are torch's."""

    velocity: bool = False  # v ← μv − ηg, θ ← θ + v
    ema_momentum: bool = False  # b ← μb + (1 − μ)g
    bias_correction: bool = True
    eps_inside: bool = False
    swap_decay: bool = False  # Adam's decay decoupled, AdamW's coupled
    schedule_shift: int = 0  # step t uses the scheduler's value after t (not t − 1) steps


@kind("optimizer_trace")
class OptimizerTrace(Kind):
    """T steps of SGD, Adagrad, RMSprop, Adam or AdamW under a schedule, exactly as torch.optim.

    Momentum, dampening, Nesterov, weight decay, centered RMSprop, AMSGrad; StepLR,
    MultiStepLR, ExponentialLR, CosineAnnealingLR and LinearLR as lr_scheduler sets them."""

    class Given(GivenModel):
        optimizer: OptimizerField
        """the optimizer and its settings, by torch.optim's names (defaults are torch's)"""
        schedule: ScheduleField = None
        """an optional learning-rate schedule, by torch.optim.lr_scheduler's names"""
        theta: Vector
        """the initial weights θ₀"""
        grads: Annotated[
            list[Vector] | None, TypeDoc("list of vectors", "one gradient vector per step")
        ] = None
        """the gradient at each step, one vector per step (or give an objective)"""
        objective: str | None = None
        """the loss in theta, in the graph language: theta[0]^2 + 3*theta[1]^2,
        sum((theta - 1)^2), log(1 + exp(theta[0])) (or give grads)"""
        steps: Count | None = None
        """how many steps (default: one per given gradient)"""

        @model_validator(mode="after")
        def _check(self) -> OptimizerTrace.Given:
            n = len(self.theta)
            if (self.grads is None) == (self.objective is None):
                raise FieldError("give either grads (one per step) or an objective", "grads")
            if self.grads is not None:
                for i, g in enumerate(self.grads):
                    if len(g) != n:
                        raise FieldError(f"has {len(g)} values but theta has {n}", "grads", (i,))
                if self.steps is not None and self.steps > len(self.grads):
                    raise FieldError(
                        f"is {self.steps} but only {len(self.grads)} gradients are given", "steps"
                    )
            objective = (
                None if self.objective is None else read_objective(self.objective, self.theta)
            )
            limit, why = self.step_limit(objective)
            if self.T > limit:
                raise FieldError(
                    f"is {self.T}; exact answers are limited to {limit} steps of "
                    f"{self.optimizer.name} here ({why})",
                    "steps" if self.steps is not None else "grads",
                )
            return self

        def step_limit(self, objective: Objective | None) -> tuple[int, str]:
            """The most steps whose exact answers stay a readable size, and why."""
            o = self.optimizer
            depends = objective is not None or o.resolved_decay() != 0
            if objective is not None and objective.transcendental:
                sgd = o.name == "sgd"
                return (MAX_TRANSCENDENTAL_STEPS if sgd else MAX_TRANSCENDENTAL_ADAPTIVE_STEPS), (
                    f"{objective.transcendental} of θ puts each step's exponentials inside the "
                    "next one's"
                )
            if o.name != "sgd":
                if depends:
                    return MAX_NESTED_STEPS, (
                        "the gradient depends on θ, so every step's square roots go under the "
                        "next one's; give the gradients per step (grads, no weight decay) for "
                        f"up to {MAX_ADAPTIVE_STEPS}"
                    )
                return MAX_ADAPTIVE_STEPS, "square roots accumulate with every step"
            sc = self.schedule
            if depends and sc is not None and sc.name == "cosine" and sc.T_max > 6:
                return MAX_COSINE_STEPS, (
                    f"cos(π/{sc.T_max}) is not a single square root, and the rates multiply "
                    "from step to step"
                )
            return MAX_STEPS, "the numbers grow with every step"

        @property
        def T(self) -> int:
            return self.steps if self.steps is not None else len(self.grads or [0])

    keys = (
        Key("lr[t]", "real", "the learning rate used at step t"),
        Key("grad[t]", "vector", "the gradient of the loss at θ_{t−1}"),
        Key("momentum_buffer[t]", "vector", "SGD's or RMSprop's momentum buffer after step t"),
        Key("sum[t]", "vector", "Adagrad's running sum of squared gradients"),
        Key("m[t]", "vector", "Adam's first moment after step t"),
        Key("v[t]", "vector", "Adam's second moment (RMSprop's square average) after step t"),
        Key("v_max[t]", "vector", "AMSGrad's running maximum of v"),
        Key("g_avg[t]", "vector", "centered RMSprop's average gradient"),
        Key("theta[t]", "vector", "the weights after step t"),
    )
    example = {
        "optimizer": {"name": "sgd", "lr": "1/10", "momentum": "9/10"},
        "schedule": {"name": "step", "step_size": 2, "gamma": "1/2"},
        "theta": [1, -2],
        "objective": "theta[0]^2 + 3*theta[1]^2",
        "steps": 3,
    }
    options_from = Options  # solve's **options are Options'
    misconceptions = {
        "the other momentum convention (v ← μv − ηg, θ ← θ + v) in place of torch's buffer": {
            "velocity": True
        },
        "momentum as an average, b ← μb + (1 − μ)g (torch adds g undamped)": {"ema_momentum": True},
        "forgot the bias correction m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ)": {"bias_correction": False},
        "put ε inside the square root (√(v + ε) instead of √v + ε)": {"eps_inside": True},
        "weight decay coupled instead of decoupled (or the other way round)": {"swap_decay": True},
        "the schedule one step early (step t uses the rate after t scheduler steps)": {
            "schedule_shift": 1
        },
    }
    nice = ("the weights, gradients and rates are simple fractions",)

    def show_givens(self, g: GivenModel) -> list[tuple[Any, Any]]:
        o = g.optimizer
        settings = ", ".join(
            f"{k}={_plain(getattr(o, k))}" for k in sorted(o.model_fields_set - {"name"})
        )
        out: list[tuple[Any, Any]] = [(Text("optimizer"), Text(f"{o.name}({settings})"))]
        if g.schedule is not None:
            sc = g.schedule
            args = ", ".join(
                f"{k}={_plain(getattr(sc, k))}" for k in sorted(sc.model_fields_set - {"name"})
            )
            out.append((Text("schedule"), Text(f"{sc.name}({args})")))
        out.append((Sym("theta", 0), Mat(list(g.theta))))
        if g.objective is not None:
            out.append((Sym("L"), Text(g.objective)))
        else:
            out += [(Sym("g", t), Mat(list(gr))) for t, gr in enumerate(g.grads, start=1)]
        out.append((Text("steps"), Text(str(g.T))))
        return out

    def solve(self, g: Given, s: Solution, **options: Any) -> None:
        opts = Options(**options)
        o = g.optimizer
        objective = read_objective(g.objective, g.theta) if g.objective else None
        step = STEPPERS[o.name]
        # the optimizers' docstrings are their worked rule, formulas marked ⟦…⟧
        s.step(says(_describe(o) if o.name == "sgd" else " ".join((step.__doc__ or "").split())))
        base = o.resolved_lr()
        theta = list(g.theta)
        state: dict[str, list[Any]] = {}
        rows: list[list[Any]] = []
        for t in range(1, g.T + 1):
            detail = g.T <= DETAILED_STEPS or t <= 2
            lr, how = scheduled_lr(g.schedule, base, t - 1 + opts.schedule_shift)
            lr = s.answer(f"lr[{t}]", lr, label=Sym("eta", t))
            if objective is not None:
                grad = objective.gradient(theta, f"θ_{t - 1}")
                where = f"⟦∇L⟧ at ⟦θ_{t - 1}⟧"
            else:
                grad = list(g.grads[t - 1])
                where = "the given gradient"
            grad = s.answer(f"grad[{t}]", grad, label=Sym("g", t))
            work = Work(s, t, detail)
            work.line(
                f"Step {t}: the gradient is {where}; the learning rate, {how}.",
                show(Sym("g", t), grad),
                about(Sym("eta", t), lr),
            )
            theta = step(o, theta, grad, lr, t, state, opts, work)
            theta = s.answer(f"theta[{t}]", theta, label=Sym("theta", t))
            rows.append([t, lr, Mat(grad), *(Mat(state[k]) for k in sorted(state)), Mat(theta)])
            if objective is not None and detail:
                loss = objective.value(theta, f"θ_{t}")
                work.line("The loss there.", about(Raw(f"L(\\theta_{{{t}}})", f"L(θ{t})"), loss))
        if g.T > DETAILED_STEPS:
            s.step(
                f"All {g.T} steps (the first two are worked above; floats in the JSON output).",
                Table(["t", "η_t", "g_t", *sorted(state), "θ_t"], rows),
            )

    # -- variants

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        return draw_variant(self, given, rng, self._draw)

    def _draw(self, raw: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        n = len(raw["theta"])
        raw["theta"] = [rng.choice([-3, -2, -1, 1, 2, 3]) for _ in range(n)]
        opt = (
            dict(raw["optimizer"])
            if isinstance(raw["optimizer"], Mapping)
            else {"name": raw["optimizer"]}
        )
        if "lr" in opt:
            opt["lr"] = rng.choice(["1/10", "1/5", "1/4", "1/2", "1/20"])
        if "momentum" in opt and opt.get("momentum"):
            opt["momentum"] = rng.choice(["1/2", "9/10", "4/5", "3/4"])
        raw["optimizer"] = opt
        if raw.get("grads") is not None:
            raw["grads"] = [
                [rng.choice([-4, -2, -1, 1, 2, 4]) for _ in range(n)] for _ in raw["grads"]
            ]
        else:
            coeffs = [rng.choice([1, 2, 3]) for _ in range(n)]
            centers = [rng.randint(-2, 2) for _ in range(n)]
            raw["objective"] = " + ".join(
                f"{c}*(theta[{i}] - {m})^2"
                if m > 0
                else f"{c}*(theta[{i}] + {-m})^2"
                if m < 0
                else f"{c}*theta[{i}]^2"
                for i, (c, m) in enumerate(zip(coeffs, centers, strict=True))
            )
        return raw

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        if g.optimizer.name != "sgd" or (g.schedule is not None and g.schedule.name == "cosine"):
            return []  # surds and cosines are expected
        ok = all(
            exact.is_rational(x) and Fraction(x).denominator <= 10**6
            for a in s.answers.values()
            if isinstance(a.value, list)
            for x in a.value
        )
        return [] if ok else [self.nice[0]]


def _describe(o: OptimizerSpec) -> str:
    """torch's SGD update, with only the parts this problem switches on."""
    parts = ["torch.optim.SGD"]
    if o.resolved_decay():
        parts.append("weight decay in the gradient, ⟦g ← g + λθ⟧")
    if o.momentum:
        parts.append(
            "a momentum buffer that starts at the first gradient, ⟦b₁ = g₁⟧, then ⟦b ← μb + "
            + ("(1 − τ)g⟧" if o.dampening else "g⟧")
        )
        parts.append(
            "⟦θ ← θ − η(g + μb)⟧ (Nesterov, as torch writes it)" if o.nesterov else "⟦θ ← θ − ηb⟧"
        )
    else:
        parts.append("⟦θ ← θ − ηg⟧")
    return parts[0] + ": " + "; ".join(parts[1:]) + "."


def _plain(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_plain(x) for x in v) + "]"
    if isinstance(v, bool):
        return str(v).lower()
    return exact.unicode(v) if exact.is_scalar(v) else str(v)


class Work:
    """The worked lines of one step: recorded in full for the first steps, else left to the
    table (the answers are recorded either way)."""

    def __init__(self, s: Solution, t: int, detail: bool) -> None:
        self.s, self.t, self.detail = s, t, detail

    def line(self, text: str, *math: Any) -> None:
        if self.detail:
            self.s.step(says(text), *math)

    def answer(self, key: str, value: list[Any], label: Any) -> list[Any]:
        return self.s.answer(f"{key}[{self.t}]", value, label=label)


# --------------------------------------------------------------------------- the optimizers


def sgd(
    o: OptimizerSpec,
    theta: list[Any],
    grad: list[Any],
    lr: Any,
    t: int,
    state: dict[str, list[Any]],
    opts: Options,
    w: Work,
) -> list[Any]:
    """torch.optim.SGD: g ← g + λθ; momentum buffer b₁ = g, then b ← μb + (1 − τ)g; Nesterov
    steps along g + μb, plain momentum along b; θ ← θ − η·step."""
    lam, mu, tau = o.resolved_decay(), o.momentum, o.dampening
    g = _decayed(theta, grad, lam, w)
    if mu == 0:
        new = vec(lambda x, d: x - lr * d, theta, g)
        w.line("No momentum: ⟦θ ← θ − η·g⟧.", show(Sym("theta", w.t), new))
        return new
    if opts.velocity:  # the classical velocity: v ← μv − ηg, θ ← θ + v
        v = vec(lambda b, d: mu * b - lr * d, state.get("momentum_buffer", [0] * len(g)), g)
        state["momentum_buffer"] = w.answer("momentum_buffer", v, Sym("v", w.t))
        w.line("Velocity ⟦v ← μv − ηg⟧.", show(Sym("v", w.t), v))
        return vec(lambda x, d: x + d, theta, state["momentum_buffer"])
    prev = state.get("momentum_buffer")
    if prev is None:
        buf = vec(lambda d: (1 - mu) * d, g) if opts.ema_momentum else list(g)
        w.line(
            "First step: torch starts the momentum buffer at the gradient itself, ⟦b₁ = g₁⟧ "
            "(no dampening on this step).",
            show(Sym("b", 1), buf),
        )
    else:
        damp = (1 - mu) if opts.ema_momentum else (1 - tau)
        buf = vec(lambda b, d: mu * b + damp * d, prev, g)
        w.line(
            "Momentum buffer ⟦b ← μb + (1 − τ)g⟧.",
            show(Sym("b", w.t), Add(Mul(mu, Mat(prev)), Mul(damp, Mat(g))), buf),
        )
    buf = state["momentum_buffer"] = w.answer("momentum_buffer", buf, Sym("b", w.t))
    if o.nesterov:
        direction = vec(lambda d, b: d + mu * b, g, buf)
        w.line(
            "Nesterov (torch's form): step along ⟦g + μb⟧.",
            show(Raw("d", "d"), Add(Mat(g), Mul(mu, Mat(buf))), direction),
        )
    else:
        direction = buf
    new = vec(lambda x, d: x - lr * d, theta, direction)
    w.line(
        "⟦θ ← θ − η·" + ("(g + μb)⟧." if o.nesterov else "b⟧."),
        show(Sym("theta", w.t), sub(Mat(theta), Mul(lr, Mat(direction))), new),
    )
    return new


def adagrad(
    o: OptimizerSpec,
    theta: list[Any],
    grad: list[Any],
    lr: Any,
    t: int,
    state: dict[str, list[Any]],
    opts: Options,
    w: Work,
) -> list[Any]:
    """torch.optim.Adagrad: ⟦g ← g + λθ⟧; ⟦s ← s + g²⟧;
    ⟦θ ← θ − η/(1 + (t − 1)·lr_decay) · g/(√s + ε)⟧, from ⟦s₀⟧ = initial_accumulator_value."""
    eps = o.resolved_eps()
    g = _decayed(theta, grad, o.resolved_decay(), w)
    prev = state.get("sum", [o.initial_accumulator_value] * len(g))
    acc = vec(lambda a, d: a + d * d, prev, g)
    acc = state["sum"] = w.answer("sum", acc, Sym("s", w.t))
    w.line("Accumulate the squared gradients, ⟦s ← s + g²⟧.", show(Sym("s", w.t), acc))
    clr = _tidy(lr / (1 + (t - 1) * o.lr_decay)) if o.lr_decay else lr
    if o.lr_decay:
        w.line("The decayed rate ⟦η/(1 + (t − 1)·lr_decay)⟧.", about(Raw("η'", "η′"), clr))
    denom = [_root_plus(a, eps, opts, w.t, i) for i, a in enumerate(acc)]
    new = vec(lambda x, d, dn: x - _div(clr * d, dn), theta, g, denom)
    w.line("⟦θ ← θ − η·g/(√s + ε)⟧.", show(Sym("theta", w.t), new))
    return new


def rmsprop(
    o: OptimizerSpec,
    theta: list[Any],
    grad: list[Any],
    lr: Any,
    t: int,
    state: dict[str, list[Any]],
    opts: Options,
    w: Work,
) -> list[Any]:
    """torch.optim.RMSprop: ⟦g ← g + λθ⟧; ⟦v ← αv + (1 − α)g²⟧; centered: ⟦ḡ ← αḡ + (1 − α)g⟧
    and ⟦v − ḡ²⟧ under the root; ε outside the root; momentum ⟦b ← μb + g/(√v + ε)⟧,
    ⟦θ ← θ − ηb⟧."""
    alpha, eps, mu = o.alpha, o.resolved_eps(), o.momentum
    g = _decayed(theta, grad, o.resolved_decay(), w)
    prev = state.get("v", [0] * len(g))
    v = vec(lambda a, d: alpha * a + (1 - alpha) * d * d, prev, g)
    v = state["v"] = w.answer("v", v, Sym("v", w.t))
    w.line(
        "Square average ⟦v ← αv + (1 − α)g²⟧.",
        show(Sym("v", w.t), Add(Mul(alpha, Mat(prev)), Mul(1 - alpha, Raw("g^2", "g²"))), v),
    )
    under = v
    if o.centered:
        pa = state.get("g_avg", [0] * len(g))
        ga = vec(lambda a, d: alpha * a + (1 - alpha) * d, pa, g)
        ga = state["g_avg"] = w.answer("g_avg", ga, Raw(rf"\bar g_{{{w.t}}}", f"ḡ{w.t}"))
        under = vec(lambda a, b: a - b * b, v, ga)
        w.line(
            "Centered: the average gradient ⟦ḡ ← αḡ + (1 − α)g⟧, and ⟦v − ḡ²⟧ under the root.",
            show(Raw(r"\bar g", "ḡ"), ga),
            show(Raw(r"v - \bar g^2", "v − ḡ²"), under),
        )
    denom = [_root_plus(a, eps, opts, w.t, i) for i, a in enumerate(under)]
    ratio = vec(lambda d, dn: _div(d, dn), g, denom)
    if mu > 0:
        pb = state.get("momentum_buffer", [0] * len(g))
        buf = vec(lambda b, r: mu * b + r, pb, ratio)
        buf = state["momentum_buffer"] = w.answer("momentum_buffer", buf, Sym("b", w.t))
        w.line("Momentum ⟦b ← μb + g/(√v + ε)⟧ (from ⟦b₀ = 0⟧).", show(Sym("b", w.t), buf))
        new = vec(lambda x, b: x - lr * b, theta, buf)
        w.line("⟦θ ← θ − η·b⟧.", show(Sym("theta", w.t), new))
        return new
    new = vec(lambda x, r: x - lr * r, theta, ratio)
    w.line(
        "⟦θ ← θ − η·g/(√v + ε)⟧, ε outside the root as torch adds it.",
        show(Sym("theta", w.t), new),
    )
    return new


def adam(
    o: OptimizerSpec,
    theta: list[Any],
    grad: list[Any],
    lr: Any,
    t: int,
    state: dict[str, list[Any]],
    opts: Options,
    w: Work,
) -> list[Any]:
    """torch.optim.Adam/AdamW: ⟦m ← β₁m + (1 − β₁)g⟧, ⟦v ← β₂v + (1 − β₂)g²⟧ from
    ⟦m₀ = v₀ = 0⟧; ⟦θ ← θ − η/(1 − β₁ᵗ) · m/(√v/√(1 − β₂ᵗ) + ε)⟧ (AMSGrad: the running maximum
    of v). Adam adds the decay to the gradient (⟦g + λθ⟧); AdamW shrinks the weights first,
    ⟦θ(1 − ηλ)⟧."""
    b1, b2 = o.resolved_betas()
    eps, lam = o.resolved_eps(), o.resolved_decay()
    decoupled = (o.name == "adamw") != opts.swap_decay
    if lam and decoupled:
        shrunk = vec(lambda x: (1 - lr * lam) * x, theta)
        w.line("Decoupled weight decay first: ⟦θ ← θ(1 − ηλ)⟧.", show(Raw("θ'", "θ′"), shrunk))
        g = list(grad)
    else:
        shrunk = theta
        g = _decayed(theta, grad, lam, w)
    pm, pv = state.get("m", [0] * len(g)), state.get("v", [0] * len(g))
    m = vec(lambda a, d: b1 * a + (1 - b1) * d, pm, g)
    v = vec(lambda a, d: b2 * a + (1 - b2) * d * d, pv, g)
    m = state["m"] = w.answer("m", m, Sym("m", w.t))
    v = state["v"] = w.answer("v", v, Sym("v", w.t))
    w.line(
        "The moments ⟦m ← β₁m + (1 − β₁)g⟧ and ⟦v ← β₂v + (1 − β₂)g²⟧.",
        show(Sym("m", w.t), Add(Mul(b1, Mat(pm)), Mul(1 - b1, Mat(g))), m),
        show(Sym("v", w.t), Add(Mul(b2, Mat(pv)), Mul(1 - b2, Raw("g^2", "g²"))), v),
    )
    root_of = v
    if o.amsgrad:
        pmax = state.get("v_max", [0] * len(g))
        vmax = [_max(a, b) for a, b in zip(pmax, v, strict=True)]
        vmax = state["v_max"] = w.answer("v_max", vmax, Raw(rf"v^{{max}}_{{{t}}}", f"vmax{t}"))
        w.line("AMSGrad keeps the running maximum of v.", show(Raw("v^{max}", "vmax"), vmax))
        root_of = vmax
    c1 = 1 - b1**t if opts.bias_correction else 1
    c2 = 1 - b2**t if opts.bias_correction else 1
    mhat = vec(lambda a: _div(a, c1), m)
    vhat = vec(lambda a: _div(a, c2), root_of)
    w.line(
        "Bias correction: ⟦m̂ = m/(1 − β₁ᵗ)⟧, ⟦v̂ = v/(1 − β₂ᵗ)⟧."
        if opts.bias_correction
        else "(No bias correction.)",
        show(Sym("m", w.t, hat=True), Frac(Sym("m", w.t), c1), mhat),
        show(Sym("v", w.t, hat=True), Frac(Sym("v", w.t), c2), vhat),
    )
    denom = [_root_plus(a, eps, opts, w.t, i) for i, a in enumerate(vhat)]
    new = vec(lambda x, a, dn: x - _div(lr * a, dn), shrunk, mhat, denom)
    w.line("⟦θ ← θ − η·m̂/(√v̂ + ε)⟧, ε outside the root.", show(Sym("theta", w.t), new))
    return new


STEPPERS = {"sgd": sgd, "adagrad": adagrad, "rmsprop": rmsprop, "adam": adam, "adamw": adam}


def _decayed(theta: list[Any], grad: list[Any], lam: Any, w: Work) -> list[Any]:
    """g + λθ (coupled weight decay), or g itself without decay."""
    if not lam:
        return list(grad)
    g = vec(lambda d, x: d + lam * x, grad, theta)
    w.line(
        "Coupled weight decay: ⟦g ← g + λθ⟧.",
        show(Raw("g'", "g′"), Add(Mat(grad), Mul(lam, Mat(theta))), g),
    )
    return g


def _root_plus(x: Any, eps: Any, opts: Options, t: int, i: int) -> Any:
    """√x + ε as torch computes it (or √(x + ε), the misconception); 0 is an error."""
    d = _sqrt(_tidy(x + eps)) if opts.eps_inside else _tidy(_sqrt(x) + eps)
    if _sign(d) == 0:
        raise FieldError(
            f"with eps = 0 the denominator √v + ε of weight {i + 1} is 0 at step {t} "
            "(its gradients are all 0 so far); give eps > 0",
            "optimizer",
        )
    return d
