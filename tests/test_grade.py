"""Grading a class: a CSV row per submission (broken ones too), results.json, parallel, variants."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import cli
from solver import grade
from solver.check import AnswerKey, Settings
from solver.errors import DlsolveError

DISCUSSION = Path("tests/data/normalization-worksheet.yaml")  # fixed, unlike the shipped file


@pytest.fixture
def classroom(tmp_path: Path) -> Path:
    d = tmp_path / "submissions"
    d.mkdir()
    sheets = {
        "alice.yaml": {
            "student": "Alice",
            "answers": {"layernorm": {"mean": [6, 3, 2], "var": [4, 9, 3]}},
        },
        "bob.yaml": {"answers": {"layernorm": {"mean": [6, 3, 2], "var": ["16/3", 12, 4]}}},
        "carol.yml": {
            "student": "Carol",
            "variant": 3,
            "answers": {"layernorm": {"mean": [7, 3, 2]}},
        },
    }
    for name, doc in sheets.items():
        (d / name).write_text(yaml.safe_dump(doc))
    (d / "dave.yaml").write_text("answers:\n  layernorm: {mean: [6, 3\n")  # broken YAML
    (d / "notes.txt").write_text("not a submission")
    return d


def _variants(tmp_path: Path) -> Path:
    """Variant 3 of the discussion set: the first row of LayerNorm's X shifted by 1."""
    v = tmp_path / "variants"
    v.mkdir()
    text = DISCUSSION.read_text().replace(
        "X: [[4, 4, 8, 8], [0, 2, 2, 8], [1, 1, 1, 5]]",
        "X: [[5, 5, 9, 9], [0, 2, 2, 8], [1, 1, 1, 5]]",
        1,
    )
    (v / f"{DISCUSSION.stem}-3.yaml").write_text(text)
    return v


def test_submissions_are_the_yaml_files(classroom: Path) -> None:
    assert [p.name for p in grade.submissions(classroom)] == [
        "alice.yaml",
        "bob.yaml",
        "carol.yml",
        "dave.yaml",
    ]
    with pytest.raises(DlsolveError, match="no such folder"):
        grade.submissions(classroom / "missing")


def test_parallel_grading_matches_serial(classroom: Path, tmp_path: Path) -> None:
    files = grade.submissions(classroom)
    variants = _variants(tmp_path)
    serial = grade.grade(DISCUSSION, files, jobs=1, variants_dir=variants)
    parallel = grade.grade(DISCUSSION, files, jobs=2, variants_dir=variants)
    assert [(o.student, o.status) for o in serial] == [(o.student, o.status) for o in parallel]
    assert [o.report.to_json() if o.report else None for o in serial] == [
        o.report.to_json() if o.report else None for o in parallel
    ]
    by_name = {Path(o.file).name: o for o in serial}
    # graded against variants, an answers file that names none is a status, not the base's
    assert (
        by_name["alice.yaml"].report is None and "names no variant" in by_name["alice.yaml"].status
    )
    [alice] = grade.grade(DISCUSSION, [classroom / "alice.yaml"], jobs=1)
    assert alice.report.score == 2
    assert by_name["bob.yaml"].student == "bob"  # from the file name
    assert by_name["dave.yaml"].status.startswith("error: ")
    assert "not valid YAML" in by_name["dave.yaml"].status


def test_variant_is_checked_against_its_own_problems(classroom: Path, tmp_path: Path) -> None:
    files = [classroom / "carol.yml"]
    [with_variants] = grade.grade(DISCUSSION, files, variants_dir=_variants(tmp_path))
    assert with_variants.variant == 3
    mean = with_variants.report.results[0]
    assert (mean.key, mean.verdict) == ("mean", "correct")  # row 1 of variant 3 has mean 7
    [without] = grade.grade(DISCUSSION, files)
    assert without.student == "Carol"
    assert "variant 3" in without.status and "--variants" in without.status


def test_variant_path_finds_what_dlsolve_variants_wrote(tmp_path: Path) -> None:
    with pytest.raises(DlsolveError, match="variant 9 has no problem file"):
        grade.variant_path(tmp_path, DISCUSSION, 9)
    written = tmp_path / f"{DISCUSSION.stem}-9.yaml"  # the layout dlsolve variants writes
    written.write_text("x")
    assert grade.variant_path(tmp_path, DISCUSSION, 9) == written


def test_csv_and_results(classroom: Path, tmp_path: Path) -> None:
    key = AnswerKey.load(DISCUSSION, Settings())
    outcomes = grade.grade(DISCUSSION, grade.submissions(classroom), jobs=2)
    out = tmp_path / "grades.csv"
    grade.write_csv(outcomes, key, out)
    rows = list(csv.DictReader(out.open()))
    assert [r["student"] for r in rows] == ["Alice", "bob", "Carol", "dave"]
    assert rows[0]["status"] == "ok" and rows[0]["score"] == "2" and rows[0]["max_score"] == "17"
    assert rows[0]["layernorm/mean"] == "1" and rows[0]["layernorm/output"] == "0"
    assert rows[1]["layernorm/var"] == "0"
    assert rows[3]["status"].startswith("error: ") and rows[3]["score"] == "0"  # unusable: 0
    results = tmp_path / "results"
    assert grade.write_results(outcomes, results, key) == 4
    alice = json.loads((results / "alice" / "results.json").read_text())
    assert alice["score"] == 2 and alice["max_score"] == 17 and len(alice["tests"]) == 15
    dave = json.loads((results / "dave" / "results.json").read_text())
    assert dave["score"] == 0 and "could not be graded" in dave["output"]


def test_grade_command(classroom: Path, tmp_path: Path) -> None:
    out, results = tmp_path / "g.csv", tmp_path / "out"
    res = CliRunner().invoke(
        cli.main,
        [
            "grade",
            str(DISCUSSION),
            str(classroom),
            "-o",
            str(out),
            "--results-dir",
            str(results),
            "--jobs",
            "2",
            "--variants",
            str(_variants(tmp_path)),
        ],
    )
    assert res.exit_code == 0, res.output
    # alice and bob name no variant: graded against variants, that is their status
    assert "graded 4 submissions (3 could not be read)" in res.stderr
    assert len(list(csv.reader(out.open()))) == 5
    assert (results / "carol" / "results.json").is_file()


def test_grade_command_with_a_missing_folder(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli.main, ["grade", str(DISCUSSION), str(tmp_path / "nope")])
    assert res.exit_code == 2 and "no such folder" in res.stderr
