"""What feedback may show a student: the ``--reveal never|after:N|always`` policy.

``check``, ``grade``, Gradescope's results and the student page (``dlsolve serve``)
send feedback back to students. Under ``never`` (and under ``after:N`` before
the N-th attempt or a fully correct one) that feedback must not contain an
expected value: no ``expected`` field, and no sentence of the checker's prose
that states one ("Expected 7/12, got 0.5", "row 1, column 2 is 3, should be 4",
"Accepted; the exact value is ...").

Redaction is a whitelist, so it fails safe: a hidden result's feedback is
rebuilt from what carries no value (the verdict, the named misconception, the
share carried forward, which entries are wrong, why an answer could not be
read). A sentence of a form this module does not know is dropped, never shown.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from .check import Report, Result

if TYPE_CHECKING:
    from .grade import Outcome


class Mode(str, Enum):
    """When expected values and worked solutions are shown."""

    NEVER = "never"
    AFTER = "after"
    ALWAYS = "always"


@dataclass(frozen=True)
class Reveal:
    """A reveal policy: ``never``, ``always``, or ``after`` ``n`` attempts (or a correct one)."""

    mode: Mode = Mode.ALWAYS
    n: int = 0

    @classmethod
    def parse(cls, text: str) -> Reveal:
        """``never``, ``always`` or ``after:N`` (N ≥ 1); ValueError with a sentence otherwise."""
        t = text.strip().lower()
        if t in (Mode.NEVER.value, Mode.ALWAYS.value):
            return cls(Mode(t))
        m = re.fullmatch(r"after:(\d{1,6})", t)
        if m and int(m.group(1)) >= 1:
            return cls(Mode.AFTER, int(m.group(1)))
        raise ValueError(f"{text!r} is not never, always or after:N with N a whole number ≥ 1")

    def __str__(self) -> str:
        return f"after:{self.n}" if self.mode is Mode.AFTER else self.mode.value

    def allows(self, attempts: int, solved: bool) -> bool:
        """Whether expected values (and the worked solution) may be shown after ``attempts``
        attempts, ``solved`` meaning one of them was entirely correct."""
        if self.mode is Mode.ALWAYS:
            return True
        if self.mode is Mode.NEVER:
            return False
        return solved or attempts >= self.n


# Sentences of the checker's feedback that state no expected value, and how the ones that
# mix both are cut down to their safe part.
_SAFE = (
    re.compile(r"This is what you get with a well-known mistake[^:]*: [^.]*\."),
    re.compile(r"The mistake underneath: [^.]*\."),
    # "... from your answer for params.linear2 (300) (error carried forward)": the student's own
    re.compile(r"Not the answer, but it follows correctly from .*?\(error carried forward\)"),
    # "... from your answer for q (0), but a zero there makes ...": the student's own value
    re.compile(r"It follows from your answers? for .*? no credit is carried forward\."),
)
# Sentences about the student's own network (a kind that grades answers together by running
# them, solver/kinds/design.py): what it gives on a case the problem states, the shape the
# problem declares, a constraint broken. They state the student's values and the problem's
# givens, never the key, so every one of them is kept, in order.
_OWN_NETWORK = re.compile(
    r"Your network passes (?:the case|(?:all )?\d+ (?:of \d+ )?cases?(?: \([\d/]+ of the "
    r"points\))?)\."
    r"|(?:On [^;]*? your|Your) network gives [^;]*; the case needs .*?\.(?=\s|$)"
    r"|And \d+ more cases? fails?\."
    r"|\w+ must (?:be a single number|have shape \[[\d, ]*\]); yours (?:is a single number"
    r"|has shape \[[\d, ]*\]|is a ragged list)\."
    r"|\w+ needs a number in every entry; [\w ,()]+ is not one\."
    r"|\w+ must have (?:whole-number|nonnegative) entries \([\w ,()]+ is (?:not one|negative)\)\."
    r"|Your network cannot be run without a usable value for [\w, ]+\."
)
# A parser's transition or dependency the student wrote in no form it reads (solver/kinds/
# parsing.py): their own text and the forms the box takes, never the key.
_OWN_TEXT = re.compile(r"“[^”]{0,300}” is not a (?:transition|dependency): write [^.]*\.")
_ENTRIES = re.compile(
    r"(\d+ of \d+ entries (?:are|is) wrong): (.*?)(?:; and (\d+) more)?\.(?:\s|$)"
)
_WHERE = re.compile(r"(entry \d+|row \d+, column \d+|entry \([\d, ]+\)) is ")


def redact_result(r: Result) -> Result:
    """``r`` as a student may see it before the key is revealed: no expected value."""
    return dataclasses.replace(r, expected=None, feedback=hidden_feedback(r))


def hidden_feedback(r: Result) -> str:
    """The feedback of ``r`` rebuilt from its parts that state no expected value."""
    if r.verdict == "missing":
        return "No answer given."
    if r.verdict == "unreadable":
        return r.feedback  # about the student's own text: where it could not be read
    if r.verdict == "correct":
        return ""  # the verdict says it; a note such as "the exact value is ..." would not
    out: list[str] = []
    for pattern in _SAFE:
        m = pattern.search(r.feedback)
        if m:
            text = m.group(0)
            out.append(text + (": part of the points." if text.endswith(")") else ""))
    if r.misconception and not any(r.misconception in s for s in out):
        out.append(f"This is what you get with a well-known mistake: {r.misconception}.")
    out += _OWN_NETWORK.findall(r.feedback)
    out += _OWN_TEXT.findall(r.feedback)
    m = _ENTRIES.search(r.feedback)
    if m:
        where = _WHERE.findall(m.group(2))
        more = f"; and {m.group(3)} more" if m.group(3) else ""
        out.append(f"{m.group(1)}: {'; '.join(where)}{more}." if where else f"{m.group(1)}.")
    elif "Expected shape" in r.feedback:
        out.append("The shape of your answer is not the shape asked for.")
    if not out:
        out.append("This is not the expected answer.")
    return " ".join(out)


def redact(report: Report, policy: Reveal, attempts: int = 1) -> Report:
    """The report as the policy lets a student see it after ``attempts`` attempts."""
    if policy.allows(attempts, report.all_correct):
        return report
    return dataclasses.replace(report, results=[redact_result(r) for r in report.results])


def redact_outcomes(outcomes: Iterable[Outcome], policy: Reveal) -> list[Outcome]:
    """A graded class as its students may see it (each submission counts as one attempt)."""
    return [
        dataclasses.replace(o, report=redact(o.report, policy)) if o.report is not None else o
        for o in outcomes
    ]
