"""The transition_parse kind: arc-standard tables, graded by running the student's transitions.

The tables are compared with a brute-force enumeration written here, independently of the
kind: every sequence of SHIFT / LEFT-ARC / RIGHT-ARC of length 2n is simulated on plain lists,
and the ones that build exactly the gold arcs are the valid sequences. The checker must accept
each of them (and any subset of their entries), and must judge the rows after a wrong step
from the student's own parse.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import solver
from solver import kinds
from solver.check import check_file
from solver.compare import read
from solver.kinds.parsing import (
    ARROW_REVERSED,
    EARLY_RIGHT_ARC,
    MAX_WORDS,
    NO_ROOT,
    SWAPPED,
    read_dependency,
    read_move,
)
from solver.reveal import Reveal, redact

from ..conftest import PROBLEMS, solve_yaml

SHIPPED = PROBLEMS / "parsing.yaml"
KIND = kinds.get("transition_parse")

CS224N = """
title: t
problems:
  - id: p
    kind: transition_parse
    given:
      sentence: I parsed this sentence correctly
      heads: [2, 0, 4, 2, 2]
      labels: [nsubj, root, det, obj, advmod]
"""

# --------------------------------------------------------------------------- brute force


def simulate(words: list[str], moves: tuple[str, ...]) -> list[dict[str, Any]] | None:
    """Rows of a table on plain lists (positions, 0 = ROOT), or None if a move cannot be
    applied or makes ROOT a dependent."""
    stack, buffer, rows = [0], list(range(1, len(words) + 1)), []
    for mv in moves:
        arc = None
        if mv == "S":
            if not buffer:
                return None
            stack.append(buffer.pop(0))
        else:
            if len(stack) < 2:
                return None
            top, below = stack[-1], stack[-2]
            if mv == "L":
                if below == 0:
                    return None
                arc = (top, below)
                del stack[-2]
            else:
                arc = (below, top)
                del stack[-1]
        rows.append({"stack": list(stack), "buffer": list(buffer), "arc": arc, "move": mv})
    return rows


@lru_cache(maxsize=64)
def valid_sequences(heads: tuple[int, ...]) -> list[tuple[str, ...]]:
    """Every sequence of 2n moves that builds exactly the gold arcs, by brute force: all
    sequences, cut short only where one adds an arc that is not gold (it can never end
    with exactly the gold arcs, each word having one head)."""
    n = len(heads)
    gold = {(h, d) for d, h in enumerate(heads, 1)}
    words = [f"w{i}" for i in range(1, n + 1)]
    out = []

    def extend(moves: tuple[str, ...]) -> None:
        rows = simulate(words, moves)
        if rows is None or (rows and rows[-1]["arc"] and rows[-1]["arc"] not in gold):
            return
        if len(moves) == 2 * n:
            if rows[-1]["stack"] == [0] and {r["arc"] for r in rows if r["arc"]} == gold:
                out.append(moves)
            return
        for m in "LRS":
            extend((*moves, m))

    extend(())
    return out


NAMES = {"S": "SHIFT", "L": "LEFT-ARC", "R": "RIGHT-ARC"}


def entries(words: list[str], moves: tuple[str, ...]) -> dict[str, Any]:
    """A student's whole table for a move sequence, as an answers file writes it."""
    table = ["ROOT", *words]
    out: dict[str, Any] = {}
    for t, r in enumerate(simulate(words, moves) or [], 1):
        out[f"stack[{t}]"] = [table[i] for i in r["stack"]]
        out[f"buffer[{t}]"] = [table[i] for i in r["buffer"]]
        out[f"transition[{t}]"] = NAMES[r["move"]]
        h_d = r["arc"]
        out[f"dependency[{t}]"] = "none" if h_d is None else f"{table[h_d[0]]} -> {table[h_d[1]]}"
    return out


def projective_heads(data: Any, n: int) -> list[int]:
    """A random projective tree over n words (one word under ROOT), drawn span by span."""
    heads = [0] * (n + 1)

    def hang(lo: int, hi: int, parent: int) -> None:
        # split [lo, hi] into consecutive subtrees, each with a root attached to parent
        while lo <= hi:
            end = data.draw(st.integers(lo, hi))
            root = data.draw(st.integers(lo, end))
            heads[root] = parent
            hang(lo, root - 1, root)
            hang(root + 1, end, root)
            lo = end + 1

    root = data.draw(st.integers(1, n))
    heads[root] = 0
    hang(1, root - 1, root)
    hang(root + 1, n, root)
    return heads[1:]


def grade(heads: list[int], words: list[str], raw: dict[str, Any]) -> dict[str, Any]:
    """The kind's grade of raw answers, each read by its type as the checker reads it."""
    s = solve_yaml(_problem(words, heads))["p"]
    values = {k: read(s.answers[k], v, frozenset({"n"})) for k, v in raw.items()}
    return KIND.grade(KIND.Given.model_validate({"sentence": words, "heads": heads}), values)


def _problem(words: list[str], heads: list[int], **extra: Any) -> str:
    doc = {"title": "t", "problems": [{"id": "p", "kind": "transition_parse", **extra}]}
    doc["problems"][0]["given"] = {"sentence": words, "heads": heads}
    return yaml.safe_dump(doc)


def _check(tmp_path: Path, answers: dict[str, Any], problems: str = CS224N) -> dict[str, Any]:
    pfile = tmp_path / "p.yaml"
    pfile.write_text(problems, encoding="utf-8")
    afile = tmp_path / "a.yaml"
    afile.write_text(yaml.safe_dump({"student": "s", "answers": {"p": answers}}), "utf-8")
    key, report = check_file(pfile, afile)
    key.close()
    return {r.key: r for r in report.results}


# --------------------------------------------------------------------------- solving


def test_the_cs224n_table_is_the_reduce_first_valid_sequence_and_counts_the_others() -> None:
    s = solve_yaml(CS224N)["p"]
    words = "I parsed this sentence correctly".split()
    valid = valid_sequences((2, 0, 4, 2, 2))
    assert len(valid) == 3
    moves = tuple(s[f"transition[{t}]"][0] for t in range(1, 11))
    # reduce as soon as possible = the first valid sequence with LEFT < RIGHT < SHIFT
    assert moves == min(valid, key=lambda m: ["LRS".index(x) for x in m])
    want = entries(words, moves)
    for key, value in want.items():
        if key.startswith("dependency") and value != "none":
            h, d = value.split(" -> ")
            assert s[key].startswith(f"{h} → {d}")
        else:
            assert s[key] == value, key
    assert s["steps"] == 10 and str(s["steps_general"]) == "2*n"
    assert "This tree has 3 valid transition sequences" in str([st.text for st in s.steps])
    assert s["dependency[3]"] == "parsed → I (nsubj)"  # the label shown with the arc


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_valid_sequence_of_a_random_tree_is_accepted_entry_by_entry(data: Any) -> None:
    n = data.draw(st.integers(1, 5))
    heads = projective_heads(data, n)
    words = [f"w{i}" for i in range(1, n + 1)]
    valid = valid_sequences(tuple(heads))
    assert valid, heads  # every projective tree has a sequence
    s = solve_yaml(_problem(words, heads))["p"]
    assert tuple(s[f"transition[{t}]"][0] for t in range(1, 2 * n + 1)) in valid
    said = f"This tree has {len(valid)} valid" if len(valid) > 1 else "the only valid one"
    assert said in str([x.text for x in s.steps])
    for moves in data.draw(st.permutations(valid))[:3]:
        table = entries(words, moves)
        keep = data.draw(st.sets(st.sampled_from(sorted(table)), min_size=1))
        answers = {k: table[k] for k in keep}
        if data.draw(st.booleans()):
            answers = table
        matches = grade(heads, words, answers)
        assert set(matches) == set(answers)
        wrong = {k: m.feedback for k, m in matches.items() if not m.full}
        assert not wrong, (heads, moves, wrong)


def _best_completion(heads: list[int], start: tuple[str, ...]) -> tuple[str, ...]:
    """A completion of ``start`` that builds as many gold arcs as any can, by brute force."""
    n = len(heads)
    gold = {(h, d) for d, h in enumerate(heads, 1)}
    words = [f"w{i}" for i in range(n)]
    best, best_moves = -1, start
    for rest in itertools.product("LRS", repeat=2 * n - len(start)):
        rows = simulate(words, start + rest)
        if rows is None:
            continue
        score = sum(r["arc"] in gold for r in rows[len(start) :])
        if score > best:
            best, best_moves = score, start + rest
    return best_moves


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(st.data())
def test_one_wrong_transition_costs_its_own_entry_and_the_rows_after_follow_it(data: Any) -> None:
    n = data.draw(st.integers(2, 5))
    heads = projective_heads(data, n)
    words = [f"w{i}" for i in range(1, n + 1)]
    moves = data.draw(st.sampled_from(valid_sequences(tuple(heads))))
    k = data.draw(st.integers(1, 2 * n - 1))
    wrong = [m for m in "LRS" if m != moves[k - 1]]
    prefix = None
    for m in wrong:  # a wrong move that can be applied, and loses an arc of the tree
        candidate = (*moves[: k - 1], m)
        if simulate(words, candidate) is not None and not any(
            v[:k] == candidate for v in valid_sequences(tuple(heads))
        ):
            prefix = candidate
            break
    assume(prefix is not None)
    assert prefix is not None
    student = _best_completion(heads, prefix)
    table = entries(words, student)
    matches = grade(heads, words, table)
    assert not matches[f"transition[{k}]"].full
    # the step's own stack, buffer and dependency follow the student's own transition: right
    later = {key: m for key, m in matches.items() if not key.startswith(f"transition[{k}]")}
    wrong_after = {key: m.feedback for key, m in later.items() if not m.full}
    assert not wrong_after, (heads, student, k, wrong_after)


# --------------------------------------------------------------------------- named mistakes


def _answers_for(moves: str, words: list[str] | None = None) -> dict[str, Any]:
    words = words or "I parsed this sentence correctly".split()
    return entries(words, tuple(moves))


def test_left_and_right_swapped_is_named_on_the_transition(tmp_path: Path) -> None:
    answers = _answers_for("SSLSSLRSRR")
    answers["transition[3]"] = "RIGHT-ARC"
    r = _check(tmp_path, answers)["transition[3]"]
    assert r.verdict == "incorrect" and r.misconception == SWAPPED
    assert "in the tree parsed is the head of I" in r.feedback


def test_a_stack_without_root_and_2n_minus_1_steps_are_named(tmp_path: Path) -> None:
    answers = _answers_for("SSLSSLRSRR")
    answers = {k: v for k, v in answers.items() if k.startswith("stack")}
    for k in answers:
        answers[k] = [w for w in answers[k] if w != "ROOT"]
    answers |= {"steps": 9, "steps_general": "2n - 1"}
    results = _check(tmp_path, answers)
    for t in range(1, 10):
        assert results[f"stack[{t}]"].misconception == NO_ROOT, t
    assert results["stack[10]"].verdict == "incorrect"  # [] for [ROOT]
    assert results["steps"].misconception == NO_ROOT
    assert results["steps_general"].misconception == NO_ROOT


def test_a_right_arc_before_the_dependents_are_attached_is_named(tmp_path: Path) -> None:
    answers = {"transition[1]": "S", "transition[2]": "S", "transition[3]": "LA"}
    answers["transition[4]"] = "RA"  # ROOT → parsed while sentence and correctly wait
    r = _check(tmp_path, answers)["transition[4]"]
    assert r.misconception == EARLY_RIGHT_ARC
    assert "before its own dependents are attached (sentence, correctly)" in r.feedback


def test_an_early_right_arc_seen_only_in_the_stack_is_named_there(tmp_path: Path) -> None:
    answers = _answers_for("SSLSSLRSRR")
    answers = {k: v for k, v in answers.items() if k.startswith(("stack", "buffer"))}
    answers["stack[4]"] = ["ROOT"]  # the stack a RIGHT-ARC ROOT → parsed gives at step 4
    r = _check(tmp_path, answers)["stack[4]"]
    assert r.verdict == "incorrect" and r.misconception == EARLY_RIGHT_ARC
    assert r.feedback.startswith("This is what a RIGHT-ARC at step 4 gives")


def test_a_dependency_written_backwards_is_named(tmp_path: Path) -> None:
    answers = {"dependency[3]": "I -> parsed", "dependency[6]": "sentence → this"}
    results = _check(tmp_path, answers)
    assert results["dependency[3]"].misconception == ARROW_REVERSED
    assert results["dependency[6]"].verdict == "correct"


def test_a_shift_that_buries_a_finished_word_says_so(tmp_path: Path) -> None:
    answers = {f"transition[{t}]": m for t, m in enumerate("SSLSSLS", 1)}  # RA due at 7
    r = _check(tmp_path, answers)["transition[7]"]
    assert r.verdict == "incorrect"
    assert "sentence can never get its head parsed" in r.feedback


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize(
    ("text", "move"),
    [
        ("SHIFT", "SHIFT"),
        ("s", "SHIFT"),
        ("Left-Arc", "LEFT-ARC"),
        ("left arc", "LEFT-ARC"),
        ("LA", "LEFT-ARC"),
        ("RIGHT_ARC", "RIGHT-ARC"),
        ("RA(obj)", "RIGHT-ARC"),
        ("reduce", None),
        ("x" * 5000, None),
    ],
)
def test_transitions_are_read_in_the_ways_students_write_them(text: str, move: str | None) -> None:
    found = read_move(text)
    assert (found[0].value if found else None) == move


@pytest.mark.parametrize(
    ("text", "head", "dependent"),
    [
        ("parsed -> I", "parsed", "i"),
        ("parsed → I (nsubj)", "parsed", "i"),
        ("I ← parsed", "parsed", "i"),
        ("nsubj(parsed, I)", "parsed", "i"),
        ("(parsed, I)", "parsed", "i"),
    ],
)
def test_dependencies_are_read_head_first(text: str, head: str, dependent: str) -> None:
    d = read_dependency(text)
    assert d is not None and (d.head, d.dependent) == (head, dependent)


@pytest.mark.parametrize("text", ["none", "-", "—", "∅", "No dependency"])
def test_a_step_without_a_dependency_is_written_none_or_a_dash(text: str) -> None:
    d = read_dependency(text)
    assert d is not None and d.none


def test_written_otherwise_is_still_right(tmp_path: Path) -> None:
    answers = {
        "stack[3]": "[ROOT, parsed]",
        "stack[2]": ["parsed", "I", "ROOT"],  # top first, ending in ROOT
        "buffer[10]": "[]",
        "buffer[9]": "empty",
        "transition[3]": "left-arc(nsubj)",
        "dependency[3]": "nsubj(parsed, I)",
        "dependency[1]": "—",
        "steps_general": "2*n",
    }
    results = _check(tmp_path, answers)
    assert {k: r.verdict for k, r in results.items() if k in answers} == dict.fromkeys(
        answers, "correct"
    )


def test_a_wrong_label_is_wrong_and_said(tmp_path: Path) -> None:
    answers = {"transition[3]": "LEFT-ARC(obj)", "dependency[3]": "obj(parsed, I)"}
    results = _check(tmp_path, answers)
    assert results["transition[3]"].verdict == "incorrect"
    assert "labels it nsubj" in results["transition[3]"].feedback
    assert results["dependency[3]"].verdict == "incorrect"


def test_hostile_answers_get_sentences_and_the_rest_is_checked(tmp_path: Path) -> None:
    answers = {
        "transition[1]": "__import__('os').system('echo hi')",
        "transition[2]": {"a": 1},
        "stack[1]": [[["ROOT"]]],
        "dependency[1]": "x" * 3000,
        "steps": "10^10^10^10",
        "steps_general": "2*n",
    }
    results = _check(tmp_path, answers)
    assert results["steps_general"].verdict == "correct"
    assert results["transition[1]"].verdict == "incorrect"
    assert "is not a transition" in results["transition[1]"].feedback
    assert {results[k].verdict for k in answers} <= {"unreadable", "incorrect", "correct"}


def test_reveal_never_keeps_the_named_mistake_and_no_expected_value(tmp_path: Path) -> None:
    pfile = tmp_path / "p.yaml"
    pfile.write_text(CS224N, encoding="utf-8")
    afile = tmp_path / "a.yaml"
    answers = {"transition[1]": "S", "transition[2]": "S", "transition[3]": "RA"}
    afile.write_text(yaml.safe_dump({"answers": {"p": answers}}), encoding="utf-8")
    key, report = check_file(pfile, afile)
    key.close()
    hidden = redact(report, Reveal.parse("never"))
    r = next(x for x in hidden.results if x.key == "transition[3]")
    assert r.expected is None and SWAPPED in r.feedback
    assert "LEFT-ARC's" not in r.feedback  # the sentence that names the right transition


def test_reveal_never_keeps_why_a_transition_could_not_be_read(tmp_path: Path) -> None:
    pfile = tmp_path / "p.yaml"
    pfile.write_text(CS224N, encoding="utf-8")
    afile = tmp_path / "a.yaml"
    answers = {"transition[1]": "push", "dependency[1]": "parsed and I"}
    afile.write_text(yaml.safe_dump({"answers": {"p": answers}}), encoding="utf-8")
    key, report = check_file(pfile, afile)
    key.close()
    hidden = {r.key: r.feedback for r in redact(report, Reveal.parse("never")).results}
    assert hidden["transition[1]"] == (
        "“push” is not a transition: write SHIFT, LEFT-ARC or RIGHT-ARC (or S, LA, RA)."
    )
    assert hidden["dependency[1]"].startswith("“parsed and i” is not a dependency: write head")


def test_a_row_of_another_valid_order_says_what_that_order_gives(tmp_path: Path) -> None:
    answers = _answers_for("SSSSLRLSRR")  # I waits until sentence is attached
    answers["stack[5]"] = ["ROOT", "I", "parsed", "sentence", "this"]
    r = _check(tmp_path, answers)["stack[5]"]
    assert r.verdict == "incorrect"
    assert "following it, the stack of step 5 is [ROOT, I, parsed, sentence]." in r.feedback
    right = _check(tmp_path, {**answers, "stack[5]": ["ROOT", "I", "parsed", "sentence"]})
    assert right["stack[5]"].verdict == "correct"


def test_steps_as_a_formula_asks_for_this_sentences_number(tmp_path: Path) -> None:
    r = _check(tmp_path, {"steps": "2n", "steps_general": "2n + 1"})
    assert r["steps"].feedback == "Give the number for this sentence, of 5 words."
    assert "The initial configuration is not a step" in r["steps_general"].feedback


# --------------------------------------------------------------------------- the problem file


def test_the_shipped_problems_solve_and_their_own_tables_are_right(tmp_path: Path) -> None:
    ps = solver.load(SHIPPED)
    assert len(ps.problems) >= 3 and not ps.errors
    for problem in ps.problems:
        s = solver.solve(problem)
        tree = problem.given.tree()
        valid = valid_sequences(tuple(tree.heads[1:]))
        moves = tuple(s[f"transition[{t}]"][0] for t in range(1, 2 * tree.n + 1))
        assert moves in valid
        raw = {a.key: a.value if a.key != "steps_general" else str(a.value) for a in s.asked()}
        values = {k: read(s.answers[k], v, frozenset({"n"})) for k, v in raw.items()}
        assert all(m.full for m in KIND.grade(problem.given, values).values()), problem.id


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("heads: [2, 0, 4, 2, 2]", "heads: [2, 0, 4, 2]", "has 4 heads for the 5 words"),
        ("heads: [2, 0, 4, 2, 2]", "heads: [2, 0, 4, 2, 9]", "a head is 0 (ROOT)"),
        ("heads: [2, 0, 4, 2, 2]", "heads: [2, 0, 3, 2, 2]", "is its own head"),
        ("heads: [2, 0, 4, 2, 2]", "heads: [2, 1, 4, 2, 2]", "cycle"),
        ("heads: [2, 0, 4, 2, 2]", "heads: [2, 0, 5, 2, 2]", "is not projective"),
        ("heads: [2, 0, 4, 2, 2]", "heads: [2, 0, 4, 2, x]", "a head is 0 (ROOT)"),
        ("labels: [nsubj, root, det, obj, advmod]", "labels: [nsubj]", "has 1 labels"),
        ("sentence: I parsed", "sentence: ROOT parsed", "not ROOT"),
    ],
)
def test_a_malformed_tree_is_one_sentence_naming_file_problem_and_field(
    cli_run: Any, tmp_path: Path, old: str, new: str, says: str
) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(CS224N.replace(old, new), encoding="utf-8")
    code, _, err = cli_run("solve", str(f))
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert "bad.yaml" in err and "problem 'p'" in err and "field 'given." in err
    assert says in err


def test_a_sentence_longer_than_a_hand_table_is_refused(cli_run: Any, tmp_path: Path) -> None:
    n = MAX_WORDS + 1
    f = tmp_path / "long.yaml"
    f.write_text(_problem([f"w{i}" for i in range(n)], [0] + [1] * (n - 1)), encoding="utf-8")
    code, _, err = cli_run("solve", str(f))
    assert code == 2 and "field 'given.sentence'" in err and f"at most {MAX_WORDS}" in err


def test_kinds_new_and_variants_know_the_kind(cli_run: Any, tmp_path: Path) -> None:
    code, out, _ = cli_run("kinds", "transition_parse")
    assert code == 0 and "heads" in out and "transition[t]" in out
    code, out, _ = cli_run("new", "transition_parse")
    assert code == 0 and "heads:" in out
    code, out, err = cli_run("variants", str(SHIPPED), "-n", "2", "-o", str(tmp_path / "v"))
    assert code == 0, err
    drawn = sorted((tmp_path / "v").glob("parsing-[0-9].yaml"))
    assert drawn and all(
        yaml.safe_load(f.read_text())["problems"][0]["given"]
        == yaml.safe_load(SHIPPED.read_text())["problems"][0]["given"]
        for f in drawn
    )


def test_each_named_mistake_makes_the_whole_table_it_names() -> None:
    """The kind's misconceptions, solved: the table a student with that mistake writes (what
    hint 2 on the student page lists)."""
    given = KIND.Given.model_validate(KIND.example)

    def table(**options: Any) -> Any:
        s = KIND.new_solution(record_steps=False)
        KIND.solve(given, s, **options)
        return s

    right = table()
    swap = {"LEFT-ARC": "RIGHT-ARC", "RIGHT-ARC": "LEFT-ARC", "SHIFT": "SHIFT"}
    mistakes = {name: table(**opts) for name, opts in KIND.misconceptions.items()}
    swapped = mistakes[SWAPPED]
    assert all(swapped[f"transition[{t}]"] == swap[right[f"transition[{t}]"]] for t in range(1, 11))
    rootless = mistakes[NO_ROOT]
    assert rootless["steps"] == 9 and all(
        "ROOT" not in rootless[f"stack[{t}]"] for t in range(1, 10)
    )
    early = mistakes[EARLY_RIGHT_ARC]
    assert early["transition[4]"] == "RIGHT-ARC" and early["dependency[4]"].startswith("ROOT →")
    backwards = mistakes[ARROW_REVERSED]
    assert backwards["dependency[3]"] == "I → parsed (nsubj)"
