"""A hand-set-weights problem on the student page: the same checker runs the student's
network, and under ``--reveal never`` nothing of the reference reaches the browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..kinds.test_design import XOR
from .conftest import Student

#: the reference's numbers as the page would write them (the cases hold only 0s and 1s)
REFERENCE_MARKS = (r"\frac{1}{7}", r"\frac{2}{7}", "7 & 7", "-7", "1/7")


def _verdicts(html: str) -> dict[str, str]:
    return {k: v for v, k in re.findall(r'class="verdict-row (\w+)" data-key="([\w.]+)"', html)}


def test_the_page_checks_a_network_by_running_it_and_never_shows_the_reference(
    make_app: Any, tmp_path: Path
) -> None:
    f = tmp_path / "handout.yaml"
    f.write_text(XOR, encoding="utf-8")
    s = Student(make_app([str(f)], reveal="never"))
    s.login("bob")
    page = s.get("/set/handout/xor").text
    assert 'name="answer:W1"' in page and "[0, 1]" in page  # a box, and the cases shown
    assert not [t for t in REFERENCE_MARKS if t in page]

    # not the reference, and right: the first layer scaled down by 7, the second up by 7
    right = {"W1": "[[1, 1], [1, 1]]", "b1": "[0, -1]", "W2": "[1, -2]", "b2": "0"}
    r = s.check("xor", right, sid="handout")
    assert _verdicts(r.text) == dict.fromkeys(right, "correct")

    wrong = {**right, "W2": "[1, -1]"}
    r = s.check("xor", wrong, sid="handout")
    assert _verdicts(r.text) == dict.fromkeys(right, "partial")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.text))
    assert "On x = [1, 1] your network gives y = 1; the case needs y = 0." in text
    assert not [t for t in REFERENCE_MARKS if t in r.text]


def test_the_marks_would_see_the_reference_once_it_is_revealed(
    make_app: Any, tmp_path: Path
) -> None:
    """The control for the test above: with ``--reveal always`` the worked solution shows
    the reference, and the same marks find it."""
    f = tmp_path / "handout.yaml"
    f.write_text(XOR, encoding="utf-8")
    s = Student(make_app([str(f)], reveal="always"))
    s.login("bob")
    r = s.check("xor", {"W1": "[[1, 1], [1, 1]]"}, sid="handout")
    assert [t for t in REFERENCE_MARKS if t in r.text]
