"""Outputs survive interruptions and concurrent runs; bad output paths are one sentence."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from solver import output
from solver.errors import DlsolveError

ROOT = Path(__file__).resolve().parent.parent
SOFTMAX = """\
title: t
problems:
  - id: sm
    kind: softmax_ce
    given:
      logits: [1, 2, 3]
      label: 2
"""
GOOD = "answers:\n  sm:\n    predicted: [2]\n    loss: 0.4076\n"


def _class(tmp_path: Path, n: int, extra: dict[str, str] | None = None) -> tuple[Path, Path]:
    problems = tmp_path / "sm.yaml"
    problems.write_text(SOFTMAX)
    subs = tmp_path / "subs"
    subs.mkdir()
    for i in range(n):
        (subs / f"s{i:04d}.yaml").write_text(GOOD)
    for name, text in (extra or {}).items():
        (subs / name).write_text(text)
    return problems, subs


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "/nonexistent/x/grades.csv"], "the folder /nonexistent/x does not exist"),
        (["-o", "/dev/full"], "not a regular file"),
        (["--results-dir", "{tmp}/sm.yaml/results"], "is a file, so no folder can be made"),
        (["--results-dir", "{tmp}/sm.yaml"], "is a file"),  # click's own sentence
    ],
)
def test_bad_output_paths_are_one_sentence(
    args: list[str], message: str, tmp_path: Path, cli_run
) -> None:
    problems, subs = _class(tmp_path, 1)
    args = [a.format(tmp=tmp_path) for a in args]
    if args[0] != "-o":
        args += ["-o", str(tmp_path / "g.csv")]
    code, _, err = cli_run("grade", str(problems), str(subs), *args)
    assert code == 2, err
    assert message in err and "Traceback" not in err, err
    assert err.startswith("Usage") or err.count("\n") == 1, err
    assert not (tmp_path / "g.csv").exists()  # refused before any work


def test_export_bad_output_path(tmp_path: Path, cli_run) -> None:
    problems, _ = _class(tmp_path, 0)
    code, _, err = cli_run("export", str(problems), "-o", "/nonexistent/x/sol.md")
    assert code == 2 and "does not exist" in err and err.count("\n") == 1, err
    code, _, err = cli_run("export", str(problems), "-o", "/dev/full")
    assert code == 2 and "not a regular file" in err, err
    code, _, err = cli_run("export", str(problems), "-o", str(tmp_path / "sol.md"))
    assert code == 0 and (tmp_path / "sol.md").read_text().startswith("#"), err


# --------------------------------------------------------------------------- rows


def test_every_submission_path_gets_a_row_and_a_result(tmp_path: Path, cli_run) -> None:
    problems, subs = _class(tmp_path, 1, {"zed.yaml": GOOD, "zed.yml": GOOD})
    (subs / "broken.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (subs / "folder.yaml").mkdir()
    (subs / "evil.yaml").write_text("student: \"=cmd|' /C calc'!A0\"\n" + GOOD)
    out, results = tmp_path / "g.csv", tmp_path / "results"
    code, _, err = cli_run(
        "grade", str(problems), str(subs), "-o", str(out), "--results-dir", str(results)
    )
    assert code == 0, err
    rows = {Path(r["file"]).name: r for r in _rows(out)}
    assert set(rows) == {
        "s0000.yaml",
        "zed.yaml",
        "zed.yml",
        "broken.yaml",
        "folder.yaml",
        "evil.yaml",
    }
    assert rows["broken.yaml"]["status"].endswith("a broken symbolic link.")
    assert rows["folder.yaml"]["status"].endswith("this is a folder, not an answers file.")
    assert rows["broken.yaml"]["score"] == "0" and rows["broken.yaml"]["max_score"] == "4"
    assert rows["evil.yaml"]["student"] == "'=cmd|' /C calc'!A0"  # shown, never run
    assert "'=cmd" in out.read_text() and "\n=cmd" not in out.read_text()
    # zed.yaml and zed.yml would share zed/results.json: both kept, the renaming reported
    assert {p.name for p in results.iterdir()} == {
        "s0000",
        "zed.yaml",
        "zed.yml",
        "broken",
        "folder",
        "evil",
    }
    assert "its results go to zed.yml/results.json" in err
    broken = json.loads((results / "broken" / "results.json").read_text())
    assert broken["score"] == 0 and "broken symbolic link" in broken["output"]


def test_spreadsheet_safe() -> None:
    for cell in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert output.spreadsheet_safe(cell) == "'" + cell
    assert output.spreadsheet_safe("Alice") == "Alice"


def test_gradescope_of_an_unusable_file_is_valid(tmp_path: Path, cli_run) -> None:
    problems, _ = _class(tmp_path, 0)
    bad = tmp_path / "bad.yaml"
    bad.write_text("answers: [1, 2\n")
    code, out, err = cli_run("check", str(problems), str(bad), "--format", "gradescope")
    assert code == 2 and "not valid YAML" in err
    payload = json.loads(out)
    assert payload["score"] == 0 and payload["max_score"] == 4
    assert "not valid YAML" in payload["output"]


def test_gradescope_tests_sum_exactly(tmp_path: Path, cli_run) -> None:
    problems = tmp_path / "sm.yaml"
    # rounded one by one these are 0.6667 × 3 = 2.0001 of 2 points
    points = "{probabilities: 0.66667, loss: 0.66667, grad_logits: 0.66666}"
    problems.write_text(SOFTMAX + f"    points: {points}\n")
    answers = tmp_path / "a.yaml"
    answers.write_text(
        "answers:\n  sm:\n    probabilities: [0.0900, 0.2447, 0.6652]\n    loss: 0.4076\n"
        "    grad_logits: [0.0900, 0.2447, -0.3348]\n"
    )
    _, out, _ = cli_run("check", str(problems), str(answers), "--format", "gradescope")
    payload = json.loads(out)
    tests = payload["tests"]
    assert all(t["status"] in ("passed", "failed") and t["output_format"] == "text" for t in tests)
    from decimal import Decimal

    total = sum(Decimal(str(t["score"])) for t in tests)
    assert total == Decimal(str(payload["score"])) == 2, (tests, payload["score"])
    assert sum(t["status"] == "passed" for t in tests) == 3, tests


# --------------------------------------------------------------------------- atomic, locked


def test_a_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "grades.csv"
    target.write_text("old\n")

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(DlsolveError, match="No space left on device"):
        output.written(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]  # no temporary file left


def test_a_second_run_on_the_same_output_fails_clearly(tmp_path: Path, cli_run) -> None:
    problems, subs = _class(tmp_path, 2)
    out = tmp_path / "g.csv"
    with output.locked(out):
        code, _, err = cli_run("grade", str(problems), str(subs), "-o", str(out))
    assert code == 2 and "another run is writing this file" in err, err
    assert not out.exists()
    code, _, err = cli_run("grade", str(problems), str(subs), "-o", str(out))
    assert code == 0 and len(_rows(out)) == 2 and not Path(f"{out}.lock").exists()


# --------------------------------------------------------------------------- signals


@pytest.mark.parametrize("stage", ["write", "fsync", "replace"])
def test_a_signal_inside_the_write_leaves_the_old_file(
    stage: str, tmp_path: Path, monkeypatch
) -> None:
    """A signal at each point of the write: the old file stays, no temporary file is left."""
    from solver.errors import Interrupted

    target = tmp_path / "grades.csv"
    target.write_text("old\n")
    new = "student,score\n" + "x,1\n" * 3000
    real_fdopen = os.fdopen

    class Torn:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, text: str) -> None:
            self.f.write(text[: len(text) // 3])  # a third is on disk when the signal comes
            self.f.flush()
            if stage == "write":
                raise Interrupted(signal.SIGTERM)
            self.f.write(text[len(text) // 3 :])

        def flush(self) -> None:
            self.f.flush()

        def fileno(self) -> int:
            return self.f.fileno()

    def interrupted(*args: object) -> None:
        raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(os, "fdopen", lambda *a, **k: Torn(real_fdopen(*a, **k)))
    if stage == "fsync":
        monkeypatch.setattr(os, "fsync", interrupted)
    if stage == "replace":
        monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(Interrupted):
        output.written(target, new)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]
    monkeypatch.undo()
    output.written(target, new)
    assert target.read_text() == new


def _start_grade(problems: Path, subs: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "cli.py", "grade", str(problems), str(subs), "-o", str(out), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_at_random_points_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    n = 400
    problems, subs = _class(tmp_path, n)
    out = tmp_path / "g.csv"
    out.write_text("the previous grades\n")
    rng = random.Random(16)
    seen = set()
    for _ in range(3):
        proc = _start_grade(problems, subs, out)
        time.sleep(rng.uniform(1.0, 3.5))  # start-up, grading, or writing
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        text = out.read_text()
        if text == "the previous grades\n":
            if proc.returncode == -signal.SIGTERM:  # still importing: nothing started yet
                assert err == "", err
            else:
                assert proc.returncode == 143, err
                assert err.startswith("interrupted (SIGTERM)") and err.count("\n") == 1, err
            seen.add("old")
        else:
            rows = _rows(out)
            assert len(rows) == n and all(r["score"] == "2" for r in rows), text[-200:]
            seen.add("new")
            out.write_text("the previous grades\n")
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert seen  # (which of the two depends on the machine's speed)


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for c in map(int, children):
            if c not in found:
                found.add(c)
                todo.append(c)
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_sigterm_leaves_no_process_behind(tmp_path: Path) -> None:
    slow = 'answers:\n  sm:\n    probabilities: ["exp(exp(exp(96)))", 0, 0]\n'
    problems, subs = _class(tmp_path, 0, {f"slow{i}.yaml": slow for i in range(4)})
    proc = _start_grade(problems, subs, tmp_path / "g.csv", "--jobs", "2", "--timeout", "20")
    workers: set[int] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(workers) < 4:  # 2 in the pool, 1 under each
        time.sleep(0.2)
        workers = _descendants(proc.pid)
    assert len(workers) >= 4, workers
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    deadline = time.monotonic() + 5
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = {p for p in workers if _running(p)}
    assert not alive, f"left running: {alive}"
    assert not (tmp_path / "g.csv").exists()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
