"""A parser's transition table on the student page: the per-step boxes form one table, a row
per step; the checker runs the student's own transitions; under ``--reveal never`` nothing of
the worked table reaches the browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..kinds.test_parsing import CS224N, entries
from .conftest import Student

#: what only the worked solution writes: its "why" column and its step-by-step table
SOLUTION_MARKS = ("only ROOT on the stack", "awaits sentence", "The parse, step by step")


def _verdicts(html: str) -> dict[str, str]:
    return {k: v for v, k in re.findall(r'class="verdict-row (\w+)" data-key="([\w.\[\]]+)"', html)}


def _app(make_app: Any, tmp_path: Path, reveal: str) -> Student:
    f = tmp_path / "handout.yaml"
    f.write_text(CS224N, encoding="utf-8")
    s = Student(make_app([str(f)], reveal=reveal))
    s.login("carol")
    return s


def test_the_steps_are_one_table_of_boxes_and_the_counts_are_boxes_below(
    make_app: Any, tmp_path: Path
) -> None:
    s = _app(make_app, tmp_path, "never")
    page = s.get("/set/handout/p").text
    grid = page[
        page.index('<table class="grid box-grid">') : page.index("</table>", page.index("box-grid"))
    ]
    header = re.findall(r'<th scope="col">(\w+)</th>', grid)
    assert header == ["step", "stack", "buffer", "dependency", "transition"]
    assert len(re.findall(r"<tr><th scope=\"row\">\d+</th>", grid)) == 10
    assert grid.count('name="answer:') == 40 and 'name="answer:stack[10]"' in grid
    assert 'aria-label="transition[3]"' in grid  # each box says which cell it is
    rest = page[page.index("</table>", page.index("box-grid")) :]
    assert 'name="answer:steps"' in rest and 'name="answer:steps_general"' in rest
    assert not [m for m in SOLUTION_MARKS if m in page]
    preview = s.preview("p", "stack[2]", "[ROOT, I, parsed]", sid="handout").json()
    assert preview["ok"] and "ROOT I parsed" in preview["latex"]


def test_another_valid_order_is_correct_and_a_swapped_arc_is_named(
    make_app: Any, tmp_path: Path
) -> None:
    s = _app(make_app, tmp_path, "never")
    words = "I parsed this sentence correctly".split()
    other = entries(words, tuple("SSSSLRLSRR"))  # I waits: not the worked solution's order
    table = {k: v if isinstance(v, str) else "[" + ", ".join(v) + "]" for k, v in other.items()}
    r = s.check("p", table, sid="handout")
    assert set(_verdicts(r.text).values()) == {"correct", "missing"}
    assert [k for k, v in _verdicts(r.text).items() if v == "missing"] == [
        "steps",
        "steps_general",
    ]
    swapped = {**table, "transition[5]": "RIGHT-ARC"}
    r = s.check("p", swapped, sid="handout")
    assert _verdicts(r.text)["transition[5]"] == "incorrect"
    assert "LEFT-ARC and RIGHT-ARC swapped" in r.text
    assert not [m for m in SOLUTION_MARKS if m in r.text]
