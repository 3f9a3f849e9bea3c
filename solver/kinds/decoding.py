"""Decoding a language model, worked exactly: greedy, beam search, exhaustive search, Viterbi.

A decoder scores a sequence by the sum of its tokens' conditional
log-probabilities (the log of the product of their probabilities) and looks
for the highest score with more or less search. Three kinds:

* ``lm_tree``: the model is a tree of tokens with log P(token | prefix) on its
  edges, the drawing an assignment gives. Greedy decoding, beam search with
  width B (each step as a table of candidates), exhaustive search, and
  whether Viterbi applies (only when the tree is Markov).
* ``viterbi``: the model is a Markov chain P over tokens with a start token;
  dynamic programming finds the best sequence in O(T·N²) instead of N^T. It
  is exact, in fractions, at textbook sizes; for N in the thousands it runs in
  float64, in log space, vectorized with numpy (imported only then, so that
  ``dlsolve solve`` starts fast).
* ``beam_complexity``: the cost of beam search as symbolic big-O answers.

Scores are exact (a problem's decimals are fractions), so ties are real, and
they are broken by a stated rule rather than by floating-point noise.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Annotated, Any, Literal

import sympy
from pydantic import BeforeValidator, model_validator

from .. import exact
from ..display import Add, Call, M, Mat, Mul, Num, Pow, Raw, Sym, Table, Text, eq, rel, says
from ..errors import FieldError
from ..given import Count, Dim, GivenModel, Matrix, Positive, TypeDoc
from ..parse import ParseError, parse_value
from ..solution import Key, Solution
from . import Kind, kind
from .common import plain_given, same_shape
from .softmax import TemperatureUse, scaled, softmax_row, temperature_mistake

START = "<BOS>"
MAX_TREE_NODES = 20_000
SHOWN_ROWS = 16  # rows of a candidate table before "… more"
SHOWN_WORDS = 6  # words whose δ_t(j) is worked in full; the rest are in the answers
SHOWN_TERMS = 8  # terms of a long max written out before an ellipsis
NUMERIC_ABOVE = 200_000  # method "auto": T·N² products above this run in floating point
T_SYM, N_SYM, B_SYM = exact.symbol("T"), exact.symbol("N"), exact.symbol("B")


# --------------------------------------------------------------------------- shared helpers


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1 as a < b, a = b, a > b, exactly (fast for fractions)."""
    if exact.is_rational(a) and exact.is_rational(b):
        return (a > b) - (a < b)
    return exact.sign(a - b)


def first_max(values: Sequence[Any]) -> int:
    """The index of the largest value; on a tie, the first one (the stated tie rule)."""
    best = 0
    for i in range(1, len(values)):
        if compare(values[i], values[best]) > 0:
            best = i
    return best


def all_max(values: Sequence[Any]) -> list[int]:
    """Every index that attains the largest value, in order: the ties."""
    best = values[first_max(values)]
    return [i for i, v in enumerate(values) if compare(v, best) == 0]


MAX_ALTERNATIVES = 32  # tied answers listed as alternatives (the checker accepts any)


def tie_meta(alternatives: list[Any], why: str) -> dict[str, Any]:
    """``Answer.meta`` for an answer with other, equally valid values (ties)."""
    return {"alternatives": alternatives[:MAX_ALTERNATIVES], "tie": why} if alternatives else {}


def dec(x: Any) -> Num:
    """A number the problem gives as a decimal (a log-probability), shown as one."""
    return Num(x, decimal=True)


def cond(token: str, given: str) -> Raw:
    """``P(token | given)``."""
    return Raw(
        rf"P({exact.latex_text(token)} \mid {exact.latex_text(given)})", f"P({token}|{given})"
    )


def log_p(tokens: Sequence[str]) -> Raw:
    """``log P(w₁ … w_T)`` of a whole sequence."""
    text = " ".join(tokens)
    return Raw(rf"\log P({exact.latex_text(text)})", f"log P({text})")


def big_o(value: Any) -> Raw:
    """``O(value)``, as a complexity answer is shown."""
    inner = Num(value)
    return Raw(rf"O\left({inner.latex()}\right)", f"O({inner.text()})")


def _sequence_meta(start: str) -> dict[str, Any]:
    """What the checker needs to know of a token sequence: the start token may be omitted."""
    return {"start": start}


# --------------------------------------------------------------------------- the tree model


@dataclass(eq=False)
class Node:
    """One token of an LM tree: log P(token | the tokens above it), and what may follow it.

    ``order`` is the node's position in the tree as written (top to bottom):
    it breaks ties between equal scores.
    """

    token: str
    logp: Any
    depth: int
    order: int
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)

    def __eq__(self, other: object) -> bool:
        """Two trees are equal when they have the same tokens, log-probabilities and shape
        (so a variant can be told from its source); the parent is not compared."""
        if not isinstance(other, Node):
            return NotImplemented
        return (self.token, self.logp, self.children) == (other.token, other.logp, other.children)

    def __hash__(self) -> int:
        return hash((self.token, self.logp, tuple(self.children)))

    @property
    def finished(self) -> bool:
        """A node without children ends its sequence, as generating <EOS> would."""
        return not self.children

    def path(self) -> list[Node]:
        """The nodes from the first token to this one (the root excluded)."""
        out: list[Node] = []
        node: Node | None = self
        while node is not None and node.parent is not None:
            out.append(node)
            node = node.parent
        return out[::-1]

    def tokens(self) -> list[str]:
        """The sequence this node ends, start token first."""
        return [self.root().token, *(n.token for n in self.path())]

    def root(self) -> Node:
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    def find(self, tokens: Any) -> Node | None:
        """The node a sequence of tokens leads to from this root (start token optional)."""
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            return None
        if tokens and tokens[0] == self.token:
            tokens = tokens[1:]
        node: Node | None = self
        for t in tokens:
            node = next((c for c in node.children if c.token == t), None) if node else None
        return node


def preorder(root: Node) -> Iterator[Node]:
    """Every node, top to bottom as the tree is written."""
    yield root
    for c in root.children:
        yield from preorder(c)


def leaves(root: Node) -> list[Node]:
    """The ends of complete sequences, top to bottom."""
    return [n for n in preorder(root) if n.finished and n.parent is not None]


def _dotted(where: Sequence[str]) -> str:
    return ".".join(where)


def _logp(value: Any, where: Sequence[str]) -> Any:
    """A log-probability from the file: an exact number ≤ 0."""
    try:
        x = parse_value(value)
    except ParseError as err:
        raise FieldError(str(err), _dotted(where)) from None
    if (
        isinstance(x, list)
        or not exact.is_scalar(x)
        or (isinstance(x, sympy.Basic) and x.free_symbols)
    ):
        raise FieldError("a log-probability must be a number", _dotted(where))
    if exact.sign(x) > 0:
        raise FieldError(
            f"a log-probability is at most 0 (a probability is at most 1), got {exact.unicode(x)}",
            _dotted(where),
        )
    return Fraction(x) if exact.is_rational(x) else x


def parse_tree(raw: Any) -> Node:
    """The ``tree`` field: ``{<BOS>: {children: {token: {logp, children} or logp}}}``."""
    if isinstance(raw, Node):
        return raw
    if not isinstance(raw, dict) or len(raw) != 1:
        raise FieldError(
            "must have exactly one key, the start token (such as <BOS>), whose "
            "'children' are the first tokens",
            "tree",
        )
    ((token, body),) = raw.items()
    where = ["tree", str(token)]
    if not isinstance(body, dict) or not body.get("children"):
        raise FieldError(
            f"the start token {token!r} needs 'children': the first tokens and "
            "their log-probabilities",
            _dotted(where),
        )
    _known_fields(body, where)
    if "logp" in body and _logp(body["logp"], [*where, "logp"]) != 0:
        raise FieldError(
            "the start token is given, so its log-probability is 0", _dotted([*where, "logp"])
        )
    root = Node(str(token), Fraction(0), 0, 0)
    _add_children(root, body["children"], [*where, "children"], itertools.count(1))
    return root


def _known_fields(body: dict[str, Any], where: Sequence[str]) -> None:
    for key in body:
        if key not in ("logp", "children"):
            raise FieldError(
                f"unknown field {key!r}: a token's node has 'logp' and 'children'",
                _dotted([*where, str(key)]),
            )


def _add_children(parent: Node, raw: Any, where: list[str], counter: Iterator[int]) -> None:
    if not isinstance(raw, dict) or not raw:
        raise FieldError(
            "must map each next token to its log-probability, or to {logp: ..., children: {...}}",
            _dotted(where),
        )
    for token, body in raw.items():
        here = [*where, str(token)]
        kids = None
        if isinstance(body, dict):
            _known_fields(body, here)
            if "logp" not in body:
                raise FieldError("needs 'logp': log P(token | the tokens before it)", _dotted(here))
            logp, kids = _logp(body["logp"], [*here, "logp"]), body.get("children")
        else:
            logp = _logp(body, here)
        node = Node(str(token), logp, parent.depth + 1, next(counter), parent)
        if node.order > MAX_TREE_NODES:
            raise FieldError(f"the tree has more than {MAX_TREE_NODES} tokens", "tree")
        parent.children.append(node)
        if kids:
            _add_children(node, kids, [*here, "children"], counter)
    _check_distribution(parent, where)


def _check_distribution(parent: Node, where: Sequence[str]) -> None:
    """The next-token probabilities after a prefix cannot sum to more than 1."""
    total = sum(math.exp(exact.to_float(c.logp)) for c in parent.children)
    if total > 1 + 1e-9:
        prefix = " ".join(parent.tokens())
        raise FieldError(
            f"the probabilities of the tokens after '{prefix}' sum to "
            f"{total:.4g} > 1 (the exponentials of their log-probabilities)",
            _dotted(where),
        )


def _sample_tokens(value: Any) -> Any:
    """A sample sequence as a list of tokens: a list as it is, a string split at spaces."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return list(value)
    raise FieldError("must be a sequence of tokens: a list, or one string with spaces")


SampleField = Annotated[
    list[str] | None,
    BeforeValidator(_sample_tokens),
    TypeDoc("sequence", 'tokens: ["the", "green", "ellipse"] or "the green ellipse"'),
]


TreeField = Annotated[
    Any,
    BeforeValidator(parse_tree),
    TypeDoc(
        "tree",
        "{<BOS>: {children: {token: {logp: -1.5, children: "
        "{...}}}}}; a leaf may be just its log-probability",
    ),
]


# --------------------------------------------------------------------------- scoring

#: how a hypothesis's score grows by one token: the right rule and students' other rules
SCORINGS: dict[str, tuple[Any, Callable[[Any, Any], Any]]] = {
    "sum": (Fraction(0), lambda score, logp: score + logp),
    "product": (None, lambda score, logp: logp if score is None else score * logp),
    "last": (None, lambda score, logp: logp),
    "probability_sum": (
        Fraction(0),
        lambda score, logp: exact.from_sympy(
            exact.to_sympy(score) + sympy.exp(exact.to_sympy(logp))
        ),
    ),
}


def path_score(node: Node | None, how: str = "sum") -> Any:
    """The score of the sequence that ends at ``node`` (None for no node)."""
    if node is None:
        return None
    score, step = SCORINGS[how]
    for n in node.path():
        score = step(score, n.logp)
    return score


@dataclass
class Hypothesis:
    """A prefix in the search with its score, and what became of it at its step."""

    node: Node
    score: Any
    status: str = ""

    def tokens(self) -> list[str]:
        return self.node.tokens()


def ranked(hyps: Sequence[Hypothesis], ties: int = 1) -> list[Hypothesis]:
    """Best score first; equal scores in the order the tree is written (the tie rule), or
    with ``ties=-1`` in the reverse order (the other way to break them, which is as valid)."""

    def order(a: Hypothesis, b: Hypothesis) -> int:
        return -compare(a.score, b.score) or ties * (a.node.order - b.node.order)

    return sorted(hyps, key=functools.cmp_to_key(order))


def expand(beams: Sequence[Hypothesis], how: str, ties: int = 1) -> list[Hypothesis]:
    """Every one-token extension of the open hypotheses, ranked."""
    step = SCORINGS[how][1]
    return ranked(
        [Hypothesis(c, step(h.score, c.logp)) for h in beams for c in h.node.children], ties
    )


def select(candidates: list[Hypothesis], width: int) -> list[Hypothesis]:
    """HF's rule: the best ``width`` unfinished candidates stay open; a candidate that
    finishes is kept (as finished) only if it ranks among the best ``width``."""
    kept: list[Hypothesis] = []
    open_count = 0
    for rank, c in enumerate(candidates):
        if c.node.finished and rank < width:
            c.status = "finished"
            kept.append(c)
        elif not c.node.finished and open_count < width:
            c.status = "kept"
            open_count += 1
            kept.append(c)
        else:
            c.status = "pruned"
    return kept


@dataclass
class BeamRun:
    """What beam search ends with: the best finished hypotheses, best first, and, when it
    stopped before every hypothesis finished, the best open and the worst finished one."""

    finished: list[Hypothesis]
    stopped: tuple[Hypothesis, Hypothesis] | None = None


StepHook = Callable[[int, list[Hypothesis], list[Hypothesis], list[Hypothesis]], list[Hypothesis]]


def beam_search(
    root: Node, width: int, how: str = "sum", on_step: StepHook | None = None, ties: int = 1
) -> BeamRun:
    """Beam search as HF ``generate`` runs it (see :class:`LMTree`).

    ``on_step(t, open, candidates, kept)`` sees every step and returns the
    hypotheses to carry on with: the kind writes the step and, when a student's
    own beam is given, carries on from that one instead.
    """
    beams = [Hypothesis(root, SCORINGS[how][0])]
    finished: list[Hypothesis] = []
    t = 0
    while beams:
        t += 1
        candidates = expand(beams, how, ties)
        kept = select(candidates, width)
        if on_step is not None:
            kept = on_step(t, beams, candidates, kept)
        finished = ranked([*finished, *(h for h in kept if h.node.finished)], ties)[:width]
        beams = [h for h in kept if not h.node.finished]
        if beams and len(finished) >= width and compare(beams[0].score, finished[-1].score) <= 0:
            return BeamRun(finished, (beams[0], finished[-1]))
    return BeamRun(finished)


# --------------------------------------------------------------------------- lm_tree


def tree_table(root: Node) -> Table:
    """The tree as an outline: one row per complete sequence, a shared prefix shown once."""
    depth = max((n.depth for n in preorder(root)), default=0)
    rows = []
    previous: list[Node] = []
    for leaf in leaves(root):
        path = leaf.path()
        row: list[Any] = []
        for d in range(depth):
            if d >= len(path) or (d < len(previous) and previous[d] is path[d]):
                row.append("")
            else:
                row.append(f"{path[d].token} ({_decimal(path[d].logp)})")
        rows.append(row)
        previous = path
    return Table([f"t = {d + 1}" for d in range(depth)], rows)


def _decimal(x: Any) -> str:
    return exact.decimal(x) or exact.unicode(x)


def _score_cell(h: Hypothesis, how: str) -> M:
    if how != "sum" or h.node.parent is None or h.node.parent.parent is None:
        return dec(h.score)
    return eq(Add(dec(h.score - h.node.logp), dec(h.node.logp)), dec(h.score))


def markov_witness(root: Node) -> str | None:
    """Why the tree is not a Markov chain (two equal tokens at the same step followed
    differently), or None when it is one."""
    seen: dict[tuple[int, str], Node] = {}
    for node in preorder(root):
        key = (node.depth, node.token)
        if key not in seen:
            seen[key] = node
            continue
        why = _different_continuations(seen[key], node)
        if why:
            return why
    return None


def _different_continuations(a: Node, b: Node) -> str | None:
    """The plainest difference first: what can follow at all (the shape of the tree), then
    the log-probabilities. A reconstructed figure may have invented a value, never its
    shape, so the argument should not rest on a value when the shape already settles it."""
    pa, pb = " ".join(a.tokens()), " ".join(b.tokens())
    after_a = {c.token: c.logp for c in a.children}
    after_b = {c.token: c.logp for c in b.children}
    if a.finished != b.finished:
        ends, goes = (pa, pb) if a.finished else (pb, pa)
        return f"'{ends}' ends there but '{goes}' continues"
    for x, y, px, py in ((after_a, after_b, pa, pb), (after_b, after_a, pb, pa)):
        for token in x:
            if token not in y:
                return f"'{token}' can follow '{px}' but not '{py}'"
    for token in after_a:
        if token in after_b and compare(after_a[token], after_b[token]) != 0:
            return (
                f"log P({token} | {pa}) = {_decimal(after_a[token])} but "
                f"log P({token} | {pb}) = {_decimal(after_b[token])}"
            )
    return None


#: how a beam ranks its hypotheses: the sum of log-probabilities, or a known mistake
Score = Literal["sum", "product", "probability_sum", "last"]


@kind("lm_tree")
class LMTree(Kind):
    """Greedy, beam and exhaustive decoding of a language model drawn as a tree; can Viterbi apply?

    The tree gives log P(token | prefix) on each edge; a sequence's score is the
    sum of its tokens' log-probabilities (the log of its probability).

    Rules, stated in the worked solution too:

    * Ties: of two equal scores, the hypothesis that comes first in the tree as
      written (top to bottom) wins, in greedy decoding, beam search and the
      exhaustive search alike; it plays the part of the lower token id in a
      real model's top-k.
    * A node without children ends its sequence, as generating <EOS> would, so
      trees of uneven depth are complete sequences of different lengths.
    * Beam search follows Hugging Face ``generate`` (``num_beams=B``): each step
      extends the open hypotheses by every next token and ranks the candidates;
      the best B unfinished ones stay open, and one that finishes is kept (in a
      list of the B best finished hypotheses) only if it ranks among the best B
      candidates of its step; it does not take a beam slot. The search stops
      when no hypothesis is open, or when B have finished and no open one can
      still beat the worst of them (log-probabilities are ≤ 0, so a score never
      rises). The answer is the best finished hypothesis. Scores are raw
      log-likelihoods, i.e. HF with ``length_penalty=0``; HF's default of 1
      divides a finished score by its length, which only matters when the
      finished sequences have different lengths.
    * Viterbi applies when the model is Markov: every token at the same step is
      followed by the same log-probabilities whatever came before it.
    """

    class Given(GivenModel):
        tree: TreeField
        """the model: the start token, its children with their log P(token | prefix), theirs, ..."""
        beam_width: Count = 2
        """the beam width B"""
        temperature: Positive | None = None
        """sampling with temperature T (a rational > 0): each next token is drawn with
        probability ∝ P(token | prefix)^{1/T} among the tokens the tree shows after the prefix"""
        sample: SampleField = None
        """the sequence whose probability under sampling at temperature T is asked (default:
        the greedy sequence); needs a temperature"""

        @model_validator(mode="after")
        def _sampling(self) -> LMTree.Given:
            if self.temperature is not None and not exact.is_rational(self.temperature):
                raise FieldError(
                    "must be a rational number (an integer or a fraction such as 1/2), got "
                    f"{exact.unicode(self.temperature)}",
                    "temperature",
                )
            if self.sample is None:
                return self
            if self.temperature is None:
                raise FieldError(
                    "is drawn by sampling at a temperature: give temperature too (1 samples "
                    "from the model as it is)",
                    "sample",
                )
            node = self.tree.find(self.sample)
            if node is None or node is self.tree:
                raise FieldError(
                    f"must be a path of the tree from {self.tree.token}: "
                    f"{' '.join(self.sample)!r} is not",
                    "sample",
                )
            return self

    keys = (
        Key("greedy.sequence", "sequence", "greedy decoding: the most likely next token each time"),
        Key("greedy.logp", "real", "the log-likelihood of the greedy sequence"),
        Key(
            "beam.steps[t]",
            "sequence",
            "the hypotheses beam search keeps at step t (open, and finished at that step)",
        ),
        Key("beam.sequences", "sequence", "the B best finished hypotheses of beam search"),
        Key("beam.logps", "vector", "their log-likelihoods"),
        Key("beam.sequence", "sequence", "beam search's answer: its best finished hypothesis"),
        Key("beam.logp", "real", "the log-likelihood of beam search's answer"),
        Key("best.sequence", "sequence", "the most likely complete sequence (exhaustive search)"),
        Key("best.logp", "real", "its log-likelihood"),
        Key("viterbi_applicable", "boolean", "whether the model is Markov, so Viterbi applies"),
        Key(
            "sample.probabilities[t]",
            "vector",
            "with a temperature: the distribution step t of the sample draws its next token from, "
            "∝ P(token | prefix)^{1/T} over the tokens the tree shows, in the tree's order",
        ),
        Key(
            "sample.probability",
            "real",
            "the probability that sampling at temperature T generates the sample sequence",
        ),
    )
    example = {
        "tree": {
            START: {
                "children": {
                    "the": {
                        "logp": -1.5,
                        "children": {
                            "green": {
                                "logp": -3.4,
                                "children": {"ellipse": -3.6, "rectangle": -3.3},
                            },
                            "red": {"logp": -3.1, "children": {"circle": -4.8, "rectangle": -4.5}},
                        },
                    },
                    "a": {
                        "logp": -1.8,
                        "children": {
                            "blue": {"logp": -2.5, "children": {"ellipse": -5.4, "square": -5.0}},
                            "red": {"logp": -2.7, "children": {"circle": -4.9, "square": -5.1}},
                        },
                    },
                }
            }
        },
        "beam_width": 2,
    }
    labels = {"beam_width": Sym("B")}
    misconceptions = {
        "beam search with a single beam (that is greedy decoding) instead of B beams": {"beams": 1},
        "multiplied the log-probabilities instead of adding them": {"score": "product"},
        "added the probabilities instead of the log-probabilities (multiplying probabilities)": {
            "score": "probability_sum"
        },
        "ranked hypotheses by the last token's log-probability, not the whole sequence's": {
            "score": "last"
        },
        "applied Viterbi to a model that is not Markov": {"assume_markov": True},
        "forgot to divide the log-probabilities by the temperature T": {
            "temperature_use": "ignore"
        },
        "multiplied the log-probabilities by the temperature T instead of dividing by it": {
            "temperature_use": "multiply"
        },
    }
    nice = (
        "no two hypotheses compared at any step have the same score",
        "beam search returns a different sequence from greedy decoding (B ≥ 2)",
        "the next-token probabilities after every prefix sum to at most 1",
    )

    def show_givens(self, g: Any) -> list[tuple[M, M]]:
        out = [(Sym("tree"), tree_table(g.tree)), (Sym("B"), Num(g.beam_width))]
        if g.temperature is not None:
            out.append((Sym("T"), Num(g.temperature)))
        if g.sample is not None:
            out.append((Text("sample"), Text(" ".join(g.sample))))
        return out

    def solve(
        self,
        g: Given,
        s: Solution,
        *,
        beams: int | None = None,
        score: Score = "sum",
        assume_markov: bool = False,
        temperature_use: TemperatureUse = "divide",
    ) -> None:
        T = None if g.temperature is None else Fraction(g.temperature)
        temperature_mistake(T, temperature_use != "divide")
        root = g.tree
        width = beams or g.beam_width
        s.step(
            says(
                "A sequence's log-likelihood is the sum of its tokens' conditional "
                "log-probabilities, ⟦log P(w₁ … w_T) = Σ_t log P(w_t | w₁ … w_{t−1})⟧. A token "
                "without children ends its sequence. Ties go to the hypothesis written first "
                "in the tree (top to bottom)."
            )
        )
        greedy = self.greedy(s, root, score)
        beam = self.beam(s, root, width, score)
        best = self.exhaustive(s, root, score)
        self.viterbi_applies(s, root, assume_markov)
        self.compare_decoders(s, greedy, beam, best, width, score)
        if T is not None:
            sample = root.find(g.sample) if g.sample is not None else greedy
            if sample is not None:
                others = (
                    [n for n in greedy_ends(root, score) if n is not sample]
                    if g.sample is None and not s.overrides
                    else []
                )
                self.sampling(s, sample, T, temperature_use, g.sample is None, others)

    # -- sampling with a temperature
    def sampling(
        self,
        s: Solution,
        sample: Node,
        T: Fraction,
        use: TemperatureUse,
        default: bool,
        others: Sequence[Node] = (),
    ) -> None:
        which = "the greedy sequence" if default else "the sequence"
        s.step(
            says(
                f"Sampling with temperature ⟦T = {exact.unicode(T)}⟧ draws each next token "
                "from the softmax of the log-probabilities divided by T, ⟦P_T(w | prefix) = "
                "P(w | prefix)^{1/T}/Σ_v P(v | prefix)^{1/T}⟧ over the tokens the tree shows "
                "after the prefix (the only ones it knows: top-k sampling with k of them). "
                f"The probability of drawing {which} '{' '.join(sample.tokens())}' is the "
                "product of its tokens' sampling probabilities."
            )
        )
        # another greedy sequence (a tie) is as valid a sample, with its own probabilities
        rivals = [sampling_probabilities(n, T, use) for n in others]
        why = "a tie: greedy decoding may as well give another sequence, sampled as likely"
        chosen = []
        for t, (node, probs) in enumerate(
            zip(sample.path(), sampling_probabilities(sample, T, use)[0], strict=True), start=1
        ):
            options = node.parent.children if node.parent is not None else []
            alt = [r[0][t - 1] for r in rivals if len(r[0]) >= t and r[0][t - 1] != probs]
            probs = same_shape(
                s.answer(
                    f"sample.probabilities[{t}]",
                    probs,
                    label=Raw(rf"P_T(\cdot \mid \text{{step {t}}})", f"P_T(·|step {t})"),
                    **tie_meta(alt, why),
                ),
                probs,
            )
            pick = options.index(node)
            chosen.append(probs[pick])
            prefix = " ".join(node.parent.tokens()) if node.parent is not None else ""
            s.step(
                f"Step {t}, after '{prefix}': the tokens "
                + ", ".join(f"{c.token} ({_decimal(c.logp)})" for c in options)
                + f"; divided by T and normalized, '{node.token}' is drawn with probability "
                f"{exact.unicode(probs[pick])} ≈ {exact.to_float(probs[pick]):.4g}.",
                eq(
                    Raw(rf"P_T(\cdot \mid {exact.latex_text(prefix)})", f"P_T(·|{prefix})"),
                    Mat(probs),
                ),
            )
        total = exact.from_sympy(sympy.Mul(*[exact.to_sympy(x) for x in chosen]))
        s.step(
            f"Multiplying: the probability of sampling '{' '.join(sample.tokens())}' at "
            f"T = {exact.unicode(T)}. As T → 0 sampling becomes greedy decoding (the greedy "
            "sequence gets probability 1 without ties); as T → ∞ every next token is equally "
            "likely.",
            eq(Raw(r"P_T", "P_T"), Mul(*chosen) if len(chosen) > 1 else chosen[0], total),
        )
        alt = [
            r[1] for r in rivals if not exact.is_zero(exact.to_sympy(r[1]) - exact.to_sympy(total))
        ]
        s.answer("sample.probability", total, label=Raw(r"P_T", "P_T"), **tie_meta(alt, why))

    # -- greedy
    def greedy(self, s: Solution, root: Node, how: str) -> Node | None:
        rows = []
        node = root
        while node.children:
            options = ranked([Hypothesis(c, c.logp) for c in node.children])
            choice = options[0].node
            rows.append(
                [
                    Num(node.depth + 1),
                    " ".join(node.tokens()),
                    ", ".join(f"{h.node.token} {_decimal(h.score)}" for h in options),
                    choice.token,
                ]
            )
            node = choice
        s.step(
            "Greedy decoding takes the most likely next token at every step.",
            Table(["t", "after", "log P(next | after)", "choice"], rows, align="rlll"),
        )
        others = [leaf for leaf in greedy_ends(root, how) if leaf is not node]
        why = ""
        if others:
            shown = "; ".join(" ".join(n.tokens()) for n in others[:SHOWN_ROWS])
            why = f"a tie between next tokens: greedy decoding may as well give {shown}"
            s.step(
                "Tie: at some step two next tokens are equally likely. The tie rule takes the "
                f"one written first; taking the other is as valid and gives {shown}."
            )
        seq = s.answer(
            "greedy.sequence",
            node.tokens(),
            **_sequence_meta(root.token),
            **tie_meta([n.tokens() for n in others], why),
        )
        found = root.find(seq)
        logps = [path_score(n, how) for n in others]
        logp = s.answer(
            "greedy.logp",
            path_score(found, how),
            label=log_p(seq),
            decimal=True,
            **tie_meta(
                [v for v in logps if v is not None and compare(v, path_score(found, how)) != 0],
                why,
            ),
        )
        if found is not None and how == "sum":
            s.step("Its log-likelihood:", _sum_line(found, logp))
        return found

    # -- beam search
    def beam(self, s: Solution, root: Node, width: int, how: str) -> Node | None:
        s.step(
            f"Beam search with B = {width}: at each step extend every open hypothesis by "
            f"every next token, rank the candidates by score, and keep the best {width} "
            "unfinished ones. A candidate that ends (a leaf) is finished: it is kept if it "
            f"ranks among the best {width} of its step and leaves its beam slot free, as in "
            "Hugging Face generate."
        )

        # Ties broken the other way (the hypothesis written last first) are as valid: that
        # run's steps and results are the alternatives of this one's.
        other_steps: dict[int, list[list[str]]] = {}

        def watch(t: int, beams: Any, candidates: Any, kept: list[Hypothesis]) -> Any:
            other_steps[t] = [h.tokens() for h in kept]
            return kept

        other = beam_search(root, width, how, watch, ties=-1)
        own = any(k.startswith("beam.") for k in s.overrides)
        why = "a tie between hypotheses: breaking it the other way is as valid"

        def alternative(value: Any, alt: Any) -> dict[str, Any]:
            return tie_meta([alt] if not own and alt is not None and alt != value else [], why)

        def write_step(
            t: int, beams: list[Hypothesis], candidates: list[Hypothesis], kept: list[Hypothesis]
        ) -> list[Hypothesis]:
            s.step(
                f"Beam step {t}: {len(candidates)} candidates from {len(beams)} open "
                f"{'hypothesis' if len(beams) == 1 else 'hypotheses'}.",
                _candidate_table(candidates, how),
            )
            tokens = [h.tokens() for h in kept]
            seqs = s.answer(
                f"beam.steps[{t}]",
                tokens,
                **_sequence_meta(root.token),
                **alternative(tokens, other_steps.get(t)),
            )
            if not own and other_steps.get(t) not in (None, tokens):
                s.step(
                    f"Tie at step {t}: candidates with equal scores. The tie rule keeps the one "
                    "written first; breaking the tie the other way keeps "
                    f"{'; '.join(' '.join(q) for q in other_steps[t])}, which is as valid."
                )
            return _hypotheses(root, seqs, how)

        run = beam_search(root, width, how, write_step)
        if run.stopped:
            best_open, worst = run.stopped
            s.step(
                f"{width} hypotheses have finished and the best open one "
                f"({_decimal(best_open.score)}) cannot beat the worst of them "
                f"({_decimal(worst.score)}): log-probabilities are ≤ 0, so a score never "
                "rises. Beam search stops."
            )
        s.step(
            "The finished hypotheses, best first; beam search returns the first.",
            Table(
                ["hypothesis", "log-likelihood"],
                [[" ".join(h.tokens()), dec(h.score)] for h in run.finished],
                align="lr",
            ),
        )
        alt_seqs = [h.tokens() for h in other.finished]
        alt_logps = [h.score for h in other.finished]
        seqs = s.answer(
            "beam.sequences",
            [h.tokens() for h in run.finished],
            **_sequence_meta(root.token),
            **alternative([h.tokens() for h in run.finished], alt_seqs),
        )
        logps = [path_score(root.find(q), how) for q in seqs]
        same = len(alt_logps) == len(logps) and all(
            a is not None and b is not None and compare(a, b) == 0
            for a, b in zip(alt_logps, logps, strict=True)
        )
        s.answer(
            "beam.logps",
            logps,
            decimal=True,
            **alternative(logps, None if same or None in alt_logps else alt_logps),
        )
        first = seqs[0] if seqs else None
        seq = s.answer(
            "beam.sequence",
            first,
            **_sequence_meta(root.token),
            **alternative(first, alt_seqs[0] if alt_seqs else None),
        )
        found = root.find(seq)
        score = path_score(found, how)
        alt_score = alt_logps[0] if alt_logps else None
        s.answer(
            "beam.logp",
            score,
            label=log_p(seq or []),
            decimal=True,
            **alternative(
                score,
                None
                if alt_score is None or score is None or compare(alt_score, score) == 0
                else alt_score,
            ),
        )
        return found

    # -- exhaustive search
    def exhaustive(self, s: Solution, root: Node, how: str) -> Node | None:
        complete = ranked([Hypothesis(leaf, path_score(leaf, how)) for leaf in leaves(root)])
        rows = [[" ".join(h.tokens()), _score_line(h.node, how)] for h in complete[:SHOWN_ROWS]]
        if len(complete) > SHOWN_ROWS:
            rows.append([f"… {len(complete) - SHOWN_ROWS} more, all lower", ""])
        s.step(
            f"Exhaustive search scores all {len(complete)} complete sequences and takes "
            "the most likely one.",
            Table(["sequence", "log-likelihood"], rows, align="lr"),
        )
        tied = [h for h in complete[1:] if compare(h.score, complete[0].score) == 0]
        why = ""
        if tied:
            shown = "; ".join(" ".join(h.tokens()) for h in tied[:SHOWN_ROWS])
            why = f"a tie: {shown} {'is' if len(tied) == 1 else 'are'} as likely"
            s.step(
                f"Tie: {shown} {'has' if len(tied) == 1 else 'have'} the same log-likelihood; "
                "the tie rule takes the one written first, and any of them is correct."
            )
        seq = s.answer(
            "best.sequence",
            complete[0].tokens(),
            **_sequence_meta(root.token),
            **tie_meta([h.tokens() for h in tied], why),
        )
        found = root.find(seq)
        s.answer("best.logp", path_score(found, how), label=log_p(seq), decimal=True)
        return found

    # -- Viterbi
    def viterbi_applies(self, s: Solution, root: Node, assume_markov: bool) -> None:
        why = None if assume_markov else markov_witness(root)
        if why:
            s.step(
                f"Viterbi needs a Markov model: the next token may depend on the previous "
                f"token only. This tree is not Markov: {why}. The same token is followed "
                "differently depending on what came before it, so there is no transition "
                "matrix to run Viterbi on; only search over the tree applies."
            )
        else:
            s.step(
                "Every token at the same step is followed by the same log-probabilities "
                "whatever came before it: the tree is a (time-dependent) Markov chain, so "
                "Viterbi applies and finds the most likely sequence."
            )
        s.answer("viterbi_applicable", why is None)

    def compare_decoders(
        self,
        s: Solution,
        greedy: Node | None,
        beam: Node | None,
        best: Node | None,
        width: int,
        how: str,
    ) -> None:
        if greedy is None or beam is None or best is None or how != "sum":
            return
        g, b, o = (path_score(n) for n in (greedy, beam, best))
        notes = []
        if compare(b, g) < 0:
            notes.append(
                f"beam search ({_decimal(b)}) did worse than greedy decoding "
                f"({_decimal(g)}): a wider search is not guaranteed to do better"
            )
        if best is not beam:
            t, prefix = pruned_at(best, width, how)
            where = (
                f": its prefix '{' '.join(prefix.tokens())}' was pruned at step {t}"
                if prefix is not None
                else ""
            )
            notes.append(
                f"beam search missed the most likely sequence, "
                f"'{' '.join(best.tokens())}' ({_decimal(o)}){where}"
            )
        if best is not greedy:
            notes.append("greedy decoding missed it by committing to the locally best token")
        if notes:
            text = "; ".join(notes)
            s.step(text[0].upper() + text[1:] + ".")
        else:
            s.step("All three decoders agree here.")

    # -- variants
    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        root = parse_tree(given["tree"])
        width = int(given.get("beam_width", 2))
        # sampling stays as asked: the same temperature, the same sample (the tokens stay)
        kept = {k: plain_given(given[k]) for k in ("temperature", "sample") if k in given}
        for _ in range(5000):
            raw = _random_tree(root, rng)
            new = self.Given.model_validate({"tree": raw, "beam_width": width, **kept})
            if not _tree_promises(new.tree, width):
                return {"tree": raw, "beam_width": width, **kept}
        raise ValueError(
            "this tree's shape admits no variant whose beam search differs from "
            "greedy decoding without ties"
        )

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        return _tree_promises(g.tree, g.beam_width)


def sampling_probabilities(
    node: Node, T: Fraction, use: TemperatureUse = "divide"
) -> tuple[list[list[Any]], Any]:
    """Sampling at temperature T down to ``node``: at each step the distribution over the
    prefix's children, softmax(log P/T), and the product of the drawn tokens' probabilities."""
    steps, drawn = [], []
    for n in node.path():
        assert n.parent is not None
        probs = softmax_row([scaled(c.logp, T, use) for c in n.parent.children])
        steps.append(probs)
        drawn.append(exact.to_sympy(probs[n.parent.children.index(n)]))
    return steps, exact.from_sympy(sympy.Mul(*drawn))


def greedy_ends(root: Node, how: str) -> list[Node]:
    """Where greedy decoding ends under every way of breaking its ties (the tie rule's own
    end first): at each step any of the equally likely next tokens may be taken."""
    out: list[Node] = []
    stack = [root]
    while stack and len(out) <= MAX_ALTERNATIVES:
        node = stack.pop()
        if not node.children:
            out.append(node)
            continue
        logps = [c.logp for c in node.children]
        stack += [node.children[i] for i in reversed(all_max(logps))]
    return out


def pruned_at(node: Node, width: int, how: str) -> tuple[int, Node | None]:
    """The step at which beam search dropped the prefix of ``node``, and that prefix."""
    path = node.path()
    lost: list[tuple[int, Node]] = []

    def watch(t: int, beams: Any, candidates: Any, kept: list[Hypothesis]) -> Any:
        if not lost and t <= len(path) and all(h.node is not path[t - 1] for h in kept):
            lost.append((t, path[t - 1]))
        return kept

    beam_search(node.root(), width, how, watch)
    return lost[0] if lost else (0, None)


def _hypotheses(root: Node, seqs: Any, how: str) -> list[Hypothesis]:
    """The hypotheses a list of token sequences names (those not in the tree are dropped)."""
    out = []
    for q in seqs if isinstance(seqs, list) else []:
        node = root.find(q)
        if node is not None and node is not root:
            out.append(Hypothesis(node, path_score(node, how)))
    return ranked(out)


def _candidate_table(candidates: list[Hypothesis], how: str) -> Table:
    shown = candidates
    if len(candidates) > SHOWN_ROWS:
        keep = [c for c in candidates if c.status != "pruned"]
        shown = keep + [c for c in candidates if c.status == "pruned"][: SHOWN_ROWS - len(keep)]
        shown = ranked(shown)
    rows: list[list[Any]] = [[" ".join(c.tokens()), _score_cell(c, how), c.status] for c in shown]
    if len(shown) < len(candidates):
        rows.append([f"… {len(candidates) - len(shown)} more, pruned", "", ""])
    return Table(["hypothesis", "score", ""], rows, align="lrl")


def _sum_line(node: Node, total: Any) -> M:
    return eq(Add(*[dec(n.logp) for n in node.path()]), dec(total))


def _score_line(node: Node, how: str) -> M:
    score = path_score(node, how)
    return _sum_line(node, score) if how == "sum" else dec(score)


def _random_tree(root: Node, rng: random.Random) -> dict[str, Any]:
    """The tree's shape and tokens with new one-decimal log-probabilities."""

    def children(node: Node) -> dict[str, Any]:
        out: dict[str, Any] = {}
        k = len(node.children)
        top = min(-0.2, -(math.log(k) + 0.1)) if k > 1 else -0.2
        for c in node.children:
            logp = f"{rng.randint(int(top * -10), 60) / -10:.1f}"
            out[c.token] = {"logp": logp, "children": children(c)} if c.children else logp
        return out

    return {root.token: {"children": children(root)}}


def _tree_promises(root: Node, width: int) -> list[str]:
    broken = []
    if _has_ties(root, width):
        broken.append(LMTree.nice[0])
    if width >= 2:
        greedy = root
        while greedy.children:
            greedy = ranked([Hypothesis(c, c.logp) for c in greedy.children])[0].node
        if beam_search(root, width).finished[0].node is greedy:
            broken.append(LMTree.nice[1])
    return broken


def _has_ties(root: Node, width: int) -> bool:
    """Whether any two siblings, any two candidates of a beam step, or any two complete
    sequences have the same score."""
    for node in preorder(root):
        if len({c.logp for c in node.children}) < len(node.children):
            return True
    scores = [path_score(leaf) for leaf in leaves(root)]
    if len(set(scores)) < len(scores):
        return True
    tied = False

    def look(t: int, beams: Any, candidates: list[Hypothesis], kept: Any) -> Any:
        nonlocal tied
        tied = tied or len({c.score for c in candidates}) < len(candidates)
        return kept

    beam_search(root, width, "sum", look)
    return tied


# --------------------------------------------------------------------------- viterbi


@dataclass(frozen=True)
class Chain:
    """A Markov chain over tokens: P, the start token, and the words a sequence is made of.

    The start token is a word too only if the chain can return to it (its
    column of P is not all zero); a <BOS> that only starts sequences is not.
    """

    tokens: tuple[str, ...]
    P: list[list[Any]]
    start: int
    words: tuple[int, ...]

    @staticmethod
    def of(g: Any) -> Chain:
        tokens = tuple(g.tokens)
        start = tokens.index(g.start)
        returns = any(not exact.is_zero(row[start]) for row in g.P)
        words = tuple(k for k in range(len(tokens)) if k != start or returns)
        return Chain(tokens, g.P, start, words)

    @property
    def N(self) -> int:
        return len(self.words)

    def p(self, i: int, j: int) -> Any:
        """P(word j | word i), by positions in ``words`` (i = -1: the start token)."""
        return self.P[self.start if i < 0 else self.words[i]][self.words[j]]

    def name(self, i: int) -> str:
        return self.tokens[self.start if i < 0 else self.words[i]]

    def index(self, token: Any) -> int | None:
        """The position of a word in ``words`` (None for anything else)."""
        if not isinstance(token, str) or token not in self.tokens:
            return None
        k = self.tokens.index(token)
        return self.words.index(k) if k in self.words else None

    def positions(self, seq: Any) -> list[int] | None:
        """A token sequence (start token optional) as positions in ``words``; None if it is
        not a non-empty sequence of this chain's words."""
        if not isinstance(seq, list):
            return None
        if seq and seq[0] == self.tokens[self.start]:
            seq = seq[1:]
        idx = [self.index(t) for t in seq]
        return None if not idx or None in idx else idx  # type: ignore[return-value]

    def sequence_probability(self, seq: Any, combine: str = "mul") -> Any:
        """P(w₁ … w_T | start) along a token sequence; None if it is not one of the chain's."""
        idx = self.positions(seq)
        if idx is None:
            return None
        value = self.p(-1, idx[0])
        for a, b in itertools.pairwise(idx):
            value = _combine(combine, value, self.p(a, b))
        return value


def _combine(how: str, delta: Any, p: Any) -> Any:
    return delta * p if how == "mul" else delta + p


def delta_sym(t: int, token: str) -> Raw:
    """``δ_t(token)``."""
    return Raw(
        rf"\delta_{{{t}}}({exact.latex_text(token)})",
        f"δ{str(t).translate(exact.SUBSCRIPT)}({token})",
    )


def back_sym(t: int, token: str) -> Raw:
    """``a_t(token)``, the backpointer."""
    return Raw(
        rf"a_{{{t}}}({exact.latex_text(token)})", f"a{str(t).translate(exact.SUBSCRIPT)}({token})"
    )


def _elide(items: list[Any]) -> list[Any]:
    if len(items) <= SHOWN_TERMS:
        return items
    return [*items[: SHOWN_TERMS - 2], Raw(r"\cdots", "⋯"), items[-1]]


#: δ values over all steps (T·N): each is an answer in the JSON and a number in the steps;
#: T = 1,000,000 took 68 s and 2 GB before it failed
MAX_TRELLIS = 100_000
#: digits of the count N^T (Python prints integers of at most 4,300 digits)
MAX_COUNT_DIGITS = 4_000


def _size_check(n: int, T: int) -> None:
    """Refuse a T whose trellis (T·N values) or count (N^T) is too large to show."""
    if T * n > MAX_TRELLIS:
        raise FieldError(
            f"T = {T} over N = {n} tokens means T·N = {T * n:,} values of δ, each an answer "
            f"and a step; the limit is {MAX_TRELLIS:,}",
            "T",
        )
    digits = T * math.log10(max(n, 1))
    if digits > MAX_COUNT_DIGITS:
        raise FieldError(
            f"N^T = {n}^{T} has about {int(digits) + 1:,} digits, more than the "
            f"{MAX_COUNT_DIGITS:,} a count may show",
            "T",
        )


def _chain_check(tokens: list[str], P: list[list[Any]], start: str) -> None:
    """tokens unique, start among them, P square over them, each row a distribution."""
    if not tokens:
        raise FieldError("needs at least one token", "tokens")
    for i, t in enumerate(tokens):
        if t in tokens[:i]:
            raise FieldError(f"{t!r} appears twice", "tokens", (i,))
    if start not in tokens:
        raise FieldError(f"{start!r} is not one of the tokens ({', '.join(tokens)})", "start")
    n = len(tokens)
    rows, cols = exact.shape(P)
    if (rows, cols) != (n, n):
        raise FieldError(
            f"is {rows}×{cols} but there are {n} tokens: P needs one row and one "
            "column per token, in the order of tokens",
            "P",
        )
    for i, row in enumerate(P):
        for j, v in enumerate(row):
            if exact.sign(v) < 0:
                raise FieldError(
                    f"the row of {tokens[i]!r} has a negative entry "
                    f"{exact.unicode(v)} (in the column of {tokens[j]!r}): "
                    "probabilities are ≥ 0",
                    "P",
                    (i, j),
                )
        total = exact.total(row)
        if not exact.is_zero(total - 1):
            raise FieldError(
                f"the row of {tokens[i]!r} sums to {exact.unicode(total)}, not 1: "
                "each row of P is the distribution of the next token "
                "(P must be row-stochastic)",
                "P",
                (i,),
            )


Method = Annotated[Literal["auto", "exact", "numeric"], TypeDoc("choice", "auto, exact or numeric")]


# The solve options that reproduce Viterbi's mistakes: the recursion's operation and how
# it combines probabilities, how the sequences are counted, the stated time and space.
ViterbiOp = Literal["max", "sum"]
Combine = Literal["mul", "add"]
SequenceCount = Literal["right", "other_convention", "swapped"]
ViterbiTime = Literal["dp", "exhaustive", "linear"]
ViterbiSpace = Literal["dp", "last"]


@kind("viterbi")
class Viterbi(Kind):
    """The most likely sequence of a Markov language model, by Viterbi's dynamic programme.

    δ_t(j) is the probability of the most likely sequence of t words that ends
    with j, δ_t(j) = max_i δ_{t−1}(i)·P(j | i), and the backpointer a_t(j) is
    the i that attains it. Ties go to the first token in the order of
    ``tokens``, both in a backpointer and in the last word.

    ``method: numeric`` (or ``auto`` once T·N² exceeds 200,000) runs the same
    recurrence in float64 and in log space, vectorized with numpy over N,
    for N in the thousands: its answers are floating point (``log_delta[t]``
    replaces ``delta[t]``, which would underflow), and near-ties are broken by
    floating point.
    """

    class Given(GivenModel):
        tokens: list[str]
        """the vocabulary, start token included, in the order of P's rows and columns"""
        P: Matrix
        """P[i][j] = P(tokens[j] | tokens[i]): each row is a distribution (exact numbers)"""
        start: str = START
        """the token every sequence starts with; its row of P gives the first word"""
        T: Count
        """the number of words after the start token"""
        start_in_vocabulary: bool = False
        """whether the N words of the count include the start token, as IFT6135 says ("a
        vocabulary of N words, <BOS> included"); then N^T also counts sequences that repeat
        it, though only those of the other words have nonzero probability"""
        method: Method = "auto"
        """exact (fractions), numeric (float64, log space, numpy), or auto: numeric past
        T·N² = 200,000"""

        @model_validator(mode="after")
        def _check(self) -> Viterbi.Given:
            _chain_check(self.tokens, self.P, self.start)
            _size_check(len(self.tokens), self.T)
            return self

    keys = (
        Key(
            "count",
            "integer",
            "the number of sequences of T words after the start token: N^T (N counts the start "
            "token when start_in_vocabulary is true)",
        ),
        Key(
            "delta[t]",
            "vector",
            "δ_t(j): the probability of the best t-word sequence ending with word j (exact path)",
        ),
        Key("log_delta[t]", "vector", "log δ_t(j) (numeric path, floating point)"),
        Key("backpointers[t]", "sequence", "a_t(j): the previous word on that best sequence"),
        Key("sequence", "sequence", "the most likely sequence, start token first"),
        Key("probability", "real", "its probability"),
        Key("log_probability", "real", "its log-probability"),
        Key("time", "complexity", "the time of Viterbi decoding"),
        Key("space", "complexity", "the memory of Viterbi decoding"),
    )
    example = {
        "tokens": [START, "a", "b"],
        "P": [[0, "1/3", "2/3"], [0, "1/4", "3/4"], [0, "3/5", "2/5"]],
        "start": START,
        "T": 3,
    }
    misconceptions = {
        "summed over the previous word (the forward algorithm) instead of maximizing": {
            "op": "sum"
        },
        "added the transition probabilities instead of multiplying them": {"combine": "add"},
        "forgot the backpointers: took the best word of each δ_t on its own": {"backtrack": False},
        "counted the start token among the N words, or left it out, against the problem's "
        "convention": {"count": "other_convention"},
        "counted T^N sequences instead of N^T": {"count": "swapped"},
        "exhaustive search's time O(N^T) instead of the dynamic programme's O(T·N²)": {
            "time": "exhaustive"
        },
        "forgot the max over the N previous words: time O(T·N)": {"time": "linear"},
        "kept only the last δ, forgetting that the T·N backpointers are stored: space O(N)": {
            "space": "last"
        },
    }
    nice = (
        "no ties: every max in δ_t(j), and the largest entry of every δ_t, is attained once",
        "forgetting the backpointers (the best word of each δ_t on its own) gives a "
        "different sequence",
        "P has small denominators (at most 10)",
    )

    def show_givens(self, g: Any) -> list[tuple[M, M]]:
        shown = super().show_givens(g)
        return (
            shown
            if g.method != "auto"
            else [(label, value) for label, value in shown if label.text() != "method"]
        )

    def solve(
        self,
        g: Given,
        s: Solution,
        *,
        op: ViterbiOp = "max",
        combine: Combine = "mul",
        backtrack: bool = True,
        count: SequenceCount = "right",
        time: ViterbiTime = "dp",
        space: ViterbiSpace = "dp",
    ) -> None:
        chain = Chain.of(g)
        self.count(s, chain, g.T, count, g.start_in_vocabulary)
        numeric = g.method == "numeric" or (g.method == "auto" and g.T * chain.N**2 > NUMERIC_ABOVE)
        if numeric:
            why = (
                "method: numeric was asked for"
                if g.method == "numeric"
                else f"T·N² = {g.T * chain.N**2:,} products is more than exact fractions should "
                f"take (the limit is {NUMERIC_ABOVE:,})"
            )
            solve_numeric(s, chain, g.T, why)
        else:
            deltas, backs, ties = self.recurrence(s, chain, g.T, op, combine)
            self.decode(s, chain, deltas, backs, combine, backtrack, ties)
        self.complexity(s, chain, g.T, time, space)

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        """The same tokens, start and T with a new P: the start token's column stays as it
        was (zero when the start token only starts sequences), every other entry positive."""
        g = self.Given.model_validate(dict(given))
        chain = Chain.of(g)
        n = len(g.tokens)
        for _ in range(5000):
            P = [_random_row(chain.words, n, rng) for _ in range(n)]
            raw = {**dict(given), "P": P}
            new = self.Given.model_validate(raw)
            s = self.new_solution()
            self.solve(new, s)
            if new.P != g.P and not self.broken_promises(new, s):
                return raw
        raise ValueError("no variant of this chain without ties was found")

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        return _viterbi_promises(Chain.of(g), g.T, s)

    def count(
        self,
        s: Solution,
        chain: Chain,
        T: int,
        how: SequenceCount,
        start_in_vocabulary: bool = False,
    ) -> None:
        start = chain.tokens[chain.start]
        separate = chain.start not in chain.words  # the start token only starts sequences
        include = start_in_vocabulary and separate
        N = chain.N + include
        shown = [*([start] if include else []), *(chain.name(i) for i in range(chain.N))]
        words = ", ".join(shown[:SHOWN_WORDS]) + (", …" if len(shown) > SHOWN_WORDS else "")
        if include:
            only = (
                f" As the problem counts them, the vocabulary includes {start}, so any of these "
                "N words may fill a position."
            )
        elif separate:
            only = (
                f" {start} only starts a sequence (its column of P is 0), so it is not one of them."
            )
        else:
            only = ""
        # the other convention: the start token counted in when it is out, left out when in
        n = (N - 1 if include else N + 1) if how == "other_convention" else N
        value = T**n if how == "swapped" else n**T
        s.step(
            says(
                f"There are ⟦N = {N}⟧ words ({words}).{only} Each of the ⟦T = {T}⟧ positions "
                f"after {start} holds any of the N words, so there are ⟦N^T⟧ sequences."
            ),
            eq(
                Sym("N", sup="T"),
                Raw(f"{n}^{{{T}}}", f"{n}^{T}") if how == "swapped" else Pow(n, T),
                value,
            ),
        )
        if include:
            k = chain.N
            s.step(
                says(
                    f"Only the sequences without {start} after the start have nonzero "
                    f"probability (its column of P is 0): ⟦{k}^{T} = {k**T}⟧ of the {value}."
                ),
            )
        s.answer("count", value, label=Sym("N", sup="T"))

    def recurrence(
        self, s: Solution, chain: Chain, T: int, op: str, combine: str
    ) -> tuple[list[list[Any]], list[list[str]], list[list[list[int]]]]:
        """δ_t and a_t for t = 1 … T, as steps and answers; returns both (as carried on),
        and for each t and word j every previous word that attains δ_t(j) (the ties)."""
        start = chain.tokens[chain.start]
        how = "max" if op == "max" else "sum"
        s.step(
            says(
                f"Viterbi: ⟦δ_t(j)⟧, the probability of the most likely t-word sequence ending "
                f"with j, satisfies ⟦δ_t(j) = {how}_i δ_{{t−1}}(i)·P(j | i)⟧, with "
                f"⟦δ_1(j) = P(j | {start})⟧; the backpointer ⟦a_t(j)⟧ records the i that "
                "attains the max. Ties go to the first word in the order of the tokens."
            )
        )
        first = [chain.p(-1, j) for j in range(chain.N)]
        s.step(
            f"t = 1: the first word follows {start}.",
            *[
                eq(delta_sym(1, chain.name(j)), cond(chain.name(j), start), first[j])
                for j in range(min(chain.N, SHOWN_WORDS))
            ],
        )
        carried = s.answer("delta[1]", first, label=Sym("delta", 1))
        deltas = [carried if _numbers(carried) and len(carried) == chain.N else first]
        backs = [s.answer("backpointers[1]", [start] * chain.N, label=Sym("a", 1))]
        ties: list[list[list[int]]] = [[[-1]] * chain.N]  # t = 1: every word follows start
        for t in range(2, T + 1):
            values, pointers, lines = [], [], []
            tied: list[list[int]] = []
            for j in range(chain.N):
                terms = transition_terms(chain, deltas[-1], j, combine)
                best = first_max(terms)
                tied.append(all_max(terms) if op == "max" else [best])
                values.append(terms[best] if op == "max" else exact.total(terms))
                pointers.append(chain.name(best))
                if j < SHOWN_WORDS:
                    lines.append(
                        self._delta_line(
                            chain, t, j, deltas[-1], terms, values[-1], pointers[-1], op, combine
                        )
                    )
            s.step(
                f"t = {t}: for each word j, the best way to reach it from a word of step {t - 1}.",
                *lines,
            )
            if chain.N > SHOWN_WORDS:
                s.step(
                    f"The other {chain.N - SHOWN_WORDS} words are computed the same way; "
                    "all values are in the answers."
                )
            carried = s.answer(f"delta[{t}]", values, label=Sym("delta", t))
            deltas.append(carried if _numbers(carried) and len(carried) == chain.N else values)
            ties.append(tied)
            why = self._tie_step(s, chain, t, tied)
            # each word's backpointer may take any of its tied words, independently
            others = [[chain.name(i) for i in ix[1:]] for ix in tied]
            meta = {"entry_alternatives": others, "tie": why} if why else {}
            backs.append(s.answer(f"backpointers[{t}]", pointers, label=Sym("a", t), **meta))
        return deltas, backs, ties

    def _tie_step(self, s: Solution, chain: Chain, t: int, tied: list[list[int]]) -> str:
        """Say where a max of step t is attained more than once; returns the reason."""
        at = [(j, ix) for j, ix in enumerate(tied) if len(ix) > 1]
        if not at:
            return ""
        said = "; ".join(
            f"δ_{t}({chain.name(j)}) is attained from {', '.join(chain.name(i) for i in ix)}"
            for j, ix in at[:SHOWN_WORDS]
        )
        s.step(
            f"Ties at t = {t}: {said}. The backpointer takes the first in the order of the "
            "tokens; the others are as correct."
        )
        return f"a tie at t = {t}: {said}, and any of them is a correct backpointer"

    def _delta_line(
        self,
        chain: Chain,
        t: int,
        j: int,
        prev: list[Any],
        terms: list[Any],
        value: Any,
        pointer: str,
        op: str,
        combine: str,
    ) -> M:
        name = chain.name(j)
        fn = "max" if op == "max" else "Σ"
        times = Mul if combine == "mul" else Add
        symbolic = [
            times(delta_sym(t - 1, chain.name(i)), cond(name, chain.name(i)))
            for i in range(chain.N)
        ]
        numbers = [times(prev[i], chain.p(i, j)) for i in range(chain.N)]
        line = eq(
            delta_sym(t, name),
            Call(fn, *_elide(symbolic)),
            Call(fn, *_elide(numbers)),
            Call(fn, *_elide(terms)),
            value,
        )
        return rel(line, "=>", eq(back_sym(t, name), Text(pointer)))

    def decode(
        self,
        s: Solution,
        chain: Chain,
        deltas: list[list[Any]],
        backs: list[list[str]],
        combine: str,
        backtrack: bool,
        ties: list[list[list[int]]] | None = None,
    ) -> None:
        T = len(deltas)
        last = first_max(deltas[-1]) if _numbers(deltas[-1]) else 0
        start = chain.tokens[chain.start]
        others: list[list[str]] = []
        if backtrack:
            path = backtrack_path(chain, backs, last)
            own = any(k.startswith("backpointers[") for k in s.overrides)
            if ties is not None and not own and _numbers(deltas[-1]) and None not in path:
                tied = tied_paths(
                    T, lambda t, j: ties[t - 1][j], all_max(deltas[-1]), MAX_ALTERNATIVES + 1
                )
                others = [
                    [start, *(chain.name(i) for i in p)]
                    for p in tied
                    if [chain.name(i) for i in p] != path
                ]
            s.step(
                says(
                    f"The best sequence ends with the word of largest ⟦δ_{T}⟧: "
                    f"{chain.name(last)}. Follow the backpointers back to the start."
                ),
                eq(Raw(r"P^*", "P*"), Call("max", *_elide(list(deltas[-1]))), deltas[-1][last]),
                eq(Sym("w", T), Text(chain.name(last))),
                *[
                    eq(Sym("w", t - 1), back_sym(t, path[t - 1]), Text(path[t - 2]))
                    for t in range(T, 1, -1)
                    if None not in path[t - 2 : t]
                ],
            )
        else:
            path = [chain.name(first_max(d)) if _numbers(d) else None for d in deltas]
            s.step(
                says("The best word of each ⟦δ_t⟧, taken on its own."),
                *[eq(Sym("w", t), Text(str(w))) for t, w in enumerate(path, start=1)],
            )
        why = ""
        if others:
            shown = "; ".join(" ".join(q) for q in others[:SHOWN_WORDS])
            more = f" and {len(others) - SHOWN_WORDS} more" if len(others) > SHOWN_WORDS else ""
            why = f"a tie: {shown}{more} {'is' if len(others) == 1 else 'are'} as likely"
            s.step(
                f"Tie: {start} {' '.join(map(str, path))} is not the only most likely "
                f"sequence; {shown}{more} {'has' if len(others) == 1 else 'have'} the same "
                "probability. The tie rule (the first word in the order of the tokens) picks "
                "the one above, and any of them is correct."
            )
        seq = s.answer(
            "sequence",
            None if None in path else [start, *path],
            **_sequence_meta(start),
            **tie_meta(others, why),
        )
        prob = s.answer(
            "probability", chain.sequence_probability(seq, combine), label=Raw(r"P^*", "P*")
        )
        if prob is not None and isinstance(seq, list):
            words = seq[1:] if seq and seq[0] == start else seq
            factors = [cond(w, p) for p, w in itertools.pairwise([start, *words])]
            s.step(
                "Its probability is the product of its transitions.",
                eq(
                    Raw(rf"P({exact.latex_text(' '.join(seq))})", f"P({' '.join(seq)})"),
                    Mul(*factors),
                    prob,
                ),
            )
        s.answer("log_probability", _log(prob), label=Raw(r"\log P^*", "log P*"))

    def complexity(self, s: Solution, chain: Chain, T: int, time: str, space: str) -> None:
        time_value = {"dp": T_SYM * N_SYM**2, "exhaustive": N_SYM**T_SYM, "linear": T_SYM * N_SYM}[
            time
        ]
        space_value = {"dp": T_SYM * N_SYM, "last": N_SYM}[space]
        s.step(
            says(
                "Time: each of the T steps computes, for each of the N words, a max over N "
                f"products, so ⟦O(T·N²)⟧ operations (here ⟦{T}·{chain.N}² = {T * chain.N**2}⟧), "
                "against ⟦N^T⟧ sequences for exhaustive search. Space: the ⟦T·N⟧ backpointers "
                "(and ⟦δ_{t−1}⟧, N numbers) are stored, so ⟦O(T·N)⟧."
            )
        )
        s.answer("time", time_value)
        s.answer("space", space_value)


def transition_terms(chain: Chain, prev: list[Any], j: int, combine: str = "mul") -> list[Any]:
    """δ_{t−1}(i)·P(j | i) for every word i: what δ_t(j) is the max of."""
    return [_combine(combine, prev[i], chain.p(i, j)) for i in range(chain.N)]


def _random_row(words: Sequence[int], size: int, rng: random.Random) -> list[str]:
    """A distribution over ``words`` (positions in a row of ``size``) with one small
    denominator and no zero entry, as strings such as "3/10"."""
    d = rng.randint(max(len(words), 2), 10)
    cuts = sorted(rng.sample(range(1, d), len(words) - 1))
    parts = [b - a for a, b in itertools.pairwise([0, *cuts, d])]
    row = ["0"] * size
    for k, part in zip(words, parts, strict=True):
        row[k] = exact.fmt(Fraction(part, d))
    return row


def _viterbi_promises(chain: Chain, T: int, s: Solution) -> list[str]:
    broken = []
    deltas = [s[f"delta[{t}]"] for t in range(1, T + 1)] if "delta[1]" in s.answers else []
    tied = any(
        _tie(transition_terms(chain, deltas[t - 2], j))
        for t in range(2, T + 1)
        for j in range(chain.N)
    ) or any(map(_tie, deltas))
    if tied or not deltas:
        broken.append(Viterbi.nice[0])
    if not deltas or [chain.name(first_max(d)) for d in deltas] == s["sequence"][1:]:
        broken.append(Viterbi.nice[1])
    if any(Fraction(v).denominator > 10 for row in chain.P for v in row):
        broken.append(Viterbi.nice[2])
    return broken


def _tie(values: list[Any]) -> bool:
    best = values[first_max(values)]
    return sum(1 for v in values if compare(v, best) == 0) > 1


def _numbers(values: Any) -> bool:
    return isinstance(values, list) and bool(values) and all(exact.is_scalar(v) for v in values)


def _log(p: Any) -> Any:
    """log p, exactly (−∞ for 0)."""
    if p is None:
        return None
    if exact.is_zero(p):
        return sympy.S.NegativeInfinity
    return sympy.log(exact.to_sympy(p))


def tied_paths(
    T: int, tied: Callable[[int, int], list[int]], lasts: list[int], limit: int
) -> list[list[int]]:
    """Every best sequence (as word positions), through every tied backpointer
    (``tied(t, j)``: the previous words that attain δ_t(j)), from every tied last word; at
    most ``limit`` of them, the tie rule's own first."""
    out: list[list[int]] = []
    # a stack of partial paths from the end: (t of the earliest word so far, word, rest)
    stack: list[tuple[int, int, Any]] = [(T, j, None) for j in reversed(lasts)]
    while stack and len(out) < limit:
        t, j, rest = stack.pop()
        if t == 1:
            path, node = [j], rest
            while node is not None:
                path.append(node[0])
                node = node[1]
            out.append(path)
            continue
        for i in reversed(tied(t, j)):
            stack.append((t - 1, i, (j, rest)))
    return out


def backtrack_path(chain: Chain, backs: list[list[str]], last: int) -> list[str | None]:
    """w_T, then w_{t−1} = a_t(w_t) back to w_1; None where a backpointer is not a word."""
    T = len(backs)
    path: list[str | None] = [None] * T
    path[-1] = chain.name(last)
    for t in range(T, 1, -1):
        here = chain.index(path[t - 1])
        pointers = backs[t - 1]
        if here is None or not isinstance(pointers, list) or here >= len(pointers):
            break
        path[t - 2] = pointers[here] if chain.index(pointers[here]) is not None else None
    return path


# --------------------------------------------------------------------------- numeric Viterbi


def viterbi_log_space(logP: Any, init: Any, T: int, block: int = 64) -> tuple[Any, Any]:
    """log δ_t for t = 1 … T and the backpointers, in float64 with numpy.

    ``logP[i, j] = log P(j | i)`` over the N words, ``init[j] = log P(j | start)``.
    Returns ``(log_delta, back)`` of shape [T, N] (back[0] is unused). Each step
    adds log δ_{t−1} to every row of logPᵀ and takes each row's max, and as backpointer
    the first entry within the tie width of it (the exact path's tie rule): O(N²) work per
    step, done by numpy in blocks of rows small enough to stay in cache for both passes.
    numpy is imported here, not at the top, so that ``dlsolve`` starts fast.
    """
    import numpy as np

    logPT = np.ascontiguousarray(np.asarray(logP, dtype=np.float64).T)
    N = logPT.shape[0]
    log_delta = np.empty((T, N))
    back = np.zeros((T, N), dtype=np.int64)
    log_delta[0] = init
    rows = min(block, N)
    buf, near = np.empty((rows, N)), np.empty((rows, N), dtype=bool)
    floor = np.empty(rows)
    for t in range(1, T):
        for lo in range(0, N, block):
            hi = min(N, lo + block)
            scores, top, low = buf[: hi - lo], log_delta[t, lo:hi], floor[: hi - lo]
            np.add(logPT[lo:hi], log_delta[t - 1], out=scores)
            scores.max(axis=1, out=top)
            # a tie within rounding goes to the first word: the first score ≥ max − width
            np.abs(top, out=low)
            np.maximum(low, 1.0, out=low)
            low *= -NUMERIC_TIE
            low += top
            np.greater_equal(scores, low[:, None], out=near[: hi - lo])
            back[t, lo:hi] = near[: hi - lo].argmax(axis=1)
    return log_delta, back


NUMERIC_TIE = 1e-9  # log-scores this close (relative, at least absolute) are a tie


def _tie_width(top: Any) -> Any:
    """How far below the max a float64 log-score still ties with it: rounding over many
    steps makes exactly tied sums differ in their last bits, and a tie goes to the first
    word, as on the exact path (and in the PyTorch cross-check)."""
    import numpy as np

    with np.errstate(invalid="ignore"):
        return NUMERIC_TIE * np.maximum(1.0, np.abs(top))


def _first_best(values: Any) -> int:
    """The first index within the tie width of the maximum."""
    import numpy as np

    top = values.max()
    return int(np.argmax(values >= top - _tie_width(top)))


def _numeric_tied(values: Any) -> list[int]:
    import numpy as np

    top = values.max()
    return [int(i) for i in np.flatnonzero(values >= top - _tie_width(top))]


def log_matrix(P: Any) -> Any:
    """log of a probability matrix in float64 (log 0 = −∞, without a warning)."""
    import numpy as np

    with np.errstate(divide="ignore"):
        return np.log(np.asarray(P, dtype=np.float64))


def _float(x: float) -> Any:
    """A floating-point answer: a sympy Float (−∞ stays −∞), never taken for exact."""
    return sympy.Float(x) if math.isfinite(x) else sympy.S.NegativeInfinity


def solve_numeric(s: Solution, chain: Chain, T: int, why: str) -> None:
    """Viterbi in float64 and log space: steps, then answers that are floating point."""
    import numpy as np

    P = np.array(
        [[exact.to_float(chain.p(i, j)) for j in range(chain.N)] for i in range(-1, chain.N)]
    )
    logP = log_matrix(P)
    log_delta, back = viterbi_log_space(logP[1:], logP[0], T)
    N = chain.N
    s.step(
        says(
            f"{why[0].upper() + why[1:]}, so Viterbi runs numerically: in floating "
            "point (float64), in log space so that nothing underflows, ⟦log δ_t(j) = "
            "max_i [log δ_{t−1}(i) + log P(j | i)]⟧, vectorized over i and j with numpy. The "
            "values below are floating point, not exact; near-ties are decided by rounding."
        )
    )
    for t in range(1, T + 1):
        s.answer(
            f"log_delta[{t}]",
            [_float(v) for v in log_delta[t - 1]],
            label=Raw(rf"\log\delta_{{{t}}}", f"log δ{str(t).translate(exact.SUBSCRIPT)}"),
        )
        pointers = (
            [chain.tokens[chain.start]] * N if t == 1 else [chain.name(i) for i in back[t - 1]]
        )
        s.answer(f"backpointers[{t}]", pointers, label=Sym("a", t))
    top = np.argsort(-log_delta[-1], kind="stable")[:SHOWN_WORDS]
    s.step(
        f"The words with the largest log δ_{T} (of {N}).",
        Table(
            ["word", f"log δ_{T}", f"a_{T}"],
            [
                [
                    chain.name(int(j)),
                    Num(_float(log_delta[-1][j])),
                    chain.name(int(back[-1][j])) if T > 1 else chain.tokens[chain.start],
                ]
                for j in top
            ],
            align="lrl",
        ),
    )
    last = _first_best(log_delta[-1])
    path = [last]
    for t in range(T - 1, 0, -1):
        path.append(int(back[t][path[-1]]))
    start = chain.tokens[chain.start]
    words = [chain.name(i) for i in reversed(path)]
    s.step(
        f"Backtrack from the best last word, {words[-1]}, through the backpointers. Log-scores "
        f"within {NUMERIC_TIE:g} (relative) of the max count as a tie, which goes to the first "
        "word in the order of the tokens, as on the exact path."
    )
    logPw = logP[1:]
    others = [
        [start, *(chain.name(i) for i in p)]
        for p in tied_paths(
            T,
            lambda t, j: _numeric_tied(log_delta[t - 2] + logPw[:, j]),
            _numeric_tied(log_delta[-1]),
            MAX_ALTERNATIVES + 1,
        )
        if [chain.name(i) for i in p] != words
    ]
    why = ""
    if others:
        why = f"a tie: {len(others)} other sequence{'s' if len(others) > 1 else ''} as likely"
        s.step(
            f"Tie: {' '.join(others[0])}"
            + (f" and {len(others) - 1} more" if len(others) > 1 else "")
            + " score the same (within rounding); any of them is correct."
        )
    seq = s.answer("sequence", [start, *words], **_sequence_meta(start), **tie_meta(others, why))
    logp = _sequence_log_probability(chain, seq, logP)
    s.answer(
        "log_probability",
        _float(logp) if logp is not None else None,
        label=Raw(r"\log P^*", "log P*"),
    )
    prob = (
        sympy.exp(sympy.Float(logp))
        if logp is not None and math.isfinite(logp)
        else (None if logp is None else 0)
    )
    s.step(
        "Its log-probability and probability (floating point; the probability is formed "
        "from the log without underflow).",
        eq(Raw(r"\log P^*", "log P*"), Num(_float(logp) if logp is not None else None)),
        eq(Raw(r"P^*", "P*"), Num(prob)),
    )
    s.answer("probability", prob, label=Raw(r"P^*", "P*"))


def _sequence_log_probability(chain: Chain, seq: Any, logP: Any) -> float | None:
    idx = chain.positions(seq)
    if idx is None:
        return None
    total = float(logP[0][idx[0]])
    for a, b in itertools.pairwise(idx):
        total += float(logP[a + 1][b])
    return total


# --------------------------------------------------------------------------- beam_complexity


#: the search whose cost is stated: beam search's, or greedy or exhaustive search's by mistake
BeamTime = Literal["beam", "greedy", "exhaustive"]
#: what beam search keeps: B hypotheses, or every step's candidates by mistake
BeamSpace = Literal["beam", "all_candidates"]


@kind("beam_complexity")
class BeamComplexity(Kind):
    """The time and memory of beam search with width B over N words for T steps, in big-O."""

    class Given(GivenModel):
        T: Dim = T_SYM
        """the number of decoding steps (a symbol, or a number)"""
        B: Dim = B_SYM
        """the beam width"""
        N: Dim = N_SYM
        """the vocabulary size"""

    keys = (
        Key("time_sort", "complexity", "time when the B·N candidates of a step are sorted"),
        Key("time_select", "complexity", "time when the best B are selected without sorting"),
        Key("space", "complexity", "memory: the step's candidates and the kept hypotheses"),
    )
    example = {"T": "T", "B": "B", "N": "N"}
    misconceptions = {
        "greedy decoding's cost: forgot the B beams": {"time": "greedy"},
        "exhaustive search's O(N^T) instead of beam search's": {"time": "exhaustive"},
        "forgot the log factor of sorting the B·N candidates": {"sort_log": False},
        "kept every step's candidates: space O(T·B·N)": {"space": "all_candidates"},
    }
    nice = ("the three symbols are different letters",)

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        """The same question in other letters (L for the length, K for the width, V for
        the vocabulary, ...)."""
        letters = {"T": ("T", "L", "n"), "B": ("B", "K", "k"), "N": ("N", "V", "d")}
        source = {name: str(given.get(name, name)) for name in letters}
        choices = [
            dict(zip(letters, combo, strict=True)) for combo in itertools.product(*letters.values())
        ]
        choices = [c for c in choices if c != source and len(set(c.values())) == 3]
        return dict(rng.choice(choices))

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        return [] if len({str(g.T), str(g.B), str(g.N)}) == 3 else [self.nice[0]]

    def solve(
        self,
        g: Given,
        s: Solution,
        *,
        time: BeamTime = "beam",
        sort_log: bool = True,
        space: BeamSpace = "beam",
    ) -> None:
        T, B, N = g.T, g.B, g.N
        s.step(
            says(
                "Each step extends each of the B kept hypotheses by each of the N words: ⟦B·N⟧ "
                "candidate scores, one addition each (the model's next-token log-probabilities "
                "are taken as given)."
            ),
            eq(Raw(r"\text{candidates}", "candidates"), Mul(B, N)),
        )
        per_step_sort = B * N * sympy.log(B * N) if sort_log else B * N
        sort_total = {
            "beam": T * per_step_sort,
            "greedy": T * N * sympy.log(N),
            "exhaustive": N**T,
        }[time]
        s.step(
            says("Sorting the ⟦B·N⟧ candidates costs ⟦O(B·N·log(B·N))⟧ per step; over T steps:"),
            big_o(sort_total),
        )
        s.answer("time_sort", sort_total)
        select_total = {"beam": T * B * N, "greedy": T * N, "exhaustive": N**T}[time]
        s.step(
            says(
                "Only the best B are needed, not their order among the rest: a selection "
                "algorithm (quickselect, as torch.topk or numpy.argpartition do) finds them in "
                "⟦O(B·N)⟧ per step (a heap of size B in ⟦O(B·N·log B)⟧); over T steps:"
            ),
            big_o(select_total),
        )
        s.answer("time_select", select_total)
        space_total = {"beam": B * (N + T), "all_candidates": T * B * N}[space]
        s.step(
            says(
                "Memory: the ⟦B·N⟧ candidate scores of the current step, and the B kept "
                "hypotheses of up to T tokens each (or ⟦T·B⟧ backpointers): ⟦O(B·N + B·T)⟧."
            ),
            big_o(space_total),
        )
        s.answer("space", space_total)
