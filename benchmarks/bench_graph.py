"""Backprop by hand at scale: exactly solving a 3-layer MLP (width 16, batch 8, ReLU,
cross-entropy, every gradient) against a 2-scalar staged graph (goal ≤ 3).

Both go through the whole command (`dlsolve solve FILE`), so the ratio charges the MLP for
loading, the forward pass, the backward pass over 8 × 16 softmax probabilities (exact, in e)
and printing every gradient, and shows whether the hot path stays in integers and Fractions
with sympy only for the transcendental values.
Usage: python benchmarks/bench_graph.py
"""

from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

import yaml
from _timing import ROOT, median_seconds

GOAL = 3.0


def ints(rng: random.Random, *shape: int) -> list:
    if len(shape) == 1:
        return [rng.randint(-2, 2) for _ in range(shape[0])]
    return [ints(rng, *shape[1:]) for _ in range(shape[0])]


def write(path: Path, given: dict) -> None:
    doc = {"title": path.stem, "problems": [{"id": "p", "kind": "graph", "given": given}]}
    path.write_text(yaml.safe_dump(doc, default_flow_style=None))


def mlp_given() -> dict:
    """The 3-layer MLP (16 wide, batch 8, ReLU, cross-entropy, lr 1/10) with small integer
    weights drawn from seed 0: the same problem in every run and in bench_export.py."""
    rng = random.Random(0)
    return {
        "inputs": {"X": ints(rng, 8, 16), "y": [rng.randrange(16) for _ in range(8)]},
        "params": {
            "W1": ints(rng, 16, 16),
            "b1": ints(rng, 16),
            "W2": ints(rng, 16, 16),
            "b2": ints(rng, 16),
            "W3": ints(rng, 16, 16),
            "b3": ints(rng, 16),
        },
        "compute": [
            "h1 = relu(X @ W1 + b1)",
            "h2 = relu(h1 @ W2 + b2)",
            "z = h2 @ W3 + b3",
            "L = cross_entropy(z, y)",
        ],
        "lr": "1/10",
    }


def main() -> None:
    staged = {"inputs": {"x": -2, "y": 5, "z": -4}, "compute": ["q = x + y", "f = q * z"]}
    mlp = mlp_given()
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp, "staged.yaml"), Path(tmp, "mlp.yaml")
        write(small, staged)
        write(big, mlp)
        t_small = median_seconds(["cli.py", "solve", str(small)], repeat=3)
        t_big = median_seconds(["cli.py", "solve", str(big)], repeat=3)
        c_small, c_big = solve_seconds(small), solve_seconds(big)
    ratio = t_big / t_small
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(
        f"graph: staged 2-scalar {t_small:.3f} s, 3-layer MLP (16 wide, batch 8) {t_big:.3f} s: "
        f"ratio {ratio:.2f} (goal ≤ {GOAL}: {verdict})"
    )
    print(
        f"       in-process solve without steps (the exact forward and backward passes and the "
        f"written answers): staged {c_small:.4f} s, MLP {c_big:.3f} s"
    )


def solve_seconds(path: Path) -> float:
    """Seconds of solver.solve (answers only) in this process, after a warm-up load."""
    import time

    sys.path.insert(0, str(ROOT))
    import solver

    problem = solver.load(path).problems[0]
    t0 = time.perf_counter()
    solver.solve(problem, record_steps=False)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
