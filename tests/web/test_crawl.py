"""A crawl of everything a student can reach finds no expected value before the policy allows.

The student answers every key of every problem, wrongly in every way the
checker words differently (a named mistake, wrong entries, a wrong shape, a
right answer in decimals, an unreadable one), then every page, every preview
response and every asset is read. No distinctive expected value (a surd, a
fraction, a count of three digits or more) may appear in any of them under
``--reveal never`` or before ``after:N``; under ``always`` the same crawl does
find them, so the test can tell.
"""

from __future__ import annotations

import html
from typing import Any

import pytest

from solver import exact, load, solve

from .conftest import HOMEWORK, Student

ATTEMPTS = {
    "layernorm": [
        {"mean": "[6, 3, 1]", "var": "[16/3, 12, 4]", "output": "[1, 2]"},
        {
            "mean": "[5.9, 3, 2]",
            "var": r"\begin{bmatrix} 4 & 9 & 2 \end{bmatrix}",
            "output": "[[-1, -3, 4, 4], [-1, -1.667, 0, 6.667], [-0.577, -2.155, -0.732, 7]]",
        },
        {"mean": "[6, 3, (2]", "var": "[4, 9, 3.0]", "output": "[[-1, -3, 4, 4]]"},
    ],
    "net": [
        {"linear2.in": "31", "linear2.out": "10", "params.linear2": "300", "params.total": "1890"},
        {"linear2.in": "30", "linear2.out": "1O", "params.linear2": "", "params.total": "2e3"},
    ],
}


def distinctive_expected_values() -> set[str]:
    """Every way the pages could write an expected value that no given or typed text holds."""
    out: set[str] = set()
    for p in load(HOMEWORK):
        for a in solve(p).asked():
            entries = exact.flatten(a.value) if isinstance(a.value, list) else [a.value]
            for x in entries:
                forms = {str(exact.fmt(x)), exact.latex(x), exact.unicode(x)}
                if exact.is_rational(x) and x.denominator == 1:
                    if abs(x) < 100:
                        continue
                    forms |= {f"{int(x):,}"}
                elif not any(c in str(exact.fmt(x)) for c in "/s"):
                    continue
                out |= forms
    return out


def crawl(s: Student) -> dict[str, str]:
    """Every response a student can get, by what was asked."""
    seen: dict[str, str] = {}
    for pid, attempts in ATTEMPTS.items():
        for i, answers in enumerate(attempts):
            r = s.check(pid, answers)
            assert r.status_code == 200
            seen[f"check {pid} #{i + 1}"] = r.text
            for key, text in answers.items():
                seen[f"preview {pid}/{key} #{i + 1}"] = s.preview(pid, key, text).text
    for url in ("/", "/history", "/set/homework/layernorm", "/set/homework/net"):
        seen[url] = s.get(url).text
    for url in ("/static/app.js", "/static/app.css", "/instructor", "/set/homework/none"):
        seen[url] = s.client.get(url).text
    return seen


def leaks(pages: dict[str, str]) -> list[tuple[str, str]]:
    secrets = distinctive_expected_values()
    return sorted(
        (where, value)
        for where, text in pages.items()
        for page in (text, html.unescape(text))
        for value in secrets
        if value in page
    )


def test_the_crawl_looks_for_real_expected_values() -> None:
    values = distinctive_expected_values()
    assert {"20/3", r"\frac{20}{3}", "4√3", "1900", "310"} <= values
    assert "6" not in values  # too common to tell anything


@pytest.mark.parametrize("reveal", ["never", "after:9"])
def test_no_expected_value_reaches_a_student_before_the_policy_allows(
    make_app: Any, reveal: str
) -> None:
    s = Student(make_app(reveal=reveal))
    s.login("eve")
    pages = crawl(s)
    assert len(pages) > 20
    assert leaks(pages) == []
    assert "not the expected answer" in pages["check net #1"] or "should be" not in str(pages)


def test_the_same_crawl_finds_the_values_once_they_are_revealed(make_app: Any) -> None:
    s = Student(make_app(reveal="always"))
    s.login("eve")
    found = {value for _, value in leaks(crawl(s))}
    assert {"4√3", "1900"} & found and {r"\frac{20}{3}", "20/3"} & found
