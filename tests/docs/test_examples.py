"""Every example in the documentation runs and prints what the page shows (issue 21).

The pages' conventions are in ``solver/docs/examples.py``: titled blocks are files, console
blocks are commands and their output, a ``...`` line stands for lines left out. The README
is held to the same rules, and so are the generated reference pages (their output was
produced by running the commands, but a command that prints differently on a second run, or
in another folder, would show here).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from solver.docs import examples, reference

from ..conftest import ROOT

PAGES = ROOT / "solver" / "docs" / "pages"
WRITTEN = sorted(PAGES.rglob("*.md"))
NEEDS_TORCH = ("dlsolve verify", "dlsolve reproduce")


def _check(page: str) -> None:
    if importlib.util.find_spec("torch") is None and any(
        c.line.startswith(NEEDS_TORCH) for c in examples.commands(page)
    ):
        pytest.skip("this page runs PyTorch, which is not installed")
    assert examples.mismatches(page) == []


@pytest.mark.parametrize("path", WRITTEN, ids=lambda p: str(p.relative_to(PAGES)))
def test_a_written_page_prints_what_it_shows(path: Path) -> None:
    _check(path.read_text(encoding="utf-8"))


def test_the_readme_prints_what_it_shows() -> None:
    _check((ROOT / "README.md").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return {path: text for path, text in reference.pages() if path.endswith(".md")}


def test_the_generated_pages_print_what_they_show(generated: dict[str, str]) -> None:
    assert {f"{reference.KINDS_DIR}/{n}.md" for n in reference.kind_names()} <= set(generated)
    for path, page in generated.items():
        assert examples.mismatches(page) == [], path


def test_a_kind_page_is_read_off_its_declaration(generated: dict[str, str]) -> None:
    from solver import kinds

    page = generated[f"{reference.KINDS_DIR}/dropout.md"]
    k = kinds.get("dropout")
    assert k.summary() in page
    for key in k.keys:
        assert f"| `{key.pattern}` | {key.type} |" in page
    for mistake in k.misconceptions:
        assert f"- {mistake}" in page
    assert "| inverted | boolean | default true |" in page
    assert "expected_output = [2, 4, 6, 8]" in page  # the example really solved


def test_every_command_has_its_help_on_the_cli_page(generated: dict[str, str]) -> None:
    import cli

    page = generated["reference/cli.md"]
    for name in cli.main.commands:
        assert f"$ dlsolve {name} --help\nUsage: dlsolve {name} " in page


def test_the_matcher_elides_only_where_the_page_says() -> None:
    assert examples.matches("a\n...\nd", "a\nb\nc\nd\n")
    assert examples.matches("a\n...", "a\n")
    assert not examples.matches("a\nd", "a\nb\nd")
    assert not examples.matches("a\n...\nd", "a\nb\nc")
    assert not examples.matches("", "something printed")


def test_the_page_commands_are_the_readme_commands() -> None:
    def setup(text: str) -> list[str]:
        return text.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert setup((PAGES / "getting-started.md").read_text(encoding="utf-8")) == setup(readme)


def test_the_problem_file_page_names_every_field() -> None:
    from solver import spec

    page = (PAGES / "reference" / "problem-files.md").read_text(encoding="utf-8")
    rows = {tuple(c.strip(" `") for c in line.split("|")[1:3]) for line in page.splitlines()}
    fields = {(f, "file") for f in spec.TOP_FIELDS} | {(f, "problem") for f in spec.PROBLEM_FIELDS}
    assert fields <= rows, fields - rows


def test_the_readme_links_to_pages_that_exist() -> None:
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((solver/docs/pages/[^)#]+)", readme)
    assert len(links) >= 10
    for link in links:
        assert (ROOT / link).is_file(), link
    assert "mkdocs serve -f solver/docs/mkdocs.yml" in readme
