"""The ``pos_encoding`` kind recomputed in torch, float64, from the standard code.

The table is built as the Annotated Transformer builds it (``div_term = exp(arange(0, d, 2)
· −log(base)/d)``, sines into the even columns, cosines into the odd ones), independently
of the kind's exact formula; the dot product is a plain ``@`` of two rows, and the score is
``q @ k / sqrt(d_k)`` with the projections as given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from ... import exact
from ...solution import Solution
from . import crosscheck

F64 = torch.float64


def _t(x: Any, device: Any) -> torch.Tensor:
    return torch.tensor(exact.to_float(x), dtype=F64, device=device)


@crosscheck("pos_encoding")
def positional_encoding(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    d = g.d_model
    position = torch.tensor(g.positions, dtype=F64, device=device).unsqueeze(1)
    div_term = torch.exp(
        torch.arange(0, d, 2, dtype=F64, device=device) * (-math.log(exact.to_float(g.base)) / d)
    )
    pe = torch.zeros(len(g.positions), d, dtype=F64, device=device)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    out: dict[str, Any] = {"frequencies": div_term, "PE": pe}
    row = {p: i for i, p in enumerate(g.positions)}
    pair = g.pair if g.pair is not None else g.positions[:2]
    if len(pair) == 2:
        p, q = row[pair[0]], row[pair[1]]
        out["dot"] = pe[p] @ pe[q]
    if g.embeddings is not None:
        x = _t(g.embeddings, device) + pe
        out["X"] = x
        if len(pair) == 2:
            query, key = x[p], x[q]
            if g.W_Q is not None:
                query = query @ _t(g.W_Q, device)
            if g.W_K is not None:
                key = key @ _t(g.W_K, device)
            out["score"] = (query @ key) / math.sqrt(query.shape[-1])
    return out
