"""A Solution's bookkeeping: declared keys looked up once, answers typed by declaration."""

from __future__ import annotations

from solver.solution import Key, Solution
from solver.vocab import AnswerType


def test_declared_keys_are_never_taken_from_another_solution() -> None:
    """Short-lived key tuples reuse ids; a cache keyed by id() returned the other's Key."""
    for i in range(40):
        typ = AnswerType.TEXT if i % 2 else AnswerType.BOOLEAN
        s = Solution((Key("x", typ, f"declared {i}"),))
        assert s.declared("x").doc == f"declared {i}"
        s.answer("x", "yes" if i % 2 else True)
        assert s.answers["x"].type is typ
        del s


def test_a_kind_looks_its_declarations_up_once(toy_kind) -> None:
    from solver.solution import _DECLARED

    k = toy_kind()
    first = k.new_solution()
    decl = first.declared(k.keys[0].pattern)
    assert _DECLARED[type(k)][k.keys[0].pattern] is decl
    assert k.new_solution().declared(k.keys[0].pattern) is decl
