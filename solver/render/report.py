"""Renderers for checked answers: a terminal table, check's JSON, Gradescope's results.json.

Like the solution renderers they only read (a :class:`~solver.check.Report`)
and never compute.
"""

from __future__ import annotations

import json as _json
import textwrap
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..check import Report, number
from ..vocab import Verdict

WIDTH = 100
MARKS = {
    Verdict.CORRECT: "✓",
    Verdict.INCORRECT: "✗",
    Verdict.PARTIAL: "◐",
    Verdict.CARRIED_FORWARD: "↪",
    Verdict.MISSING: "–",
    Verdict.UNREADABLE: "?",
}
VERDICT_WORDS = {Verdict.CARRIED_FORWARD: "carried forward"}


def points(x: Fraction) -> str:
    """``1``, ``0.5``, ``1.33``: points as a grader writes them."""
    v = number(x)
    return str(v) if isinstance(v, int) else f"{v:.2f}".rstrip("0").rstrip(".")


def text(report: Report) -> str:
    """A table per problem: mark, key, verdict, points, feedback (wrapped), then the total."""
    out = [f"{report.student}: answers checked against {report.problems_file}"]
    if report.variant is not None:
        out[0] += f" (variant {report.variant})"
    key_w = max((len(r.key) for r in report.results), default=3)
    verdict_w = max(len(VERDICT_WORDS.get(v, v)) for v in MARKS)
    pts_w = max(
        (len(f"{points(r.points)}/{points(r.max_points)}") for r in report.results), default=3
    )
    indent = 2 + 2 + key_w + 2 + verdict_w + 2 + pts_w + 2
    current = None
    for r in report.results:
        if r.problem != current:
            current = r.problem
            out += ["", r.problem]
        head = (
            f"  {MARKS[r.verdict]} {r.key:<{key_w}}  "
            f"{VERDICT_WORDS.get(r.verdict, r.verdict):<{verdict_w}}  "
            f"{points(r.points) + '/' + points(r.max_points):>{pts_w}}  "
        )
        body = r.feedback
        if r.misconception and r.misconception not in body:
            body = f"Likely mistake: {r.misconception}. {body}"
        lines = textwrap.wrap(body, max(WIDTH - indent, 30)) or [""]
        out.append((head + lines[0]).rstrip())
        out += [" " * indent + line for line in lines[1:]]
    score, top = report.score, report.max_score
    share = f" ({float(score / top):.0%})" if top else ""
    counts = {v: sum(r.verdict == v for r in report.results) for v in MARKS}
    summary = ", ".join(f"{n} {VERDICT_WORDS.get(v, v)}" for v, n in counts.items() if n)
    summary = summary or "nothing to check"
    out += ["", f"Total: {points(score)} / {points(top)} points{share}: {summary}."]
    return "\n".join(out) + "\n"


def json(report: Report) -> str:
    """check's JSON: ``{student, score, max_score, results: [...]}``."""
    return _json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"


def gradescope_results(report: Report) -> dict[str, Any]:
    """Gradescope's autograder results: ``{score, max_score, tests: [...]}``.

    Each test carries ``status`` and ``output_format``; test scores are rounded
    as running totals (:func:`_shares`) so that they sum exactly to the score.
    """
    tests = []
    scores = _shares([r.points for r in report.results])
    for r, score in zip(report.results, scores, strict=True):
        verdict = VERDICT_WORDS.get(r.verdict, r.verdict)
        body = r.feedback
        if r.misconception and r.misconception not in body:
            body = f"Likely mistake: {r.misconception}. {body}"
        tests.append(
            {
                "name": f"{r.problem}: {r.key}",
                "score": score,
                "max_score": number(r.max_points),
                "status": "passed" if r.points == r.max_points else "failed",
                "output": f"{verdict.capitalize()}. {body}".strip(),
                "output_format": "text",
            }
        )
    return {"score": number(report.score), "max_score": number(report.max_score), "tests": tests}


def _shares(points: list[Fraction]) -> list[int | float]:
    """Points rounded to 4 places as differences of rounded running totals: rounded one by
    one, three thirds of 2 points give 0.6667 × 3 = 2.0001; these sum to the rounded total."""
    out: list[int | float] = []
    before, total = Decimal(0), Fraction(0)
    for p in points:
        total += p
        now = (Decimal(total.numerator) / Decimal(total.denominator)).quantize(Decimal("0.0001"))
        share = now - before
        out.append(int(share) if share == share.to_integral_value() else float(share))
        before = now
    return out


def gradescope_unusable(reason: str, max_score: Fraction) -> dict[str, Any]:
    """A results.json for an answers file that could not be graded: 0 points, and why (an
    autograder must always find a valid file)."""
    return {
        "score": 0,
        "max_score": number(max_score),
        "tests": [],
        "output": f"Your answers file could not be graded: {reason}",
    }


def unusable_gradescope(reason: str, max_score: Fraction) -> str:
    """:func:`gradescope_unusable` as the text of a results.json."""
    return _json.dumps(gradescope_unusable(reason, max_score), indent=2, ensure_ascii=False) + "\n"


def gradescope(report: Report) -> str:
    return _json.dumps(gradescope_results(report), indent=2, ensure_ascii=False) + "\n"


FORMATS = {"text": text, "json": json, "gradescope": gradescope}
