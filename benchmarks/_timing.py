"""Shared timing for the benchmarks: median wall time of a command, run from the repo root.

Commands run as an installed package runs: with Python's bytecode cache. One
untimed warm-up run writes it (PYTHONDONTWRITEBYTECODE, which some machines
set, is dropped), so that the figures measure dlsolve, not the compiler.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def median_seconds(args: list[str], repeat: int = 5) -> float:
    """Median wall-clock seconds of ``python <args>`` (output discarded; failures raise)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times = []
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if i:  # the first run only warms the bytecode cache
            times.append(time.perf_counter() - t0)
    return statistics.median(times)
