"""Variants: every kind draws new, valid, nice givens; the files grade with --variants."""

from __future__ import annotations

import csv
import random
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

import solver
from solver import exact, kinds, variants
from solver.render import json as json_render

from .conftest import PROBLEMS, problem_file

KINDS = [name for name in kinds.names() if name != "toy_chain" and kinds.get(name).varies]


def example_problem(name: str) -> solver.Problem:
    ps = solver.load_text(problem_file(name, kinds.get(name).example))
    assert not ps.errors, ps.errors
    return ps.problems[0]


@pytest.mark.parametrize("name", KINDS)
def test_every_kind_draws_valid_nice_new_variants(name):
    """Twelve draws per kind: each reloads from YAML, solves, keeps every promise and differs
    from the source; and the generator keeps its promises on its own most of the time."""
    problem = example_problem(name)
    k = kinds.get(name)
    seen = set()
    for seed in range(12):
        raw, _ = variants.draw(problem, random.Random(seed))
        reloaded = solver.load_text(problem_file(name, raw))
        assert not reloaded.errors, (seed, [str(e) for e in reloaded.errors])
        p = reloaded.problems[0]
        assert p.given.model_dump() != problem.given.model_dump()
        s = solver.solve(p)
        assert k.broken_promises(p.given, s) == []
        seen.add(yaml.safe_dump(raw))
    assert len(seen) >= 4, "the variants hardly differ from each other"
    kept = 0
    rng = random.Random(99)
    for _ in range(20):
        raw = variants._yamlable(k.generate(problem.raw_given, rng))
        try:
            g = k.Given.model_validate(raw)
            s = solver.solve(solver.load_text(problem_file(name, raw)).problems[0])
        except (ValueError, IndexError, solver.DlsolveError):  # a draw draw() would discard
            continue
        kept += not k.broken_promises(g, s)
    assert kept >= 8, f"{name}: only {kept} of 20 raw draws keep the promises"


def test_normalization_variants_are_rational_where_promised():
    """Independent of the kind's own check: with eps = 0 and rows of four values every
    normalized entry of a LayerNorm variant is a fraction."""
    p = example_problem("layernorm")
    for seed in range(10):
        _, s = variants.draw(p, random.Random(seed))
        assert all(exact.is_rational(x) for x in exact.flatten(s["normalized"]))


def test_a_constant_group_stays_constant():
    """The batch-of-one question survives: its variance stays 0 and the output undefined."""
    ps = solver.load(PROBLEMS / "discussion-normalization.yaml")
    one = ps.get("batchnorm-batch1")
    for seed in range(5):
        _, s = variants.draw(one, random.Random(seed))
        assert s["defined"] is False and s["var"] == [0, 0, 0, 0]


def test_texts_quote_the_variants_numbers(tmp_path):
    variants.write(PROBLEMS / "lecture-normalization.yaml", 2, 11, tmp_path)
    doc = yaml.safe_load((tmp_path / "lecture-normalization-1.yaml").read_text())
    dropout = next(p for p in doc["problems"] if p["id"] == "dropout")
    z = dropout["given"]["z"]
    s = solver.solve(solver.load(tmp_path / "lecture-normalization-1.yaml").get("dropout"))
    assert f"z = {z}" in s.text
    assert "[2, 4, 6, 8]" not in s.text


def test_same_seed_same_variants(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    variants.write(PROBLEMS / "coms573-cnn.yaml", 2, 5, a)
    variants.write(PROBLEMS / "coms573-cnn.yaml", 2, 5, b)
    for f in sorted(a.iterdir()):
        assert f.read_bytes() == (b / f.name).read_bytes(), f.name
    c = tmp_path / "c"
    variants.write(PROBLEMS / "coms573-cnn.yaml", 2, 6, c)
    assert (a / "coms573-cnn-1.yaml").read_text() != (c / "coms573-cnn-1.yaml").read_text()


def correct_answers(path: Path, variant: int) -> dict:
    """An answers file with the right value for every asked key (from the JSON output)."""
    doc = yaml.safe_load(json_render.render(solver.solve_paths([path])))
    answers: dict = {}
    for p in doc["problems"]:
        answers[p["id"]] = {}
        for key, a in p["answers"].items():
            value = a["value"]
            if a["type"] == "complexity":
                value = f"O({value})"
            answers[p["id"]][key] = value
    return {"student": f"student-{variant}", "variant": variant, "answers": answers}


def test_grading_a_class_of_variants(tmp_path, cli_run):
    source = PROBLEMS / "lecture-normalization.yaml"
    out = tmp_path / "variants"
    code, _, err = cli_run("variants", str(source), "-n", "3", "--seed", "4", "-o", str(out))
    assert code == 0 and "wrote 3 variants" in err
    template = yaml.safe_load((out / "lecture-normalization-2-answers.yaml").read_text())
    assert template["variant"] == 2 and set(template["answers"]) == {
        "running-stats",
        "weight-decay",
        "dropout",
    }
    assert all(v is None for keys in template["answers"].values() for v in keys.values())
    subs = tmp_path / "subs"
    subs.mkdir()
    for k in (1, 2, 3):
        right = correct_answers(out / f"lecture-normalization-{k}.yaml", k)
        (subs / f"s{k}.yaml").write_text(yaml.safe_dump(right))
    wrong = correct_answers(out / "lecture-normalization-1.yaml", 2)  # variant 1's answers
    (subs / "copier.yaml").write_text(yaml.safe_dump(wrong))
    grades = tmp_path / "grades.csv"
    code, _, err = cli_run(
        "grade", str(source), str(subs), "-o", str(grades), "--variants", str(out)
    )
    assert code == 0, err
    rows = {r["file"].split("/")[-1]: r for r in csv.DictReader(grades.open())}
    for k in (1, 2, 3):
        row = rows[f"s{k}.yaml"]
        assert row["variant"] == str(k) and row["status"] == "ok"
        assert Fraction(row["score"]) == Fraction(row["max_score"]), row
    assert Fraction(rows["copier.yaml"]["score"]) < Fraction(rows["copier.yaml"]["max_score"])


def test_manifest_and_solutions(tmp_path):
    written, warnings = variants.write(PROBLEMS / "ist597-batchnorm.yaml", 2, 1, tmp_path)
    assert warnings == []
    manifest = yaml.safe_load((tmp_path / "variants.json").read_text())
    assert manifest["count"] == 2 and manifest["seed"] == 1
    assert [v["variant"] for v in manifest["variants"]] == [1, 2]
    md = (tmp_path / "ist597-batchnorm-2-solutions.md").read_text()
    assert md.startswith("# IST 597: build your own BatchNorm (variant 2)")
    assert len(written) == 9
    handout = (tmp_path / "ist597-batchnorm-1-questions.md").read_text()
    assert "*Answer keys:* `mean`, `var`" in handout
    assert "**Answers**" not in handout and "**Solution**" not in handout


def test_stale_numbers_in_a_text_are_reported(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(
        problem_file(
            "dropout",
            {"z": [20, 40], "mask": [1, 0], "p": "1/2"},
            text="A layer receives 20 and 40.",
        )
    )
    _, warnings = variants.write(f, 1, 0, tmp_path / "out")
    assert len(warnings) == 1 and "states 20, 40 literally" in warnings[0]
