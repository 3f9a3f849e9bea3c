"""Multiple-choice questions: options, the right one(s), and the explanation a TA would give.

The answer is the letter (or letters, when several options are right); the
options travel in the answer's ``meta`` so that the checker can accept either
the letter or the option's text, and can show why a chosen wrong option is
wrong (``why_not``). A variant shuffles the options and re-letters everything,
including "(b)" references inside the explanations.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, model_validator

from ..display import says
from ..errors import FieldError
from ..given import GivenModel, TypeDoc
from ..solution import Key, Solution
from . import Kind, kind

LETTERS = string.ascii_lowercase
_REF = re.compile(r"\(([a-z])\)")


def letter_of(answer: str, options: list[str]) -> str | None:
    """The letter an answer names: ``b``, ``(b)``, ``B)`` or the option's own text."""
    a = " ".join(answer.split()).strip()
    bare = a.strip("()").rstrip(").").lower()
    if len(bare) == 1 and bare in LETTERS[: len(options)]:
        return bare
    for i, text in enumerate(options):
        if " ".join(text.split()).lower() == a.lower():
            return LETTERS[i]
    return None


def reletter(text: str, mapping: Mapping[str, str]) -> str:
    """``(b)`` -> ``(d)`` in an explanation, for every letter the mapping moves."""
    return _REF.sub(lambda mt: f"({mapping.get(mt.group(1), mt.group(1))})", text)


def _texts(value: Any) -> Any:
    """Options must be text; YAML reads yes/no/true/false and numbers as something else."""
    if not isinstance(value, list):
        return value
    for i, v in enumerate(value):
        if isinstance(v, bool):
            raise FieldError(
                'YAML reads this option as true/false: put it in quotes, as "yes" or "no"',
                "options",
                (i,),
            )
        if not isinstance(v, str):
            raise FieldError(
                "YAML reads this option as a number: put it in quotes so that it "
                "is shown as written",
                "options",
                (i,),
            )
    return value


Options = Annotated[list[str], BeforeValidator(_texts), TypeDoc("list of text", "")]


@kind("choice")
class Choice(Kind):
    """A multiple-choice question: one or several right options, with an explanation."""

    class Given(GivenModel):
        options: Options
        """the options, in order; they are lettered (a), (b), (c), ..."""
        answer: str | list[str]
        """the right option: its letter (b) or its text; a list when several are right"""
        explanation: str = ""
        """why the right option(s) are right, shown in the solution"""
        why_not: Annotated[dict[str, str], TypeDoc("mapping", "letter -> text")] = {}
        """optional: for a wrong option's letter, why it is wrong (feedback for that choice)"""

        @model_validator(mode="after")
        def _check(self) -> Choice.Given:
            if len(self.options) < 2:
                raise FieldError("a choice needs at least two options", "options")
            if len(self.options) > len(LETTERS):
                raise FieldError(
                    f"has {len(self.options)} options; at most {len(LETTERS)}", "options"
                )
            seen: dict[str, int] = {}
            for i, o in enumerate(self.options):
                key = " ".join(o.split()).lower()
                if not key:
                    raise FieldError("an option is empty", "options", (i,))
                if key in seen:
                    raise FieldError(f"repeats option ({LETTERS[seen[key]]})", "options", (i,))
                seen[key] = i
            answers = [self.answer] if isinstance(self.answer, str) else self.answer
            if not answers:
                raise FieldError("names no option", "answer")
            last = LETTERS[len(self.options) - 1]
            for i, a in enumerate(answers):
                if letter_of(a, self.options) is None:
                    raise FieldError(
                        f"{a!r} is not one of the options: give a letter a–{last} "
                        "or an option's exact text",
                        "answer",
                        (i,) if isinstance(self.answer, list) else (),
                    )
            right = set(self.letters)
            for letter in self.why_not:
                if letter not in LETTERS[: len(self.options)]:
                    raise FieldError(
                        f"{letter!r} is not an option's letter (a–{last})", f"why_not.{letter}"
                    )
                if letter in right:
                    raise FieldError(
                        f"({letter}) is a right answer, so it needs no why_not", f"why_not.{letter}"
                    )
            return self

        @property
        def letters(self) -> list[str]:
            """The right letters, in alphabetical order."""
            answers = [self.answer] if isinstance(self.answer, str) else self.answer
            return sorted({letter_of(a, self.options) or "" for a in answers})

        @property
        def multiple(self) -> bool:
            return isinstance(self.answer, list)

    keys = (
        Key(
            "answer",
            "choice",
            "the letter of the right option (a list of letters when several are right)",
        ),
    )
    example = {
        "options": ["θ = 0", "θ = 1", "θ = 10⁶", "θ = θ* (the unregularized optimum)"],
        "answer": "a",
        "explanation": "A huge λ makes λ‖θ‖² dominate the loss, so the minimizer "
        "drives every weight to 0.",
    }
    nice = (
        "the same options in a new order, with the right option(s) and the letters inside "
        "the explanations moved along",
    )

    def show_givens(self, g: GivenModel) -> list[Any]:
        return []

    def solve(self, g: Given, s: Solution) -> None:
        options = {LETTERS[i]: o for i, o in enumerate(g.options)}
        # The options belong to the question: one paragraph each, after its statement.
        listed = "\n\n".join(f"({k}) {' '.join(v.split())}" for k, v in options.items())
        s.text = f"{s.text.rstrip()}\n\n{listed}" if s.text else listed
        letters = g.letters
        if g.multiple:
            named = ", ".join(f"({x}) {options[x]}" for x in letters)
            s.step(f"The right options: {named}. (Choose all that apply.)")
        else:
            s.step(f"The right option: ({letters[0]}) {options[letters[0]]}.")
        if g.explanation.strip():
            s.step(says(" ".join(g.explanation.split())))  # formulas marked ⟦…⟧ by the author
        for letter, why in g.why_not.items():
            s.step(f"Not ({letter}): {' '.join(why.split())}")
        value = letters if g.multiple else letters[0]
        s.answer(
            "answer",
            value,
            options=options,
            multiple=g.multiple,
            why_not=dict(g.why_not),
            why=" ".join(g.explanation.split()),
        )

    def generate(self, given: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
        """The same options shuffled (never the same order), right letters and references moved."""
        g = self.Given.model_validate(given)
        n = len(g.options)
        order = list(range(n))
        while order == list(range(n)):
            rng.shuffle(order)
        new_letter = {LETTERS[old]: LETTERS[new] for new, old in enumerate(order)}
        out = dict(given)
        out["options"] = [g.options[old] for old in order]
        moved = sorted(new_letter[x] for x in g.letters)
        out["answer"] = moved if g.multiple else moved[0]
        out["explanation"] = reletter(g.explanation, new_letter)
        out["why_not"] = {new_letter[k]: reletter(v, new_letter) for k, v in g.why_not.items()}
        return out

    def broken_promises(self, g: Any, s: Solution) -> list[str]:
        out = []
        if s["answer"] != (g.letters if g.multiple else g.letters[0]):
            out.append("the answer is not the right option's letter")
        last = LETTERS[len(g.options) - 1]
        for text in [g.explanation, *g.why_not.values()]:
            for ref in _REF.findall(text):
                if ref > last:
                    out.append(f"an explanation refers to ({ref}), which is not an option")
        return out
