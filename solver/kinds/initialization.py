"""Weight initialization exactly as ``torch.nn.init`` computes it, and what it does to the
variance of activations through depth.

For a weight of shape [out, in, k₁, k₂, ...] torch's fans are
fan_in = in·k₁k₂⋯ and fan_out = out·k₁k₂⋯ (the receptive field times the channels;
``_calculate_fan_in_and_fan_out``). Then

* Xavier (Glorot): std = gain·√(2/(fan_in + fan_out)), the uniform bound √3·std;
* Kaiming (He): std = gain/√fan with fan = fan_in or fan_out (``mode``), the uniform
  bound √3·std; torch's default nonlinearity for Kaiming is leaky_relu with a = 0,
  whose gain is √2;
* ``calculate_gain``: 1 for linear, conv and sigmoid, 5/3 for tanh, √2 for relu,
  √(2/(1 + a²)) for leaky_relu (a = 0.01 by default), 3/4 for selu.

A uniform distribution on [−b, b] has variance b²/3, which is where the √3 comes from.
With ``depth`` the pre-activations y_l = W_l f(y_{l−1}) of a stack of such layers have
Var(y_l) = fan_in·Var(W)·E[f(y_{l−1})²], where E[f(y)²] is Var(y) for the identity,
Var(y)/2 for ReLU (half of a symmetric distribution is cut), (1 + a²)/2·Var(y) for leaky
ReLU, and ≈ Var(y) for tanh near 0 (Glorot's linear regime). Zero initialization makes
every hidden unit compute the same thing and get the same gradient, forever.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from fractions import Fraction
from typing import Annotated, Any, Literal

import sympy
from pydantic import BeforeValidator, Field, model_validator

from .. import exact
from ..display import Frac, Mul, Raw, Sqrt, Sym, Text, eq, m, says
from ..errors import FieldError
from ..given import Count, GivenModel, NonNegative, Positive, TypeDoc, _count_validator
from ..solution import Key, Solution
from . import Kind, kind
from .common import about, validate_nested

Scheme = Annotated[
    Literal["xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "zeros"],
    TypeDoc("choice", "xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal or zeros"),
]
Mode = Annotated[
    Literal["fan_in", "fan_out"], TypeDoc("fan_in | fan_out", "which fan Kaiming uses")
]
LINEAR_FNS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)
NONLINEARITIES = (*LINEAR_FNS, "sigmoid", "tanh", "relu", "leaky_relu", "selu")
Nonlinearity = Annotated[
    Literal[NONLINEARITIES],  # type: ignore[valid-type]
    TypeDoc("choice", "a name torch.nn.init.calculate_gain knows: " + ", ".join(NONLINEARITIES)),
]
LEAKY_DEFAULT = Fraction(1, 100)
VAR_W = Raw(r"\mathrm{Var}(W)", "Var(W)")


def var_y(layer: int) -> Raw:
    return Raw(
        rf"\mathrm{{Var}}(y_{{{layer}}})", f"Var(y{str(layer).translate(exact.SUBSCRIPT)})"
    )  # calculate_gain("leaky_relu") without a param


def _kernel(value: Any) -> tuple[int, ...]:
    count = _count_validator(1)
    if isinstance(value, list):
        if not value:
            raise FieldError("must not be empty")
        return tuple(count(v) for v in value)
    return (count(value),)


class Layer(GivenModel):
    """A Linear or Conv layer, by torch's argument names."""

    type: Literal["Linear", "Conv1d", "Conv2d", "Conv3d"]
    """Linear, Conv1d, Conv2d or Conv3d"""
    in_: Count = Field(alias="in")
    """the input features or channels"""
    out: Count
    """the output features or channels"""
    kernel: Annotated[tuple[int, ...], BeforeValidator(_kernel)] = (1,)
    """the kernel size of a convolution (one number or one per axis)"""
    groups: Count = 1
    """a convolution's groups"""

    model_config = GivenModel.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _check(self) -> Layer:
        dims = {"Linear": 0, "Conv1d": 1, "Conv2d": 2, "Conv3d": 3}[self.type]
        if dims == 0 and (self.kernel != (1,) or self.groups != 1):
            raise FieldError("a Linear layer has no kernel or groups", "kernel")
        if dims and len(self.kernel) == 1:
            object.__setattr__(self, "kernel", self.kernel * dims)
        if len(self.kernel) != max(dims, 1):
            raise FieldError(f"a {self.type} needs {dims} kernel sizes", "kernel")
        if self.in_ % self.groups or self.out % self.groups:
            raise FieldError("in and out must be divisible by groups", "groups")
        return self

    @property
    def weight_shape(self) -> list[int]:
        """torch's weight layout: [out, in/groups, *kernel] (Linear: [out, in])."""
        if self.type == "Linear":
            return [self.out, self.in_]
        return [self.out, self.in_ // self.groups, *self.kernel]


def _layer(value: Any) -> Layer:
    if isinstance(value, Layer):
        return value
    if not isinstance(value, Mapping):
        raise FieldError("expected {type: Linear, in: ..., out: ...} or a Conv2d with kernel")
    return validate_nested(Layer, value, "layer")


LayerField = Annotated[
    Layer,
    BeforeValidator(_layer),
    TypeDoc(
        "layer", "{type: Linear, in: 256, out: 128} or {type: Conv2d, in: 16, out: 32, kernel: 3}"
    ),
]


def gain_of(nonlinearity: str, param: Any) -> tuple[Any, str]:
    """``torch.nn.init.calculate_gain``, exactly, with the reason."""
    if nonlinearity in LINEAR_FNS or nonlinearity == "sigmoid":
        return 1, f"calculate_gain('{nonlinearity}') = 1"
    if nonlinearity == "tanh":
        return Fraction(5, 3), "calculate_gain('tanh') = 5/3"
    if nonlinearity == "relu":
        return exact.sqrt(2), "calculate_gain('relu') = √2: ReLU zeroes half of a symmetric input"
    if nonlinearity == "leaky_relu":
        a = LEAKY_DEFAULT if param is None else param
        return exact.sqrt(Fraction(2) / (1 + Fraction(a) ** 2)), (
            f"calculate_gain('leaky_relu', {exact.unicode(a)}) = √(2/(1 + a²))"
        )
    return Fraction(3, 4), "calculate_gain('selu') = 3/4 (found empirically by PyTorch)"


def mul(*xs: Any) -> Any:
    """An exact product, as a Surd or rational where it can be."""
    out: Any = 1
    for x in xs:
        out = out * x
    if exact.is_rational(out) or isinstance(out, exact.Surd):
        return exact.rational(out) if exact.is_rational(out) else out
    return exact.from_sympy(sympy.radsimp(exact.to_sympy(out)))


@kind("initialization")
class Initialization(Kind):
    """Xavier and He initialization as torch.nn.init computes it; variance through depth.

    Fans, gain, std, uniform bound and variance of a Linear or Conv layer's initial
    weights; the activation variance through ``depth`` layers; why zero init keeps
    every hidden unit identical."""

    class Given(GivenModel):
        layer: LayerField
        """the layer: {type: Linear, in, out} or {type: Conv2d, in, out, kernel, groups}"""
        scheme: Scheme
        """xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal or zeros"""
        mode: Mode = "fan_in"
        """Kaiming: fan_in (preserves the forward variance) or fan_out (the backward)"""
        nonlinearity: Nonlinearity | None = None
        """the gain's nonlinearity (default: Xavier gain 1, Kaiming leaky_relu with a = 0)"""
        param: NonNegative | None = None
        """leaky_relu's negative slope a"""
        gain: Positive | None = None
        """an explicit gain for Xavier (torch's gain argument)"""
        depth: Count | None = None
        """how many such layers are stacked, for the activation variance through depth"""
        input_var: Positive = 1
        """the variance of the (zero-mean) input, for depth"""

        @model_validator(mode="after")
        def _check(self) -> Initialization.Given:
            if self.gain is not None and not self.scheme.startswith("xavier"):
                raise FieldError("is an argument of xavier_uniform/xavier_normal only", "gain")
            if self.gain is not None and self.nonlinearity is not None:
                raise FieldError("give gain or nonlinearity, not both", "gain")
            if self.param is not None and self.nonlinearity not in (None, "leaky_relu"):
                raise FieldError("is the negative slope of leaky_relu only", "param")
            if self.depth is not None and self.propagation_nonlinearity() not in (
                "linear",
                "relu",
                "leaky_relu",
                "tanh",
            ):
                raise FieldError(
                    "variance through depth is exact for linear, relu and leaky_relu layers "
                    "(tanh in its linear regime), not for "
                    f"{self.propagation_nonlinearity()}",
                    "depth",
                )
            if self.depth is not None and self.depth > 1 and self.layer.in_ != self.layer.out:
                raise FieldError(
                    f"stacks {self.depth} copies of the layer, so in ({self.layer.in_}) must "
                    f"equal out ({self.layer.out})",
                    "depth",
                )
            return self

        def propagation_nonlinearity(self) -> str:
            """The activation between the stacked layers: the gain's nonlinearity."""
            nl = self.nonlinearity or (
                "leaky_relu" if self.scheme.startswith("kaiming") else "linear"
            )
            return "linear" if nl in LINEAR_FNS else nl

        def slope(self) -> Any:
            if self.nonlinearity is None and self.scheme.startswith("kaiming"):
                return self.param if self.param is not None else 0  # torch's a = 0
            return self.param if self.param is not None else LEAKY_DEFAULT

    keys = (
        Key("weight_shape", "shape", "the weight tensor's shape [out, in/groups, *kernel]"),
        Key("fan_in", "integer", "in/groups × receptive field"),
        Key("fan_out", "integer", "out × receptive field (torch ignores groups here)"),
        Key("gain", "real", "calculate_gain(nonlinearity, param)"),
        Key("std", "real", "the standard deviation of each weight"),
        Key("var", "real", "the variance of each weight, std²"),
        Key("bound", "real", "b of the uniform U(−b, b) = √3·std (uniform schemes)"),
        Key("activation_var[l]", "real", "Var(y_l) of the pre-activations of layer l"),
        Key("units_identical", "boolean", "whether every hidden unit stays identical in training"),
    )
    example = {
        "layer": {"type": "Conv2d", "in": 16, "out": 32, "kernel": 3},
        "scheme": "kaiming_normal",
        "mode": "fan_in",
        "nonlinearity": "relu",
    }
    misconceptions = {
        "fan_in and fan_out swapped": {"swap_fans": True},
        "a convolution's fan without the receptive field (channels only)": {"receptive": False},
        "took the std for the uniform bound (forgot √3 = the bound of a variance-1/3 uniform)": {
            "sqrt3": False
        },
        "wrote the variance where the std was asked (forgot the square root)": {"std_is_var": True},
        "Xavier's variance as 1/fan_in (LeCun) instead of 2/(fan_in + fan_out)": {"lecun": True},
        "forgot that ReLU halves E[y²] in the variance through depth": {"relu_half": False},
        "forgot the gain (used 1, as for a linear layer)": {"no_gain": True},
    }
    nice = ("the layer sizes are powers of two or multiples of ten",)

    def show_givens(self, g: GivenModel) -> list[tuple[Any, Any]]:
        L = g.layer
        desc = f"{L.type}(in={L.in_}, out={L.out}"
        if L.type != "Linear":
            desc += f", kernel={list(L.kernel) if len(set(L.kernel)) > 1 else L.kernel[0]}"
            if L.groups != 1:
                desc += f", groups={L.groups}"
        out: list[tuple[Any, Any]] = [(Text("layer"), Text(desc + ")"))]
        for name in ("scheme", "mode", "nonlinearity", "param", "gain", "depth", "input_var"):
            if name in g.model_fields_set:
                v = getattr(g, name)
                out.append((Text(name), Text(v) if isinstance(v, str) else m(v)))
        return out

    def solve(
        self,
        g: Given,
        s: Solution,
        *,
        swap_fans: bool = False,
        receptive: bool = True,
        sqrt3: bool = True,
        std_is_var: bool = False,
        lecun: bool = False,
        relu_half: bool = True,
        no_gain: bool = False,
    ) -> None:
        L = g.layer
        shape = L.weight_shape
        s.answer("weight_shape", shape, label=Text("weight shape"))
        field = math.prod(L.kernel) if L.type != "Linear" else 1
        if not receptive:
            field = 1
        fan_in, fan_out = shape[1] * field, shape[0] * field
        if swap_fans:
            fan_in, fan_out = fan_out, fan_in
        if L.type == "Linear":
            s.step(
                f"torch stores a Linear weight as [out, in] = {shape}: each output sums fan_in = "
                f"{L.in_} inputs and each input feeds fan_out = {L.out} outputs."
            )
        else:
            k = "×".join(map(str, L.kernel)) + f" = {field}" if len(L.kernel) > 1 else str(field)
            s.step(
                f"torch stores a {L.type} weight as [out, in/groups, kernel] = {shape}. "
                f"The receptive field has {k} positions, and the fans count channels "
                "times positions (torch.nn.init._calculate_fan_in_and_fan_out).",
                eq(Sym("fan", "in"), Mul(shape[1], field), fan_in),
                eq(Sym("fan", "out"), Mul(shape[0], field), fan_out),
            )
        fan_in = s.answer("fan_in", fan_in, label=Sym("fan", "in"))
        fan_out = s.answer("fan_out", fan_out, label=Sym("fan", "out"))
        if g.scheme == "zeros":
            self._zeros(g, s)
            return
        if g.scheme.startswith("xavier"):
            if g.gain is not None:
                gain, why = g.gain, "the gain is given"
            elif g.nonlinearity is not None:
                gain, why = gain_of(g.nonlinearity, g.param)
            else:
                gain, why = 1, "xavier's default gain is 1"
        else:
            gain, why = gain_of(g.nonlinearity or "leaky_relu", g.slope())
            if g.nonlinearity is None:
                why += " (torch's default for kaiming_*: leaky_relu with a = 0, so √2)"
        if no_gain:
            gain, why = 1, "taken as 1"
        s.step(f"The gain: {why}.", about(Sym("gain"), gain))
        gain = s.answer("gain", gain, label=Sym("gain"))
        if g.scheme.startswith("xavier"):
            if lecun:
                var = mul(gain, gain, Fraction(1, fan_in))
                s.step("Var(W) = gain²/fan_in.", eq(VAR_W, var))
            else:
                var = mul(gain, gain, Fraction(2, fan_in + fan_out))
                s.step(
                    "Glorot and Bengio keep the variance of both the forward activations and the "
                    "backward gradients: Var(W) = gain²·2/(fan_in + fan_out).",
                    eq(
                        VAR_W,
                        Mul(mul(gain, gain), Frac(2, fan_in + fan_out)),
                        var,
                    ),
                )
        else:
            fan = fan_in if g.mode == "fan_in" else fan_out
            var = mul(gain, gain, Fraction(1, fan))
            s.step(
                "He et al. keep the variance of the "
                + ("forward activations" if g.mode == "fan_in" else "backward gradients")
                + f" with mode = {g.mode}: Var(W) = gain²/{g.mode}.",
                eq(VAR_W, Frac(mul(gain, gain), fan), var),
            )
        std = exact.sqrt(var) if not std_is_var else var
        s.step(
            "The standard deviation is the square root of the variance.",
            about(Sym("sigma"), Sqrt(var), std),
        )
        std = s.answer("std", std, label=Sym("sigma"))
        var = s.answer("var", var, label=VAR_W)
        if g.scheme.endswith("uniform"):
            bound = mul(exact.sqrt(3), std) if sqrt3 else std
            s.step(
                says(
                    "⟦U(−b, b)⟧ has variance ⟦b²/3⟧, so the bound with that variance is ⟦b = √3·σ⟧."
                ),
                about(Sym("b"), Mul(Sqrt(3), Sym("sigma")), bound),
            )
            s.answer("bound", bound, label=Sym("b"))
        else:
            s.step("The weights are drawn from N(0, σ²).")
        s.answer("units_identical", False, label=Text("units identical"))
        if g.depth is not None:
            self._depth(g, s, var, fan_in, relu_half)

    def _zeros(self, g: Given, s: Solution) -> None:
        s.step("Every weight is 0: std, variance and bound are all 0.")
        for key, label in (
            ("std", Sym("sigma")),
            ("var", VAR_W),
            ("bound", Sym("b")),
        ):
            s.answer(key, 0, label=label)
        s.step(
            "Why every hidden unit stays identical: with all weights equal, every hidden unit "
            "of a layer computes the same function of the same input, so all of them output the "
            "same value. Backpropagation then gives each the same gradient, because the "
            "gradient reaching a unit is its outgoing weights times the downstream error, and "
            "those weights are equal too. The same update keeps them equal, step after step: "
            "the layer behaves like a single unit however wide it is. (With exact zeros it is "
            "worse: the error sent back through zero weights is 0, so only the last layer and "
            "the biases move at first.) Random initialization breaks this symmetry."
        )
        s.answer("units_identical", True, label=Text("units identical"))
        if g.depth is not None:
            s.step("With zero weights every pre-activation is 0: its variance is 0 at every layer.")
            for ell in range(1, g.depth + 1):
                s.answer(
                    f"activation_var[{ell}]",
                    0,
                    label=Raw(rf"\mathrm{{Var}}(y_{{{ell}}})", f"Var(y{ell})"),
                )

    def _depth(self, g: Given, s: Solution, var: Any, fan_in: int, relu_half: bool) -> None:
        nl = g.propagation_nonlinearity()
        if nl == "relu":
            c, why = (
                (Fraction(1, 2) if relu_half else 1),
                "ReLU keeps the positive half: ⟦E[relu(y)²] = Var(y)/2⟧",
            )
        elif nl == "leaky_relu":
            a = Fraction(g.slope())
            c = (1 + a * a) / 2 if relu_half else 1
            why = f"leaky ReLU with ⟦a = {exact.unicode(a)}⟧: ⟦E[f(y)²] = (1 + a²)/2·Var(y)⟧"
        elif nl == "tanh":
            c, why = 1, "⟦tanh(y) ≈ y⟧ near 0 (Glorot's linear regime): ⟦E[tanh(y)²] ≈ Var(y)⟧"
        else:
            c, why = 1, "no nonlinearity: ⟦E[y²] = Var(y)⟧ for zero-mean y"
        factor = mul(fan_in, var, c)
        s.step(
            says(
                "Through a stack of such layers, ⟦y_l = W_l f(y_{l−1})⟧ with independent "
                "zero-mean weights: ⟦Var(y_l) = fan_in·Var(W)·E[f(y_{l−1})²]⟧. Here "
                + why
                + ", so each layer multiplies the variance by the same factor (the first layer "
                "sees the input itself)."
            ),
            about(Sym("r"), Mul(fan_in, VAR_W, c), factor),
        )
        s.step(
            says(
                "Layer 1 sees the input x itself (zero mean, "
                f"⟦Var(x) = {exact.unicode(g.input_var)}⟧): ⟦Var(y₁) = fan_in·Var(W)·Var(x)⟧; "
                "every later layer multiplies by r."
            )
        )
        rows = []
        v: Any = mul(fan_in, var, g.input_var)
        for ell in range(1, g.depth + 1):
            if ell > 1:
                v = mul(factor, v)
            label = var_y(ell)
            v = s.answer(f"activation_var[{ell}]", v, label=label)
            rows.append(about(label, v))
        if factor == 1:
            trend = ": it stays put, which is what the scheme is for."
        elif exact.sign(factor - 1) < 0:
            trend = ": it shrinks geometrically (the signal vanishes with depth)."
        else:
            trend = ": it grows geometrically (the signal explodes with depth)."
        s.step("The variance layer by layer" + trend, *rows)

    # -- variants

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        from .common import draw_variant

        return draw_variant(self, given, rng, self._draw)

    def _draw(self, raw: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        layer = dict(raw["layer"])
        sizes = [16, 32, 64, 100, 128, 200, 256, 512]
        layer["in"] = rng.choice(sizes)
        layer["out"] = layer["in"] if raw.get("depth") else rng.choice(sizes)
        if layer.get("type", "Linear") != "Linear":
            layer["kernel"] = rng.choice([1, 3, 5, 7])
            layer.pop("groups", None)
        raw["layer"] = layer
        if raw.get("scheme", "").startswith("kaiming") and "mode" in raw:
            raw["mode"] = rng.choice(["fan_in", "fan_out"])
        if raw.get("depth"):
            raw["depth"] = rng.randint(2, 5)
            raw["input_var"] = rng.choice([1, 2, 4, "1/2"])
        return raw

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        ok = all(n & (n - 1) == 0 or n % 10 == 0 for n in (g.layer.in_, g.layer.out))
        return [] if ok else [self.nice[0]]
