"""The project's fixed vocabularies as types: answer types, verdicts, sandbox jobs.

Each is an ``Enum`` whose members are also ``str`` (:class:`Word`), so a
member equals, hashes, prints and serialises (JSON, YAML, pickle) as its
plain word: code that compares ``a.type == "real"`` or ``r.verdict == "correct"``
keeps working, while new code names the member and a misspelt word fails at
once (``AnswerType("reel")`` is a ValueError) instead of never matching.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import yaml


class Word(str, Enum):
    """A str-valued enum member that shows as its word, ``f"{x}"`` included (Python
    3.11's ``(str, Enum)`` would print ``Verdict.CORRECT``)."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


def _represent_word(dumper: yaml.SafeDumper, word: Word) -> yaml.Node:
    return dumper.represent_str(word.value)


# PyYAML's safe dumpers look representers up by exact type: without these, a verdict or an
# answer type in a dumped report would be a RepresenterError instead of its word.
for _dumper in {yaml.SafeDumper, getattr(yaml, "CSafeDumper", yaml.SafeDumper)}:
    _dumper.add_multi_representer(Word, _represent_word)


class AnswerType(Word):
    """What an answer is; the type alone decides how it is shown and how a student's value
    is compared. Tensors are reported by rank (vector, matrix, tensor)."""

    INTEGER = "integer"
    REAL = "real"
    EXPRESSION = "expression"
    VECTOR = "vector"
    MATRIX = "matrix"
    TENSOR = "tensor"
    SHAPE = "shape"
    SEQUENCE = "sequence"
    CHOICE = "choice"
    BOOLEAN = "boolean"
    COMPLEXITY = "complexity"
    TEXT = "text"

    @property
    def doc(self) -> str:
        """How a student's value of this type is compared, in one phrase."""
        return _TYPE_DOCS[self]

    @property
    def is_tensor(self) -> bool:
        return self in TENSOR_TYPES

    @property
    def is_numeric(self) -> bool:
        """Read with the number parser and compared entry by entry."""
        return self in NUMERIC_TYPES


_TYPE_DOCS = {
    AnswerType.INTEGER: "a whole number, compared exactly",
    AnswerType.REAL: (
        "an exact number; decimals within tolerance or correctly rounded are accepted"
    ),
    AnswerType.EXPRESSION: "a formula in the problem's symbols, compared by equivalence",
    AnswerType.VECTOR: "a list of numbers, compared entry by entry",
    AnswerType.MATRIX: "a list of rows, compared entry by entry",
    AnswerType.TENSOR: "a nested list, compared entry by entry",
    AnswerType.SHAPE: "a list of whole numbers (or symbols such as n), compared exactly",
    AnswerType.SEQUENCE: "a list of tokens, compared exactly",
    AnswerType.CHOICE: "one of the listed options",
    AnswerType.BOOLEAN: "true or false",
    AnswerType.COMPLEXITY: (
        "a big-O expression such as O(T N^2); the value is what is inside O(·)"
    ),
    AnswerType.TEXT: "a short text, compared after normalising case and spacing",
}

#: the answer types whose value is a nested list, by rank
TENSOR_TYPES = (AnswerType.VECTOR, AnswerType.MATRIX, AnswerType.TENSOR)
#: the answer types read by the number parser and compared entry by entry
NUMERIC_TYPES = frozenset(
    {AnswerType.INTEGER, AnswerType.REAL, AnswerType.EXPRESSION, AnswerType.SHAPE, *TENSOR_TYPES}
)
#: the numeric types compared exactly, never within a tolerance
EXACT_TYPES = frozenset({AnswerType.INTEGER, AnswerType.SHAPE})


class Verdict(Word):
    """The checker's verdict on one asked key (the checking rules: docs reference/answers)."""

    CORRECT = "correct"
    INCORRECT = "incorrect"
    PARTIAL = "partial"
    CARRIED_FORWARD = "carried_forward"
    MISSING = "missing"
    UNREADABLE = "unreadable"


class Job(Word):
    """How an entry that is not cheap to compare is decided: the time-limited sandbox's
    jobs (:data:`solver.sandbox.JOBS`)."""

    NUMBER = "number"  # a student's closed form evaluated and compared with the answer
    EQUAL = "equal"  # two formulas in symbols, equal by simplification
    ORDER = "order"  # two complexities, the same big-O class


def answer_type(value: Any) -> AnswerType:
    """``value`` (a word or a member) as an AnswerType; ValueError names an unknown one."""
    try:
        return AnswerType(value)
    except ValueError:
        raise ValueError(f"unknown answer type {value!r}") from None
