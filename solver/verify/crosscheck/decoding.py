"""Decoding answers recomputed with torch: brute force over every sequence, log-probabilities
summed by torch in float64.

Nothing here calls the kinds' code: the tree is walked and the chain read here,
from the given alone. An LM tree is decoded by scoring
every root-to-leaf path with one torch sum, greedily with torch.argmax, and
by a beam search written again on torch tensors. A Markov chain is decoded
by enumerating all N^T sequences (torch.cartesian_prod) when there are at
most 200,000 of them, else by the recurrence on torch tensors. Ties are
broken as the kinds state it (first in the tree as written; first token in
the order of ``tokens``), with a tolerance, so that a tie the exact answer
sees is not undone by rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ... import exact
from ...solution import Solution
from . import crosscheck

BRUTE_FORCE_LIMIT = 200_000
TIE = 1e-9  # scores closer than this count as equal (then the stated tie rule decides)


def _tensor(values: Any, device: Any) -> torch.Tensor:
    return torch.tensor(exact.to_float(values), dtype=torch.float64, device=device)


def _first_best(scores: torch.Tensor) -> int:
    """The first index whose score is within TIE of the maximum."""
    best = scores.max()
    if torch.isinf(best):
        return int(torch.nonzero(scores == best)[0])
    return int(torch.nonzero(scores >= best - TIE * max(1.0, float(best.abs())))[0])


def _ranked(scores: torch.Tensor, order: list[int]) -> list[int]:
    """Indices by score (descending), ties (within TIE) by ``order``: a stable sort of the
    candidates already in tree order, on scores rounded to the tie tolerance."""
    by_order = sorted(range(len(order)), key=order.__getitem__)
    rounded = torch.round(scores[by_order] / TIE)
    perm = torch.sort(rounded, descending=True, stable=True).indices
    return [by_order[int(i)] for i in perm]


# --------------------------------------------------------------------------- lm_tree

# The given's tree is read through its nodes' token, logp and children only; paths, the
# order as written and the ends of sequences are found here by walking it.
Node = Any


class Tree:
    """The given tree walked once: every node top to bottom as written, and its path."""

    def __init__(self, root: Node) -> None:
        self.root = root
        self.nodes: list[Node] = []
        self._paths: dict[int, list[Node]] = {}
        stack: list[tuple[Node, list[Node]]] = [(root, [])]
        while stack:
            node, path = stack.pop()
            self.nodes.append(node)
            self._paths[id(node)] = path
            stack += [(c, [*path, c]) for c in reversed(node.children)]
        self.position = {id(n): i for i, n in enumerate(self.nodes)}

    def path(self, node: Node) -> list[Node]:
        """The nodes from the first token to ``node`` (the root excluded)."""
        return self._paths[id(node)]

    def tokens(self, node: Node) -> list[str]:
        """The sequence ``node`` ends, start token first."""
        return [self.root.token, *(n.token for n in self.path(node))]

    def leaves(self) -> list[Node]:
        """The ends of complete sequences (a node without children), top to bottom."""
        return [n for n in self.nodes if not n.children and n is not self.root]


@crosscheck("lm_tree")
def lm_tree(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    tree = Tree(g.tree)
    out: dict[str, Any] = {}
    out.update(_tree_exhaustive(tree, device))
    out.update(_tree_greedy(tree, device))
    out.update(_tree_beam(tree, g.beam_width, device))
    out["viterbi_applicable"] = _tree_is_markov(tree, device)
    if g.temperature is not None:
        out.update(_tree_sampling(tree, g, device))
    return out


def _tree_sampling(tree: Tree, g: Any, device: Any) -> dict[str, Any]:
    """Sampling at temperature T along the sample (greedy's sequence by default, found here
    by torch.argmax, first maximum on a tie): torch.softmax(logp/T) over each prefix's
    children, and the product of the drawn tokens' probabilities."""
    T = float(g.temperature)
    node, out, total = tree.root, {}, torch.tensor(1.0, dtype=torch.float64, device=device)
    wanted = list(g.sample) if g.sample is not None else None
    if wanted and wanted[0] == tree.root.token:
        wanted = wanted[1:]
    t = 0
    while node.children and (wanted is None or t < len(wanted)):
        logp = torch.tensor(
            [float(exact.to_float(c.logp)) for c in node.children],
            dtype=torch.float64,
            device=device,
        )
        probs = torch.softmax(logp / T, dim=0)
        if wanted is None:
            pick = int(torch.argmax(logp))
        else:
            pick = [c.token for c in node.children].index(wanted[t])
        t += 1
        out[f"sample.probabilities[{t}]"] = probs
        total = total * probs[pick]
        node = node.children[pick]
    out["sample.probability"] = total
    return out


def _tree_is_markov(tree: Tree, device: Any) -> bool:
    """Whether equal tokens at the same step are followed by the same log-probabilities:
    each node's next-token distribution as a tensor over the vocabulary (−inf for a token
    that cannot follow, and a last entry 0 where the sequence may end there), and
    torch.equal across the nodes of each (step, token)."""
    nodes = tree.nodes
    vocab = {tok: i for i, tok in enumerate(sorted({n.token for n in nodes}))}
    rows: dict[tuple[int, str], list[torch.Tensor]] = {}
    for node in nodes:
        row = torch.full((len(vocab) + 1,), -torch.inf, dtype=torch.float64, device=device)
        for c in node.children:
            row[vocab[c.token]] = float(exact.to_float(c.logp))
        if not node.children:
            row[-1] = 0.0
        rows.setdefault((len(tree.path(node)), node.token), []).append(row)
    return all(torch.equal(group[0], r) for group in rows.values() for r in group[1:])


def _tree_exhaustive(tree: Tree, device: Any) -> dict[str, Any]:
    ends = tree.leaves()
    depth = max(len(tree.path(leaf)) for leaf in ends)
    table = torch.zeros(len(ends), depth, dtype=torch.float64, device=device)
    for row, leaf in enumerate(ends):
        path = tree.path(leaf)
        table[row, : len(path)] = _tensor([n.logp for n in path], device)
    totals = table.sum(dim=1)
    best = _first_best(totals)  # leaves are in tree order, so the first best wins ties
    return {"best.sequence": tree.tokens(ends[best]), "best.logp": totals[best]}


def _tree_greedy(tree: Tree, device: Any) -> dict[str, Any]:
    node, total = tree.root, torch.zeros((), dtype=torch.float64, device=device)
    while node.children:
        logps = _tensor([c.logp for c in node.children], device)
        pick = _first_best(logps)
        node, total = node.children[pick], total + logps[pick]
    return {"greedy.sequence": tree.tokens(node), "greedy.logp": total}


def _tree_beam(tree: Tree, width: int, device: Any) -> dict[str, Any]:
    """Beam search on tensors, HF's rule: B best unfinished stay open; a finished candidate
    counts if it ranks among the best B of its step; stop once B have finished and the best
    open score cannot beat the worst finished one."""
    position = tree.position
    out: dict[str, Any] = {}
    beams: list[tuple[Node, torch.Tensor]] = [
        (tree.root, torch.zeros((), dtype=torch.float64, device=device))
    ]
    done: list[tuple[Node, torch.Tensor]] = []
    t = 0
    while beams:
        t += 1
        cands = [
            (c, score + _tensor(c.logp, device)) for node, score in beams for c in node.children
        ]
        order = _ranked(torch.stack([c[1] for c in cands]), [position[id(c[0])] for c in cands])
        kept, opened = [], []
        for rank, i in enumerate(order):
            node = cands[i][0]
            if not node.children and rank < width:
                kept.append(cands[i])
                done.append(cands[i])
            elif node.children and len(opened) < width:
                kept.append(cands[i])
                opened.append(cands[i])
        out[f"beam.steps[{t}]"] = [tree.tokens(n) for n, _ in kept]
        done = (
            [
                done[i]
                for i in _ranked(
                    torch.stack([d[1] for d in done]), [position[id(d[0])] for d in done]
                )
            ][:width]
            if done
            else []
        )
        beams = opened
        if beams and len(done) >= width and float(beams[0][1]) <= float(done[-1][1]) + TIE:
            beams = []
    out["beam.sequences"] = [tree.tokens(n) for n, _ in done]
    out["beam.logps"] = torch.stack([score for _, score in done])
    out["beam.sequence"] = tree.tokens(done[0][0])
    out["beam.logp"] = done[0][1]
    return out


# --------------------------------------------------------------------------- viterbi


@dataclass(frozen=True)
class Chain:
    """The given chain read here: its tokens, the start token's position, and the words a
    sequence is made of (the start token is one only if P can return to it)."""

    tokens: tuple[str, ...]
    start: int
    words: tuple[int, ...]

    @staticmethod
    def of(g: Any) -> Chain:
        tokens = tuple(g.tokens)
        start = tokens.index(g.start)
        returns = any(not exact.is_zero(row[start]) for row in g.P)
        return Chain(tokens, start, tuple(k for k in range(len(tokens)) if k != start or returns))

    @property
    def N(self) -> int:
        return len(self.words)

    def name(self, i: int) -> str:
        return self.tokens[self.words[i]]


@crosscheck("viterbi")
def viterbi(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    chain = Chain.of(g)
    N, T = chain.N, g.T
    with torch.no_grad():
        P = _tensor(g.P, device)
        words = torch.tensor(chain.words, device=device)
        logP = torch.log(P[words][:, words])  # log 0 = -inf
        init = torch.log(P[chain.start, words])
    if N**T <= BRUTE_FORCE_LIMIT:
        log_delta, seq, best = _brute_force(logP, init, T, device)
    else:
        log_delta, seq, best = _recurrence(logP, init, T)
    out: dict[str, Any] = {}
    numeric = "log_delta[1]" in s.answers
    for t in range(1, T + 1):
        if numeric:
            out[f"log_delta[{t}]"] = log_delta[t - 1]
        else:
            out[f"delta[{t}]"] = torch.exp(log_delta[t - 1])
        out[f"backpointers[{t}]"] = _backpointers(chain, logP, log_delta, t)
    start = chain.tokens[chain.start]
    out["sequence"] = [start, *(chain.name(int(i)) for i in seq)]
    out["log_probability"] = best
    out["probability"] = torch.exp(best)
    # the vocabulary counted: the words, plus the start token where the problem counts it
    vocabulary = len(g.tokens) if g.start_in_vocabulary else N
    count = torch.tensor(float(vocabulary), dtype=torch.float64) ** T
    if torch.isfinite(count):  # relative agreement: a float is close enough to N^T
        out["count"] = count
    return out


def _brute_force(
    logP: torch.Tensor, init: torch.Tensor, T: int, device: Any
) -> tuple[list[torch.Tensor], list[int], torch.Tensor]:
    """log δ_t(j) as the best over all t-word sequences ending with j, for every t; the best
    T-word sequence (ties: the smallest by its last word, then the one before, ...)."""
    N = logP.shape[0]
    log_delta = []
    for t in range(1, T + 1):
        seqs = _all_sequences(N, t, device)
        scores = _sequence_scores(seqs, logP, init)
        ends = torch.full((N,), -torch.inf, dtype=torch.float64, device=device)
        log_delta.append(ends.scatter_reduce(0, seqs[:, -1], scores, reduce="amax"))
    # enumerate with the last word varying slowest, so that "first best" is the tie rule
    reversed_seqs = _all_sequences(N, T, device).flip(1)
    scores = _sequence_scores(reversed_seqs, logP, init)
    best = _first_best(scores)
    return log_delta, [int(i) for i in reversed_seqs[best]], scores[best]


def _all_sequences(N: int, t: int, device: Any) -> torch.Tensor:
    axes = [torch.arange(N, device=device)] * t
    return torch.cartesian_prod(*axes).reshape(-1, t)


def _sequence_scores(seqs: torch.Tensor, logP: torch.Tensor, init: torch.Tensor) -> torch.Tensor:
    scores = init[seqs[:, 0]]
    for k in range(1, seqs.shape[1]):
        scores = scores + logP[seqs[:, k - 1], seqs[:, k]]
    return scores


def _recurrence(
    logP: torch.Tensor, init: torch.Tensor, T: int
) -> tuple[list[torch.Tensor], list[int], torch.Tensor]:
    """The same answers by the max-product recurrence on torch tensors (large N^T)."""
    log_delta = [init]
    for _ in range(1, T):
        log_delta.append((log_delta[-1][:, None] + logP).max(dim=0).values)
    seq = [_first_best(log_delta[-1])]
    for t in range(T - 1, 0, -1):
        seq.append(_first_best(log_delta[t - 1] + logP[:, seq[-1]]))
    return log_delta, seq[::-1], log_delta[-1][seq[0]]


def _backpointers(
    chain: Chain, logP: torch.Tensor, log_delta: list[torch.Tensor], t: int
) -> list[str]:
    """a_t(j): the first word i whose δ_{t−1}(i)·P(j | i) attains δ_t(j)."""
    if t == 1:
        return [chain.tokens[chain.start]] * chain.N
    scores = log_delta[t - 2][:, None] + logP  # [i, j]
    return [chain.name(_first_best(scores[:, j])) for j in range(chain.N)]


@crosscheck("beam_complexity")
def beam_complexity(g: Any, s: Solution, device: Any) -> Mapping[str, Any]:
    """Big-O answers have no number to recompute: compare() reports them as such."""
    return {}
