"""What a hostile student costs: the slowest single answer, and the memory of a 2 MB file.

Checks, one file each, every hostile answer of issue 16's red-team run (the
cases of tests/test_hostile.py) and prints the slowest, next to a good answers
file checked in the same run. Then runs ``dlsolve check`` on answers files of
2 MB (the most an answers file may hold) and prints the peak memory of the
command's whole process tree (the command and its worker, sampled from /proc),
next to the same for a small file (PSS: shared pages counted once):

    python benchmarks/bench_hostile.py [--timeout 1.0]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from solver.check import AnswerKey, Settings, read_answers  # noqa: E402
from tests.test_hostile import CASES, GOOD, SOFTMAX, _hostile  # noqa: E402


def _tree_pss(pid: int) -> int:
    """Proportional resident bytes of ``pid`` and all its descendants (Linux /proc): pages a
    forked worker shares with its parent count once, not twice."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
            total += next(int(x.split()[1]) for x in rollup if x.startswith("Pss:")) * 1024
            todo += map(int, Path(f"/proc/{p}/task/{p}/children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


def peak_memory(args: list[str]) -> tuple[int, float]:
    """Peak proportional memory of a command's process tree, sampled every 10 ms, and its
    time."""
    start = time.monotonic()
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_pss(proc.pid))
        time.sleep(0.01)
    return peak, time.monotonic() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=1.0, help="seconds per answer (--timeout)")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    problems = folder / "sm.yaml"
    problems.write_text(SOFTMAX)
    key = AnswerKey.load(problems, Settings(timeout=args.timeout))

    def timed(text: str) -> tuple[float, float]:
        """Seconds to read the file's YAML, and to check its answers."""
        p = folder / "a.yaml"
        p.write_text(text)
        start = time.monotonic()
        sheet = read_answers(p)
        read = time.monotonic()
        key.check(sheet)
        return read - start, time.monotonic() - read

    timed(GOOD)  # the worker starts
    good = min(sum(timed(GOOD)) for _ in range(3))
    times = {name: timed(_hostile(lines)) for name, lines in CASES.items()}
    key.close()
    worst = max(times, key=lambda name: times[name][1])
    print(f"good answers file: {good * 1000:.0f} ms read and checked (baseline)")
    for name, (r, t) in sorted(times.items(), key=lambda kv: -sum(kv[1]))[:5]:
        print(f"  {name}: read {r:.2f} s, checked {t:.2f} s ({(r + t) / good:.0f}× the good file)")
    print(
        f"slowest single hostile answer: {worst}, checked in {times[worst][1]:.2f} s "
        f"(limit {args.timeout} s per step)"
    )

    small = folder / "good.yaml"
    small.write_text(GOOD)
    values = folder / "values-2mb.yaml"  # 95,000 decimals of 20 digits: just under the limits
    values.write_text(
        "answers:\n"
        + "".join(
            f"  p{i}:\n    x: [{','.join(['0.123456789012345678'] * 9_500)}]\n" for i in range(10)
        )
    )
    formula = folder / "formula-2mb.yaml"  # one formula of 2 MB
    formula.write_text(_hostile('loss: "' + "1+" * 990_000 + '1"'))
    cli = [sys.executable, "cli.py", "check", str(problems)]
    base, base_t = peak_memory([*cli, str(small)])
    print(f"check, a small answers file: peak {base / 2**20:.0f} MB, {base_t:.1f} s (baseline)")
    for f in (values, formula):
        peak, t = peak_memory([*cli, str(f)])
        size = f.stat().st_size / 1e6
        print(
            f"check, {f.name} ({size:.1f} MB): peak {peak / 2**20:.0f} MB "
            f"({peak / base:.1f}× the small file), {t:.1f} s"
        )


if __name__ == "__main__":
    main()
