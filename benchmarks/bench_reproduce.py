"""How long does ``dlsolve reproduce`` take, with one CPU thread and with two?

``reproduce`` runs on one thread unless ``--threads`` says otherwise, because a
report's last digits depend on the thread count and because models this small
gain little from a second thread while losing much when the machine is shared
(a descheduled second thread makes every step wait). This prints the wall time
of a short run of the shipped BatchNorm experiment on digits (``--trials 1
--epochs 3``) with ``--threads 1`` and ``--threads 2``, the two interleaved so
that a change in machine load hits both, and their ratio; and whether the two
reports hold the same numbers (they may not: that is why the count is recorded).

Goal: two threads ÷ one thread ≥ 0.8, i.e. the reproducible default costs at
most a quarter more than two threads when the machine is idle. Run:
``python benchmarks/bench_reproduce.py`` (``--repeat N``, default 3).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from solver.verify import report  # noqa: E402

GOAL = 0.8
COMMAND = [
    "cli.py",
    "reproduce",
    "problems/experiments/bn-placement.yaml",
    "--dataset",
    "digits",
    "--trials",
    "1",
    "--epochs",
    "3",
    "-q",
]


def run(threads: int, out: Path) -> float:
    """Wall-clock seconds of one run of COMMAND with ``--threads threads``, report in ``out``."""
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, *COMMAND, "--threads", str(threads), "-o", str(out)],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    times: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for threads in (1, 2):
                times[threads].append(run(threads, Path(tmp) / f"t{threads}-{i}"))
        payloads = {
            t: json.loads((Path(tmp) / f"t{t}-0" / "REPORT.json").read_text()) for t in (1, 2)
        }
    one, two = statistics.median(times[1]), statistics.median(times[2])
    differ = [
        where
        for where, _, _ in report.differences(payloads[1], payloads[2])
        if not where.startswith(("conditions", "command"))
    ]
    ratio = two / one
    verdict = "meets" if ratio >= GOAL else "misses"
    print(
        f"reproduce (1 trial x 3 epochs, digits): 1 thread {one:.1f} s, 2 threads {two:.1f} s "
        f"(medians of {args.repeat}): ratio {ratio:.2f} ({verdict} goal >= {GOAL}); "
        f"{len(differ)} numbers differ between the two reports"
    )


if __name__ == "__main__":
    main()
