"""A question answered in prose: the model answer a TA would write, which the checker does not
grade.

Courses mix computations with questions such as "is beam search practical for large N?" or
"why normalize the inputs?". Their answers are arguments, not values, so no answers file can be
compared with them; but a worked solution that skips them is incomplete. This kind has no
answer keys: solutions and handouts show the model answer (and the points a grader looks for),
and ``check`` has nothing to mark, so a student's prose never costs points by accident.
"""

from __future__ import annotations

from typing import Annotated, Any

from ..display import says
from ..given import GivenModel, TypeDoc
from ..solution import Solution
from . import Kind, kind


def _paragraphs(text: str) -> list[str]:
    """Markdown paragraphs, each joined onto one line (YAML block scalars keep line breaks)."""
    return [" ".join(p.split()) for p in text.strip().split("\n\n") if p.strip()]


@kind("explanation")
class Explanation(Kind):
    """A question answered in prose: the model answer, shown in solutions, not graded."""

    class Given(GivenModel):
        answer: str
        """the model answer, in Markdown (paragraphs separated by blank lines)"""
        points: Annotated[list[str], TypeDoc("list of text", "")] = []
        """optional: the points a complete answer makes, listed after the model answer"""

    keys = ()
    varies = False  # prose has no numbers to draw: every variant asks the same question
    example = {
        "answer": "Normalizing the inputs puts every feature on the same scale, so that one "
        "learning rate suits every weight and the loss surface is better conditioned.",
        "points": ["features on one scale", "a better-conditioned loss surface"],
    }

    def show_givens(self, g: GivenModel) -> list[Any]:
        return []

    def solve(self, g: Given, s: Solution) -> None:
        paragraphs = _paragraphs(g.answer)
        # an author marks formulas ⟦…⟧ as the kinds do: Unicode on the terminal, maths in Markdown
        s.step(
            says(f"Model answer (not graded): {paragraphs[0]}" if paragraphs else "Model answer.")
        )
        for p in paragraphs[1:]:
            s.step(says(p))
        if g.points:
            listed = "; ".join(" ".join(p.split()) for p in g.points)
            s.step(says(f"A complete answer makes these points: {listed}."))
