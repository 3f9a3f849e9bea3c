"""Problem files: exact numbers, line numbers, one-sentence errors; a bad problem loses itself."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import solver
from solver.exact import Surd

from .conftest import PROBLEMS

GOOD = """\
title: t
problems:
  - id: a
    kind: layernorm
    given:
      X: [[0.1, 0.2], [1, "1/3"]]
      eps: 1e-5
  - id: b
    kind: dropout
    given:
      z: ["sqrt(2)", 2]
      mask: [1, 0]
      p: 0.5
"""


def test_decimals_and_strings_are_exact():
    ps = solver.load_text(GOOD)
    assert not ps.errors
    a, b = ps.problems
    assert a.given.X == [[Fraction(1, 10), Fraction(1, 5)], [1, Fraction(1, 3)]]
    assert a.given.eps == Fraction(1, 100000)  # YAML reads 1e-5 as a string; still exact
    assert b.given.z[0] == Surd(0, 1, 2)
    assert b.given.p == Fraction(1, 2)


def test_a_bad_problem_does_not_take_the_file_down():
    text = GOOD.replace("mask: [1, 0]", "mask: [1, 0, 1]")
    ps = solver.load_text(text, "f.yaml")
    assert [p.id for p in ps.problems] == ["a"]
    (err,) = ps.errors
    assert str(err).startswith("f.yaml:12: problem 'b', field 'given.mask'")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("title: t\nproblems:\n  - id: a\n    kind: [\n", "f.yaml:5: this is not valid YAML"),
        ("- 1\n- 2\n", "a problem file is a mapping"),
        ("title: t\nproblems: []\n", "'problems' must be a non-empty list"),
        ("title: t\nproblem: []\n", "unknown top-level field 'problem' (did you mean 'problems'?)"),
        ("title: t\ntitle: u\nproblems: []\n", "f.yaml:2: duplicate key 'title'"),
    ],
)
def test_file_level_errors(text, expected):
    with pytest.raises(solver.DlsolveError) as err:
        solver.load_text(text, "f.yaml")
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("problem", "expected"),
    [
        ("id: A b\n    kind: dropout\n    given: {}", "field 'id': the id must be lower-case"),
        (
            "id: x\n    kind: layernrom\n    given: {}",
            "unknown kind 'layernrom' (did you mean 'layernorm'?)",
        ),
        (
            "id: x\n    kind: dropout\n    given: {z: [1], mask: [1], p: 0.5, q: 2}",
            "field 'given.q': dropout has no such field",
        ),
        (
            "id: x\n    kind: dropout\n    given: {z: [1], mask: [1], p: 0.5}\n    ask: [outptu]",
            "dropout has no answer key 'outptu' (did you mean 'output'?)",
        ),
        (
            "id: x\n    kind: dropout\n    given: {z: [1], mask: [1], p: 0.5}\n"
            "    points: {output: -1}",
            "points for 'output' must be a number ≥ 0",
        ),
        (
            "id: x\n    kind: dropout\n    given: {z: [1], mask: [1], p: 0.5}\n"
            "    tolerance: {rtl: 1}",
            "unknown tolerance setting 'rtl' (did you mean 'rtol'?)",
        ),
        (
            "id: x\n    kind: dropout\n    given: {z: [1], mask: [1], p: 1.5}",
            "must be a probability in [0, 1)",
        ),
        (
            "id: x\n    kind: dropout\n    given: {z: ['9**9**9'], mask: [1], p: 0.5}",
            "the exponent 387420489 is larger than 1000",
        ),
        (
            "id: x\n    kind: dropout\n    given: {z: [.inf], mask: [1], p: 0.5}",
            "infinity and NaN are not exact numbers",
        ),
    ],
)
def test_problem_level_errors(problem, expected):
    ps = solver.load_text(f"title: t\nproblems:\n  - {problem}\n", "f.yaml")
    assert not ps.problems
    assert expected in str(ps.errors[0]), str(ps.errors[0])


def test_alias_bombs_are_refused():
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(solver.DlsolveError) as err:
        solver.load_text("\n".join(lines) + "\n", "bomb.yaml")
    assert "alias bomb" in str(err.value)


def test_ask_accepts_declared_patterns():
    ps = solver.load(PROBLEMS / "lecture-normalization.yaml")
    s = solver.solve(ps.get("running-stats"))
    keys = [a.key for a in s.asked()]
    assert keys == [
        "running_mean[1]",
        "running_var[1]",
        "running_mean[2]",
        "running_var[2]",
        "eval_output",
    ]


def test_every_shipped_problem_file_loads_and_solves():
    for path in sorted(PROBLEMS.glob("*.yaml")):
        ps = solver.load(path)
        assert not ps.errors, [str(e) for e in ps.errors]
        for p in ps:
            s = solver.solve(p)
            if p.kind == "explanation":  # prose: a model answer, no keys to check
                assert s.steps and s.steps[0].text.startswith("Model answer"), p.id
            else:
                assert s.asked(), f"{path.name}:{p.id} answers nothing"
            assert p.text, f"{path.name}:{p.id} has no statement"


# --------------------------------------------------------------------------- fuzzing

SHIPPED = [p.read_text() for p in sorted(PROBLEMS.glob("*.yaml"))]
JUNK = [
    "",
    "-",
    "[",
    "]",
    "{",
    ":",
    "'",
    '"',
    "&a",
    "*a",
    "!!python/object:os.system",
    "-1",
    "0",
    "1e999",
    "1/0",
    "sqrt(-1)",
    "x",
    "[[1, 2], [3]]",
    "null",
    "true",
    "é",
    "\t",
    "9**9**9",
    "(" * 80,
    "kind",
    "given",
]


def mutate(text: str, rng: random.Random) -> str:
    """Break a problem file the way a hurried course author would."""
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        op = rng.randrange(5)
        if op == 0:
            del lines[i]
        elif op == 1:
            lines[i] = lines[i] + rng.choice(JUNK)
        elif op == 2:
            cut = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:cut] + rng.choice(JUNK) + lines[i][cut:]
        elif op == 3:
            lines.insert(i, lines[rng.randrange(len(lines))])
        else:
            lines[i] = " " * rng.randint(0, 6) + lines[i].lstrip()
    return "\n".join(lines) + "\n"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1), which=st.integers(0, len(SHIPPED) - 1))
def test_mutated_problem_files_give_exit_2_and_one_sentence_each(seed, which, tmp_path, cli_run):
    path = tmp_path / "mutated.yaml"
    path.write_text(mutate(SHIPPED[which], random.Random(seed)))
    code, out, err = cli_run("solve", str(path), "--no-steps")
    assert code in (0, 2)
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line]
    if code == 2:
        assert lines, "exit 2 without a message"
    else:
        assert not lines
    for line in lines:
        assert line.startswith(f"error: {path}"), line
        assert line.endswith((".", "?", "!")), line
