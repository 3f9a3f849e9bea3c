"""How fast dlsolve grades a class, next to a naive grader (sympy.simplify on every answer).

Generates a class of submissions for a shipped problem set, the way students
answer: most answers right but in many notations (exact strings, LaTeX, MATLAB
matrices, rounded decimals), some with a well-known mistake, some wrong only
because an earlier answer was (error carried forward), some plainly wrong,
missing or unreadable. It then grades the class with ``solver.grade`` and
prints answers per second (goal: 500 on 2 cores), and grades a sample of the
same class the naive way in the same run:

    python benchmarks/bench_grading.py [--students 300] [--jobs 2] [--naive 30]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sympy
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solver import exact, kinds, load, solve
from solver.check import AnswerKey, read_answers
from solver.grade import grade
from solver.parse import ParseError, parse_answer
from solver.solution import Answer, Solution

DEFAULT_PROBLEMS = "problems/discussion-normalization.yaml"


# --------------------------------------------------------------------------- a class of students


def _decimal(x: Any, places: int) -> Any:
    if x is None:
        return "undefined"
    return round(float(exact.to_float(x)), places)


def _latex(v: Any) -> str:
    if isinstance(v, list) and v and isinstance(v[0], list):
        rows = [
            " & ".join(exact.latex(x) if x is not None else r"\text{undefined}" for x in r)
            for r in v
        ]
        return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"
    if isinstance(v, list):
        return _matlab(v)
    return exact.latex(v)


def _matlab(v: Any) -> str:
    if isinstance(v, list) and v and isinstance(v[0], list):
        return (
            "["
            + "; ".join(
                " ".join(exact.fmt(x).replace(" ", "") if x is not None else "nan" for x in r)
                for r in v
            )
            + "]"
        )
    return (
        "[" + " ".join(exact.fmt(x).replace(" ", "") if x is not None else "nan" for x in v) + "]"
    )


def written(a: Answer, value: Any, rng: random.Random) -> Any:
    """``value`` as some student would write it."""
    if isinstance(value, bool):
        return rng.choice([value, "yes" if value else "no", str(value).lower()])
    if not exact.is_numeric(value):
        return value
    style = rng.random()
    floats = exact.to_float(value)
    if floats is None or (isinstance(floats, list) and None in exact.flatten(floats)):
        style = 0.0  # a formula (in n, say) or an undefined entry: written exactly
    nested = isinstance(value, list) and any(isinstance(x, list) for x in value)
    if style < 0.45:
        return exact.fmt(value) if value is not None else "undefined"
    if style < 0.6:
        return _latex(value)
    if style < 0.75 and isinstance(value, list):
        return _matlab(value)
    places = rng.choice([2, 3, 4])
    if isinstance(value, list):
        return exact.tmap(lambda x: _decimal(x, places), value) if nested or value else value
    return _decimal(value, places)


def perturbed(value: Any, rng: random.Random) -> Any:
    """``value`` with one entry off by one (a choice or a token list: left as it is)."""
    if isinstance(value, bool):
        return not value
    if not exact.is_numeric(value):
        return value
    if isinstance(value, list):
        flat = exact.flatten(value)
        if not flat:  # the shape [] of a scalar: a student writes [1]
            return [1]
        i = rng.randrange(len(flat))
        flat[i] = (flat[i] if flat[i] is not None else 0) + 1
        shape = exact.shape(value)

        def build(s: tuple[int, ...], it: Any) -> Any:
            return [build(s[1:], it) for _ in range(s[0])] if s else next(it)

        return build(shape, iter(flat))
    return (value if value is not None else 0) + 1


def student_sheet(
    solutions: list[Solution],
    buggy: dict[str, list[Solution]],
    problems: dict[str, Any],
    rng: random.Random,
    i: int,
) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for s in solutions:
        mine: dict[str, Any] = {}
        resolved: Solution | None = None
        for a in s.asked():
            roll = rng.random()
            if roll < 0.03:
                continue  # missing
            if roll < 0.05:
                mine[a.key] = "[1, 2" if isinstance(a.value, list) else "2 +* 3"
                continue
            value = a.value
            if roll < 0.15 and buggy[s.id]:
                b = rng.choice(buggy[s.id])
                value = b.answers[a.key].value if a.key in b.answers else value
            elif roll < 0.25 and resolved is None and exact.is_numeric(value) and value is not None:
                value = exact.tmap(lambda x: x if x is None else x + 1, value)  # an early slip,
                # carried forward by the answers below
                try:
                    resolved = solve(problems[s.id], overrides={a.key: value})
                except Exception:
                    resolved = None
            elif roll < 0.33:
                value = perturbed(value, rng)
            if resolved is not None and a.key in resolved.answers and roll >= 0.15:
                value = resolved.answers[a.key].value
            mine[a.key] = written(a, value, rng)
        answers[s.id] = mine
    return {"student": f"student{i:03d}", "answers": answers}


def make_class(problems_path: str, n: int, folder: Path, seed: int) -> int:
    """Write ``n`` submissions to ``folder``; return the number of asked answers per sheet."""
    rng = random.Random(seed)
    ps = load(problems_path)
    problems = {p.id: p for p in ps.problems}
    solutions = [solve(p) for p in ps.problems]
    buggy = {p.id: [] for p in ps.problems}
    for p in ps.problems:
        for options in kinds.get(p.kind).misconceptions.values():
            try:
                buggy[p.id].append(solve(p, **options))
            except Exception:
                continue
    for i in range(n):
        sheet = student_sheet(solutions, buggy, problems, rng, i)
        (folder / f"student{i:03d}.yaml").write_text(yaml.safe_dump(sheet, allow_unicode=True))
    return sum(len(s.asked()) for s in solutions)


# --------------------------------------------------------------------------- the naive grader


def naive_grade(problems_path: str, files: list[Path]) -> int:
    """Compare every entry with ``sympy.simplify(expected - given) == 0``; return answers seen.

    Still reads students' text with the safe parser (sympify on it would be unsafe),
    and does no misconceptions, carried-forward or rounding: a lower bound on its cost.
    """
    key = AnswerKey.load(problems_path)
    count = 0
    for f in files:
        sheet = read_answers(f)
        for pid, kp in key.problems.items():
            for a in kp.asked:
                count += 1
                raw = sheet.answers.get(pid, {}).get(a.key)
                if raw is None or not exact.is_numeric(a.value):
                    continue
                try:
                    given = _naive_read(raw)
                except (ParseError, TypeError, ValueError):
                    continue
                expected = a.value if isinstance(a.value, list) else [a.value]
                given = given if isinstance(given, list) else [given]
                try:
                    pairs = zip(exact.flatten(expected), exact.flatten(given), strict=True)
                    for e, g in pairs:
                        if e is None or g is None:
                            continue
                        sympy.simplify(exact.to_sympy(e) - exact.to_sympy(g)) == 0  # noqa: B015
                except ValueError:
                    continue
    return count


def _naive_read(raw: Any) -> Any:
    if isinstance(raw, list):
        return [_naive_read(v) for v in raw]
    if isinstance(raw, str):
        return parse_answer(raw)
    if isinstance(raw, float):
        return exact.rational(sympy.Rational(str(raw)))
    return raw


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", default=DEFAULT_PROBLEMS, help="a shipped problem set")
    ap.add_argument("--students", type=int, default=300, help="size of the generated class")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes for dlsolve")
    ap.add_argument(
        "--naive", type=int, default=30, help="submissions graded the naive way (it is slow)"
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of the generated class")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        per_sheet = make_class(args.problems, args.students, folder, args.seed)
        files = sorted(folder.glob("*.yaml"))
        total = per_sheet * len(files)
        print(
            f"class: {len(files)} submissions × {per_sheet} answers = {total} answers "
            f"({args.problems})"
        )

        start = time.perf_counter()
        outcomes = grade(args.problems, files, jobs=args.jobs)
        fast = time.perf_counter() - start
        verdicts: dict[str, int] = {}
        for o in outcomes:
            for r in o.report.results if o.report else []:
                verdicts[r.verdict] = verdicts.get(r.verdict, 0) + 1
        print(
            f"dlsolve grade --jobs {args.jobs}: {fast:.2f} s, {total / fast:,.0f} answers/s "
            f"(goal ≥ 500); verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items()))
        )

        sample = files[: args.naive]
        start = time.perf_counter()
        seen = naive_grade(args.problems, sample)
        slow = time.perf_counter() - start
        print(
            f"naive (sympy.simplify on every answer, 1 process, {len(sample)} submissions): "
            f"{slow:.2f} s, {seen / slow:,.0f} answers/s"
        )
        print(
            f"speed-up: {(total / fast) / (seen / slow):,.0f}× "
            f"(per process: {(total / fast / args.jobs) / (seen / slow):,.0f}×)"
        )


if __name__ == "__main__":
    main()
