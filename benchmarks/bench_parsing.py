"""What grading a parser's transition table costs, against the grading time limit.

The transition_parse checker follows the student's own parse through the configurations of
the sentence, with an exhaustive dynamic oracle after a mistake: its cost grows with the
number of configurations a wrong table reaches, about 2^n. This grades, on the longest
sentence a problem may have, a right table and many random wrong ones (legal transitions
at random, written as stacks, buffers and dependencies without their transitions: the
slowest case), each with a fresh oracle, and prints the slowest as a share of the time
limit the checker gives a problem graded together (JUDGING × the answer time limit), and
against solving the problem in the same run:

    python benchmarks/bench_parsing.py [--tables 30] [--timeout 1.0]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from solver import kinds  # noqa: E402
from solver.check import JUDGING  # noqa: E402
from solver.compare import read  # noqa: E402
from solver.kinds.parsing import MAX_WORDS, Config, Move, apply, legal, terminal  # noqa: E402

#: the longest sentence a problem may have, each word with a left dependent and a right one
#: where it can: w2 under ROOT, w1 and w4 under w2, w3 and w6 under w4, ...
HEADS = [2, 0, 4, 2, 6, 4, 8, 6, 10, 8]
WORDS = [f"w{i}" for i in range(1, len(HEADS) + 1)]
assert len(WORDS) == MAX_WORDS, "the tree must be as long as the longest sentence allowed"


def table(moves: list[Move], *, transitions: bool) -> dict[str, object]:
    """A student's table for a move sequence, as an answers file writes it."""
    names = ["ROOT", *WORDS]
    out: dict[str, object] = {}
    c = Config((0,), 1)
    for t, m in enumerate(moves, 1):
        c, arc = apply(c, m, len(WORDS))
        out[f"stack[{t}]"] = [names[i] for i in c.stack]
        out[f"buffer[{t}]"] = [names[i] for i in c.buffer(len(WORDS))]
        out[f"dependency[{t}]"] = "none" if arc is None else f"{names[arc[0]]} -> {names[arc[1]]}"
        if transitions:
            out[f"transition[{t}]"] = m.value
    return out


def random_moves(rng: random.Random) -> list[Move]:
    c, moves, n = Config((0,), 1), [], len(WORDS)
    while not terminal(c, n):
        m = rng.choice([m for m in Move if legal(c, m, n)])
        c, _ = apply(c, m, n)
        moves.append(m)
    return moves


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", type=int, default=30, help="random wrong tables to grade")
    ap.add_argument("--timeout", type=float, default=1.0, help="seconds per answer (--timeout)")
    args = ap.parse_args()
    k = kinds.get("transition_parse")
    g = k.Given.model_validate({"sentence": WORDS, "heads": HEADS})
    start = time.perf_counter()
    s = k.new_solution()
    k.solve(g, s)
    solving = time.perf_counter() - start

    def graded(raw: dict[str, object]) -> float:
        values = {key: read(s.answers[key], v, frozenset({"n"})) for key, v in raw.items()}
        start = time.perf_counter()
        k.grade(g, values)
        return time.perf_counter() - start

    right = [m for t in range(1, 2 * len(WORDS) + 1) for m in Move if m == s[f"transition[{t}]"]]
    right_s = graded(table(right, transitions=True))
    rng = random.Random(0)
    worst = max(graded(table(random_moves(rng), transitions=False)) for _ in range(args.tables))
    limit = JUDGING * args.timeout
    print(
        f"transition table, {len(WORDS)} words: solving {solving * 1000:.0f} ms; grading the "
        f"right table {right_s * 1000:.0f} ms ({right_s / solving:.2f}× solving); the slowest "
        f"of {args.tables} random wrong tables {worst * 1000:.0f} ms = {worst / limit:.2f} of "
        f"the {limit:g} s grading limit (goal ≤ 0.5)"
    )


if __name__ == "__main__":
    main()
