"""Handouts (export --questions) show everything the question gives (issue 17)."""

from __future__ import annotations

import yaml

import solver
from solver import kinds
from solver.render import markdown

MLP = kinds.get("mlp").example  # two Linear layers whose out is null: blanks to fill in


def problem_file(kind: str, given: dict, **extra: object) -> str:
    """A one-problem file with its keys in the order written (the layer table's columns)."""
    doc = {"title": "t", "problems": [{"id": "p", "kind": kind, "given": given, **extra}]}
    return yaml.safe_dump(doc, sort_keys=False)


def _handout(text: str | None = None, **extra: object) -> str:
    if text is not None:
        extra["text"] = text
    ps = solver.load_text(problem_file("mlp", MLP, **extra))
    assert not ps.errors, ps.errors
    return markdown.render([solver.solve_set(ps)], answers=False)


def test_a_network_is_its_layer_table_with_blanks_as_blanks():
    md = _handout()
    assert "| type | in | out |" in md
    rows = [line for line in md.splitlines() if line.startswith("| Linear")]
    assert rows == [f"| Linear | 784 | {markdown.FILL} |", f"| Linear | 128 | {markdown.FILL} |"]
    assert "| ReLU |  |  |" in md  # a field the record leaves out is empty, not a blank
    assert "(fill in the blanks)" in md


def test_points_per_part_and_in_total():
    md = _handout(points={"params.total": 3}, ask=["params.total", "logits"])
    assert "**Answer keys** (4 points)" in md
    assert "- `params.total` (3 points)" in md and "- `logits` (1 point)" in md


def test_quoting_layers_in_the_text_shows_the_table_there_not_yaml():
    md = _handout("Size the blanks of this network:\n{{layers}}\nThen count its parameters.")
    assert "{type:" not in md and "{{layers}}" not in md
    start = md.index("Size the blanks")
    table = md.index("| type | in | out |")
    assert start < table < md.index("Then count its parameters")
    assert md.count("| type | in | out |") == 1  # not repeated under Given


def test_the_solution_text_still_quotes_the_layers_for_json():
    ps = solver.load_text(problem_file("mlp", MLP, text="Net: {{layers}}"))
    s = solver.solve(ps.problems[0])
    assert s.text.startswith("Net: [{type: Linear")


def test_the_terminal_shows_the_layer_table_where_the_text_quotes_it():
    from solver.render import text

    ps = solver.load_text(problem_file("mlp", MLP, text="Size this:\n{{layers}}\nThen count."))
    out = "\n".join(text.render_solution(solver.solve(ps.problems[0]), steps=False))
    assert "{type:" not in out
    assert out.index("Size this") < out.index("type") < out.index("Then count")
