"""Viterbi on a large Markov model: the kind's numeric path against a naive double loop.

    python benchmarks/bench_viterbi.py               # N = 2000 words, T = 100 steps
    python benchmarks/bench_viterbi.py --n 500 --t 50 --naive-steps 5

Both run the same recurrence in log space, log δ_t(j) = max_i [log δ_{t−1}(i) +
log P(j | i)], on the same random row-stochastic P. The naive version is the
textbook double loop over j and i in plain Python (lists of floats, the most
favourable form for it). At N = 2000 one step is 4 million inner iterations,
about a second, so it is timed on ``--naive-steps`` steps and extrapolated to
the T − 1 steps of the run: every step costs the same. The script says so,
checks that both agree on the steps the naive loop ran, and prints the ratio.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solver.kinds.decoding import viterbi_log_space


def random_chain(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """log P (n × n, rows sum to 1) and the log of a first-word distribution."""
    rng = np.random.default_rng(seed)
    P = rng.random((n + 1, n))
    P /= P.sum(axis=1, keepdims=True)
    logP = np.log(P)
    return logP[1:], logP[0]


def naive_viterbi(
    logP: list[list[float]], init: list[float], steps: int
) -> tuple[list[list[float]], list[list[int]]]:
    """``steps`` steps of the recurrence as a double loop over j and i, in plain Python."""
    n = len(init)
    log_delta, back = [list(init)], [[0] * n]
    for _ in range(steps):
        prev, row, ptr = log_delta[-1], [0.0] * n, [0] * n
        for j in range(n):
            best, arg = -math.inf, 0
            for i in range(n):
                v = prev[i] + logP[i][j]
                if v > best:
                    best, arg = v, i
            row[j], ptr[j] = best, arg
        log_delta.append(row)
        back.append(ptr)
    return log_delta, back


def run(n: int, t: int, naive_steps: int, seed: int = 0, repeat: int = 3) -> float:
    """Time both, check they agree, print the comparison; return the speed-up."""
    logP, init = random_chain(n, seed)
    numeric = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        log_delta, back = viterbi_log_space(logP, init, t)
        numeric = min(numeric, time.perf_counter() - start)

    steps = min(naive_steps, t - 1)
    rows = logP.tolist()
    start = time.perf_counter()
    naive_delta, naive_back = naive_viterbi(rows, init.tolist(), steps)
    per_step = (time.perf_counter() - start) / steps
    naive = per_step * (t - 1)

    agree = np.allclose(
        np.array(naive_delta), log_delta[: steps + 1], rtol=0, atol=1e-9
    ) and np.array_equal(np.array(naive_back[1:]), back[1 : steps + 1])
    print(f"Viterbi, N = {n} words, T = {t} steps ({(t - 1) * n * n:,} log-space additions)")
    print(f"  numeric path (numpy, blocked, best of {repeat}): {numeric:8.3f} s")
    print(
        f"  naive double loop, plain Python: {per_step:8.3f} s per step, measured on "
        f"{steps} of the {t - 1} steps"
    )
    print(f"    extrapolated to all {t - 1} steps:               {naive:8.1f} s")
    print(f"  both agree on the steps the naive loop ran: {'yes' if agree else 'NO'}")
    ratio = naive / numeric
    print(f"  speed-up: {ratio:,.0f}x (goal: at least 100x)")
    if not agree:
        raise SystemExit("the numeric path and the naive loop disagree")
    return ratio


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="number of words N")
    parser.add_argument("--t", type=int, default=100, help="number of steps T")
    parser.add_argument(
        "--naive-steps",
        type=int,
        default=3,
        help="steps of the naive loop to time (then extrapolated)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run(args.n, args.t, args.naive_steps, args.seed)


if __name__ == "__main__":
    main()
