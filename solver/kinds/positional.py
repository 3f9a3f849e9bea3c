"""Sinusoidal positional encodings (Vaswani et al., 2017), worked as a TA writes them.

Dimensions 2i and 2i + 1 of the encoding of position pos are one sinusoid of frequency
ω_i = 1/base^{2i/d}: PE(pos, 2i) = sin(pos·ω_i) and PE(pos, 2i + 1) = cos(pos·ω_i), in
radians. With d = 4 or 8 and base 10000 the frequencies are 1, 1/10, 1/100, ... exactly,
so the table is sines and cosines of rationals, kept exact (sin(1) stays sin(1), cos(0) is
1) with a decimal beside each. Then the property courses ask students to show: since
sin a sin b + cos a cos b = cos(a − b), PE(p)·PE(q) = Σ_i cos((p − q)ω_i) depends only on
the offset p − q. Finally the encoding is added to given token embeddings and one scaled
dot-product attention score is taken between two positions.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import sympy
from pydantic import model_validator

from .. import exact
from ..display import Raw, Sym, Table, eq, m, rel, says
from ..errors import FieldError
from ..given import Count, GivenModel, Index, Matrix, Positive
from ..solution import Key, Solution
from . import Kind, kind
from .common import carry, draw_variant, small_ints

#: widths and positions beyond these make tables no one works by hand
MAX_D_MODEL = 64
MAX_POSITIONS = 32
MAX_POSITION = 100_000

#: how the exponent of the wavelengths is written: the paper's 2i/d (i the pair of
#: dimensions), the mistake i/d, or the mistake j/d with j the dimension itself (so that the
#: odd dimension 2i + 1 gets a frequency of its own)
Exponent = Literal["2i/d", "i/d", "j/d"]


class PositionalEncodingGiven(GivenModel):
    d_model: Count
    """the model width d (even): dimensions 2i and 2i + 1 share the frequency ω_i"""
    positions: list[Index]
    """the positions (0-based) whose encodings the table gives, one row each"""
    base: Positive = 10000
    """the base of the wavelengths, ω_i = 1/base^(2i/d) (10000 in the paper)"""
    pair: list[Index] | None = None
    """two of the positions, [p, q]: the dot product PE(p)·PE(q) and the attention score of
    p's query with q's key (default: the first two positions)"""
    embeddings: Matrix | None = None
    """token embeddings, one row per position (positions × d_model): the input x = e + PE"""
    W_Q: Matrix | None = None
    """the query projection (d_model × d_k): q = x W_Q (default: the identity)"""
    W_K: Matrix | None = None
    """the key projection (d_model × d_k): k = x W_K (default: the identity)"""

    @model_validator(mode="after")
    def _check(self) -> PositionalEncodingGiven:
        d = self.d_model
        if d % 2 or d > MAX_D_MODEL:
            raise FieldError(
                f"must be even (sin and cos come in pairs) and at most {MAX_D_MODEL}, got {d}",
                "d_model",
            )
        if not 1 <= len(self.positions) <= MAX_POSITIONS:
            raise FieldError(f"must list 1 to {MAX_POSITIONS} positions", "positions")
        for i, p in enumerate(self.positions):
            if p > MAX_POSITION:
                raise FieldError(f"must be at most {MAX_POSITION:,}", "positions", (i,))
        if self.pair is not None:
            if len(self.pair) != 2:
                raise FieldError("must be two positions, [p, q]", "pair")
            for i, p in enumerate(self.pair):
                if p not in self.positions:
                    raise FieldError(f"{p} is not one of the positions", "pair", (i,))
        n = len(self.positions)
        if self.embeddings is not None and exact.shape(self.embeddings) != (n, d):
            raise FieldError(
                f"must have one row of {d} per position ({n} × {d}), got "
                f"{' × '.join(map(str, exact.shape(self.embeddings)))}",
                "embeddings",
            )
        shapes = {}
        for name in ("W_Q", "W_K"):
            W = getattr(self, name)
            if W is None:
                continue
            rows, cols = exact.shape(W)
            if rows != d:
                raise FieldError(f"must have d_model = {d} rows, got {rows}", name)
            shapes[name] = cols
        if len(set(shapes.values())) > 1:
            raise FieldError("must have as many columns (d_k) as W_Q", "W_K")
        if shapes and self.embeddings is None:
            raise FieldError("projections need embeddings to project", next(iter(shapes)))
        return self

    def pair_positions(self) -> tuple[int, int] | None:
        """[p, q]: the given pair, else the first two positions (None with only one)."""
        if self.pair is not None:
            return self.pair[0], self.pair[1]
        if len(self.positions) >= 2:
            return self.positions[0], self.positions[1]
        return None


# --------------------------------------------------------------------------- the formula


def frequency(i: int, d: int, base: Any, exponent: Exponent = "2i/d") -> sympy.Expr:
    """ω_i = 1/base^(2i/d), exactly (10000^(−2/4) = 1/100); with the mistaken exponent i/d,
    1/base^(i/d)."""
    return _wave(2 * i if exponent != "i/d" else i, d, base)


def _wave(k: int, d: int, base: Any) -> sympy.Expr:
    """1/base^(k/d)."""
    return exact.to_sympy(base) ** sympy.Rational(-k, d)


def encoding(
    pos: int,
    d: int,
    base: Any,
    *,
    swapped: bool = False,
    exponent: Exponent = "2i/d",
    degrees: bool = False,
) -> list[Any]:
    """PE(pos): sin(pos·ω_i) at dimension 2i and cos(pos·ω_i) at 2i + 1, each exact."""
    even, odd = (sympy.cos, sympy.sin) if swapped else (sympy.sin, sympy.cos)
    unit = sympy.pi / 180 if degrees else 1
    out = []
    for j in range(d):
        omega = _wave(j, d, base) if exponent == "j/d" else frequency(j // 2, d, base, exponent)
        out.append(exact.from_sympy((even if j % 2 == 0 else odd)(pos * omega * unit)))
    return out


def _dot(a: Sequence[Any], b: Sequence[Any]) -> Any:
    return exact.from_sympy(
        sympy.Add(*(exact.to_sympy(x) * exact.to_sympy(y) for x, y in zip(a, b, strict=True)))
    )


def _floats(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_floats(x) for x in v) + "]"
    f = exact.to_float(v)
    return "undefined" if f is None else f"{f:.4g}"


def _with_float(v: Any) -> Any:
    """An exact value with its decimals beside it, where it is not rational."""
    flat = exact.flatten(v) if isinstance(v, list) else [v]
    if all(exact.is_rational(x) for x in flat):
        return m(v)
    text = _floats(v)
    return rel(m(v), "~", Raw(text, text))


def _pe(pos: Any) -> Raw:
    return Raw(rf"\mathrm{{PE}}({exact.latex(pos)})", f"PE({exact.unicode(pos)})")


_D_MODEL = Raw(r"d_{\text{model}}", "d_model")


@kind("pos_encoding")
class PositionalEncoding(Kind):
    """Sinusoidal positional encodings: the table, PE(p)·PE(q) from p − q, one attention score.

    The encodings of given positions for a model width d (sin at the even dimensions, cos at
    the odd ones, frequencies 1/10000^(2i/d)); the dot product of two of them, which depends
    only on their offset; and, with token embeddings, x = e + PE and the scaled dot-product
    score of one position's query with another's key."""

    Given = PositionalEncodingGiven
    keys = (
        Key("frequencies", "vector", "ω_i = 1/base^(2i/d) for i = 0, …, d/2 − 1"),
        Key("PE", "matrix", "the encodings, one row per position: sin, cos, sin, cos, …"),
        Key("dot", "real", "PE(p)·PE(q) = Σ_i cos((p − q)ω_i)"),
        Key("X", "matrix", "the inputs x = e + PE, one row per position"),
        Key("score", "real", "the attention score q·k/√d_k of p's query with q's key"),
    )
    example = {"d_model": 4, "positions": [0, 1, 2], "pair": [1, 2]}
    labels = {"d_model": _D_MODEL, "W_Q": Raw("W_Q", "W_Q"), "W_K": Raw("W_K", "W_K")}
    misconceptions = {
        "sin and cos swapped between the even and the odd dimensions (cos at 2i, sin at 2i + 1)": {
            "swapped": True
        },
        "exponent i/d instead of 2i/d in the wavelength (ω_i = 1/10000^(i/d))": {"exponent": "i/d"},
        "each dimension j given its own wavelength 10000^(j/d), so the odd dimension 2i + 1 "
        "does not share the frequency of 2i": {"exponent": "j/d"},
        "the angle pos·ω_i taken in degrees instead of radians": {"degrees": True},
        "the attention score not divided by √d_k": {"scaled": False},
    }
    nice = ("small whole embeddings and projections, between −2 and 2",)

    def solve(
        self,
        g: PositionalEncodingGiven,
        s: Solution,
        *,
        swapped: bool = False,
        exponent: Exponent = "2i/d",
        degrees: bool = False,
        scaled: bool = True,
    ) -> None:
        d, base = g.d_model, g.base
        half = d // 2
        b = exact.unicode(base)
        omegas = [exact.from_sympy(frequency(i, d, base, exponent)) for i in range(half)]
        power = "i" if exponent == "i/d" else "2i"
        s.step(
            says(
                f"Dimensions 2i and 2i + 1 are one sinusoid of frequency ⟦ω_i = 1/{b}^({power}/d)⟧ "
                f"for ⟦i = 0, …, d/2 − 1⟧, with ⟦d = {d}⟧: the wavelengths grow geometrically "
                f"from 2π to about {b}·2π, so every position gets its own pattern."
            ),
            *[
                eq(
                    Sym("omega", i),
                    Raw(
                        rf"1/{exact.latex(base)}^{{{(2 if power == '2i' else 1) * i}/{d}}}",
                        f"1/{b}^({(2 if power == '2i' else 1) * i}/{d})",
                    ),
                    w,
                )
                for i, w in enumerate(omegas)
            ],
        )
        carry(s, "frequencies", omegas, label=Sym("omega"))

        table = [
            encoding(p, d, base, swapped=swapped, exponent=exponent, degrees=degrees)
            for p in g.positions
        ]
        even, odd = ("cos", "sin") if swapped else ("sin", "cos")
        unit = "°" if degrees else ""
        s.step(
            says(
                f"Each row is ⟦PE(pos, 2i) = {even}(pos·ω_i{unit})⟧ and "
                f"⟦PE(pos, 2i + 1) = {odd}(pos·ω_i{unit})⟧"
                + (" in degrees" if degrees else ", the angle in radians")
                + ". Exact values stay as they are (sin(1) is sin(1); at position 0 every "
                "sine is 0 and every cosine 1), each with its decimal."
            ),
            Table(
                ["pos", *[f"{even if j % 2 == 0 else odd} (dim {j})" for j in range(d)]],
                [[p, *row] for p, row in zip(g.positions, table, strict=True)],
            ),
            *[eq(_pe(p), _with_float(row)) for p, row in zip(g.positions, table, strict=True)],
        )
        table = carry(s, "PE", table, label=Raw(r"\mathrm{PE}", "PE"))
        row_of = dict(zip(g.positions, table, strict=False))

        pair = g.pair_positions()
        if pair is not None:
            self._dot(g, s, pair, row_of, omegas, degrees=degrees)
        if g.embeddings is None:
            return
        X = [
            [
                exact.from_sympy(exact.to_sympy(e) + exact.to_sympy(v))
                for e, v in zip(er, pr, strict=True)
            ]
            for er, pr in zip(g.embeddings, table, strict=True)
        ]
        s.step(
            "The encoding is added to the token embeddings (not concatenated): x = e + PE, "
            "row by row, so the width stays d_model.",
            eq(Sym("X"), Raw("E + PE", "E + PE"), _with_float(X)),
        )
        X = carry(s, "X", X, label=Sym("X"))
        if pair is not None:
            x_of = dict(zip(g.positions, X, strict=False))
            self._score(g, s, pair, x_of, scaled=scaled)

    def _dot(
        self,
        g: PositionalEncodingGiven,
        s: Solution,
        pair: tuple[int, int],
        row_of: Mapping[int, list[Any]],
        omegas: Sequence[Any],
        *,
        degrees: bool,
    ) -> None:
        p, q = pair
        direct = _dot(row_of[p], row_of[q])
        unit = sympy.pi / 180 if degrees else 1
        offset = [exact.from_sympy(sympy.cos((p - q) * exact.to_sympy(w) * unit)) for w in omegas]
        closed = exact.from_sympy(sympy.Add(*(exact.to_sympy(c) for c in offset)))
        value = closed if _same(direct, closed) else direct  # a mistaken table breaks the identity
        s.step(
            says(
                f"PE({p})·PE({q}): each frequency contributes ⟦sin a·sin b + cos a·cos b = "
                "cos(a − b)⟧, so the dot product is ⟦Σ_i cos((p − q)ω_i)⟧: it depends only on "
                f"the offset p − q = {p - q}, not on where the two positions are. Any two "
                f"positions {abs(p - q)} apart give the same value."
            ),
            eq(
                Raw(rf"\mathrm{{PE}}({p}) \cdot \mathrm{{PE}}({q})", f"PE({p})·PE({q})"),
                _products(row_of[p], row_of[q]),
                Raw(
                    rf"\sum_{{i=0}}^{{{len(omegas) - 1}}} \cos(({p - q})\,\omega_i)",
                    f"Σ_i cos(({p - q})·ω_i)",
                ),
                _with_float(value),
            ),
        )
        carry(s, "dot", value, label=Raw(r"\mathrm{PE}(p) \cdot \mathrm{PE}(q)", "PE(p)·PE(q)"))

    def _score(
        self,
        g: PositionalEncodingGiven,
        s: Solution,
        pair: tuple[int, int],
        x_of: Mapping[int, list[Any]],
        *,
        scaled: bool,
    ) -> None:
        p, q = pair
        query, key = x_of[p], x_of[q]
        lines = []
        if g.W_Q is not None:
            query = _times(query, g.W_Q)
            lines.append(eq(Sym("q"), Raw(rf"x_{{{p}}} W_Q", f"x_{p} W_Q"), _with_float(query)))
        if g.W_K is not None:
            key = _times(key, g.W_K)
            lines.append(eq(Sym("k"), Raw(rf"x_{{{q}}} W_K", f"x_{q} W_K"), _with_float(key)))
        d_k = len(query)
        root = exact.sqrt(d_k) if scaled else 1
        score = exact.from_sympy(exact.to_sympy(_dot(query, key)) / exact.to_sympy(root))
        q_name = "q" if g.W_Q is not None else f"x_{p}"
        k_name = "k" if g.W_K is not None else f"x_{q}"
        lines.append(
            eq(
                Sym("s"),
                Raw(
                    rf"\frac{{{q_name} \cdot {k_name}}}{{\sqrt{{{d_k}}}}}",
                    f"{q_name}·{k_name}/√{d_k}",
                )
                if scaled
                else Raw(rf"{q_name} \cdot {k_name}", f"{q_name}·{k_name}"),
                _with_float(score),
            )
        )
        s.step(
            says(
                f"The attention score of position {p}'s query with position {q}'s key is the "
                f"scaled dot product ⟦q·k/√d_k⟧ with ⟦d_k = {d_k}⟧: dividing by ⟦√d_k⟧ keeps "
                "the scores' spread independent of the width, so the softmax does not saturate."
            ),
            *lines,
        )
        carry(s, "score", score, label=Sym("s"))

    # ------------------------------------------------------------------ variants

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        return draw_variant(self, given, rng, self._draw)

    def _draw(self, raw: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        n = len(raw["positions"])
        raw["positions"] = sorted(rng.sample(range(0, 10), n))
        if raw.get("pair") is not None:
            raw["pair"] = rng.sample(raw["positions"], 2) if n >= 2 else raw["pair"]
        for name in ("embeddings", "W_Q", "W_K"):
            if raw.get(name) is not None:
                raw[name] = small_ints(list(exact.shape(raw[name])), rng, -2, 2)
        return raw


def _products(a: Sequence[Any], b: Sequence[Any]) -> Raw:
    """``a₀·b₀ + a₁·b₁ + …`` as written, before anything is simplified."""
    text = " + ".join(
        f"{_factor(x, exact.unicode)}·{_factor(y, exact.unicode)}"
        for x, y in zip(a, b, strict=True)
    )
    latex = " + ".join(
        rf"{_factor(x, exact.latex)} \cdot {_factor(y, exact.latex)}"
        for x, y in zip(a, b, strict=True)
    )
    return Raw(latex, text, prec=10)


def _factor(x: Any, write: Any) -> str:
    """A factor of a product, in parentheses where it is a sum or negative."""
    w = write(x)
    paren = exact.is_compound(x) or exact.is_negative_looking(x)
    if write is exact.latex:
        return rf"\left({w}\right)" if paren else w
    return f"({w})" if paren else w


def _times(x: Sequence[Any], W: Sequence[Sequence[Any]]) -> list[Any]:
    """The row vector x times the matrix W."""
    return [_dot(x, col) for col in exact.transpose(W)]


def _same(a: Any, b: Any) -> bool:
    """Whether two exact values agree (to 40 digits: sums of sin and cos that sympy does not
    simplify into one another)."""
    if exact.is_rational(a) and exact.is_rational(b):
        return a == b
    diff = exact.to_sympy(a) - exact.to_sympy(b)
    return diff == 0 or abs(sympy.N(diff, 50)) < sympy.Float(10) ** -40


__all__ = ["PositionalEncoding", "PositionalEncodingGiven", "encoding", "frequency"]
