"""Transition-based dependency parsing by hand: the arc-standard table of a sentence.

CS224n's written assignment on neural dependency parsing asks students to "go through the
sequence of transitions needed for parsing the sentence", giving at each step the stack, the
buffer, the transition applied and the dependency it adds, and then to say in how many steps
a sentence of n words is parsed, and why. The system is arc-standard: the stack starts as
[ROOT] and the buffer holds the sentence;

* SHIFT moves the first word of the buffer onto the stack;
* LEFT-ARC makes the top of the stack the head of the word below it, and removes that word;
* RIGHT-ARC makes the word below the top the head of the top, and removes the top.

Given the sentence and its gold tree (each word's head, ROOT = 0), the kind writes the table
the usual oracle produces (reduce as soon as the tree allows it). That is not the only right
table: an arc whose dependent is finished may often wait while later words are shifted and
attached, and every such order builds the same tree. So a student's table is never compared
row by row with the oracle's. The checker *runs the student's own transitions*
(:meth:`TransitionParse.grade`): a transition is right when, from the configuration the
student's own earlier transitions reached, it still builds every arc of the tree that can
still be built (a dynamic oracle, found by exhaustive search over the few configurations of a
short sentence), and a stack, buffer or dependency is right when it is what that step gives.
One wrong step therefore costs its own row, not every row after it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Annotated, Any, Literal, NamedTuple

import sympy
from pydantic import model_validator

from .. import exact
from ..compare import Match
from ..display import Table, Text
from ..errors import FieldError
from ..given import GivenModel, TypeDoc
from ..solution import Key, Solution
from ..vocab import Word
from . import Kind, kind

#: the longest sentence a problem may have: the checker searches the configurations a
#: student's transitions can reach, about 2^n of them after a mistake
MAX_WORDS = 10
ROOT = 0
#: configurations the grader keeps per step while it follows a student's parse
BEAM = 256
#: characters of a transition or dependency worth reading (a longer one is neither)
MAX_ENTRY = 200
ROOT_WORD = "ROOT"


class Move(Word):
    """An arc-standard transition, as CS224n names them."""

    SHIFT = "SHIFT"
    LEFT = "LEFT-ARC"
    RIGHT = "RIGHT-ARC"


#: the usual oracle's preference: reduce as soon as possible, left before right
MOVES = (Move.LEFT, Move.RIGHT, Move.SHIFT)

# The mistakes the checker names, in one place: the kind's misconceptions (solve options
# that make the whole table with the mistake) and the grader's per-step diagnoses use them.
SWAPPED = "LEFT-ARC and RIGHT-ARC swapped (the direction of the arc)"
NO_ROOT = "ROOT forgotten on the stack"
EARLY_RIGHT_ARC = "RIGHT-ARC taken before the dependent's own dependents are attached"
ARROW_REVERSED = "a dependency written dependent → head"

Arc = tuple[int, int]  # (head, dependent); the head may be ROOT


# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Tree:
    """A sentence with its gold tree: ``words[0]`` is ROOT, ``heads[i]`` the head of word i."""

    words: tuple[str, ...]
    heads: tuple[int, ...]
    labels: tuple[str, ...] | None = None

    @property
    def n(self) -> int:
        return len(self.words) - 1

    @cached_property
    def dependents(self) -> tuple[tuple[int, ...], ...]:
        out: list[list[int]] = [[] for _ in self.words]
        for d in range(1, self.n + 1):
            out[self.heads[d]].append(d)
        return tuple(tuple(x) for x in out)

    def gold(self, arc: Arc | None) -> bool:
        return arc is not None and arc[1] != ROOT and self.heads[arc[1]] == arc[0]

    def label(self, d: int) -> str | None:
        return self.labels[d] if self.labels is not None and d != ROOT else None

    def arc_text(self, arc: Arc, *, labelled: bool = True, reverse: bool = False) -> str:
        """``parsed → I`` (with the tree's label where it has one: ``parsed → I (nsubj)``)."""
        h, d = arc
        first, second = (d, h) if reverse else (h, d)
        text = f"{self.words[first]} → {self.words[second]}"
        lab = self.label(d) if labelled and self.gold(arc) else None
        return f"{text} ({lab})" if lab else text

    def sentence(self) -> str:
        return " ".join(self.words[1:])


def read_tree(words: Sequence[str], heads: Sequence[Any], labels: Sequence[Any] | None) -> Tree:
    """The gold tree, or a FieldError naming the field and the word at fault: a head list of
    the wrong length or out of range, a word that is its own head, a cycle, crossing arcs."""
    n = len(words)
    if len(heads) != n:
        raise FieldError(f"has {len(heads)} heads for the {n} words of the sentence", "heads")
    hs = [-1]
    for i, h in enumerate(heads):
        if isinstance(h, bool) or not isinstance(h, int) or not 0 <= h <= n:
            raise FieldError(
                f"the head of word {i + 1} ({words[i]}) is {h!r}; a head is 0 (ROOT) or the "
                f"position of a word, 1 to {n}",
                "heads",
                (i,),
            )
        if h == i + 1:
            raise FieldError(f"word {i + 1} ({words[i]}) is its own head", "heads", (i,))
        hs.append(h)
    for i in range(1, n + 1):  # every word must reach ROOT: a cycle never does
        seen, j = {i}, hs[i]
        while j != ROOT:
            if j in seen:
                cycle = " → ".join(words[k - 1] for k in sorted(seen))
                raise FieldError(
                    f"the heads form a cycle ({cycle}), so they are not a tree", "heads", (i - 1,)
                )
            seen.add(j)
            j = hs[j]
    labs = None
    if labels is not None:
        if len(labels) != n:
            raise FieldError(f"has {len(labels)} labels for the {n} words", "labels")
        for i, lab in enumerate(labels):
            if not isinstance(lab, str) or not re.fullmatch(r"[A-Za-z][\w:.-]{0,30}", lab):
                raise FieldError(
                    f"label {i + 1} ({lab!r}) is not a relation name such as nsubj or obl:tmod",
                    "labels",
                    (i,),
                )
        labs = (ROOT_WORD, *labels)
    tree = Tree((ROOT_WORD, *words), tuple(hs), labs)
    crossing = _crossing(tree)
    if crossing is not None:
        a, b = (tree.arc_text(x, labelled=False) for x in crossing)
        raise FieldError(
            f"the arcs {a} and {b} cross, so the tree is not projective, and the arc-standard "
            "system builds only projective trees",
            "heads",
        )
    return tree


def _crossing(tree: Tree) -> tuple[Arc, Arc] | None:
    """Two arcs of the tree that cross (ROOT at position 0, arcs drawn above the words)."""
    arcs = [(tree.heads[d], d) for d in range(1, tree.n + 1)]
    for a in arcs:
        lo, hi = sorted(a)
        for b in arcs:
            lo2, hi2 = sorted(b)
            if lo < lo2 < hi < hi2:
                return a, b
    return None


_WORD = re.compile(r"[^\s,;\[\]()'\"|→←]+")


def read_words(sentence: str | Sequence[Any]) -> list[str]:
    """The words of the sentence (a string split at spaces, or a list), each one a token a
    student can write in a stack: no spaces, commas, brackets or quotes, and not ROOT."""
    words = sentence.split() if isinstance(sentence, str) else list(sentence)
    if not words:
        raise FieldError("has no words", "sentence")
    if len(words) > MAX_WORDS:
        raise FieldError(
            f"has {len(words)} words; a table by hand has at most {MAX_WORDS}", "sentence"
        )
    for i, w in enumerate(words):
        if not isinstance(w, str) or not _WORD.fullmatch(w) or w.casefold() == "root":
            raise FieldError(
                f"word {i + 1} ({w!r}) must be a single token without spaces, commas, brackets "
                "or quotes, and not ROOT",
                "sentence",
                (i,) if not isinstance(sentence, str) else (),
            )
        if w in ("-", "—", "–", "∅") or w.casefold() in _EMPTY:
            raise FieldError(
                f"word {i + 1} ({w!r}) is what the tables write for nothing", "sentence"
            )
    return words


# --------------------------------------------------------------------------- configurations


class Config(NamedTuple):
    """A configuration: the stack (bottom first, ROOT = 0) and the first word of the buffer
    (n + 1 when the buffer is empty). The arcs already added do not change what can follow."""

    stack: tuple[int, ...]
    next: int

    def buffer(self, n: int) -> tuple[int, ...]:
        return tuple(range(self.next, n + 1))


class Impossible(Exception):
    """A transition that cannot be applied at all (SHIFT with an empty buffer, an arc with
    fewer than two items on the stack); the message says why, about the student's own
    configuration."""


def apply(c: Config, move: Move, n: int) -> tuple[Config, Arc | None]:
    """The configuration after ``move`` and the arc it adds (Impossible if it cannot be
    applied). A LEFT-ARC that would make ROOT a dependent is applied: it is a mistake the
    parser can be asked to make, and :func:`legal` refuses it."""
    if move is Move.SHIFT:
        if c.next > n:
            raise Impossible("SHIFT needs a word in the buffer, and the buffer is empty")
        return Config((*c.stack, c.next), c.next + 1), None
    if len(c.stack) < 2:
        held = "nothing" if not c.stack else "only one item"
        raise Impossible(f"{move} needs two items on the stack, and it holds {held}")
    s1, s0 = c.stack[-2], c.stack[-1]
    if move is Move.LEFT:
        return Config((*c.stack[:-2], s0), c.next), (s0, s1)
    return Config(c.stack[:-1], c.next), (s1, s0)


def legal(c: Config, move: Move, n: int) -> bool:
    """Whether the system allows ``move`` here (ROOT is never a dependent)."""
    if move is Move.SHIFT:
        return c.next <= n
    if len(c.stack) < 2:
        return False
    return not (move is Move.LEFT and c.stack[-2] == ROOT)


def terminal(c: Config, n: int) -> bool:
    return c.next > n and len(c.stack) <= 1


def finished(tree: Tree, c: Config, w: int) -> bool:
    """Whether every dependent of ``w`` has left the stack and the buffer (on a gold path:
    has been attached), so that ``w`` may be reduced."""
    return all(d < c.next and d not in c.stack for d in tree.dependents[w])


class Oracle:
    """What can still be built from a configuration, by exhaustive search with memory.

    ``best(c)`` is the largest number of arcs of the tree that transitions from ``c`` can
    still add; a transition is *optimal* when it loses none of them (Goldberg and Nivre's
    dynamic oracle). From a configuration on the way to the tree the optimal transitions are
    exactly those after which the whole tree can still be built."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self._best: dict[Config, int] = {}
        self._count: dict[Config, int] = {}
        self._optimal: dict[Config, list[Move]] = {}

    def best(self, c: Config) -> int:
        found = self._best.get(c)
        if found is not None:
            return found
        n, bound = self.tree.n, self.bound(c)
        out = 0
        if not terminal(c, n):
            for m in MOVES:
                if legal(c, m, n):
                    nxt, arc = apply(c, m, n)
                    out = max(out, int(self.tree.gold(arc)) + self.best(nxt))
                    if out == bound:  # no transition can do better: the search stops here
                        break
        self._best[c] = out
        return out

    def left(self, c: Config) -> int:
        """The words still to attach (on the stack or in the buffer): at most that many arcs
        of the tree can still be added."""
        return sum(1 for x in c.stack if x != ROOT) + self.tree.n + 1 - c.next

    def bound(self, c: Config) -> int:
        """At most this many arcs of the tree can still be added from ``c``: one for each
        word still to attach whose head is still on the stack or in the buffer."""
        heads, here = self.tree.heads, set(c.stack)
        waiting = [x for x in c.stack if x != ROOT] + list(range(c.next, self.tree.n + 1))
        return sum(1 for x in waiting if heads[x] in here or heads[x] >= c.next)

    def reachable(self, c: Config) -> bool:
        """Whether the whole tree can still be built from ``c`` (its arcs so far all right)."""
        return self.count(c) > 0

    def optimal(self, c: Config) -> list[Move]:
        """The transitions that lose no arc that can still be built, in the usual oracle's
        order of preference. On the way to the tree they are the transitions that keep it
        within reach, found among its own configurations only; after a mistake, by the
        exhaustive search of :meth:`best`."""
        found = self._optimal.get(c)
        if found is not None:
            return found
        n, out = self.tree.n, []
        if self.reachable(c):
            for m in MOVES:
                if legal(c, m, n):
                    nxt, arc = apply(c, m, n)
                    if (arc is None or self.tree.gold(arc)) and self.reachable(nxt):
                        out.append(m)
        else:
            top = self.best(c)
            for m in MOVES:
                if legal(c, m, n):
                    nxt, arc = apply(c, m, n)
                    if int(self.tree.gold(arc)) + self.best(nxt) == top:
                        out.append(m)
        self._optimal[c] = out
        return out

    def count(self, c: Config) -> int:
        """How many transition sequences from ``c`` build the rest of the tree exactly."""
        found = self._count.get(c)
        if found is not None:
            return found
        n = self.tree.n
        if terminal(c, n):
            out = int(c.stack == (ROOT,))
        else:
            out = 0
            for m in MOVES:
                if legal(c, m, n):
                    nxt, arc = apply(c, m, n)
                    if arc is None or self.tree.gold(arc):
                        out += self.count(nxt)
        self._count[c] = out
        return out

    def usual(self, c: Config, *, early: bool = False) -> Move | None:
        """The usual (static) oracle: LEFT-ARC when the word below the top is the top's
        dependent; RIGHT-ARC when the top is the dependent of the word below and has all its
        own dependents; else SHIFT (None when nothing applies). ``early`` drops the second
        condition: the mistake of a RIGHT-ARC before the dependent is finished."""
        t, n = self.tree, self.tree.n
        if len(c.stack) >= 2:
            s1, s0 = c.stack[-2], c.stack[-1]
            if s1 != ROOT and t.heads[s1] == s0:
                return Move.LEFT
            if s0 != ROOT and t.heads[s0] == s1 and (early or finished(t, c, s0)):
                return Move.RIGHT
        return Move.SHIFT if c.next <= n else None


@dataclass
class Row:
    """One step of a table: the transition, the arc it adds, the configuration after it."""

    move: Move
    arc: Arc | None
    after: Config
    why: str = ""


def run(
    tree: Tree, start: Config, choose: Callable[[Config], Move | None], explain: bool = True
) -> list[Row]:
    """The table ``choose`` makes from ``start``, until it has nothing left to apply."""
    rows: list[Row] = []
    c = start
    while not terminal(c, tree.n):
        move = choose(c)
        if move is None:
            break
        nxt, arc = apply(c, move, tree.n)
        rows.append(Row(move, arc, nxt, _why(tree, c, move) if explain else ""))
        c = nxt
    return rows


def _why(tree: Tree, c: Config, move: Move) -> str:
    """The usual oracle's reason for a step, in a few words."""
    w = tree.words
    if move is Move.SHIFT:
        if len(c.stack) < 2:
            return "only ROOT on the stack"
        s1, s0 = c.stack[-2], c.stack[-1]
        if s0 != ROOT and tree.heads[s0] == s1:
            rest = ", ".join(w[d] for d in tree.dependents[s0] if d >= c.next)
            return f"{w[s0]} awaits {rest}"
        return f"no arc between {w[s1]} and {w[s0]}"
    s1, s0 = c.stack[-2], c.stack[-1]
    if move is Move.LEFT:
        return f"head of {w[s1]} is {w[s0]}"
    if s1 == ROOT:
        return f"{w[s0]} heads the sentence"
    return f"head of {w[s0]} is {w[s1]}; {w[s0]} is finished"


# --------------------------------------------------------------------------- the given


class ParseGiven(GivenModel):
    sentence: Annotated[
        str | list[str], TypeDoc("words", "a string (split at spaces) or a list of words")
    ]
    """the sentence, without ROOT: 'I parsed this sentence correctly' (at most 10 words)"""
    heads: Annotated[list[Any], TypeDoc("heads", "a list of whole numbers, one per word")]
    """the gold tree: each word's head, as the position of the head word (1 = the first
    word), 0 for ROOT; the tree must be projective"""
    labels: Annotated[
        list[Any] | None, TypeDoc("labels", "a list of relation names, one per word")
    ] = None
    """optional: each word's relation to its head (nsubj, obj, det, ...), shown with the
    dependencies; a student may leave them out"""

    @model_validator(mode="after")
    def _tree(self) -> ParseGiven:
        self.tree()
        return self

    def tree(self) -> Tree:
        return read_tree(read_words(self.sentence), self.heads, self.labels)


# --------------------------------------------------------------------------- reading answers

_EMPTY = frozenset({"none", "empty", "nothing", "no dependency", "n/a", "no arc", "[]", "{}"})
_NOTHING = frozenset({"-", "—", "–", "∅", "ø", "/", "none.", "(none)"})
_MOVE_NAMES = {
    Move.SHIFT: ("shift", "s", "sh"),
    Move.LEFT: ("leftarc", "la", "left", "l", "larc", "leftreduce"),
    Move.RIGHT: ("rightarc", "ra", "right", "r", "rarc", "rightreduce"),
}
_LABELLED = re.compile(r"^(.*?)\s*(?:[(\[]\s*([\w:.-]+)\s*[)\]]|:\s*([\w:.-]+))$")


def read_move(text: str) -> tuple[Move, str | None] | None:
    """``SHIFT``, ``LEFT-ARC``, ``la``, ``Right arc``, ``LEFT-ARC(nsubj)``: the move and the
    label written with it (None if the text names no transition)."""
    t = " ".join(str(text).casefold().split())
    if len(t) > MAX_ENTRY:
        return None
    label = None
    found = _LABELLED.match(t)
    if found and found.group(1):
        t, label = found.group(1), found.group(2) or found.group(3)
    core = re.sub(r"[\s_\-–]+", "", t)
    for move, names in _MOVE_NAMES.items():
        if core in names:
            return move, label
    return None


def nothing(text: str) -> bool:
    t = " ".join(str(text).casefold().split())
    return t in _EMPTY or t in _NOTHING or t == ""


_ARROW = re.compile(r"\s*(?:->|→|⟶|=>|⇒|-+>|\\to|\\rightarrow)\s*")
_BACK = re.compile(r"\s*(?:<-|←|⟵|<=|⇐|<-+|\\leftarrow)\s*")
_PAIR = re.compile(r"^([\w:.-]*)\s*\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)$")


@dataclass(frozen=True)
class Dependency:
    """A dependency as a student wrote it: head and dependent words (casefolded), a label or
    None; ``none`` for a step that adds nothing."""

    head: str = ""
    dependent: str = ""
    label: str | None = None
    none: bool = False


def read_dependency(text: str) -> Dependency | None:
    """``parsed → I``, ``parsed -> I (nsubj)``, ``I ← parsed``, ``nsubj(parsed, I)``,
    ``(parsed, I)`` or none/-/—; None for anything else."""
    t = " ".join(str(text).casefold().split())
    if len(t) > MAX_ENTRY:
        return None
    if nothing(t):
        return Dependency(none=True)
    pair = _PAIR.match(t)
    if pair:
        return Dependency(pair.group(2), pair.group(3), pair.group(1) or None)
    label = None
    found = _LABELLED.match(t)
    if found and found.group(1) and (_ARROW.search(found.group(1)) or _BACK.search(found.group(1))):
        t, label = found.group(1), found.group(2) or found.group(3)
    for pattern, forward in ((_ARROW, True), (_BACK, False)):
        parts = pattern.split(t)
        if len(parts) == 2 and all(_WORD.fullmatch(p) for p in parts):
            h, d = parts if forward else parts[::-1]
            return Dependency(h, d, label)
    return None


def _fold(words: Sequence[Any]) -> tuple[str, ...]:
    out = tuple(" ".join(str(w).casefold().split()) for w in words)
    if len(out) == 1 and (out[0] in _EMPTY or out[0] in _NOTHING):
        return ()
    return out


# --------------------------------------------------------------------------- the kind

_KEY = re.compile(r"(stack|buffer|dependency|transition)\[(\d+)\]")
COLUMNS = ("stack", "buffer", "dependency", "transition")


@kind("transition_parse")
class TransitionParse(Kind):
    """Arc-standard dependency parsing by hand: stack, buffer, transition and new arc per step.

    Given the sentence and its gold tree (each word's head, 0 for ROOT; labels optional),
    the worked solution writes the table of the usual oracle, which reduces as soon as the
    tree allows (LEFT-ARC when the word below the top is the top's dependent, RIGHT-ARC
    when the top is the dependent of the word below and has all its own dependents, else
    SHIFT), says at which steps another transition is valid too and how many valid
    sequences there are, and why a sentence of n words takes 2n steps: each word is shifted
    once and removed once, by the arc that gives it its head.

    The checker runs the student's own transitions. A transition is right when, from the
    configuration the student's earlier transitions reached, it loses no arc of the tree
    that can still be built; so every valid order is accepted, and after a wrong step the
    later ones are judged from where the student stands. A stack, buffer or dependency is
    right when it is what its step gives from there (where a row's transition is left out,
    the checker takes the one that explains the row). Named mistakes: LEFT-ARC and RIGHT-ARC
    swapped, ROOT forgotten on the stack (also 2n − 1 steps), RIGHT-ARC before the
    dependent's own dependents are attached, a dependency written dependent → head.

    A stack is written bottom first, [ROOT, parsed, this] (top first, ending in ROOT, is read
    as the same stack); a buffer first word first, [] when empty; a dependency head →
    dependent (parsed → I, or nsubj(parsed, I)), none for a SHIFT; a transition SHIFT,
    LEFT-ARC or RIGHT-ARC (S, LA, RA). There is no torch counterpart, and variants keep the
    sentence: a new one needs its own tree.
    """

    Given = ParseGiven
    keys = (
        Key(
            "stack[t]",
            "sequence",
            "the stack after step t, bottom first: [ROOT, parsed, this]",
        ),
        Key("buffer[t]", "sequence", "the buffer after step t, first word first; [] when empty"),
        Key(
            "dependency[t]",
            "text",
            "the dependency step t adds, head → dependent (parsed → I); none for a SHIFT",
        ),
        Key(
            "transition[t]",
            "text",
            "the transition of step t: SHIFT, LEFT-ARC or RIGHT-ARC (S, LA, RA)",
        ),
        Key("steps", "integer", "how many transitions parse this sentence"),
        Key(
            "steps_general",
            "expression",
            "how many transitions parse a sentence of n words, as a formula in n",
        ),
    )
    example = {
        "sentence": "I parsed this sentence correctly",
        "heads": [2, 0, 4, 2, 2],
        "labels": ["nsubj", "root", "det", "obj", "advmod"],
    }
    misconceptions = {
        SWAPPED: {"arcs": "swapped"},
        NO_ROOT: {"root": False},
        EARLY_RIGHT_ARC: {"right_arc": "early"},
        ARROW_REVERSED: {"arrows": "dependent first"},
    }
    #: a variant would need a new sentence with its own tree: every variant keeps the problem
    varies = False
    #: a student's table is graded by running their transitions (see :meth:`grade`)
    grades_together = True
    #: the per-step keys the student page lays out as one table, a row per step
    table_columns = COLUMNS

    def show_givens(self, g: ParseGiven) -> list[tuple[Any, Any]]:
        return [(Text("sentence"), Text(g.tree().sentence()))]

    def given_tables(self, given: Mapping[str, Any]) -> list[Table]:
        """The tree as a table: each word with its position, head and label."""
        try:
            tree = ParseGiven.model_validate(dict(given)).tree()
        except (ValueError, FieldError):
            return []
        columns = ["position", "word", "head", "head word"]
        if tree.labels is not None:
            columns.append("label")
        rows = []
        for d in range(1, tree.n + 1):
            row = [str(d), tree.words[d], str(tree.heads[d]), tree.words[tree.heads[d]]]
            rows.append(row + ([tree.labels[d]] if tree.labels is not None else []))
        return [Table(columns, rows, title="tree", align="l" * len(columns))]

    # ------------------------------------------------------------------ solving

    def solve(
        self,
        g: ParseGiven,
        s: Solution,
        *,
        arcs: Literal["right", "swapped"] = "right",
        root: bool = True,
        right_arc: Literal["complete", "early"] = "complete",
        arrows: Literal["head first", "dependent first"] = "head first",
    ) -> None:
        tree = g.tree()
        n = tree.n
        oracle = Oracle(tree)
        start = Config((ROOT,) if root else (), 1)
        rows = run(tree, start, lambda c: oracle.usual(c, early=right_arc == "early"))
        listed = ", ".join(tree.arc_text((tree.heads[d], d)) for d in range(1, n + 1))
        s.step(
            f"The tree of “{tree.sentence()}” has one arc per word, head → dependent: {listed}. "
            "A stack is written bottom first, a buffer first word first."
        )
        s.step(
            "The arc-standard system starts with the stack [ROOT] and the whole sentence in the "
            "buffer. SHIFT moves the first buffer word onto the stack; LEFT-ARC adds the arc "
            "top → second and removes the second; RIGHT-ARC adds second → top and removes the "
            "top. The usual oracle reduces as soon as it may: LEFT-ARC when the second item's "
            "head is the top; RIGHT-ARC when the top's head is the second item and the top has "
            "all its own dependents (removed from the stack, it could take no more); else SHIFT."
        )
        swap = {Move.LEFT: Move.RIGHT, Move.RIGHT: Move.LEFT, Move.SHIFT: Move.SHIFT}

        def written(move: Move) -> Move:
            return swap[move] if arcs == "swapped" else move

        def dep(arc: Arc | None) -> str:
            if arc is None:
                return "none"
            return tree.arc_text(arc, reverse=arrows == "dependent first")

        table = [[0, _show(tree, start.stack), _show(tree, start.buffer(n)), "", "", "initial"]]
        for t, r in enumerate(rows, 1):
            table.append(
                [
                    t,
                    _show(tree, r.after.stack),
                    _show(tree, r.after.buffer(n)),
                    str(written(r.move)),
                    "" if r.arc is None else dep(r.arc),
                    r.why,
                ]
            )
        s.step(
            "The parse, step by step (the configuration after each transition):",
            Table(["step", "stack", "buffer", "transition", "new dependency", "why"], table),
        )
        if s.record_steps and root and right_arc == "complete":
            self._others(tree, oracle, start, rows, s)
        for t, r in enumerate(rows, 1):
            s.answer(f"stack[{t}]", _words(tree, r.after.stack), written="list")
            s.answer(f"buffer[{t}]", _words(tree, r.after.buffer(n)), written="list")
            s.answer(f"dependency[{t}]", dep(r.arc))
            s.answer(f"transition[{t}]", str(written(r.move)))
        steps = len(rows)
        reductions = sum(r.arc is not None for r in rows)
        s.step(
            f"Every word is shifted once ({n} SHIFTs) and leaves the stack once, by the arc "
            f"that gives it its head ({reductions} arcs, the last a RIGHT-ARC from ROOT to the "
            f"head of the sentence): {n} + {reductions} = {steps} steps. A sentence of n words "
            "takes 2n steps, whatever its tree: n SHIFTs and n arcs, one per word's head."
        )
        s.answer("steps", steps)
        s.answer("steps_general", 2 * exact.symbol("n") - (0 if root else 1))

    def _others(
        self, tree: Tree, oracle: Oracle, start: Config, rows: list[Row], s: Solution
    ) -> None:
        """Where else the table could go: the steps at which another transition is valid,
        and how many valid sequences the tree has."""
        total = oracle.count(start)
        c, elsewhere = start, []
        for t, r in enumerate(rows, 1):
            other = [m for m in oracle.optimal(c) if m is not r.move]
            if other:
                elsewhere.append(f"step {t} ({' or '.join(map(str, other))} also)")
            c = r.after
        if total == 1:
            s.step("No other order builds this tree: the sequence above is the only valid one.")
            return
        s.step(
            f"This tree has {total} valid transition sequences, and any of them is right: "
            f"along this table another transition is valid at {', '.join(elsewhere)}. An arc "
            "whose dependent is finished may wait while later words are shifted and attached, "
            "as long as no finished word is buried under a SHIFT. A table is checked by running "
            "its own transitions."
        )

    # ------------------------------------------------------------------ grading by running

    def grade(self, g: ParseGiven, values: Mapping[str, Any]) -> dict[str, Match]:
        """Each key the student gave, judged along the student's own parse (see the module's
        docstring): every valid sequence is accepted, a mistake costs its own entries only,
        and the feedback names the mistake."""
        tree = g.tree()
        return Grader(tree, Oracle(tree), values).matches()


# --------------------------------------------------------------------------- display helpers


def _words(tree: Tree, ids: Sequence[int]) -> list[str]:
    return [tree.words[i] for i in ids]


def _show(tree: Tree, ids: Sequence[int]) -> str:
    return "[" + ", ".join(_words(tree, ids)) + "]"


# --------------------------------------------------------------------------- the grader


@dataclass
class Entries:
    """What a student wrote for one step (None where they wrote nothing readable)."""

    move: tuple[Move, str | None] | None = None
    move_text: str | None = None  # written but not a transition
    stack: tuple[str, ...] | None = None
    buffer: tuple[str, ...] | None = None
    dependency: Dependency | None = None
    dependency_text: str | None = None  # written but not a dependency


@dataclass
class Taken:
    """One step of the student's parse as the grader follows it."""

    before: Config
    move: Move
    after: Config
    arc: Arc | None
    impossible: str | None = None  # why the student's own transition could not be applied


@dataclass
class Grader:
    """Follows the student's parse: their own transitions where they wrote them, else the
    transition that explains their row best (preferring valid ones), and judges each entry
    from the configuration the parse reached."""

    tree: Tree
    oracle: Oracle
    values: Mapping[str, Any]
    rows: dict[int, Entries] = field(default_factory=dict)
    _judged: dict[tuple[int, Config, Move], dict[str, bool]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, v in self.values.items():
            found = _KEY.fullmatch(key)
            if found is None or v is None:
                continue
            t = int(found.group(2))
            e = self.rows.setdefault(t, Entries())
            column = found.group(1)
            if column == "transition":
                e.move = read_move(str(v))
                e.move_text = None if e.move else str(v)
            elif column == "dependency":
                e.dependency = read_dependency(str(v))
                e.dependency_text = None if e.dependency else str(v)
            elif column == "stack":
                e.stack = _fold(v) if isinstance(v, list) else None
            else:
                e.buffer = _fold(v) if isinstance(v, list) else None

    @property
    def steps(self) -> int:
        return 2 * self.tree.n

    # ---------------------------------------------------------------- what a step gives

    def results(self, before: Config, move: Move, t: int) -> list[tuple[Config, Arc | None]]:
        """What step ``t`` may give from ``before`` when the path takes ``move``: that move's
        result where the student wrote it (their own transition) or where it is optimal;
        else, for a move only inferred from the row, the optimal moves' results."""
        n = self.tree.n
        e = self.rows.get(t, Entries())
        if e.move is not None:
            try:
                return [apply(before, move, n)]
            except Impossible:
                return []
        optimal = self.oracle.optimal(before) if not terminal(before, n) else []
        if move in optimal:
            return [apply(before, move, n)]
        return [apply(before, m, n) for m in optimal]

    def judge(self, t: int, before: Config, move: Move) -> dict[str, bool]:
        """Which of the student's entries of step ``t`` are right, the path taking ``move``."""
        memo = (t, before, move)
        if memo in self._judged:
            return self._judged[memo]
        e = self.rows.get(t, Entries())
        out: dict[str, bool] = {}
        results = self.results(before, move, t)
        if e.move is not None or e.move_text is not None:
            out["transition"] = e.move is not None and self.move_right(before, *e.move)
        if e.stack is not None:
            out["stack"] = any(self.same_stack(e.stack, c.stack) for c, _ in results)
        if e.buffer is not None:
            out["buffer"] = any(e.buffer == self.folded(c.buffer(self.tree.n)) for c, _ in results)
        if e.dependency is not None or e.dependency_text is not None:
            out["dependency"] = e.dependency is not None and any(
                self.same_dependency(e.dependency, arc) for _, arc in results
            )
        self._judged[memo] = out
        return out

    def move_right(self, before: Config, move: Move, label: str | None) -> bool:
        n = self.tree.n
        if terminal(before, n) or move not in self.oracle.optimal(before):
            return False
        _, arc = apply(before, move, n)
        return label is None or arc is None or self.label_ok(arc, label)

    def label_ok(self, arc: Arc, label: str) -> bool:
        gold = self.tree.label(arc[1]) if self.tree.gold(arc) else None
        return gold is None or gold.casefold() == label.casefold()

    def folded(self, ids: Sequence[int]) -> tuple[str, ...]:
        return tuple(self.tree.words[i].casefold() for i in ids)

    def same_stack(self, written: tuple[str, ...], stack: tuple[int, ...]) -> bool:
        want = self.folded(stack)
        if written == want:
            return True
        # top first, ending in ROOT: the same stack written the other way round
        return len(want) > 1 and want[0] == "root" and written == want[::-1]

    def same_dependency(self, d: Dependency, arc: Arc | None) -> bool:
        if arc is None or d.none:
            return arc is None and d.none
        w = self.tree.words
        if (d.head, d.dependent) != (w[arc[0]].casefold(), w[arc[1]].casefold()):
            return False
        return d.label is None or self.label_ok(arc, d.label)

    # ---------------------------------------------------------------- the student's path

    def candidates(self, t: int, c: Config) -> list[tuple[Move, Config, Arc | None, str | None]]:
        """The moves the path may take at step ``t`` from ``c``: the student's own (applied
        if it can be, else the configuration stays), or, where they wrote none, every move
        that keeps the tree's arcs, and a move that loses one only where their row shows it.
        Off the way to the tree (after a mistake), where every move may keep what is left, a
        row the student wrote is followed only by the moves that give some of it."""
        n = self.tree.n
        e = self.rows.get(t, Entries())
        if e.move is not None:
            move = e.move[0]
            try:
                nxt, arc = apply(c, move, n)
                return [(move, nxt, arc, None)]
            except Impossible as why:
                return [(move, c, None, str(why))]
        if terminal(c, n):
            return []
        optimal = self.oracle.optimal(c)
        possible = []
        for m in MOVES:
            try:
                possible.append((m, *apply(c, m, n), None))
            except Impossible:
                continue
        if e.stack is None and e.buffer is None and e.dependency is None:
            return [x for x in possible if x[0] in optimal]
        shown = [x for x in possible if self._explains(e, x[1], x[2])]
        if shown and not self.oracle.reachable(c):
            return shown
        return [x for x in possible if x[0] in optimal or x in shown]

    def _explains(self, e: Entries, c: Config, arc: Arc | None) -> bool:
        return (
            (e.stack is not None and self.same_stack(e.stack, c.stack))
            or (e.buffer is not None and e.buffer == self.folded(c.buffer(self.tree.n)))
            or (e.dependency is not None and self.same_dependency(e.dependency, arc))
        )

    def path(self) -> list[Taken]:
        """The student's parse: the path through the configurations that makes the most of
        their entries right, then the most of its inferred moves optimal (ties: the usual
        oracle's order), found by dynamic programming over the steps. A layer keeps its
        :data:`BEAM` best configurations: a right table's path scores the most at every
        step, so it is never the one let go."""
        start = Config((ROOT,), 1)
        Score = tuple[int, int]
        layers: list[dict[Config, tuple[Score, Config | None, Taken | None]]] = [
            {start: ((0, 0), None, None)}
        ]
        for t in range(1, self.steps + 1):
            here: dict[Config, tuple[Score, Config | None, Taken | None]] = {}
            for c, (score, _, _) in layers[-1].items():
                options = self.candidates(t, c)
                if not options:
                    options = [(Move.SHIFT, c, None, "the parse is over")]
                optimal = self.oracle.optimal(c) if not terminal(c, self.tree.n) else []
                for move, after, arc, impossible in options:
                    right = sum(self.judge(t, c, move).values())
                    new = (score[0] + right, score[1] + (move in optimal))
                    held = here.get(after)
                    if held is None or new > held[0]:
                        here[after] = (new, c, Taken(c, move, after, arc, impossible))
            if len(here) > BEAM:
                kept = sorted(here.items(), key=lambda kv: kv[1][0], reverse=True)[:BEAM]
                here = dict(kept)
            layers.append(here)
        c = max(layers[-1], key=lambda k: layers[-1][k][0])
        steps: list[Taken] = []
        for layer in reversed(layers[1:]):
            _, before, st = layer[c]
            assert st is not None and before is not None
            steps.append(st)
            c = before
        return steps[::-1]

    # ---------------------------------------------------------------- the matches

    def matches(self) -> dict[str, Match]:
        out: dict[str, Match] = {}
        for key in ("steps", "steps_general"):
            if self.values.get(key) is not None:
                out[key] = self.count_match(key, self.values[key])
        if not self.rows:
            return out
        path = self.path()
        usual = run(self.tree, Config((ROOT,), 1), self.oracle.usual, explain=False)
        off_at: int | None = None  # the first step after which the tree cannot be built
        differs = False
        for t, st in enumerate(path, 1):
            e = self.rows.get(t)
            optimal = self.oracle.optimal(st.before) if not terminal(st.before, self.tree.n) else []
            if e is not None:
                judged = self.judge(t, st.before, st.move)
                first_other = (
                    not differs
                    and off_at is None
                    and st.move in optimal
                    and (t > len(usual) or usual[t - 1].move is not st.move)
                )
                for column, ok in judged.items():
                    key = self._key(column, t)
                    if key is None:
                        continue
                    match = self.entry_match(column, t, st, ok, off_at, first_other)
                    if not ok and column != "transition" and (differs or off_at is not None):
                        match.feedback.append(self.own_value(column, t, st))
                    out[key] = match
            if st.move not in optimal and off_at is None:
                off_at = t
            if t <= len(usual) and usual[t - 1].move is not st.move:
                differs = True
        return out

    def _key(self, column: str, t: int) -> str | None:
        key = f"{column}[{t}]"
        return key if key in self.values else None

    def entry_match(
        self, column: str, t: int, st: Taken, ok: bool, off_at: int | None, first_other: bool
    ) -> Match:
        if ok:
            if off_at is not None:
                return Match(
                    Fraction(1),
                    [
                        f"Right from where your own parse stands after step {t - 1} (it went "
                        f"wrong at step {off_at}, which is counted there only)."
                    ],
                )
            if column == "transition" and first_other:
                return Match(
                    Fraction(1),
                    [
                        "A valid transition, though not the worked solution's: more than one "
                        "order builds this tree, and yours still can."
                    ],
                )
            return Match(Fraction(1))
        e = self.rows[t]
        if column == "transition":
            return self.move_mistake(t, st, e)
        feedback, mistake = self.entry_mistake(column, t, st, e)
        return Match(Fraction(0), feedback, mistake)

    def own_value(self, column: str, t: int, st: Taken) -> str:
        """What the student's own parse has at step ``t``, where it stands elsewhere than
        the worked solution (whose value the report shows as expected)."""
        results = self.results(st.before, st.move, t)
        if not results:
            return f"Your own parse cannot take step {t} as you wrote it."
        c, arc = results[0]
        w, n = self.tree.words, self.tree.n
        value = {
            "stack": _show(self.tree, c.stack),
            "buffer": _show(self.tree, c.buffer(n)),
            "dependency": "none" if arc is None else f"{w[arc[0]]} → {w[arc[1]]}",
        }[column]
        return (
            f"Your parse takes another order than the worked solution's; following it, the "
            f"{column} of step {t} is {value}."
        )

    # ---------------------------------------------------------------- naming mistakes

    def move_mistake(self, t: int, st: Taken, e: Entries) -> Match:
        if e.move is None:
            return Match(
                Fraction(0),
                [
                    f"“{e.move_text}” is not a transition: write SHIFT, LEFT-ARC or RIGHT-ARC "
                    "(or S, LA, RA)."
                ],
            )
        move, label = e.move
        if st.impossible:
            return Match(Fraction(0), [f"Step {t}: {st.impossible}: {move} cannot be applied."])
        why, mistake = self.why_not(st.before, move)
        if why is None and label is not None and st.arc is not None:
            gold = self.tree.label(st.arc[1])
            why = f"Step {t}: the arc is right, but the tree labels it {gold}, not {label}."
        why = why or f"Step {t}: {move} is not a valid transition here."
        return Match(Fraction(0), [why], mistake)

    def why_not(self, c: Config, move: Move) -> tuple[str | None, str | None]:
        """Why ``move`` at ``c`` loses an arc of the tree, in a sentence about the student's
        own configuration and the given tree, and the mistake it is (None if unnamed)."""
        tree, n, w = self.tree, self.tree.n, self.tree.words
        if terminal(c, n):
            return "The parse is already over: no transition is left to apply.", None
        if move in self.oracle.optimal(c):
            return None, None
        on_track = self.oracle.reachable(c)
        if move is not Move.SHIFT:
            s1, s0 = c.stack[-2], c.stack[-1]
            if move is Move.LEFT and s1 == ROOT:
                return (
                    f"LEFT-ARC here would make ROOT a dependent of {w[s0]}; ROOT is never a "
                    "dependent, and RIGHT-ARC is the arc that attaches a word to it.",
                    None,
                )
            _, arc = apply(c, move, n)
            assert arc is not None
            h, d = arc
            if not tree.gold(arc):
                if tree.gold((d, h)):
                    other = Move.RIGHT if move is Move.LEFT else Move.LEFT
                    return (
                        f"Your {move} adds {w[h]} → {w[d]}, but in the tree {w[d]} is the head "
                        f"of {w[h]}: LEFT-ARC makes the top of the stack the head of the word "
                        f"below it, RIGHT-ARC the word below the head of the top; this arc is "
                        f"{other}'s.",
                        SWAPPED,
                    )
                return f"{move} here adds {w[h]} → {w[d]}, which is not an arc of the tree.", None
            waiting = [x for x in tree.dependents[d] if x >= c.next or x in c.stack]
            if waiting:
                names = ", ".join(w[x] for x in waiting)
                return (
                    f"{move} here removes {w[d]} from the stack before its own dependents are "
                    f"attached ({names}): a word leaves the stack when it gets its head, and "
                    "can take no dependent after that.",
                    EARLY_RIGHT_ARC if move is Move.RIGHT else None,
                )
        elif on_track and len(c.stack) >= 2:
            s1, s0 = c.stack[-2], c.stack[-1]
            if s0 != ROOT and tree.heads[s0] == s1 and finished(tree, c, s0):
                return (
                    f"After this SHIFT, {w[s0]} can never get its head {w[s1]}: {w[s0]} has all "
                    "its dependents and its head is right below it, and whatever is shifted "
                    f"on top of it can leave the stack only through {w[s0]}, which takes no "
                    "more dependents.",
                    None,
                )
        where = "" if on_track else " from where your own parse stands"
        return f"{move} here{where} loses an arc of the tree that could still be built.", None

    def _culprit(self, column: str, st: Taken, e: Entries) -> Move | None:
        """A transition that loses an arc here and gives exactly this entry (the path's own
        first), if there is one."""
        if terminal(st.before, self.tree.n):
            return None
        only = Entries(**{column: getattr(e, column)})
        optimal = self.oracle.optimal(st.before)
        for m in sorted(MOVES, key=lambda m: m is not st.move):
            if m in optimal:
                continue
            try:
                after, arc = apply(st.before, m, self.tree.n)
            except Impossible:
                continue
            if self._explains(only, after, arc):
                return m
        return None

    def entry_mistake(
        self, column: str, t: int, st: Taken, e: Entries
    ) -> tuple[list[str], str | None]:
        w = self.tree.words
        results = self.results(st.before, st.move, t)
        own = e.move is not None
        if column == "dependency" and e.dependency is None:
            return [
                f"“{e.dependency_text}” is not a dependency: write head → dependent "
                "(parsed → I), or none for a SHIFT."
            ], None
        if own and not results:
            return [
                f"Your transition at step {t} cannot be applied: the step changes nothing."
            ], None
        if column == "dependency" and e.dependency is not None and not e.dependency.none:
            d = e.dependency
            for _, arc in results:
                if arc is not None and (d.head, d.dependent) == (
                    w[arc[1]].casefold(),
                    w[arc[0]].casefold(),
                ):
                    return [
                        f"The arrow points the wrong way: {d.head} → {d.dependent} says "
                        f"{d.head} is the head; a dependency is written head → dependent."
                    ], ARROW_REVERSED
        # the entry is what a transition that is not valid here gives: name its mistake
        culprit = None if own else self._culprit(column, st, e)
        if culprit is not None:
            why, mistake = self.why_not(st.before, culprit)
            return [f"This is what a {culprit} at step {t} gives, and {_lower(why)}"], mistake
        if column == "stack":
            assert e.stack is not None
            for c, _ in results:
                if e.stack == self.folded([x for x in c.stack if x != ROOT]) and ROOT in c.stack:
                    return [
                        "ROOT is missing: it is the bottom of the stack from the first step to "
                        "the last, and the last RIGHT-ARC attaches the head of the sentence to it."
                    ], NO_ROOT
            lead = f"Not the stack your {st.move} at step {t} gives" if own else "Not the stack"
            return [f"{lead}; a stack is written bottom first, ROOT first."], None
        if column == "buffer":
            lead = f"Not the buffer your {st.move} at step {t} leaves" if own else "Not the buffer"
            return [f"{lead}; a SHIFT takes the first word of the buffer, an arc leaves it."], None
        d = e.dependency
        assert d is not None
        for _, arc in results:
            if arc is not None and not d.none:
                same = (d.head, d.dependent) == (w[arc[0]].casefold(), w[arc[1]].casefold())
                if same and d.label is not None:
                    gold = self.tree.label(arc[1])
                    return [f"The arc is right, but the tree labels it {gold}."], None
            if arc is None and not d.none:
                return ["A SHIFT adds no dependency: write none."], None
            if arc is not None and d.none:
                return [
                    "Every LEFT-ARC and RIGHT-ARC adds a dependency: write it head → dependent."
                ], None
        with_own = f" with your {st.move}." if own else "."
        return [f"Not the dependency step {t} adds{with_own}"], None

    def count_match(self, key: str, v: Any) -> Match:
        """The number of steps: 2n for this sentence, or the formula 2n."""
        n_sym = exact.symbol("n")
        general = key == "steps_general"
        right = 2 * n_sym if general else 2 * self.tree.n
        if isinstance(v, (list, str, bool)) or v is None:
            return Match(Fraction(0), ["This is not a number of steps."])
        value = exact.to_sympy(v)
        diff = sympy.expand(value - right)
        if diff == 0:
            return Match(Fraction(1))
        if general and not getattr(value, "free_symbols", None):
            return Match(Fraction(0), ["Write a formula in n that holds for every sentence."])
        if not general and getattr(value, "free_symbols", None):
            return Match(
                Fraction(0), [f"Give the number for this sentence, of {self.tree.n} words."]
            )
        n = n_sym if general else self.tree.n
        known = {
            -1: (
                "The last RIGHT-ARC, which attaches the head of the sentence to ROOT, is a "
                "step too: ROOT stays on the stack to the end.",
                NO_ROOT,
            ),
            1: ("The initial configuration is not a step: only transitions are counted.", None),
        }
        if diff in known:
            text, mistake = known[diff]
            return Match(Fraction(0), [text], mistake)
        if sympy.expand(value - n) == 0:
            return Match(
                Fraction(0),
                [
                    "Each word is shifted once, and also leaves the stack once, by the arc that "
                    "gives it its head."
                ],
            )
        return Match(Fraction(0), ["Count the SHIFTs and the arcs: how many of each per word?"])


def _lower(text: str | None) -> str:
    if not text:
        return "it loses an arc of the tree."
    return text[0].lower() + text[1:]


def each_sequence(tree: Tree) -> Iterator[list[Move]]:
    """Every valid transition sequence of the tree, the usual oracle's first (for the docs
    and the tests' own counts; the checker never enumerates)."""
    oracle = Oracle(tree)

    def walk(c: Config, moves: list[Move]) -> Iterator[list[Move]]:
        if terminal(c, tree.n):
            if c.stack == (ROOT,):
                yield list(moves)
            return
        for m in oracle.optimal(c):
            nxt, _ = apply(c, m, tree.n)
            yield from walk(nxt, [*moves, m])

    yield from walk(Config((ROOT,), 1), [])


__all__ = [
    "Config",
    "Move",
    "Oracle",
    "ParseGiven",
    "TransitionParse",
    "Tree",
    "apply",
    "each_sequence",
    "read_dependency",
    "read_move",
    "read_tree",
]
