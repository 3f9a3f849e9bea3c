"""dlsolve verify: every shipped answer with a numeric meaning agrees with PyTorch; a wrong
one is caught with both values; what cannot be checked is said, never skipped silently."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

import solver
from solver.verify.crosscheck import NON_NUMERIC_TYPES

from ..conftest import PROBLEMS, TOY_PROBLEMS, problem_file


def numeric_keys(s: solver.Solution) -> list[str]:
    """The answers whose type has a number to recompute (by type, not by the cross-checks):
    what every family must cover. A family may recompute more (mlp: which z is the logits)."""
    return [a.key for a in s.answers.values() if a.type not in NON_NUMERIC_TYPES]


def numeric_answers(s: solver.Solution) -> int:
    return len(numeric_keys(s))


#: kinds with no torch counterpart at all (a parser's transition table): verify says "no torch
#: cross-check for kind ..." and reports their answers as not recomputed
NO_COUNTERPART = ("transition_parse",)


@pytest.fixture(scope="module")
def shipped() -> Any:
    pytest.importorskip("torch")
    from solver.verify import runner

    return runner.verify([PROBLEMS], "cpu")


@pytest.fixture(scope="module")
def solved() -> dict[str, solver.Solution]:
    return {s.id: s for ss in solver.solve_paths([PROBLEMS]) for s in ss.solutions}


def test_every_shipped_answer_with_a_numeric_meaning_agrees(
    shipped: Any, solved: dict[str, Any]
) -> None:
    assert shipped.exit_code == 0 and not shipped.errors
    assert [c.id for c in shipped.checks] == list(solved)
    for c in shipped.checks:
        assert c.failure is None and (
            c.registered or c.kind in ("choice", "explanation", *NO_COUNTERPART)
        ), c.id
        if c.kind in NO_COUNTERPART:
            assert not c.registered and c.keys("agree") == [] == c.keys("disagree"), c.id
            continue
        agreed = c.keys("agree")
        # a family that silently returns nothing (or forgets a key) fails here
        assert set(numeric_keys(solved[c.id])) <= set(agreed), c.id
        assert c.keys("disagree") == [] and c.keys("not recomputed") == []
        assert len(agreed) + len(c.keys("no numeric meaning")) == len(solved[c.id].answers)
    counts = {c.id: len(c.keys("agree")) for c in shipped.checks}
    assert counts["model-size"] == numeric_answers(solved["model-size"]) + 2  # logits, dominant
    assert counts["lm-tree"] == len(solved["lm-tree"].answers)  # viterbi_applicable too
    kinds = {c.kind for c in shipped.checks if c.keys("agree")}
    assert kinds == {s.kind for s in solved.values()} - {
        "choice",
        "beam_complexity",
        "explanation",
        *NO_COUNTERPART,
    }


def test_the_report_has_a_line_per_problem_and_a_total(
    shipped: Any, solved: dict[str, Any]
) -> None:
    from solver.verify import runner

    text = runner.render(shipped)
    lines = text.splitlines()
    assert lines[0] == f"PyTorch {shipped.torch_version}, float64, on cpu"
    n = numeric_answers(solved["model-size"]) + 2
    assert (
        f"  model-size: {n} answers agree, largest difference 0.0e+00; 1 without a numeric "
        "meaning (choice: to_probabilities)" in lines
    )
    for c in shipped.checks:
        assert sum(line.startswith(f"  {c.id}: ") for line in lines) == 1
    assert "  l2-large-lambda: 1 answer without a numeric meaning (choice)" in lines
    assert "  beam-complexity: 3 answers without a numeric meaning (complexity)" in lines
    full = solved["full-table"]
    assert (
        f"  full-table: no torch cross-check for kind 'transition_parse' "
        f"({numeric_answers(full)} answers not recomputed)" in lines
    )
    total = shipped.count("agree")
    # the choices torch recomputes: model-size's logits, and every network's memory.dominant
    dominant = sum("memory.dominant" in s.answers for s in solved.values())
    torch_kinds = [s for s in solved.values() if s.kind not in NO_COUNTERPART]
    assert total == sum(numeric_answers(s) for s in torch_kinds) + 1 + dominant
    assert lines[-1].startswith(f"{total} answers agree (largest difference ")
    apart = sum(numeric_answers(s) for s in solved.values() if s.kind in NO_COUNTERPART)
    assert lines[-1].endswith(
        f"in {len(solved)} problems; "
        f"{sum(len(s.answers) for s in solved.values()) - total - apart} answers "
        f"without a numeric meaning; {apart} answers not recomputed."
    )


def test_the_command_agrees_on_the_cpu(cli_run: Any) -> None:
    pytest.importorskip("torch")
    code, out, err = cli_run(
        "verify", str(PROBLEMS / "lecture-normalization.yaml"), "--device", "auto"
    )
    assert code == 0 and not err
    assert "on cpu" in out.splitlines()[0] or "on cuda" in out.splitlines()[0]
    assert "  dropout: 2 answers agree, largest difference 0.0e+00" in out
    assert "DISAGREE" not in out


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return str(path)


def test_a_wrong_solution_is_caught_with_both_values(
    cli_run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    from solver import kinds

    cls = type(kinds.get("layernorm"))
    right = cls.solve
    monkeypatch.setattr(cls, "solve", lambda self, g, s, **o: right(self, g, s, ddof=1))
    code, out, _ = cli_run(
        "verify", _write(tmp_path, problem_file("layernorm", {"X": [[1, 2, 4]]}))
    )
    assert code == 1
    # the variance of 1, 2, 4 is 14/9; divided by N − 1 it is 7/3
    found = re.search(
        r"^    DISAGREES var\[0\]: exact (\S+), torch (\S+) \(difference 7.8e-01\)$",
        out,
        re.MULTILINE,
    )
    assert found and float(found[1]) == 7 / 3 and float(found[2]) == pytest.approx(14 / 9, 1e-15)
    assert "  p: 3 DISAGREE, 2 agree, largest difference 7.8e-01" in out  # mean, defined agree
    assert "3 answers DISAGREE, 2 agree" in out.splitlines()[-1]


def test_a_wrong_matrix_lists_the_wrong_entries(
    cli_run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    from solver import kinds

    cls = type(kinds.get("dropout"))
    right = cls.solve

    def forgot_the_scale(self: Any, g: Any, s: solver.Solution, **o: Any) -> None:
        right(self, g, s, **o)
        s.answers["output"].value = [[z * k for z, k in zip(g.z[0], g.mask[0], strict=True)]]

    monkeypatch.setattr(cls, "solve", forgot_the_scale)
    given = {"z": [[1, 2, 3]], "mask": [[1, 0, 1]], "p": 0.5}
    code, out, _ = cli_run("verify", _write(tmp_path, problem_file("dropout", given)))
    assert code == 1
    assert "    DISAGREES output[0][0]: exact 1.0, torch 2.0 (difference 1.0e+00)" in out
    assert "    DISAGREES output[0][2]: exact 3.0, torch 6.0 (difference 3.0e+00)" in out
    assert "output[0][1]" not in out  # a dropped unit is 0 either way


def test_a_kind_without_a_cross_check_is_reported(
    cli_run: Any, tmp_path: Path, toy_kind: Any
) -> None:
    pytest.importorskip("torch")
    code, out, _ = cli_run("verify", _write(tmp_path, TOY_PROBLEMS))
    s = next(iter(solver.solve_paths([tmp_path])[0].solutions))
    n = numeric_answers(s)
    assert code == 0
    assert (
        f"  toy: no torch cross-check for kind 'toy_chain' ({n} answers not recomputed)"
        in out.splitlines()
    )
    assert out.splitlines()[-1] == (
        f"0 answers agree (largest difference 0.0e+00) in 1 "
        f"problem; {len(s.answers) - n} answers without a numeric "
        f"meaning; {n} answers not recomputed."
    )


def test_a_cross_check_that_torch_refuses_is_reported(
    cli_run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    from solver.verify import crosscheck

    crosscheck.load_all()

    def careless(g: Any, s: solver.Solution, device: Any) -> dict[str, Any]:
        X = torch.tensor([[1.0, 2.0]], dtype=torch.float64)  # one value per channel
        return {"output": torch.nn.functional.batch_norm(X, None, None, training=True)}

    monkeypatch.setitem(crosscheck.CHECKS, "dropout", careless)
    text = problem_file("dropout", {"z": [[1, 2]], "mask": [[1, 1]], "p": 0.5}).replace(
        "problems:\n", "problems:\n- id: ln\n  kind: layernorm\n  given: {X: [[1, 2]]}\n"
    )
    code, out, _ = cli_run("verify", _write(tmp_path, text))
    assert code == 1
    assert (
        "  p: the torch cross-check of dropout FAILED: ValueError: Expected more than 1 "
        "value per channel when training, got input size torch.Size([1, 2])"
    ) in out
    assert "  ln: 5 answers agree" in out  # the other problems are still checked
    assert "1 cross-check FAILED" in out.splitlines()[-1]


def test_verbose_lists_every_answer(cli_run: Any, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    code, out, _ = cli_run(
        "verify", "-v", _write(tmp_path, problem_file("layernorm", {"X": [[1, 2, 4]]}))
    )
    assert code == 0
    answers = [line.strip() for line in out.splitlines() if line.startswith("    ")]
    assert [a.split(":")[0] for a in answers] == ["mean", "var", "normalized", "defined", "output"]
    assert all(": agree, largest difference " in a for a in answers)


def test_missing_torch_is_one_line_with_the_install_command(
    cli_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    code, out, err = cli_run("verify", str(PROBLEMS))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and 'pip install "dlsolve[torch]"' in err


def test_cuda_without_cuda_is_a_clear_error(cli_run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, out, err = cli_run("verify", str(PROBLEMS), "--device", "cuda")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--device cuda was asked for" in err
    assert "use --device cpu or auto" in err


def test_a_file_that_cannot_be_read_is_exit_2_and_the_others_are_verified(
    cli_run: Any, tmp_path: Path
) -> None:
    pytest.importorskip("torch")
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: t\nproblems:\n  - id: x\n    kind: layernorm\n    given: {X: 3}\n")
    code, out, err = cli_run("verify", str(bad), str(PROBLEMS / "lecture-normalization.yaml"))
    assert code == 2
    assert "bad.yaml" in err and "problem 'x'" in err
    assert "  dropout: 2 answers agree" in out and "1 error in the input (on stderr)" in out
