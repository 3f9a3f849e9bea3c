"""Every answer the solver produces, and every tie alternative, is accepted when a student
writes it in each notation the documentation lists (issue 15): the value `solve --format json`
prints, its LaTeX, the text the terminal shows, a rounded decimal, a MATLAB matrix. Over the
example of every kind and a variant of it, every shipped problem and a variant of each
shipped file, and problems with ties."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from solver import kinds, load, load_text
from solver.check import AnswerKey, read_answers
from solver.compare import NUMERIC_TYPES, Judge
from solver.render.json import answer_json
from solver.solution import Answer

from .conftest import problem_file

SHIPPED = sorted(Path("problems").glob("*.yaml"))


def _json_value(a: Answer) -> Any:
    d = answer_json(a)
    return f"O({d['value']})" if a.type == "complexity" else d["value"]


def _latex(a: Answer) -> Any:
    if a.type in ("choice", "text") or a.value is None:
        return None
    if a.type == "sequence":
        return None if _nested(a.value) else rf"\text{{{' '.join(map(str, a.value))}}}"
    if a.type == "boolean" and isinstance(a.value, bool):
        return rf"\text{{{str(a.value).lower()}}}"
    if a.type not in NUMERIC_TYPES and a.type != "complexity":
        return None
    return answer_json(a)["latex"]


def _text(a: Answer) -> Any:
    """What the terminal prints for a scalar, a sequence, a shape or a boolean."""
    if isinstance(a.value, list) and a.type not in ("sequence", "shape"):
        return None
    if a.type in ("choice", "text", "boolean"):
        return None
    return a.display().text()


def _decimal(a: Answer) -> Any:
    """The float, to 12 significant figures, as a YAML number (entries of a tensor too)."""
    if a.type not in ("real", "vector", "matrix", "tensor"):
        return None
    floats = answer_json(a)["float"]

    def dec(x: Any) -> Any:
        if isinstance(x, list):
            return [dec(v) for v in x]
        if x is None or not math.isfinite(x):
            raise ValueError
        return float(f"{x:.12g}")

    try:
        return dec(floats)
    except (ValueError, TypeError):
        return None


def _matlab(a: Answer) -> Any:
    v = answer_json(a)["value"]
    if a.type != "matrix" or any(" " in str(x) for row in v for x in row):
        return None
    return "[" + "; ".join(" ".join(map(str, row)) for row in v) + "]"


NOTATIONS: dict[str, Callable[[Answer], Any]] = {
    "json": _json_value,
    "latex": _latex,
    "text": _text,
    "decimal": _decimal,
    "matlab": _matlab,
}


def _nested(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and isinstance(v[0], list)


def _alternatives(a: Answer) -> Iterator[Answer]:
    """Every tie alternative, and the answer with every entry that has entry-wise
    alternatives taking its last one."""
    meta = {k: v for k, v in a.meta.items() if k not in ("alternatives", "entry_alternatives")}
    for alt in a.meta.get("alternatives") or ():
        yield replace(a, value=alt, meta=meta)
    choices = a.meta.get("entry_alternatives")
    if choices and any(choices):
        value = [cs[-1] if cs else v for v, cs in zip(a.value, choices, strict=True)]
        yield replace(a, value=value, meta=meta)


#: problems with ties, so that every alternative is written in every notation too
TIES = """
title: ties
problems:
  - id: chain
    kind: viterbi
    given:
      tokens: [<BOS>, A, B]
      P: [[0, 1/2, 1/2], [0, 1/4, 3/4], [0, 3/4, 1/4]]
      T: 3
  - id: flat
    kind: viterbi
    given:
      tokens: [<BOS>, A, B]
      P: [[0, 1/2, 1/2], [0, 1/2, 1/2], [0, 1/2, 1/2]]
      T: 2
  - id: tree
    kind: lm_tree
    given:
      beam_width: 1
      tree:
        <BOS>:
          children:
            x: {logp: -1, children: {a: -1, b: -2}}
            y: {logp: -1, children: {a: -3, b: -1}}
"""


def _sets() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [("ties", TIES)]
    out += [(f"kind:{name}", name) for name in kinds.names()]
    out += [(f"kind-variant:{name}", ("kind-variant", name)) for name in kinds.names()]
    out += [(f"file:{p.stem}", p) for p in SHIPPED]
    out += [(f"variant:{p.stem}", ("variant", p)) for p in SHIPPED]
    return out


def _key(source: Any, tmp_path: Path) -> AnswerKey:
    if source is TIES:
        return AnswerKey(load_text(TIES, "ties.yaml"))
    if isinstance(source, str):
        k = kinds.get(source)
        return AnswerKey(load_text(problem_file(source, dict(k.example)), f"{source}.yaml"))
    if isinstance(source, tuple) and source[0] == "kind-variant":
        import random

        from solver import variants

        name = source[1]
        example = load_text(problem_file(name, dict(kinds.get(name).example)), "x.yaml")
        try:
            raw, _ = variants.draw(example.problems[0], random.Random(f"notations/{name}"))
        except NotImplementedError:
            pytest.skip(f"{name} has no variant generator")
        return AnswerKey(load_text(problem_file(name, raw), f"{name}-variant.yaml"))
    if isinstance(source, tuple):
        from solver import variants

        v = variants.make(load(source[1]), 1, 1, 2026)
        path = tmp_path / f"{source[1].stem}-1.yaml"
        path.write_text(variants.dump(v.doc), encoding="utf-8")
        return AnswerKey.load(path)
    return AnswerKey.load(source)


@pytest.mark.parametrize("source", [s for _, s in _sets()], ids=[i for i, _ in _sets()])
def test_every_answer_in_every_notation_is_correct(
    source: Any, judge: Judge, tmp_path: Path
) -> None:
    key = _key(source, tmp_path)
    assert not key.errors, [str(e) for e in key.errors]
    if not any(kp.asked for kp in key.problems.values()):
        pytest.skip("no answer keys (a prose answer)")
    sheets: dict[str, dict[str, dict[str, Any]]] = {}
    for pid, kp in key.problems.items():
        for a in kp.asked:
            if a.value is None and a.type in NUMERIC_TYPES:
                continue  # "undefined" has its own tests
            candidates = [a, *_alternatives(a)]
            for n, candidate in enumerate(candidates):
                for notation, write in NOTATIONS.items():
                    written = write(candidate)
                    if written is None:
                        continue
                    sheet = sheets.setdefault(f"{notation}-{n}", {})
                    sheet.setdefault(pid, {})[a.key] = written
    assert sheets
    for answers in sheets.values():  # a kind that grades its answers together runs them all
        for pid, given in answers.items():
            if key.problems[pid].together:
                for a in key.problems[pid].asked:
                    given.setdefault(a.key, _json_value(a))
    if source is TIES:
        assert {name.split("-")[1] for name in sheets} >= {"0", "1", "2", "3"}
    wrong = []
    for name, answers in sheets.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"answers": answers}, allow_unicode=True), encoding="utf-8")
        report = key.check(read_answers(path), judge)
        for r in report.results:
            given = answers.get(r.problem, {}).get(r.key)
            if given is not None and r.verdict != "correct":
                wrong.append((name, r.problem, r.key, given, r.feedback))
    assert wrong == []
