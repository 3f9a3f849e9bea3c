"""The cross-checks rebuild what they check from the given alone: no kind's code in them,
so a bug in a kind's shared helpers shows as a disagreement instead of agreeing with itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import solver  # noqa: E402
from solver.kinds import decoding as decoding_kind  # noqa: E402
from solver.kinds import model_size as model_size_kind  # noqa: E402
from solver.verify import crosscheck  # noqa: E402
from solver.verify.crosscheck import compare  # noqa: E402

crosscheck.load_all()
FAMILIES = sorted(Path(crosscheck.__file__).parent.glob("*.py"))
#: a family allowed a kind's module, and why (to be removed, not added to)
KNOWN: dict[str, list[str]] = {}  # optimizer_trace's objective is read by solver.graph now


@pytest.mark.parametrize("path", FAMILIES, ids=lambda p: p.stem)
def test_no_cross_check_imports_a_kind(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = [
        node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and ("kinds" in (node.module or "") or any(a.name == "kinds" for a in node.names))
    ]
    imported += [
        a.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for a in node.names
        if "solver.kinds" in a.name
    ]
    imported = [m.lstrip(".") for m in imported]
    assert imported == KNOWN.get(path.stem, []), f"{path.name} imports {imported}"


def agreements(problem):
    s = solver.solve(problem)
    return {a.key: a for a in compare(s, crosscheck.CHECKS[problem.kind](problem.given, s, "cpu"))}


def shipped(pid: str):
    return next(p for p in solver.load("problems/coms573-cnn.yaml") if p.id == pid)


def test_a_wrong_size_rule_in_the_kind_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """The conv_matrix cross-check takes the output size from torch, not from the kind's rule
    (it once shaped ∂L/∂y by the kind's own output_shape)."""
    rule = model_size_kind.SizeRule
    right = rule.size
    monkeypatch.setattr(rule, "size", lambda self, *a, **k: right(self, *a, **k) + 1)
    problem = solver.load_text(
        "problems:\n  - id: c\n    kind: conv_matrix\n"
        "    given: {kernel: [1, 2], input_shape: [1, 5], stride: 1, padding: 0}\n",
        "c.yaml",
    ).problems
    assert len(problem) == 1
    result = agreements(problem[0])
    assert not result["output_shape"].ok


def test_a_wrong_layer_naming_in_the_kind_is_not_taken_for_agreement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Layer names come from the cross-check's own reading of the given: a kind naming its
    layers differently leaves its keys unrecomputed instead of agreeing with itself."""
    monkeypatch.setitem(model_size_kind.SHORT, "Linear", "fc")
    problem = solver.load_text(
        "problems:\n  - id: m\n    kind: mlp\n"
        "    given: {input_shape: [4, 3], layers: [{type: Linear, out: 2}]}\n",
        "m.yaml",
    ).problems[0]
    result = agreements(problem)
    assert result["params.fc1"].verdict == "not recomputed"


def test_a_wrong_chain_reading_in_the_kind_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Viterbi cross-check reads the chain itself: a kind that counted the start token
    among the words (3 instead of 2) gets its count wrong, and torch says so."""
    real = decoding_kind.Chain.of

    def with_start(g):
        c = real(g)
        return decoding_kind.Chain(c.tokens, c.P, c.start, tuple(range(len(c.tokens))))

    monkeypatch.setattr(decoding_kind.Chain, "of", staticmethod(with_start))
    problem = solver.load_text(
        "problems:\n  - id: v\n    kind: viterbi\n    given:\n"
        "      tokens: [<BOS>, a, b]\n      P: [[0, 1/3, 2/3], [0, 1/4, 3/4], [0, 3/5, 2/5]]\n"
        "      T: 3\n",
        "v.yaml",
    ).problems[0]
    result = agreements(problem)
    assert result["count"].exact == 3**3  # the kind now counts <BOS> among N = 3 words
    assert not result["count"].ok
