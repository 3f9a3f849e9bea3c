"""dlsolve gradescope: the autograder bundle, and its run_autograder on a submission."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

HOMEWORK = Path(__file__).parent / "web" / "homework.yaml"
ANSWERS = "answers:\n  layernorm:\n    mean: [6, 3, 2]\n    var: [16/3, 12, 4]\n"


def test_the_bundle_holds_what_gradescope_runs(cli_run, tmp_path) -> None:
    target = tmp_path / "autograder.zip"
    code, _, err = cli_run("gradescope", str(HOMEWORK), "-o", str(target), "--reveal", "never")
    assert code == 0 and "autograder.zip" in err
    with zipfile.ZipFile(target) as z:
        names = set(z.namelist())
        assert {"setup.sh", "run_autograder", "problems/homework.yaml"} <= names
        assert "dlsolve/pyproject.toml" in names and "dlsolve/solver/check.py" in names
        assert not [n for n in names if "/verify/" in n or "__pycache__" in n]
        for script in ("setup.sh", "run_autograder"):
            assert (z.getinfo(script).external_attr >> 16) & 0o111, f"{script} is executable"
        run = z.read("run_autograder").decode()
    assert "/autograder/results/results.json" in run and "--reveal never" in run


def test_run_autograder_writes_results_with_visibility(cli_run, tmp_path) -> None:
    """The bundled dlsolve, alone on the path, checks a submission as Gradescope would."""
    target = tmp_path / "autograder.zip"
    cli_run("gradescope", str(HOMEWORK), "-o", str(target), "--reveal", "after:2")
    source = tmp_path / "source"
    with zipfile.ZipFile(target) as z:
        z.extractall(source)
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "answers.yaml").write_text(ANSWERS, encoding="utf-8")
    meta = tmp_path / "submission_metadata.json"
    results = tmp_path / "results" / "results.json"

    def grade(previous: int) -> dict:
        meta.write_text(json.dumps({"previous_submissions": [{}] * previous}), encoding="utf-8")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "solver.gradescope",
                str(source / "problems" / "homework.yaml"),
                "--reveal",
                "after:2",
                "--submission",
                str(submission),
                "--metadata",
                str(meta),
                "--results",
                str(results),
            ],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(source / "dlsolve")},
            check=True,
            timeout=300,
        )
        return json.loads(results.read_text(encoding="utf-8"))

    first = grade(0)
    assert first["visibility"] == "visible" and first["score"] == 1 and first["max_score"] == 7
    var = next(t for t in first["tests"] if t["name"] == "layernorm: var")
    assert "variance divided by N−1" in var["output"] and "should be" not in var["output"]
    second = grade(1)
    var = next(t for t in second["tests"] if t["name"] == "layernorm: var")
    assert "should be 4" in var["output"]


def test_an_empty_submission_gets_a_sentence_not_a_crash(tmp_path) -> None:
    from solver.gradescope import run
    from solver.reveal import Reveal

    (tmp_path / "sub").mkdir()
    out = run(HOMEWORK, tmp_path / "sub", tmp_path / "r.json", Reveal.parse("never"))
    assert out["score"] == 0 and out["max_score"] == 7 and "no answers file" in out["output"]
