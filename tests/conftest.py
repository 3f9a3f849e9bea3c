"""Shared test helpers and fixtures.

Helpers solve YAML text, run the CLI in-process and find the shipped problems.
Fixtures give one judge (and sandbox process) per session and a toy kind:
``toy_chain`` has one answer of every type, and its answers feed each other the
way model-size answers do (a layer shape feeds the next shape, both feed a
parameter count, the count feeds a boolean), with a symbolic batch ``n``. It
lets the checker's generic machinery be tested on types that the normalization
kinds do not produce. It is registered only while a test that asks for it runs,
so that tests iterating over every kind never see it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import solver
from solver import exact, kinds
from solver.compare import Judge
from solver.given import Count, Dim, GivenModel
from solver.kinds import Kind
from solver.solution import Key, Solution

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = ROOT / "problems"


def solve_yaml(text: str, file: str = "test.yaml") -> dict[str, solver.Solution]:
    """Solve every problem of a YAML text; fail the test on any load error."""
    ps = solver.load_text(textwrap.dedent(text), file)
    assert not ps.errors, [str(e) for e in ps.errors]
    return {p.id: solver.solve(p) for p in ps}


def problem_file(kind: str, given: dict, **extra: object) -> str:
    """A one-problem file as YAML text."""
    import yaml

    doc = {"title": "t", "problems": [{"id": "p", "kind": kind, "given": given, **extra}]}
    return yaml.safe_dump(doc)


@pytest.fixture
def cli_run():
    """Run the click CLI in-process: returns (exit_code, stdout, stderr)."""
    import cli

    def run(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(cli.main, list(args), catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run


eta, gamma = exact.symbol("eta"), exact.symbol("gamma")
T, N = exact.symbol("T"), exact.symbol("N")


class ToyChain(Kind):
    """A test kind: answers of every type, each feeding the next."""

    class Given(GivenModel):
        batch: Dim
        """the batch size (a symbol such as n)"""
        width: Count
        """the first layer's width"""

    keys = (
        Key("z1", "shape", "first activation shape"),
        Key("z2", "shape", "second activation shape: twice as wide"),
        Key("params", "integer", "z1 width × z2 width + z2 width (bias)"),
        Key("ratio", "real", "params / 7"),
        Key("rate", "expression", "−2ηγ"),
        Key("time", "complexity", "T N²"),
        Key("path", "sequence", "a token sequence"),
        Key("beams", "sequence", "a list of token sequences"),
        Key("pick", "choice", "a multiple choice"),
        Key("big", "boolean", "whether params > 10"),
        Key("weights", "matrix", "a matrix with an undefined entry"),
        Key("note", "text", "a word"),
    )
    example = {"batch": "n", "width": 3}
    misconceptions = {"forgot the bias": {"bias": False}}

    def solve(self, g: Any, s: Solution, *, bias: bool = True) -> None:
        z1 = s.answer("z1", [g.batch, g.width])
        z2 = s.answer("z2", [z1[0], 2 * z1[1]])
        params = s.answer("params", z1[1] * z2[1] + (z2[1] if bias else 0))
        s.answer("ratio", Fraction(params, 7))
        s.answer("rate", -2 * eta * gamma)
        s.answer("time", T * N**2)
        s.answer("path", ["<BOS>", "the", "green", "rectangle"])
        s.answer("beams", [["the", "red", "circle"], ["a", "blue", "square"]])
        s.answer("pick", "b", options=["theta = 0", "theta = 1", "theta = 1e6"])
        s.answer("big", params > 10)
        s.answer("weights", [[1, exact.sqrt(3) / 3], [Fraction(7, 12), None]])
        s.answer("note", "Softmax")


TOY_PROBLEMS = """
title: Toy
problems:
  - id: toy
    kind: toy_chain
    given: {batch: n, width: 3}
    points: {params: 2}
"""


@pytest.fixture(scope="session")
def judge() -> Iterator[Judge]:
    j = Judge()
    yield j
    j.close()


@pytest.fixture
def toy_kind() -> Iterator[type[Kind]]:
    kinds._load_all()
    kinds.kind("toy_chain")(ToyChain)
    try:
        yield ToyChain
    finally:
        kinds._REGISTRY.pop("toy_chain", None)
