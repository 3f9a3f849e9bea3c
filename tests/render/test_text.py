"""The terminal renderer: matrices drawn over lines, long axes elided, accents aligned."""

from __future__ import annotations

from solver.display import Mat, Sym, eq
from solver.render import text

from ..conftest import problem_file, solve_yaml


def test_matrix_is_drawn_with_brackets_and_aligned_columns():
    lines = eq(Sym("X", hat=True), Mat([[1, -1], [10, 2]])).text().splitlines()
    assert lines == ["X̂ = ⎡ 1  -1⎤", "    ⎣10   2⎦"]  # X̂ takes one column


def test_long_axes_are_elided_on_the_terminal_only():
    big = [[i * 20 + j for j in range(20)] for i in range(20)]
    out = Mat(big).text()
    assert "…" in out and "⋮" in out and len(out.splitlines()) == 9
    assert "399" in out and "200" not in out
    assert Mat(big).latex().count("&") == 20 * 19  # the LaTeX is the record


def test_solution_text_has_givens_steps_and_answers():
    s = solve_yaml(problem_file("dropout", {"z": [2, 4], "mask": [1, 0], "p": "1/2"}))["p"]
    s.id, s.kind = "p", "dropout"
    out = text.render_solution(s)
    assert out[0].startswith("── p  [dropout]")
    assert "Given" in out and "Steps" in out and "Answers" in out
    assert "  output = [4, 0]" in out
    assert "Steps" not in text.render_solution(s, steps=False)
