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
    """Thirty draws per kind: each reloads from YAML, solves, keeps every promise and differs
    from the source, and they have many different answers; and the generator keeps its
    promises on its own most of the time."""
    problem = example_problem(name)
    k = kinds.get(name)
    seen, answers = set(), set()
    for seed in range(30):
        raw, drawn = variants.draw(problem, random.Random(seed))
        answers.add(_fingerprint(drawn))
        reloaded = solver.load_text(problem_file(name, raw))
        assert not reloaded.errors, (seed, [str(e) for e in reloaded.errors])
        p = reloaded.problems[0]
        assert p.given.model_dump() != problem.given.model_dump()
        s = solver.solve(p)
        assert k.broken_promises(p.given, s) == []
        seen.add(yaml.safe_dump(raw))
    # LayerNorm over 3 features once gave the variance 98/9 in every variant: the draws must
    # come from a space large enough that a class's variants differ. A choice's answer is one
    # of its options, so there it is the options' order that must vary.
    if name == "choice":
        assert len(answers) == len(problem.raw_given["options"]) and len(seen) >= 15
    else:
        assert len(answers) >= 15, f"{name}: {len(answers)} different answer sets in 30 variants"
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
    assert "- `mean` (1 point)" in handout and "- `var` (1 point)" in handout
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
    with pytest.raises(solver.DlsolveError) as err:  # a handout contradicting its given
        variants.write(f, 1, 0, tmp_path / "out")
    assert "problem 'p'" in str(err.value) and "states 20, 40 literally" in str(err.value)


# --------------------------------------------------------------------------- trust (issue 17)

CONV = kinds.get("conv").example


def _conv_file(tmp_path: Path, text: str, **extra: object) -> Path:
    path = tmp_path / "conv.yaml"
    path.write_text(problem_file("conv", CONV, text=text, **extra))
    return path


def test_problem_options_round_trip_into_every_variant(tmp_path):
    """tolerance {rtol: 0.001} was written as rtol: 1/1000, failed validation, and the problem
    silently vanished from every variant; now every option loads back exactly."""
    path = tmp_path / "p.yaml"
    path.write_text(
        problem_file(
            "softmax_ce",
            kinds.get("softmax_ce").example,
            tolerance={"rtol": 0.001, "atol": 0.25},
            points={"loss": 0.5},
            carry_forward="1/3",
        )
    )
    source = solver.load(path).problems[0]
    variants.write(path, 3, 0, tmp_path / "out")
    for k in (1, 2, 3):
        ps = solver.load(variants.variant_path(tmp_path / "out", path, k))
        assert not ps.errors, [str(e) for e in ps.errors]
        (p,) = ps.problems
        assert p.tolerance == {"rtol": Fraction(1, 1000), "atol": Fraction(1, 4)}
        assert p.points == source.points == {"loss": Fraction(1, 2)}
        assert p.carry_forward == Fraction(1, 3)


def test_a_variant_that_does_not_load_back_is_an_error_naming_the_problem(tmp_path, monkeypatch):
    path = tmp_path / "p.yaml"
    path.write_text(problem_file("softmax_ce", kinds.get("softmax_ce").example, points={"loss": 2}))
    monkeypatch.setattr(variants, "_option", lambda v: {"loss": "two"} if v == {"loss": 2} else v)
    with pytest.raises(solver.DlsolveError) as err:
        variants.write(path, 2, 0, tmp_path / "out")
    assert "problem 'p'" in str(err.value) and "variant 1" in str(err.value)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_fixed_givens_are_kept_in_every_variant(tmp_path):
    path = _conv_file(tmp_path, "A 3×32×32 image goes through the network.", fixed=["input_shape"])
    variants.write(path, 5, 0, tmp_path / "out")
    shapes = set()
    for k in range(1, 6):
        (p,) = solver.load(variants.variant_path(tmp_path / "out", path, k)).problems
        assert p.raw_given["input_shape"] == [3, 32, 32]
        assert "3×32×32" in p.text
        shapes.add(yaml.safe_dump(p.raw_given["layers"]))
    assert len(shapes) > 1, "with the input fixed the layers still vary"


def test_fixed_must_name_a_given(tmp_path):
    ps = solver.load_text(problem_file("conv", CONV, fixed=["input_size"]))
    assert "'fixed' names 'input_size'" in str(ps.errors[0])


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("a 28×28 image", {"28"}),
        ("a 3×32×32 image", {"3", "32"}),
        ("a 3x32x32 image", {"3", "32"}),
        (r"$3 \times 32$ pixels", {"3", "32"}),
        ("part (2) of 3 layers, 128 units", {"128"}),
        ("{{input_shape.1}}×{{input_shape.2}} and 1.5", {"1.5"}),
    ],
)
def test_literal_numbers_catch_sizes_written_as_products(text, numbers):
    assert variants.literal_numbers(text) == numbers


def test_a_text_that_contradicts_its_variants_is_an_error(tmp_path, cli_run):
    path = _conv_file(tmp_path, "A 3×32×32 image goes through the network.")
    code, _, err = cli_run("variants", str(path), "-n", "4", "-o", str(tmp_path / "out"))
    assert code == 2
    assert "problem 'p'" in err and "32" in err and "input_shape" in err and "fixed" in err
    assert not (tmp_path / "out").exists()
    quoted = _conv_file(
        tmp_path,
        "A {{input_shape.0}}×{{input_shape.1}}×{{input_shape.2}} image goes through it.",
    )
    code, _, err = cli_run("variants", str(quoted), "-n", "4", "-o", str(tmp_path / "out"))
    assert code == 0, err
    (p,) = solver.load(variants.variant_path(tmp_path / "out", quoted, 1)).problems
    c, h, w = p.raw_given["input_shape"]
    assert f"{c}×{h}×{w}" in solver.spec.fill_text(p.text, p.raw_given)


def _fingerprint(s: solver.Solution) -> str:
    return repr([(a.key, exact.fmt(a.value)) for a in s.asked()])


def test_layernorm_over_three_features_has_many_variances():
    p = solver.load_text(problem_file("layernorm", {"X": [[1, 2, 4], [0, 3, 9]]})).problems[0]
    seen = set()
    for seed in range(30):
        _, s = variants.draw(p, random.Random(seed))
        seen.update(exact.fmt(v) for v in s["var"])
    assert len(seen) >= 5, seen
