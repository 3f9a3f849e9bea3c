"""Cold start: `dlsolve solve problems/` against `python -c "import sympy"` (goal ≤ 2.5).

dlsolve cannot start faster than sympy imports, so sympy's import is the
baseline, measured in the same run. Usage: python benchmarks/bench_coldstart.py
"""

from __future__ import annotations

from _timing import median_seconds

GOAL = 2.5


def main() -> None:
    baseline = median_seconds(["-c", "import sympy"])
    solve = median_seconds(["cli.py", "solve", "problems/"])
    ratio = solve / baseline
    print(f"import sympy:             {baseline:.3f} s")
    print(f"dlsolve solve problems/:  {solve:.3f} s")
    print(f"cold-start ratio: {ratio:.2f} (goal ≤ {GOAL}: {'met' if ratio <= GOAL else 'NOT met'})")


if __name__ == "__main__":
    main()
