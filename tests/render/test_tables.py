"""Tables a kind attaches to its Solution, in the three renderers."""

from __future__ import annotations

import json
from fractions import Fraction

from solver import SolvedSet, exact
from solver.display import BLANK, Table, cell_text
from solver.render import json as json_render
from solver.render import markdown, text
from solver.render.json import cell_data
from solver.render.markdown import cell_markdown
from solver.solution import Key, Solution


def solved_with_table() -> SolvedSet:
    s = Solution([Key("x", "integer")])
    s.id, s.kind = "t", "demo"
    s.table(
        ["Layer", "Shape", "Params"],
        [["a", [4, exact.symbol("n")], 1234567], ["b", [2], BLANK]],
        title="Summary",
        footer=[["Total", None, Fraction(3, 2)]],
    )
    s.step("A step.")
    s.answer("x", 1)
    return SolvedSet("demo.yaml", "Demo", [s])


def test_text_aligns_numbers_right_and_puts_the_table_before_the_steps():
    out = text.render([solved_with_table()])
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if "Layer" in line)
    assert lines[head - 1].strip() == "Summary"
    rows = lines[head : head + 6]
    assert rows[2].endswith("1,234,567") and rows[3].endswith("—") and rows[5].endswith("3/2")
    assert len({len(r) for r in (rows[2], rows[3], rows[5])}) == 1  # right-aligned column
    assert rows[1].strip("─ ") == "" and rows[4].strip("─ ") == ""
    assert "[4, n]" in rows[2]
    assert out.index("Summary") < out.index("Steps")


def test_markdown_is_a_pipe_table_with_bold_totals():
    md = markdown.render([solved_with_table()])
    assert "| Layer | Shape | Params |\n|:---|:---|---:|" in md
    assert "| a | $[4, n]$ | 1,234,567 |" in md
    assert r"| **Total** |  | **$\frac{3}{2}$** |" in md
    assert md.index("**Summary**") < md.index("**Solution**")


def test_json_gives_the_table_as_data():
    doc = json.loads(json_render.render([solved_with_table()]))
    table = doc["problems"][0]["tables"][0]
    assert table["columns"] == ["Layer", "Shape", "Params"]
    assert table["rows"] == [["a", [4, "n"], 1234567], ["b", [2], "—"]]
    assert table["footer"] == [["Total", None, "3/2"]]


def test_cells():
    assert cell_text(1234) == "1,234" and cell_text([4, 1000]) == "[4, 1000]"
    assert cell_text(None) == "" and cell_markdown("a|b") == r"a\|b"
    assert cell_data(Fraction(1, 3)) == "1/3" and cell_data(7) == 7
    assert Table(["a"], [[1], [BLANK]]).numeric(0) and not Table(["a"], [["x"]]).numeric(0)
