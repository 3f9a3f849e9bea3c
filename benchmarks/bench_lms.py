"""Matching a class to its LMS roster stays linear: 20,000 students against 2,000 (goal ≤ 30).

Reads a Canvas roster and writes the import file for as many submissions, each found by
name (the second kind of evidence, after identifiers), in-process with
:func:`solver.lms.roster_from_bytes` and :func:`solver.lms.export`. Ten times the class
should cost about ten times the time (somewhat more on a loaded machine, where ten times
the objects cost the allocator and the garbage collector more); a matcher that scanned the
roster for every submission would cost a hundred.
Usage: python benchmarks/bench_lms.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from solver import lms

GOAL = 30.0


def roster_and_scores(n: int) -> tuple[bytes, list[lms.Score]]:
    rows = "".join(f'"Last{i}, First{i}",{i},s{i},login{i}@uni.edu,A\n' for i in range(n))
    text = "Student,ID,SIS User ID,SIS Login ID,Section\n" + rows
    scores = [lms.Score(f"First{i} Last{i}", f"f{i}.yaml", i % 7, also=f"f{i}") for i in range(n)]
    return text.encode(), scores


def seconds(n: int, repeat: int = 5) -> float:
    raw, scores = roster_and_scores(n)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        made = lms.export(lms.roster_from_bytes(raw, "roster.csv", "canvas"), scores, "HW", 7)
        times.append(time.perf_counter() - t0)
        assert made.graded == n
    return statistics.median(times)


def main() -> None:
    small, big = seconds(2_000), seconds(20_000)
    ratio = big / small
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(
        f"LMS export, 20,000 vs 2,000 students: {big:.3f} s vs {small:.3f} s, "
        f"ratio {ratio:.1f} (goal ≤ {GOAL:g}: {verdict})"
    )


if __name__ == "__main__":
    main()
