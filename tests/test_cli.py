"""The command line: solve, export, kinds, new; exit codes; no torch on the core path."""

from __future__ import annotations

import json
import subprocess
import sys

import sympy
import yaml

import solver
from solver import kinds

from .conftest import PROBLEMS, ROOT


def test_solve_prints_exact_answers_with_steps(cli_run):
    code, out, err = cli_run(
        "solve", str(PROBLEMS / "discussion-normalization.yaml"), "--only", "layernorm"
    )
    assert code == 0 and not err
    assert "μ₁ = (4 + 4 + 8 + 8)/4 = 6" in out
    assert "-1 - 2√3/3" in out and "20/3" in out
    assert "1.73" not in out and "6.66" not in out


def test_solve_no_steps_and_only(cli_run):
    code, out, _ = cli_run("solve", str(PROBLEMS), "--only", "dropout", "--no-steps")
    assert code == 0
    assert "Steps" not in out and "output = [8/3, 0, 8, 32/3]" in out
    assert "layernorm" not in out


def test_unknown_only_id_is_an_error(cli_run):
    code, _, err = cli_run("solve", str(PROBLEMS), "--only", "nope")
    assert code == 2 and "no problem has the id 'nope'" in err


def test_json_follows_spec_section_6(cli_run):
    code, out, _ = cli_run(
        "solve", str(PROBLEMS / "discussion-normalization.yaml"), "--format", "json"
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["title"].startswith("Discussion")
    ln = next(p for p in doc["problems"] if p["id"] == "layernorm")
    out_ans = ln["answers"]["output"]
    assert out_ans["type"] == "matrix"
    assert out_ans["value"][2][1] == "-1 - 2*sqrt(3)/3"
    assert abs(out_ans["float"][2][1] - (-1 - 2 * 3**0.5 / 3)) < 1e-15
    assert out_ans["latex"].startswith(r"\begin{bmatrix}")
    for row_v, row_f in zip(out_ans["value"], out_ans["float"], strict=True):
        for v, f in zip(row_v, row_f, strict=True):
            assert abs(float(sympy.sympify(v)) - f) < 1e-12  # sympy's own parser reads it
    assert set(ln["answers"]) == {"mean", "var", "normalized", "output"}  # ask is honoured
    assert ln["steps"][0]["text"] and "latex" in ln["steps"][1]
    one = next(p for p in doc["problems"] if p["id"] == "batchnorm-batch1")
    assert one["answers"]["defined"]["value"] is False
    assert one["answers"]["output"]["value"] == [[None] * 4]


def test_export_writes_markdown_with_display_math(cli_run, tmp_path):
    target = tmp_path / "solutions.md"
    code, _, err = cli_run(
        "export",
        str(PROBLEMS / "lecture-normalization.yaml"),
        str(PROBLEMS / "discussion-normalization.yaml"),
        "-o",
        str(target),
    )
    assert code == 0 and "wrote" in err
    md = target.read_text()
    assert md.count("\n# ") + md.startswith("# ") == 2  # one heading per file
    assert md.count("$$") % 2 == 0
    assert r"-1 - \frac{2 \sqrt{3}}{3}" in md
    for block in md.split("$$")[1::2]:  # every display block stands between blank lines
        assert block.startswith("\n") and block.endswith("\n")


def test_kinds_lists_and_describes(cli_run):
    code, out, _ = cli_run("kinds")
    assert code == 0
    for name in kinds.names():
        assert name in out
    code, out, _ = cli_run("kinds", "batchnorm")
    assert "momentum" in out and "probability" in out and "running_var" in out
    assert "default 1/10" in out
    code, _, err = cli_run("kinds", "batchnrom")
    assert code == 2 and "unknown kind 'batchnrom'" in err


def test_new_template_of_every_kind_solves(cli_run, tmp_path):
    for name in kinds.names():
        code, out, _ = cli_run("new", name)
        assert code == 0
        path = tmp_path / f"{name}.yaml"
        path.write_text(out)
        ps = solver.load(path)
        assert not ps.errors, (name, [str(e) for e in ps.errors])
        s = solver.solve(ps.problems[0])
        assert s.answers or (not kinds.get(name).keys and s.steps)  # prose has steps only
        assert yaml.safe_load(out)["problems"][0]["kind"] == name


def test_errors_exit_2_and_the_rest_still_prints(cli_run, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "title: t\nproblems:\n"
        "  - id: ok\n    kind: dropout\n    given: {z: [2], mask: [1], p: 0.5}\n"
        "  - id: bad\n    kind: dropout\n    given: {z: [2], mask: [7], p: 0.5}\n"
    )
    missing = tmp_path / "missing.yaml"
    code, out, err = cli_run("solve", str(bad), str(missing), "--no-steps")
    assert code == 2
    assert "output = [4]" in out
    lines = err.strip().splitlines()
    assert lines == [
        f"error: {bad}:8: problem 'bad', field 'given.mask[0]': must hold 1 (keep) or 0 "
        "(drop), got 7.",
        f"error: {missing}: no such file.",
    ]


def test_the_core_commands_never_import_torch():
    code = (
        "import sys, cli\n"
        "for args in (['solve', 'problems', '--format', 'json'], ['export', 'problems', '-o', "
        "'-'], ['kinds'], ['new', 'batchnorm']):\n"
        "    try:\n"
        "        cli.main(args, standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'numpy' not in sys.modules or True\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_check_formats_named_by_the_cli_are_the_report_formats():
    import cli
    from solver.render import report

    assert set(cli.REPORT_FORMATS) == set(report.FORMATS)
