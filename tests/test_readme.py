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
    # the same command, with at most a guard after it (`|| exit $?`: under `set -e` a failed
    # install on the left of `&&` would not stop the script)
    assert any(line == install_and_test or line.startswith(install_and_test + " ||") for line in ci)


def console_block(command: str) -> str:
    """The output the README shows under ``$ command`` in a console block."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head = f"```console\n$ {command}\n"
    assert head in readme, f"the README has no console block for {command!r}"
    return readme.split(head, 1)[1].split("```", 1)[0]


def test_readme_kind_list_is_the_commands_output(cli_run):
    """New kinds land often: when this fails, paste the output of 'dlsolve kinds' into the
    README's block under '## The problem kinds'."""
    code, out, _ = cli_run("kinds")
    assert code == 0
    assert console_block("dlsolve kinds") == out
