"""The sequence layers of the model-size kinds, one rule per layer type, in one table.

An Embedding, a recurrent layer (RNN, LSTM, GRU), multi-head attention and the transformer
encoder and decoder layers each turn a per-example input of shape [T, features] (T positions
of a sequence; an Embedding takes [T] token ids) into an output, and each has a parameter
count that PyTorch fixes exactly: ``sum(p.numel() for p in module.parameters())``. A rule
here says how, in the words of the worked solution, and counts the multiply-accumulates of
one example (the walk in :mod:`.model_size` multiplies by the batch).

MACs count the products with a weight matrix, plus, for attention, the two products between
activations that fvcore counts as well: QKᵀ (T·S·E for T queries, S keys and E = h·(E/h)
over the heads) and the weighted sum AV (the same). Gate nonlinearities, softmax, the
elementwise products of an LSTM and the normalizations are not counted.

The counting options (``c``, a :class:`~.model_size.Counting`) are PyTorch's by default;
their other values reproduce the classic mistakes: one bias vector per gate as Keras keeps,
3 gates for an LSTM and 4 for a GRU, a bidirectional layer counted once, a second layer
whose input is taken as input_size instead of hidden_size × directions, attention without
its output projection, embed_dim used for attention's kdim and vdim, an LSTM projection's
W_hr forgotten, and an LSTM's W_hh taken as [4H, H] despite the projection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..display import Add, M, Mul, Sym, Text, eq

if TYPE_CHECKING:
    from .model_size import Counting

#: gates per recurrent cell: an LSTM has input, forget, cell and output; a GRU reset, update
#: and new; a plain RNN one
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
#: the classic mix-up: 3 gates for an LSTM, 4 for a GRU
MISTAKEN_GATES = {"RNN": 1, "LSTM": 3, "GRU": 4}
GATE_NAMES = {
    "LSTM": "input, forget, cell and output, stacked in ⟦W_ih⟧ as ⟦W_ii|W_if|W_ig|W_io⟧",
    "GRU": "reset, update and new, stacked in ⟦W_ih⟧ as ⟦W_ir|W_iz|W_in⟧",
}
RECURRENT = tuple(GATES)
SEQUENCE_TYPES = (
    "Embedding",
    *RECURRENT,
    "MultiheadAttention",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
)


@dataclass
class Counted:
    """What a sequence layer does to one example: its output shape, parameters and MACs, each
    with the worked lines that explain it."""

    shape: list[Any]
    params: int = 0
    params_lines: list[M] = field(default_factory=list)
    macs: Any = 0
    macs_lines: list[M] = field(default_factory=list)
    text: str = ""
    hidden_state: tuple[int, int] | None = None  # (D·num_layers, H): h_n without the batch
    cell_state: tuple[int, int] | None = None  # (D·num_layers, H): an LSTM's c_n


def _n(name: str) -> Sym:
    return Sym(name)


# --------------------------------------------------------------------------- Embedding


def embedding(t: str, spec: Any, x: list[Any], c: Counting) -> Counted:
    """A lookup table: num rows of dim numbers; a token id selects its row."""
    num, dim = spec.num, spec.dim
    return Counted(
        [*x, dim],
        num * dim,
        [eq(Text("params"), Mul(_n("num"), _n("dim")), Mul(num, dim), num * dim)],
        0,
        [],
        f"Embedding: a table of num = {num} rows (one per token id) of dim = {dim} numbers. "
        "Each token id selects its row, so every position gets a vector of dim numbers; a "
        "lookup multiplies nothing, so it has no MACs.",
    )


# --------------------------------------------------------------------------- RNN, LSTM, GRU


def recurrent(t: str, spec: Any, x: list[Any], c: Counting) -> Counted:
    """num_layers stacked layers, each with D directions of G gates, each gate with
    W_ih [H, in], W_hh [H, H] and (PyTorch) two bias vectors b_ih and b_hh.

    An LSTM with proj_size P > 0 projects its hidden state down to P numbers with one more
    matrix W_hr [P, H] (no bias): the recurrence then reads the projected state, so W_hh is
    [4H, P], the output and h_n have P features, and c_n keeps H."""
    G = (MISTAKEN_GATES if c.swapped_gates else GATES)[t]
    H, L = spec.hidden, spec.num_layers or 1
    P = (spec.proj_size or 0) if t == "LSTM" else 0
    R = P or H  # what the recurrence reads and every step outputs: h, or h projected
    R_hh = R if c.projected_recurrence else H  # the width of W_hh (a mistake takes H)
    r_name = "P" if R_hh == P else "H"  # and its name in the worked lines
    W_hr = P * H if P and c.projection_weight else 0
    D = 2 if spec.bidirectional and c.bidirectional_doubled else 1
    T, F = x[0], x[-1]
    vectors = c.rnn_bias_vectors if spec.bias and c.bias_params else 0
    lines: list[M] = []
    params, macs_per_step, values = 0, 0, []
    for layer in range(L):
        n_in = F if layer == 0 or not c.stacked_input else D * R
        per_direction = G * H * (n_in + R_hh) + vectors * G * H + W_hr
        params += D * per_direction
        values.append(D * per_direction)
        bias_macs = vectors if c.count_bias else 0
        macs_per_step += D * (G * H * (n_in + R_hh + bias_macs) + W_hr)
        terms: list[Any] = [Mul(G, H, Add(n_in, R_hh))]
        if vectors:
            terms.append(Mul(vectors, G, H) if vectors > 1 else Mul(G, H))
        if W_hr:
            terms.append(Mul(P, H))
        body = Add(*terms)
        lines.append(
            eq(Text(f"layer {layer + 1}"), Mul(D, body) if D > 1 else body, D * per_direction)
        )
    rule_terms: list[Any] = [Mul(Sym("G"), Sym("H"), Add(Sym("in"), Sym(r_name)))]
    if vectors:
        rule_terms.append(
            Mul(vectors, Sym("G"), Sym("H")) if vectors > 1 else Mul(Sym("G"), Sym("H"))
        )
    if W_hr:
        rule_terms.append(Mul(Sym("P"), Sym("H")))
    rule = eq(Text("per layer and direction"), Add(*rule_terms))
    if L > 1:
        lines.append(eq(Text("params"), Add(*values), params))
    bias_words = {
        2: "plus two bias vectors ⟦b_ih⟧ and ⟦b_hh⟧ of ⟦G·H⟧ each (PyTorch keeps both; Keras one)",
        1: "plus one bias vector of ⟦G·H⟧",
        0: "and no bias",
    }[vectors]
    width = "D·P" if P else "D·H"
    stacked = (
        f" Layer 1 reads the input's {F} features; each later layer reads the output of the "
        f"one below, ⟦{width} = {D}·{R} = {D * R}⟧ features."
        if L > 1 and c.stacked_input
        else (f" Every layer is taken to read {F} features." if L > 1 else "")
    )
    directions = (
        "bidirectional (⟦D = 2⟧ directions, each with its own weights)"
        if D == 2
        else "one direction (⟦D = 1⟧)"
    )
    projection = ""
    if P:
        projection = (
            f" With proj_size ⟦P = {P}⟧, each layer and direction also has the projection "
            f"⟦W_hr⟧ [P, H] = [{P}, {H}] (no bias), which maps ⟦h_t⟧ down to P numbers"
            + (
                "; the recurrence reads the projected state, so ⟦W_hh⟧ has P columns, not H."
                if r_name == "P"
                else "."
            )
        )
    words = (
        f"{t}: {L} layer{'s' if L > 1 else ''} of hidden size ⟦H = {H}⟧, {directions}. "
        f"{'An' if t == 'LSTM' else 'A'} {t} cell has ⟦G = {G}⟧ gate{'s' if G > 1 else ''}"
        + (f" ({GATE_NAMES[t]})" if G == GATES[t] and t in GATE_NAMES else "")
        + f"; each has ⟦W_ih⟧ [H, in] and ⟦W_hh⟧ [H, {r_name}], {bias_words}.{projection}"
        + f"{stacked} The output at each of the ⟦T = {T}⟧ steps is the last layer's "
        f"{'projected ' if P else ''}hidden state of every direction: ⟦{width} = {D * R}⟧ "
        "features; ⟦h_n⟧ holds the last step of every layer and direction. MACs are the "
        "products ⟦W_ih x_t⟧ and ⟦W_hh h_{t−1}⟧"
        + (" and the projection ⟦W_hr h_t⟧" if W_hr else "")
        + f": ⟦G·H·(in + {r_name}){' + P·H' if W_hr else ''}⟧ per step, layer and direction"
        + (", plus the bias additions" if c.count_bias and vectors else "")
        + "; the gates' elementwise work is not counted."
    )
    macs = T * macs_per_step
    per_step = f"Σ D·(G·H·(in + {r_name}) + P·H)" if W_hr else f"Σ D·G·H·(in + {r_name})"
    return Counted(
        [T, D * R],
        params,
        [rule, *lines],
        macs,
        [eq(Text("MACs"), Mul(Text("T"), Text(per_step)), Mul(T, macs_per_step), macs)],
        words,
        (D * L, R),
        (D * L, H) if t == "LSTM" else None,
    )


# --------------------------------------------------------------------------- attention


@dataclass
class _Attention:
    params: int
    values: list[int]  # in-projection, out-projection
    lines: list[M]
    macs: Any
    macs_lines: list[M]


def _attention(
    E: int,
    bias: bool,
    T: Any,
    S: Any,
    c: Counting,
    label: str,
    kdim: int | None = None,
    vdim: int | None = None,
) -> _Attention:
    """Multi-head attention of embed_dim E: Q, K and V projections, then the output
    projection E×E. With the keys' and values' own widths kdim and vdim, the projections are
    E×E, E×kdim and E×vdim, stored apart (q_proj_weight, k_proj_weight, v_proj_weight); else
    three E×E matrices stored as one in_proj_weight [3E, E]. The in-projection's bias is
    [3E] either way: every projection maps to E."""
    b = bias and c.bias_params
    K = kdim if kdim is not None and c.kv_dims else E
    V = vdim if vdim is not None and c.kv_dims else E
    weights = E * E + E * K + E * V
    in_proj = weights + (3 * E if b else 0)
    out_proj = (E * E + E if b else E * E) if c.out_projection else 0
    terms = [Mul(3, E, E)] if K == V == E else [Mul(E, E), Mul(E, K), Mul(E, V)]
    if b:
        terms.append(Mul(3, E))
    lines: list[M] = [eq(Text(f"{label} in-projection"), Add(*terms), in_proj)]
    if c.out_projection:
        lines.append(
            eq(Text(f"{label} out-projection"), Add(Mul(E, E), E) if b else Mul(E, E), out_proj)
        )
    extra = 1 if c.count_bias and b else 0
    proj = T * E * (E + extra) + S * E * (K + extra) + S * E * (V + extra)
    scores = 2 * T * S * E
    out = T * E * (E + extra) if c.out_projection else 0
    macs = proj + scores + out
    if K == V == E:
        projections = Add(Mul(T, E, E), Mul(2, S, E, E)) if S is not T else Mul(3, T, E, E)
    else:
        projections = Add(Mul(T, E, E), Mul(S, E, K), Mul(S, E, V))
    macs_math = [projections, Mul(2, T, S, E)]
    if c.out_projection:
        macs_math.append(Mul(T, E, E))
    return _Attention(
        in_proj + out_proj,
        [in_proj, out_proj] if c.out_projection else [in_proj],
        lines,
        macs,
        [eq(Text(f"{label} MACs"), Add(*macs_math), macs)],
    )


def attention(t: str, spec: Any, x: list[Any], c: Counting) -> Counted:
    T, E = x[0], x[-1]
    h = spec.num_heads
    S = spec.memory_length if spec.memory_length is not None else T
    kdim, vdim = spec.kdim, spec.vdim
    separate = (kdim or E) != E or (vdim or E) != E
    a = _attention(E, spec.bias, T, S, c, "attention", kdim, vdim)
    heads = (
        f"MultiheadAttention with ⟦E = {E}⟧ and ⟦h = {h}⟧ heads of ⟦E/h = {E // h}⟧ dimensions. "
        "The heads split E, so the projections do not depend on h: "
    )
    if separate:
        K, V = kdim or E, vdim or E
        what = (
            f"the queries come from the input (⟦E = {E}⟧ features), the keys from a sequence of "
            f"kdim = {K} features and the values from one of vdim = {V}, of ⟦S = {S}⟧ positions. "
            "Every projection maps to E, so ⟦W_q⟧ is ⟦E×E⟧, ⟦W_k⟧ is ⟦E×kdim⟧ and ⟦W_v⟧ is "
            "⟦E×vdim⟧ "
            "(PyTorch stores them apart, as q_proj_weight, k_proj_weight and v_proj_weight, "
            f"because their widths differ){', with one in_proj_bias [3E]' if spec.bias else ''}"
            ". The heads' outputs, joined, pass through the output projection out_proj, one "
            f"more ⟦E×E⟧ matrix{' and bias' if spec.bias else ''}. The output has the queries' "
            f"shape [T, E], whatever kdim and vdim are. MACs, as fvcore counts them: the "
            f"projections (⟦T·E·E⟧, ⟦S·E·kdim⟧ and ⟦S·E·vdim⟧), ⟦QKᵀ⟧ (⟦T·S·E⟧ over the heads) "
            f"and the weighted sum ⟦AV⟧ (⟦T·S·E⟧), for ⟦T = {T}⟧ and ⟦S = {S}⟧."
        )
    else:
        what = (
            "Q, K and V are three ⟦E×E⟧ matrices (PyTorch stores them as one in_proj_weight "
            "[3E, E] with in_proj_bias [3E]), and the heads' outputs, joined, pass through the "
            f"output projection out_proj, one more ⟦E×E⟧ matrix{' and bias' if spec.bias else ''}."
        )
        if spec.memory_length is None:
            what += (
                " Self-attention keeps the shape. MACs, as fvcore counts them: the projections "
                "(⟦T·E·E⟧ each), ⟦QKᵀ⟧ (⟦T·T·E⟧ over the heads) and the weighted sum ⟦AV⟧ "
                f"(⟦T·T·E⟧), for ⟦T = {T}⟧."
            )
        else:
            what += (
                f" The keys and values come from a sequence of ⟦S = {S}⟧ positions with E "
                "features; the output has the queries' shape. MACs, as fvcore counts them: "
                "the projections (⟦T·E·E⟧ for Q and the output, ⟦S·E·E⟧ for K and V), ⟦QKᵀ⟧ "
                "(⟦T·S·E⟧ over the heads) and the weighted sum ⟦AV⟧ (⟦T·S·E⟧), for ⟦T = {T}⟧ and "
                f"⟦S = {S}⟧."
            )
    return Counted(
        [T, E],
        a.params,
        [*a.lines, eq(Text("params"), Add(*a.values), a.params)],
        a.macs,
        a.macs_lines,
        heads + what,
    )


def _layernorms(k: int, d: int, bias: bool, c: Counting) -> tuple[int, M]:
    per = (2 if bias else 1) * d if c.norm_params else 0
    return k * per, eq(Text(f"{k} LayerNorms"), Mul(k, 2 if bias else 1, d), k * per)


def _feedforward(d: int, ff: int, bias: bool, T: Any, c: Counting) -> tuple[int, M, Any]:
    b = bias and c.bias_params
    params = 2 * d * ff + ((ff + d) if b else 0)
    math = Add(Mul(d, ff), ff, Mul(ff, d), d) if b else Mul(2, d, ff)
    extra = (ff + d) if c.count_bias and b else 0
    return params, eq(Text("feed-forward"), math, params), T * (2 * d * ff + extra)


def transformer(t: str, spec: Any, x: list[Any], c: Counting) -> Counted:
    T, d = x[0], x[-1]
    nh, ff = spec.nhead, spec.dim_feedforward or 2048
    decoder = t == "TransformerDecoderLayer"
    S = spec.memory_length if decoder and spec.memory_length is not None else T
    parts = [_attention(d, spec.bias, T, T, c, "self-attention")]
    if decoder:
        parts.append(_attention(d, spec.bias, T, S, c, "cross-attention"))
    fparams, fline, fmacs = _feedforward(d, ff, spec.bias, T, c)
    nparams, nline = _layernorms(3 if decoder else 2, d, spec.bias, c)
    lines = [ln for a in parts for ln in a.lines] + [fline, nline]
    params = sum(a.params for a in parts) + fparams + nparams
    values = [v for a in parts for v in a.values] + [fparams, nparams]
    lines.append(eq(Text("params"), Add(*values), params))
    macs_lines = [ln for a in parts for ln in a.macs_lines]
    macs_lines.append(eq(Text("feed-forward MACs"), Mul(2, T, d, ff), fmacs))
    macs = sum(a.macs for a in parts) + fmacs
    cross = (
        f" Then cross-attention (its queries from the layer's input, its keys and values from "
        f"the encoder's memory of S = {S} positions), same size. "
        if decoder
        else " "
    )
    return Counted(
        [T, d],
        params,
        lines,
        macs,
        macs_lines,
        f"{t} with d_model = {d}, nhead = {nh}, dim_feedforward = {ff}: self-attention "
        "(4 d×d matrices: Q, K, V and the output projection"
        f"{', each with a bias' if spec.bias else ''})."
        f"{cross}Then the feed-forward block Linear(d, ff), activation, Linear(ff, d), and "
        f"{3 if decoder else 2} LayerNorms of d with γ{' and β' if spec.bias else ''}. Dropout "
        "has no parameters; every sublayer keeps the shape [T, d].",
    )


#: every sequence layer type -> its rule
RULES: dict[str, Callable[[str, Any, list[Any], Counting], Counted]] = {
    "Embedding": embedding,
    **{t: recurrent for t in RECURRENT},
    "MultiheadAttention": attention,
    "TransformerEncoderLayer": transformer,
    "TransformerDecoderLayer": transformer,
}
