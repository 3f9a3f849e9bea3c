"""sin and cos cost no more than tanh: the same 2-layer network (batch 4, width 8, one SGD
step) with h = sin(XW₁ + b₁) against h = tanh(XW₁ + b₁), through the whole command
(`dlsolve solve --format json FILE`: the exact forward and backward passes, and every value
printed as text, LaTeX and a float). Goal: ratio sin/tanh ≤ 1.25.

A sum over sin and cos (a gradient of the sin layer: Σ c·sin(a)·cos(b)) has no e in it, so
it leaves the printer's fast path for sums over e; this shows that its own path (each
factor's value computed once to order the terms) keeps it in step with tanh's. A third
file, the same network with ReLU (all rational), is the floor.
Usage: python benchmarks/bench_trig.py
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import yaml
from _timing import median_seconds

GOAL = 1.25


def ints(rng: random.Random, *shape: int) -> list:
    if len(shape) == 1:
        return [rng.randint(-2, 2) for _ in range(shape[0])]
    return [ints(rng, *shape[1:]) for _ in range(shape[0])]


def network(act: str) -> dict:
    rng = random.Random(0)  # the same numbers for every activation
    B, H = 4, 8
    return {
        "inputs": {"X": ints(rng, B, H)},
        "params": {"W1": ints(rng, H, H), "b1": ints(rng, H), "W2": ints(rng, H, H)},
        "compute": [f"h = {act}(X @ W1 + b1)", "y = h @ W2", "L = mean(y^2)"],
        "lr": "1/10",
    }


def main() -> None:
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for act in ("relu", "tanh", "sin"):
            path = Path(tmp, f"{act}.yaml")
            doc = {"title": act, "problems": [{"id": "p", "kind": "graph", "given": network(act)}]}
            path.write_text(yaml.safe_dump(doc, default_flow_style=None))
            seconds[act] = median_seconds(["cli.py", "solve", "--format", "json", str(path)], 3)
    ratio = seconds["sin"] / seconds["tanh"]
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(
        f"trig: a 4×8 network's JSON with sin {seconds['sin']:.2f} s, with tanh "
        f"{seconds['tanh']:.2f} s: ratio {ratio:.2f} (goal ≤ {GOAL}: {verdict}); "
        f"with ReLU (all rational) {seconds['relu']:.2f} s"
    )


if __name__ == "__main__":
    main()
