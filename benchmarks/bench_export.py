"""Handouts of a big graph problem: `solve --format json`, `export` (Markdown) and `export
--format html` of bench_graph's exact 3-layer MLP (16 wide, batch 8, ReLU, cross-entropy,
every gradient exact in e), each against `dlsolve solve` of the same file in the same run
(goal ≤ 2).

`solve` prints the terminal text, whose Unicode printer writes each sum over e once; the
other formats add the float beside every exact value, the LaTeX of every entry (about 2 MB
of it) and the breaking of long equations over lines. The ratio shows whether those stay
on the cheap paths: floats from one interval evaluation of each shared subexpression, LaTeX
and str written directly for sums over e, equations read as runs and whole environments.
Usage: python benchmarks/bench_export.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _timing import median_seconds
from bench_graph import mlp_given, write

GOAL = 2.0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "mlp.yaml")
        write(path, mlp_given())
        md, page = Path(tmp, "mlp.md"), Path(tmp, "mlp.html")
        commands = {
            "solve --format json": ["solve", str(path), "--format", "json"],
            "export (Markdown)": ["export", str(path), "-o", str(md)],
            "export --format html": ["export", str(path), "--format", "html", "-o", str(page)],
        }
        base = median_seconds(["cli.py", "solve", str(path)], repeat=3)
        times = {name: median_seconds(["cli.py", *cmd], repeat=3) for name, cmd in commands.items()}
        sizes = {"export (Markdown)": md.stat().st_size}
        sizes["export --format html"] = page.stat().st_size
    print(f"export: 3-layer MLP (16 wide, batch 8), dlsolve solve {base:.3f} s")
    for name, t in times.items():
        ratio = t / base
        verdict = "met" if ratio <= GOAL else "NOT met"
        size = f", {sizes[name] / 1e6:.1f} MB" if name in sizes else ""
        print(f"        {name}: {t:.3f} s{size}: ratio {ratio:.2f} (goal ≤ {GOAL}: {verdict})")


if __name__ == "__main__":
    main()
