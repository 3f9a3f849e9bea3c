"""The README starts with the two set-up commands, and CI runs the second one verbatim."""

from __future__ import annotations

from .conftest import ROOT


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(first_block) == 2
    install_and_solve, install_and_test = first_block
    assert "dlsolve solve problems/" in install_and_solve
    assert "pytest" in install_and_test
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install_and_test in ci
