"""Scaling: an exact 128×128 LayerNorm + BatchNorm against a 2×2 one (goal ≤ 3).

Both problems go through the whole command (`dlsolve solve FILE`), so the
ratio charges the big one for loading, solving and printing 16,384 exact
entries per layer, and shows whether the hot path stays in integers with one
square root per row or column. Printed for the text output (the default) and
for JSON (every entry as string, float and LaTeX).
Usage: python benchmarks/bench_scaling.py
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import yaml
from _timing import median_seconds

GOAL = 3.0


def write_problem(n: int, path: Path, seed: int = 0) -> None:
    """A LayerNorm and a BatchNorm problem on the same random n×n integer matrix."""
    rng = random.Random(seed)
    X = [[rng.randint(-9, 9) for _ in range(n)] for _ in range(n)]
    gamma = [rng.randint(1, 4) for _ in range(n)]
    beta = [rng.randint(-2, 2) for _ in range(n)]
    given = {"X": X, "gamma": gamma, "beta": beta, "eps": 0}
    doc = {
        "title": f"{n}x{n}",
        "problems": [
            {"id": "layernorm", "kind": "layernorm", "given": given},
            {"id": "batchnorm", "kind": "batchnorm", "given": given},
        ],
    }
    path.write_text(yaml.safe_dump(doc, default_flow_style=None))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp, "small.yaml"), Path(tmp, "big.yaml")
        write_problem(2, small)
        write_problem(128, big)
        for label, extra in (("text", []), ("json", ["--format", "json"])):
            t_small = median_seconds(["cli.py", "solve", str(small), *extra])
            t_big = median_seconds(["cli.py", "solve", str(big), *extra])
            ratio = t_big / t_small
            verdict = "met" if ratio <= GOAL else "NOT met"
            print(
                f"{label:4}: 2x2 {t_small:.3f} s, 128x128 {t_big:.3f} s, "
                f"ratio {ratio:.2f} (goal ≤ {GOAL}: {verdict})"
            )


if __name__ == "__main__":
    main()
