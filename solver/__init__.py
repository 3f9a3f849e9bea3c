"""dlsolve: deep-learning problem sets solved exactly, step by step.

The public API, in the order data flows through it::

    problems = solver.load("problems/lecture-normalization.yaml")
    solved = solver.solve_set(problems)             # Solutions, one per problem
    print(solver.render.text.render([solved]))      # or markdown / json

Kinds never print or read files; renderers never compute; the checker and the
PyTorch verifier only read Solutions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import kinds
from .errors import DlsolveError, FieldError
from .solution import Solution
from .spec import Problem, ProblemSet, fill_text, load, load_text, text_parts

__all__ = [
    "DlsolveError",
    "Problem",
    "ProblemSet",
    "Solution",
    "SolvedSet",
    "expand_paths",
    "load",
    "load_text",
    "solve",
    "solve_paths",
    "solve_set",
]


@dataclass
class SolvedSet:
    """A problem file after solving: a Solution per good problem, an error per bad one."""

    path: str
    title: str | None
    solutions: list[Solution]
    errors: list[DlsolveError] = field(default_factory=list)
    text: str | None = None


def solve(
    problem: Problem,
    overrides: Mapping[str, Any] | None = None,
    *,
    record_steps: bool = True,
    **options: Any,
) -> Solution:
    """Solve one problem. ``overrides`` replace answers by given values (error carried
    forward); ``options`` select a kind's misconception; ``record_steps=False`` keeps the
    answers only (the checker's re-solves). Raises DlsolveError."""
    k = kinds.get(problem.kind)
    s = k.new_solution(overrides, record_steps=record_steps)
    s.id, s.kind, s.title = problem.id, problem.kind, problem.title
    s.ask, s.points = problem.ask, problem.points
    if record_steps:  # what the renderers show; a re-solve for the checker needs none of it
        s.text = fill_text(problem.text, problem.raw_given)
        s.givens = k.show_givens(problem.given)
        s.given_tables = k.given_tables(problem.raw_given)
        parts = text_parts(problem.text, problem.raw_given, {t.title: t for t in s.given_tables})
        # only where the text quotes a table: a kind may go on to add to s.text (a choice's
        # options)
        s.text_parts = parts if any(not isinstance(p, str) for p in parts) else []
    try:
        k.solve(problem.given, s, **options)
    except FieldError as err:
        raise problem.error(err.message, err.field) from None
    return s


def solve_set(ps: ProblemSet, only: Iterable[str] | None = None) -> SolvedSet:
    """Solve every problem of a file; one that fails is reported, the others still solve."""
    wanted = set(only) if only is not None else None
    out = SolvedSet(ps.path, ps.title, [], list(ps.errors), ps.text)
    for problem in ps.problems:
        if wanted is not None and problem.id not in wanted:
            continue
        try:
            out.solutions.append(solve(problem))
        except DlsolveError as err:
            out.errors.append(err)
        except Exception as err:  # a bug in a kind: still one sentence, and the rest solves
            out.errors.append(
                DlsolveError(
                    f"dlsolve failed on this problem ({type(err).__name__}: {err}); this is a bug, "
                    "please report it with the problem",
                    file=problem.file,
                    line=problem.line,
                    problem=problem.id,
                )
            )
    return out


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and every ``*.yaml``/``*.yml`` directly in a folder named, in order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix in (".yaml", ".yml") and q.is_file())
        else:
            out.append(p)
    return out


def solve_paths(paths: Iterable[str | Path], only: Iterable[str] | None = None) -> list[SolvedSet]:
    """Load and solve files and folders; a file that cannot be read becomes an error entry."""
    results = []
    for p in expand_paths(paths):
        try:
            ps = load(p)
        except DlsolveError as err:
            results.append(SolvedSet(str(p), None, [], [err]))
            continue
        results.append(solve_set(ps, only))
    return results
