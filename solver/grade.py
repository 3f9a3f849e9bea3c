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
import io
import json
import multiprocessing
import signal
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from .check import AnswerKey, Report, Settings, number, read_answers
from .compare import Judge
from .errors import DlsolveError
from .output import spreadsheet_safe, written
from .render.report import gradescope_results, gradescope_unusable
from .sandbox import die_with_parent

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
    """The answers files of a class: every ``*.yaml``/``*.yml`` directly in ``folder``.

    Every path with such a name counts, usable or not (a broken link, a folder
    named ``x.yaml``): each student who submitted gets a row saying why.
    """
    d = Path(folder)
    if not d.is_dir():
        raise DlsolveError("no such folder of submissions", file=str(folder))
    return sorted(p for p in d.iterdir() if p.suffix in SUBMISSION_SUFFIXES)


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
        """Stop this grader's worker processes."""
        self.judge.close()
        for key in (self.key, *self._variants.values()):
            key.close()


_grader: Grader | None = None


def _start_worker(problems: str, settings: Settings, variants_dir: str | None) -> None:
    global _grader
    die_with_parent()  # a grade killed outright must not leave its pool running
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
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
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=ctx,
        initializer=_start_worker,
        initargs=(str(problems), settings, str(variants_dir) if variants_dir else None),
    )
    try:
        outcomes = list(pool.map(_grade_in_worker, names, chunksize=chunk))
    except BaseException:  # a signal, or a worker lost: stop the pool now, not after its queue
        _kill(pool)
        raise
    pool.shutdown()
    return outcomes


def _kill(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's processes (their own workers die with them: die_with_parent)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())  # no public handle
    for proc in procs:
        proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.join(timeout=5)


def columns(key: AnswerKey) -> list[str]:
    """The CSV's per-key columns: ``problem/key``."""
    return [f"{pid}/{k}" for pid, k in key.graded()]


def top_score(key: AnswerKey) -> Fraction:
    """The points of the whole problem set (what an unusable submission scores 0 out of)."""
    points = (kp.max_points(a.key) for kp in key.problems.values() for a in kp.asked)
    return sum(points, Fraction(0))


def csv_text(outcomes: Iterable[Outcome], key: AnswerKey) -> str:
    """One row per submission: student, file, variant, status, score, max_score, per-key points,
    and the warnings (unknown problem ids or keys). An unusable submission scores 0 and its
    status says why. Text cells are made :func:`~solver.output.spreadsheet_safe`."""
    keys = columns(key)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["student", "file", "variant", "status", "score", "max_score", *keys, "warnings"])
    top = number(top_score(key))
    for o in outcomes:
        r = o.report
        variant = "" if o.variant is None else o.variant
        cells: list[Any]
        if r is None:
            cells = [o.student, o.file, variant, o.status, 0, top, *[""] * len(keys), ""]
        else:
            got = {f"{x.problem}/{x.key}": number(x.points) for x in r.results}
            cells = [
                o.student,
                o.file,
                variant,
                o.status,
                number(r.score),
                number(r.max_score),
                *[got.get(k, "") for k in keys],
                " | ".join(r.warnings),
            ]
        w.writerow([spreadsheet_safe(c) if isinstance(c, str) else c for c in cells])
    return out.getvalue()


def write_csv(outcomes: Iterable[Outcome], key: AnswerKey, path: str | Path) -> None:
    """:func:`csv_text`, written atomically (the previous file stays whole until the rename)."""
    written(path, csv_text(outcomes, key))


def result_folders(outcomes: Sequence[Outcome]) -> tuple[list[str], list[str]]:
    """The folder name of each submission's results.json, and a note for each renamed one.

    A folder is named after its file's stem; when two submissions would share one
    (``zed.yaml`` and ``zed.yml``), each takes its whole file name instead (then a
    number), so that no student's result overwrites another's.
    """
    stems = [Path(o.file).stem for o in outcomes]
    counts: dict[str, int] = {}
    for stem in stems:
        counts[stem] = counts.get(stem, 0) + 1
    names: list[str] = []
    notes: list[str] = []
    taken: set[str] = set()
    for o, stem in zip(outcomes, stems, strict=True):
        name = stem if counts[stem] == 1 else Path(o.file).name
        base, k = name, 2
        while name in taken:
            name, k = f"{base}-{k}", k + 1
        taken.add(name)
        names.append(name)
        if name != stem:
            notes.append(
                f"{o.file}: its results go to {name}/results.json "
                f"(another submission is also named {stem!r})"
            )
    return names, notes


def write_results(outcomes: Sequence[Outcome], folder: str | Path, key: AnswerKey) -> int:
    """A Gradescope ``results.json`` per submission, in ``folder/<file name>/`` (named by
    :func:`result_folders`), each written atomically; returns how many were written."""
    root = Path(folder)
    top = top_score(key)
    names, _ = result_folders(outcomes)
    for o, name in zip(outcomes, names, strict=True):
        target = root / name
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DlsolveError(
                f"cannot make the folder {target} ({err.strerror})",
                file=str(folder),
                field="--results-dir",
            ) from None
        if o.report is not None:
            payload = gradescope_results(o.report)
        else:
            payload = gradescope_unusable(o.status.removeprefix("error: "), top)
        written(
            target / "results.json",
            json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
            "--results-dir",
        )
    return len(names)
