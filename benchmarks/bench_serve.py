"""The student page under load, and after a crash: ``dlsolve serve`` on 127.0.0.1.

50 simulated students (threads, each with its own session cookie) name
themselves and make 20 checks each of a 40-answer problem set
(problems/discussion-normalization.yaml), with answers written the way
bench_grading's class writes them (notations, named mistakes, slips, errors
carried forward, unreadable text). Printed:

* errors (any response that is not an acknowledged check) and whether every
  acknowledged attempt is in the database;
* check latency p50/p99 for one student alone and under the full load, next to
  the in-process time of the same check (``AnswerKey.check``, what ``dlsolve check``
  runs) measured in this run: the ratio is what the server adds (goal ≤ 2× alone;
  under load the queue of 50 students on the checker processes adds waiting). The
  lone student's checks alternate, round by round, with the same checks in-process,
  so that a shared machine's load falls on both alike;
* the CPU time per check of the server process and of its checker processes
  (Linux), which a busy machine disturbs far less than latency;
* then a second load is cut by SIGKILL to the server's whole process group
  mid-way; the server is restarted on the same database, which must pass
  SQLite's integrity check and hold every attempt acknowledged before the kill.

    python benchmarks/bench_serve.py [--students 50] [--checks 20] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_grading import make_class  # noqa: E402

PROBLEMS = "problems/discussion-normalization.yaml"


# --------------------------------------------------------------------------- the class


def as_text(value: Any) -> str:
    """A value of an answers file as a student types it into a box."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(as_text(v) for v in value) + "]"
    return str(value)


def sheets(n: int, seed: int) -> list[dict[str, dict[str, str]]]:
    """``n`` students' answers, problem -> key -> text, from bench_grading's class."""
    import yaml

    with tempfile.TemporaryDirectory() as d:
        asked = make_class(PROBLEMS, n, Path(d), seed)
        assert asked == 40, f"the benchmark's set has {asked} answers, not 40"
        out = []
        for f in sorted(Path(d).glob("*.yaml")):
            data = yaml.safe_load(f.read_text())
            out.append(
                {
                    pid: {str(k): as_text(v) for k, v in keys.items()}
                    for pid, keys in data["answers"].items()
                }
            )
    return out


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(db: str, port: int, workers: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "cli.py",
            "serve",
            PROBLEMS,
            "--port",
            str(port),
            "--db",
            db,
            "--reveal",
            "after:3",
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes the checkers too
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class Client:
    """One student's browser: a keep-alive connection and the session cookie."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookie = ""
        self.csrf = ""

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict | None = None
    ) -> tuple[int, str]:
        h = {"Cookie": self.cookie} if self.cookie else {}
        h.update(headers or {})
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        text = r.read().decode()
        cookie = r.getheader("set-cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        found = re.search(r'<meta name="csrf" content="([^"]+)"', text)
        if found:
            self.csrf = found.group(1)
        return r.status, text

    def login(self, name: str) -> None:
        self.request("GET", "/")
        body = urllib.parse.urlencode({"csrf": self.csrf, "name": name})
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _ = self.request("POST", "/login", body, form)
        assert status == 303, status
        self.request("GET", "/")

    def check(self, pid: str, answers: dict[str, str]) -> tuple[int, str]:
        body = urllib.parse.urlencode(
            {"csrf": self.csrf, **{f"answer:{k}": v for k, v in answers.items()}}
        )
        return self.request(
            "POST",
            f"/set/discussion-normalization/{pid}/check",
            body,
            {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        )


def plan(sheet: dict[str, dict[str, str]], checks: int) -> list[tuple[str, dict[str, str]]]:
    problems = sorted(sheet) or ["model-size"]
    return [
        (problems[i % len(problems)], sheet.get(problems[i % len(problems)], {}))
        for i in range(checks)
    ]


def load(
    port: int, class_: list[dict], checks: int, prefix: str, stop: threading.Event | None = None
) -> tuple[list[float], Counter, list[str]]:
    """Every student checks in parallel; returns latencies, acknowledged (student, problem)
    counts and errors."""
    latencies: list[float] = []
    acked: Counter = Counter()
    errors: list[str] = []
    lock = threading.Lock()

    def student(i: int, sheet: dict) -> None:
        name = f"{prefix}{i:03d}"
        try:
            c = Client(port)
            c.login(name)
        except (OSError, AssertionError, http.client.HTTPException) as err:
            with lock:
                errors.append(f"{name} login: {err!r}")
            return
        for pid, answers in plan(sheet, checks):
            if stop is not None and stop.is_set():
                return
            t0 = time.perf_counter()
            try:
                status, text = c.check(pid, answers)
            except (OSError, http.client.HTTPException) as err:
                with lock:
                    errors.append(f"{name} {pid}: {err!r}")
                return
            dt = time.perf_counter() - t0
            with lock:
                if status == 200 and json.loads(text).get("saved"):
                    latencies.append(dt)
                    acked[name, pid] += 1
                else:
                    errors.append(f"{name} {pid}: HTTP {status} {text[:200]}")

    threads = [threading.Thread(target=student, args=(i, s)) for i, s in enumerate(class_)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, acked, errors


def stored(db_file: Path) -> Counter:
    con = sqlite3.connect(db_file)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute(
            "SELECT s.name, a.problem, count(*) FROM attempts a JOIN students s "
            "ON s.id = a.student_id GROUP BY s.name, a.problem"
        ).fetchall()
    finally:
        con.close()
    return Counter({(n, p): c for n, p, c in rows})


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def in_process_seconds(class_: list[dict], checks: int) -> list[float]:
    """The same checks without the server: AnswerKey.check from this process, per check, after
    the same warm-up the server's checkers get (the first student's checks)."""
    from solver.web import course

    if course._course is None:
        course.start_worker(course.Config((PROBLEMS,)))
        for pid, answers in plan(class_[0], checks):
            course.check_in_worker("discussion-normalization", None, pid, "warm-up", answers)
    times = []
    for i, sheet in enumerate(class_):
        for pid, answers in plan(sheet, checks):
            t0 = time.perf_counter()
            course.check_in_worker("discussion-normalization", None, pid, f"s{i}", answers)
            times.append(time.perf_counter() - t0)
    return times


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def group_cpu(leader: int) -> tuple[float | None, float | None]:
    """CPU seconds of the server process and of its checker processes (with their readers)."""
    own = cpu_seconds(leader)
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != leader]
    except OSError:
        return own, None
    rest = 0.0
    for pid in pids:
        try:
            if os.getpgid(pid) != leader:
                continue
        except OSError:
            continue
        rest += cpu_seconds(pid) or 0.0
    return own, rest


def alone_interleaved(
    port: int, sheet: dict, checks: int, rounds: int
) -> tuple[list[float], list[float]]:
    """The lone student's checks through the server and the same checks in-process, taken in
    turns (one round of each at a time), so that both meet the same machine load."""
    served: list[float] = []
    here: list[float] = []
    for r in range(rounds):
        lat, _, errs = load(port, [sheet], checks, f"alone{r}-")
        assert not errs, errs
        served += lat
        here += in_process_seconds([sheet], checks)
    return served, here


def cpu_per_check(
    before: tuple[float | None, float | None], after: tuple[float | None, float | None], n: int
) -> str:
    """The server's and the checkers' CPU milliseconds per check between two readings: less
    sensitive to a shared machine's load than wall time."""
    (w0, c0), (w1, c1) = before, after
    if None in (w0, c0, w1, c1) or not n:
        return "not measurable here"
    assert w0 is not None and w1 is not None and c0 is not None and c1 is not None
    return (
        f"server process {(w1 - w0) / n * 1000:.2f} ms, "
        f"checker processes {(c1 - c0) / n * 1000:.2f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=50)
    ap.add_argument("--checks", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--rounds", type=int, default=5, help="rounds of the lone student's checks, in turns"
    )
    a = ap.parse_args()

    class_ = sheets(a.students, a.seed)
    in_process_seconds(class_[:1], a.checks)  # warm, as the server's checkers are
    base = in_process_seconds(class_, a.checks)  # the whole class's
    base_p50, base_mean = statistics.median(base), statistics.fmean(base)
    print(
        f"in-process check (AnswerKey.check): the class's {len(base)} checks "
        f"p50 {base_p50 * 1000:.1f} ms, mean {base_mean * 1000:.1f} ms, "
        f"p99 {pct(base, 0.99) * 1000:.1f} ms"
    )

    with tempfile.TemporaryDirectory() as d:
        db_file = Path(d) / "bench.db"
        db = f"sqlite:///{db_file}"
        port = free_port()
        server = start(db, port, a.workers)
        try:
            # each checker sees the lone student's answers once, as the in-process check has:
            # the server keeps a student on one checker, so warm them all at once
            load(port, class_[:1] * a.workers, a.checks, "warmup")
            cpu0 = group_cpu(server.pid)
            alone, one = alone_interleaved(port, class_[0], a.checks, a.rounds)
            cpu1 = group_cpu(server.pid)
            t0 = time.perf_counter()
            lat, acked, errors = load(port, class_, a.checks, "student")
            wall = time.perf_counter() - t0
            cpu2 = group_cpu(server.pid)
        finally:
            kill(server)
        in_db = stored(db_file)
        lost = [k for k, n in acked.items() if in_db[k] < n]
        total = sum(acked.values())
        one_p50, one_mean = statistics.median(one), statistics.fmean(one)
        print(
            f"one student alone ({len(alone)} checks, in turns with the same checks "
            f"in-process: p50 {one_p50 * 1000:.1f} ms, mean {one_mean * 1000:.1f} ms): "
            f"p50 {statistics.median(alone) * 1000:.1f} ms, "
            f"mean {statistics.fmean(alone) * 1000:.1f} ms, p99 {pct(alone, 0.99) * 1000:.1f} ms; "
            f"ratio p50 {statistics.median(alone) / one_p50:.1f}x, "
            f"mean {statistics.fmean(alone) / one_mean:.1f}x (goal <= 2x); the server adds "
            f"{(statistics.median(alone) - one_p50) * 1000:.1f} ms at p50"
        )
        print(f"  CPU per check, alone: {cpu_per_check(cpu0, cpu1, len(alone))}")
        print(
            f"{a.students} students x {a.checks} checks, {a.workers} checker processes: "
            f"{total} acknowledged, {len(errors)} errors, {total / wall:.1f} checks/s"
        )
        print(
            f"  under load: p50 {statistics.median(lat) * 1000:.1f} ms, p99 "
            f"{pct(lat, 0.99) * 1000:.1f} ms; "
            f"p99/p50 {pct(lat, 0.99) / statistics.median(lat):.2f} "
            f"(goal <= 5); mean/in-process mean {statistics.fmean(lat) / base_mean:.1f}x "
            f"(includes waiting behind {a.students} students)"
        )
        print(f"  CPU per check, under load: {cpu_per_check(cpu1, cpu2, len(lat))}")
        print(
            f"  every acknowledged attempt in the database: {not lost} ({sum(in_db.values())} rows)"
        )
        for e in errors[:5]:
            print("  error:", e)

        # The crash: SIGKILL mid-load, restart, count.
        server = start(db, port, a.workers)
        stop = threading.Event()
        result: dict[str, Any] = {}

        def run() -> None:
            result["out"] = load(port, class_, a.checks, "crash", stop)

        t = threading.Thread(target=run)
        t.start()
        time.sleep(max(2.0, wall / 2))
        kill(server)
        stop.set()
        t.join()
        _, acked2, _ = result["out"]
        server = start(db, port, a.workers)  # opens the same file after the crash
        try:
            status, _ = Client(port).request("GET", "/")
        finally:
            kill(server)
        in_db = stored(db_file)
        lost = [k for k, n in acked2.items() if in_db[k] < n]
        print(
            f"SIGKILL mid-load after {sum(acked2.values())} acknowledged checks: restarted "
            f"(HTTP {status}), integrity_check ok, acknowledged attempts lost: {len(lost)}"
        )
        if errors or lost:
            sys.exit(1)


if __name__ == "__main__":
    main()
