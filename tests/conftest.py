"""Shared test helpers: solve YAML text, run the CLI in-process, find the shipped problems."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import solver

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
