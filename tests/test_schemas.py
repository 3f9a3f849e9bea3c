"""The JSON dlsolve writes validates against the schema files it ships (issue 21): real
output of ``solve --format json`` over every shipped problem and every kind's example,
``check --format json`` for right, wrong, carried-forward, unreadable and missing answers
(and under a hidden reveal policy), and the shipped REPORT.json files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from solver import kinds, schemas

from .conftest import PROBLEMS, problem_file

jsonschema = pytest.importorskip("jsonschema")


def validator(name: str) -> jsonschema.protocols.Validator:
    schema = schemas.load(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def assert_valid(name: str, payload: object) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator(name).iter_errors(payload)]
    assert errors == []


def test_solve_json_of_every_shipped_problem(cli_run) -> None:
    code, out, _ = cli_run("solve", str(PROBLEMS), "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert isinstance(payload, list) and len(payload) == len(list(PROBLEMS.glob("*.yaml")))
    assert_valid("solve", payload)
    code, out, _ = cli_run("solve", str(PROBLEMS / "coms573-cnn.yaml"), "--format", "json")
    assert_valid("solve", json.loads(out))  # one file: one object


def test_solve_json_of_every_kinds_example_and_of_a_file_with_errors(
    cli_run, tmp_path: Path
) -> None:
    for name in kinds.names():
        path = tmp_path / f"{name}.yaml"
        path.write_text(problem_file(name, kinds.get(name).example), encoding="utf-8")
        code, out, _ = cli_run("solve", str(path), "--format", "json", "--no-steps")
        assert code == 0, name
        assert_valid("solve", json.loads(out))
    bad = tmp_path / "bad.yaml"
    bad.write_text(problem_file("layernorm", {"X": [[1, 2], [3]]}), encoding="utf-8")
    code, out, _ = cli_run("solve", str(bad), "--format", "json")
    payload = json.loads(out)
    assert code == 2 and payload["errors"]
    assert_valid("solve", payload)


def test_a_schema_rejects_what_dlsolve_does_not_write() -> None:
    answer = {"value": "1/2", "float": 0.5, "latex": r"\frac{1}{2}", "type": "real"}
    good = {"title": "t", "path": "p.yaml", "problems": [{"id": "p", "kind": "k", "answers": {}}]}
    assert_valid("solve", good)
    good["problems"][0]["answers"]["x"] = answer
    assert_valid("solve", good)
    for broken in ({**answer, "type": "float"}, {**answer, "value": 0.5}, {"value": "1/2"}):
        good["problems"][0]["answers"]["x"] = broken
        assert list(validator("solve").iter_errors(good))


ANSWERS = """
student: alice
answers:
  layernorm:
    mean: [3, 3]
    var: ["16/3", "4/3"]
    normalized: [[-0.87, -0.87, 0.87, 0.87], [-0.87, 0.87, -0.87, 0.87]]
    output: "[[-1, -1, 1, 1], [-1, 1, -1, (1]]"
"""


@pytest.mark.parametrize("reveal", ["always", "never"])
def test_check_json_validates(cli_run, tmp_path: Path, reveal: str) -> None:
    problems = tmp_path / "hw.yaml"
    given = {"X": [[1, 1, 5, 5], [2, 4, 2, 4]], "eps": 0}
    problems.write_text(problem_file("layernorm", given).replace("id: p", "id: layernorm"))
    answers = tmp_path / "alice.yaml"
    answers.write_text(ANSWERS, encoding="utf-8")
    code, out, _ = cli_run(
        "check", str(problems), str(answers), "--format", "json", "--reveal", reveal
    )
    assert code == 1
    payload = json.loads(out)
    verdicts = {r["verdict"] for r in payload["results"]}
    assert {"correct", "incorrect", "carried_forward", "unreadable", "missing"} <= verdicts
    assert_valid("check", payload)


def test_every_shipped_report_validates() -> None:
    reports = sorted((PROBLEMS / "experiments" / "reports").glob("*/REPORT.json"))
    assert len(reports) >= 4
    runners = set()
    for path in reports:
        payload = json.loads(path.read_text(encoding="utf-8"))
        runners.add(payload["experiment"]["runner"])
        assert_valid("report", payload)
    assert "training" in runners and len(runners) >= 2
    training = json.loads(reports[0].read_text(encoding="utf-8"))
    assert training["experiment"]["runner"] == "training"
    del training["runs"]  # the training runner's numbers are required
    assert list(validator("report").iter_errors(training))
