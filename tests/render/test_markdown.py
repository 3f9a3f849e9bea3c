"""Markdown: display maths between blank lines, one heading per problem, answers listed."""

from __future__ import annotations

import solver
from solver.render import markdown

from ..conftest import PROBLEMS


def test_markdown_of_a_file():
    md = markdown.render(solver.solve_paths([PROBLEMS / "ist597-batchnorm.yaml"]))
    assert md.startswith("# IST 597")
    assert md.count("\n## `") == 3
    assert md.count("$$") % 2 == 0
    assert r"\begin{aligned}" in md  # the givens
    assert r"\sqrt{21}" in md
    assert "- `running_var`: $" in md or "`running_var`:\n\n$$" in md


def test_steps_with_several_equations_share_one_display():
    md = markdown.render(solver.solve_paths([PROBLEMS / "discussion-normalization.yaml"]))
    assert r"\begin{gathered} \mu_{1} = \frac{4 + 4 + 8 + 8}{4} = 6 \\" in md


def test_no_steps():
    md = markdown.render(solver.solve_paths([PROBLEMS / "lecture-normalization.yaml"]), steps=False)
    assert "**Step 1.**" not in md and "**Answers**" in md
