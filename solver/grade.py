"""Grading a whole class: one CSV row per submission, a Gradescope results.json each.

Each worker process builds the answer key once (the problem set solved, with
its misconceptions) and then checks submission after submission against it;
``jobs`` processes share the files. A submission that cannot be read is a row
whose ``status`` says why; it never stops the run.

Variants (issue 8): an answers file that names ``variant: 7`` is checked
against that variant's problem file. :func:`variant_path` is the single place
that knows where variants live in a ``--variants`` folder; :meth:`Grader.key_for`
builds (and caches) the key of each variant used.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .check import AnswerKey, Report, Settings, number, read_answers
from .compare import Judge
from .errors import DlsolveError
from .render.report import gradescope_results

SUBMISSION_SUFFIXES = (".yaml", ".yml")


@dataclass
class Outcome:
    """One submission graded: its report, or why it could not be."""

    file: str
    student: str
    status: str  # "ok", or "error: <reason>"
    report: Report | None = None
    variant: Any = None


def submissions(folder: str | Path) -> list[Path]:
    """The answers files of a class: every ``*.yaml``/``*.yml`` directly in ``folder``."""
    d = Path(folder)
    if not d.is_dir():
        raise DlsolveError("no such folder of submissions", file=str(folder))
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix in SUBMISSION_SUFFIXES)


def variant_path(variants_dir: str | Path, problems: str | Path, variant: Any) -> Path:
    """The problem file of ``variant`` in a folder written by ``dlsolve variants``."""
    from .variants import variant_path as where

    path = where(variants_dir, problems, variant)
    if not path.is_file():
        raise DlsolveError(
            f"variant {variant} has no problem file in the variants folder "
            f"(looked for {path.name})",
            file=str(variants_dir),
        )
    return path


class Grader:
    """One process's grading state: the answer key(s) and the judge with its sandbox."""

    def __init__(
        self,
        problems: str | Path,
        settings: Settings | None = None,
        variants_dir: str | Path | None = None,
    ) -> None:
        settings = settings or Settings()
        self.problems, self.settings, self.variants_dir = problems, settings, variants_dir
        self.key = AnswerKey.load(problems, settings)
        self._variants: dict[str, AnswerKey] = {}
        self.judge = Judge()

    def key_for(self, variant: Any) -> AnswerKey:
        """The key an answers file is checked against: the problems, or one of their variants.

        The problems file may be the variant itself (``check variants/hw-7.yaml answers.yaml``
        with ``variant: 7``). An answers file that names no variant, when the class is graded
        against variants, is refused: grading it against the source's numbers would be
        silently wrong.
        """
        if variant is None:
            if self.variants_dir is not None:
                raise DlsolveError(
                    "the answers file names no variant ('variant: N'), but the class is graded "
                    "against variants (--variants): add the student's variant number"
                )
            return self.key
        if Path(self.problems).stem.endswith(f"-{variant}") and (
            self.variants_dir is None
            or Path(self.problems).resolve().parent == Path(self.variants_dir).resolve()
        ):
            return self.key  # the problems file is this very variant
        if self.variants_dir is None:
            raise DlsolveError(
                f"the answers name variant {variant}, but no variants folder was given (--variants)"
            )
        name = str(variant)
        if name not in self._variants:
            path = variant_path(self.variants_dir, self.problems, variant)
            self._variants[name] = AnswerKey.load(path, self.settings)
        return self._variants[name]

    def check(self, answers: str | Path) -> Report:
        """Check one answers file (DlsolveError if it is unusable)."""
        sheet = read_answers(answers)
        return self.key_for(sheet.variant).check(sheet, self.judge)

    def outcome(self, path: str | Path) -> Outcome:
        """One submission graded; an unusable one says why in its status."""
        try:
            sheet = read_answers(path)
        except DlsolveError as err:
            return Outcome(str(path), Path(path).stem, f"error: {err}")
        try:
            report = self.key_for(sheet.variant).check(sheet, self.judge)
        except DlsolveError as err:
            return Outcome(str(path), sheet.student, f"error: {err}", variant=sheet.variant)
        return Outcome(str(path), report.student, "ok", report, report.variant)

    def close(self) -> None:
        self.judge.close()


_grader: Grader | None = None


def _start_worker(problems: str, settings: Settings, variants_dir: str | None) -> None:
    global _grader
    _grader = Grader(problems, settings, variants_dir)


def _grade_in_worker(path: str) -> Outcome:
    assert _grader is not None
    return _grader.outcome(path)


def grade(
    problems: str | Path,
    files: Sequence[str | Path],
    *,
    settings: Settings | None = None,
    jobs: int = 1,
    variants_dir: str | Path | None = None,
) -> list[Outcome]:
    """Grade every answers file, in ``jobs`` processes; outcomes in the order of ``files``."""
    settings = settings or Settings()
    names = [str(f) for f in files]
    if jobs <= 1 or len(names) < 2:
        grader = Grader(problems, settings, variants_dir)
        try:
            return [grader.outcome(f) for f in names]
        finally:
            grader.close()
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    chunk = max(1, len(names) // (jobs * 8))
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=ctx,
        initializer=_start_worker,
        initargs=(str(problems), settings, str(variants_dir) if variants_dir else None),
    ) as pool:
        return list(pool.map(_grade_in_worker, names, chunksize=chunk))


def columns(key: AnswerKey) -> list[str]:
    """The CSV's per-key columns: ``problem/key``."""
    return [f"{pid}/{k}" for pid, k in key.graded()]


def write_csv(outcomes: Iterable[Outcome], key: AnswerKey, path: str | Path) -> None:
    """One row per submission: student, file, variant, status, score, max_score, per-key points,
    and the warnings (unknown problem ids or keys)."""
    keys = columns(key)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            ["student", "file", "variant", "status", "score", "max_score", *keys, "warnings"]
        )
        for o in outcomes:
            r = o.report
            if r is None:
                w.writerow([o.student, o.file, "", o.status, "", "", *[""] * len(keys), ""])
                continue
            got = {f"{x.problem}/{x.key}": number(x.points) for x in r.results}
            w.writerow(
                [
                    o.student,
                    o.file,
                    "" if o.variant is None else o.variant,
                    o.status,
                    number(r.score),
                    number(r.max_score),
                    *[got.get(k, "") for k in keys],
                    " | ".join(r.warnings),
                ]
            )


def write_results(outcomes: Iterable[Outcome], folder: str | Path, key: AnswerKey) -> int:
    """A Gradescope ``results.json`` per submission, in ``folder/<file name>/``; returns how
    many were written."""
    root = Path(folder)
    count = 0
    top = sum((kp.max_points(a.key) for kp in key.problems.values() for a in kp.asked), 0)
    for o in outcomes:
        target = root / Path(o.file).stem
        target.mkdir(parents=True, exist_ok=True)
        if o.report is not None:
            payload = gradescope_results(o.report)
        else:
            payload = {
                "score": 0,
                "max_score": number(top),
                "tests": [],
                "output": f"Your answers file could not be graded: {o.status[7:]}",
            }
        (target / "results.json").write_text(
            json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        count += 1
    return count
