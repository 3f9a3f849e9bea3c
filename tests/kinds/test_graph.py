"""The graph kind: hand values, misconceptions and errors carried forward through the graph,
hostile compute lines, tie alternatives, variants."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

import solver
from solver import kinds

from ..conftest import problem_file

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "problems" / "backprop.yaml"


def shipped(pid: str) -> solver.Problem:
    p = solver.load(SHIPPED).get(pid)
    assert p is not None
    return p


def test_conv1d_with_stride_by_hand() -> None:
    s = solver.solve(shipped("conv1d-stride"))
    # x = [1, -1, 2, 0, 3], w = [2, -1, 1], stride 2: y0 = 2 + 1 + 2 + 1 = 6, y1 = 4 + 0 + 3 + 1 = 8
    assert s["y"] == [6, 8]
    # L = ((6 - 0)² + (8 - 1)²)/2 = 85/2; ∂L/∂y = (y - t) = [6, 7]
    assert s["L"] == solver.exact.rational(__import__("fractions").Fraction(85, 2))
    assert s["grad.y"] == [6, 7]
    # ∂L/∂w_k = Σ_o g_o x[2o + k] = [6·1 + 7·2, 6·(-1) + 7·0, 6·2 + 7·3]
    assert s["grad.w"] == [20, -6, 33]
    assert s["grad.b"] == 13
    assert s["grad.x"] == [12, -6, 20, -7, 7]


def test_forward_only_has_no_gradients() -> None:
    s = solver.solve(shipped("attention-forward"))
    assert set(s.answers) == {"S", "A", "out"}


def test_max_pool_tie_lists_the_other_routings() -> None:
    s = solver.solve(shipped("maxpool-backward"))
    a = s.answers["grad.X"]
    assert a.value[3][:2] == [3, 0]  # the first maximum of the tied window
    alts = a.meta["alternatives"]
    assert any(alt[3][:2] == [0, 3] for alt in alts)  # the last maximum
    assert all(alt != a.value for alt in alts)


def _check(cli_run, tmp_path: Path, answers: dict) -> tuple[int, str]:
    f = tmp_path / "a.yaml"
    f.write_text(yaml.safe_dump({"student": "s", "answers": answers}))
    code, out, _ = cli_run("check", str(SHIPPED), str(f), "--format", "json")
    return code, out


def test_a_fork_mistake_is_named_and_carried_forward(cli_run, tmp_path: Path) -> None:
    p = shipped("csc421-fork")
    bug = solver.solve(p, fork_sum=False)
    fmt = solver.exact.fmt
    code, out = _check(
        cli_run,
        tmp_path,
        {
            "csc421-fork": {
                "grad.h": fmt(bug["grad.h"]),
                "grad.z": fmt(bug["grad.z"]),
                "grad.W1": fmt(bug["grad.W1"]),
            }
        },
    )
    import json

    results = {r["key"]: r for r in json.loads(out)["results"] if r["problem"] == "csc421-fork"}
    assert results["grad.h"]["verdict"] == "incorrect"
    assert "fork" in results["grad.h"]["misconception"]
    assert results["grad.z"]["verdict"] == "carried_forward"
    assert results["grad.W1"]["verdict"] == "carried_forward"
    assert code == 1


@pytest.mark.parametrize(
    ("pid", "option", "key"),
    [
        ("two-layer-mlp", {"relu_mask": False}, "grad.W1"),
        ("two-layer-mlp", {"ce_sign": -1}, "grad.z"),
        ("two-layer-mlp", {"mean_scale": False}, "grad.W2"),
        ("two-layer-mlp", {"transpose_right": False}, "grad.W2"),
        ("sigmoid-neuron", {"sigmoid_prime": False}, "grad.z"),
        ("conv1d-stride", {"update_sign": 1}, "new.w"),
        ("maxpool-backward", {"max_route": "spread"}, "grad.X"),
        ("csc421-fork", {"fork_sum": False}, "grad.h"),
    ],
)
def test_every_misconception_changes_its_answer(pid: str, option: dict, key: str) -> None:
    right = solver.solve(shipped(pid))
    wrong = solver.solve(shipped(pid), **option)
    assert wrong[key] != right[key]
    names = [n for n, o in kinds.get("graph").misconceptions.items() if o == option]
    assert len(names) == 1


HOSTILE = [
    ("y = foo(x)", "unknown function 'foo'"),
    ("y = __import__(x)", "not allowed"),
    ("y = " + "(" * 100 + "x" + ")" * 100, "nested more than"),
    ("y = x^1000000000", "larger than"),
    ("y = a + b", "more than the 10,000"),
]


@pytest.mark.parametrize(("line", "words"), HOSTILE)
def test_hostile_compute_is_one_sentence_and_exit_2(
    cli_run, tmp_path: Path, line: str, words: str
) -> None:
    f = tmp_path / "bad.yaml"
    inputs = {"x": [1, 2], "a": [[1]] * 1000, "b": [list(range(1000))]}
    f.write_text(problem_file("graph", {"inputs": inputs, "compute": [line]}))
    code, _, err = cli_run("solve", str(f))
    assert code == 2
    assert words in err
    assert len(err.strip().splitlines()) == 1
    assert "given.compute" in err and f"{f}:" in err


def test_a_million_entry_input_is_refused(cli_run, tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    row = "[" + ", ".join(["1"] * 1000) + "]"
    big = "[" + ", ".join([row] * 1000) + "]"
    f.write_text(
        "title: t\nproblems:\n  - id: p\n    kind: graph\n    given:\n"
        f"      inputs: {{x: {big}}}\n      compute: ['y = sum(x)']\n"
    )
    code, _, err = cli_run("solve", str(f))
    # refused before it is computed with: by the loader's bound on a file, or by the graph's
    assert code == 2 and "more than" in err and len(err.strip().splitlines()) == 1


def test_an_input_beyond_the_graphs_bound_is_refused(cli_run, tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    f.write_text(
        problem_file("graph", {"inputs": {"x": [[1] * 200] * 100}, "compute": ["y = sum(x)"]})
    )
    code, _, err = cli_run("solve", str(f))
    assert code == 2 and "more than 10,000 entries" in err and "given.inputs.x" in err


def test_shape_errors_name_the_node_and_shapes(cli_run, tmp_path: Path) -> None:
    f = tmp_path / "shape.yaml"
    given = {"inputs": {"h": [[1, 2], [3, 4]], "W2": [[1, 0, 0]] * 3}, "compute": ["z = h @ W2"]}
    f.write_text(problem_file("graph", given))
    code, _, err = cli_run("solve", str(f))
    assert code == 2
    assert "h @ W2: [2, 2] @ [3, 3] do not chain" in err


def test_variants_keep_the_structure_and_promises() -> None:
    k = kinds.get("graph")
    for pid in ("staged", "two-layer-mlp", "conv1d-stride"):
        p = shipped(pid)
        raw = k.generate(p.raw_given, random.Random(7))
        assert raw["compute"] == p.raw_given["compute"]
        g = k.Given.model_validate(raw)
        s = k.new_solution()
        k.solve(g, s)
        assert not k.broken_promises(g, s)
        assert raw != p.raw_given


def test_grad_patterns_work_in_ask() -> None:
    text = problem_file(
        "graph",
        {"inputs": {"x": 2}, "params": {"w": 3}, "compute": ["y = w * x", "L = y^2"], "lr": "1/10"},
        ask=["grad.*", "new.w"],
    )
    ps = solver.load_text(text)
    assert not ps.errors, [str(e) for e in ps.errors]
    s = solver.solve(ps.problems[0])
    asked = [a.key for a in s.asked()]
    assert asked == ["grad.L", "grad.y", "grad.w", "grad.x", "new.w"]
    assert s["grad.w"] == 24 and s["new.w"] == solver.exact.rational(
        __import__("fractions").Fraction(3, 1) - __import__("fractions").Fraction(24, 10)
    )
