"""The tensor expression language of backprop-by-hand problems, exactly.

A graph is a list of assignments (``h = relu(W1 @ x + b1)``) over given
values. This package parses them with a whitelist parser (:mod:`.lang`),
builds the DAG and checks names and shapes (:mod:`.autodiff`), computes
every value exactly (:mod:`.scalar`: rationals, and rational combinations of
transcendental atoms written as a textbook writes them), and differentiates
by reverse mode with one table of operations (:mod:`.ops`: forward rule, local
gradient, how each is written). The ``graph`` kind writes the worked solution;
other kinds use :func:`differentiate` for a scalar objective at a point.
"""

from __future__ import annotations

from .autodiff import (
    Graph,
    GraphError,
    Run,
    backward,
    build,
    differentiable,
    differentiate,
    exact_nested,
    forward,
    leaf_tensor,
)
from .ops import OPS, Rules
from .scalar import from_exact, to_exact
from .tensor import MAX_ELEMENTS, Tensor

__all__ = [
    "MAX_ELEMENTS",
    "OPS",
    "Graph",
    "GraphError",
    "Rules",
    "Run",
    "Tensor",
    "backward",
    "build",
    "differentiable",
    "differentiate",
    "exact_nested",
    "forward",
    "from_exact",
    "leaf_tensor",
    "to_exact",
]
