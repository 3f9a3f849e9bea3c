"""Checking a student's answers against solved problems, with feedback a TA would write.

An :class:`AnswerKey` is built once per class: every problem solved, and solved
again with each of its kind's ``misconceptions`` (the "buggy" solutions that
reproduce a well-known mistake). Checking one student's :class:`AnswersFile`
then reads and compares each asked key by its answer type (:mod:`solver.compare`)
and, for a wrong answer,

* names the mistake when the value equals a buggy solution's
  (``misconception``), and
* re-solves the problem with the student's own earlier wrong answers as
  ``overrides``: a later answer that matches is ``carried_forward`` and earns a
  share of its points (1/2 unless the problem's ``carry_forward`` or the
  checker's settings say otherwise). Only answers earlier in the kind's answer
  order feed later ones, because the kind computes them in that order.

Nothing here depends on a kind: answer types decide everything.

Variants (issue 8): an answers file may name ``variant: 7``. The file is read
and the field carried on the report; :func:`solver.grade.key_for` is where a
variant is looked up in a variants folder and its own AnswerKey is used.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import stat
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import sympy
from sympy.core.function import AppliedUndef

from . import exact
from . import solve as solve_problem
from .compare import (
    NUMERIC_TYPES,
    Judge,
    Match,
    Tolerance,
    Unreadable,
    choice_native,
    choice_options,
    compare,
    conform,
    lenient_shape,
    read,
)
from .errors import DlsolveError
from .given import MAX_ELEMENTS
from .parse import WrittenDecimal
from .sandbox import DEFAULT_TIMEOUT, Mark, Sandbox, Stopped, Worker
from .solution import Answer, Solution
from .spec import Document, Problem, ProblemSet, flow_depth, load, read_yaml
from .vocab import AnswerType, Verdict

MAX_ANSWERS_BYTES = 2_000_000
MAX_NESTING = 100  # levels an answers file's values may nest (deeper entries are left out)
MAX_FLOW = 250  # brackets deep: beyond this, reading the YAML alone takes seconds
#: items in one list (or mapping) of an answers file: as many as a given tensor may hold, the
#: largest answer (a 990,000-entry list took 8 s and 627 MB to build)
MAX_ITEMS = MAX_ELEMENTS
#: values in a whole answers file (counted as commas and lines, before YAML is read: PyYAML
#: reads about 40,000 values a second, and 990,000 took 8 s and 627 MB)
MAX_VALUES = 100_000
#: seconds for the work of a file outside its answers (handing it to the worker, unknown
#: problem ids): a 2 MB file takes about a second to pass
FILE_SECONDS = 10.0
ANSWERS_FIELDS = ("student", "variant", "answers")
MAX_OVERRIDE_OPS = 60  # a formula larger than this is not fed back into a kind
RESOLVE_CACHE = 512  # re-solved solutions kept per problem
MAX_MINIMIZE = 10  # earlier wrong answers searched for the few a later one follows from
JUDGING = 2  # judging a wrong answer for partial credit may take this many answer time limits
#: overruns one file may cause at the full time limit; after them each step of that file has
#: a tenth of it, so that a file of 100 hostile answers costs seconds, not minutes
OVERRUNS = 5

#: a step of checking one answer, as the worker announces it: (problem, key, phase)
Step = tuple[str, str, str]
READING, JUDGING_WRONG = "read", "judge"
GRADING = "grade together"  # a problem whose kind grades all its answers at once
MAX_DIAGNOSTICS = 100  # diagnostics kept per problem (the newest)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """How a class is checked; a problem file's ``tolerance`` and ``carry_forward`` win."""

    tolerance: Tolerance = field(default_factory=Tolerance)
    carry_forward: Fraction = Fraction(1, 2)
    #: seconds for reading and comparing one answer (JUDGING times that for judging a wrong
    #: one for partial credit), enforced by killing the worker (AnswerKey.check)
    timeout: float = DEFAULT_TIMEOUT


@dataclass
class Result:
    """The verdict on one asked key (its fields: solver/schemas/check.schema.json)."""

    problem: str
    key: str
    verdict: Verdict
    points: Fraction
    max_points: Fraction
    expected: Any
    given: Any
    feedback: str = ""
    misconception: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "problem": self.problem,
            "key": self.key,
            "verdict": self.verdict,
            "points": number(self.points),
            "max_points": number(self.max_points),
            "expected": self.expected,
            "given": self.given,
            "feedback": self.feedback,
            "misconception": self.misconception,
        }


@dataclass
class Report:
    """One student's checked answers."""

    student: str
    file: str
    problems_file: str
    results: list[Result]
    warnings: list[str] = field(default_factory=list)
    variant: Any = None

    @property
    def score(self) -> Fraction:
        return sum((r.points for r in self.results), Fraction(0))

    @property
    def max_score(self) -> Fraction:
        return sum((r.max_points for r in self.results), Fraction(0))

    @property
    def all_correct(self) -> bool:
        return all(r.verdict == Verdict.CORRECT for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "student": self.student,
            "score": number(self.score),
            "max_score": number(self.max_score),
            "results": [r.to_json() for r in self.results],
        }


def number(x: Fraction) -> int | float:
    """Points for JSON: an int when whole, else a float to 4 places."""
    return int(x) if Fraction(x).denominator == 1 else round(float(x), 4)


# --------------------------------------------------------------------------- answers files


@dataclass
class AnswersFile:
    """A student's answers file, read safely; values keep the text of their decimals."""

    path: str
    student: str
    answers: dict[str, Any]
    doc: Document
    variant: Any = None
    warnings: list[str] = field(default_factory=list)

    def raw(self, problem: str, key: str) -> Any:
        """The student's value with every YAML decimal as a WrittenDecimal."""
        return self._texts(self.answers[problem][key], ("answers", problem, key))

    def _texts(self, value: Any, path: tuple[Any, ...]) -> Any:
        if isinstance(value, list):
            return [self._texts(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, Fraction) and path in self.doc.texts:
            return WrittenDecimal.from_text(self.doc.texts[path])
        return value

    def line(self, problem: str, key: str) -> int | None:
        return self.doc.line(("answers", problem, key))


def read_answers(path: str | Path) -> AnswersFile:
    """Read an answers file (docs: reference/answers); an unusable one is a DlsolveError.

    Read leniently: an entry with a duplicate key, an odd tag (a date, ``!!binary``)
    or nesting deeper than MAX_NESTING is left out with a warning naming its line,
    and the rest is checked. Only regular files are read, and at most
    MAX_ANSWERS_BYTES of them (``/dev/zero`` never ends; a FIFO blocks).
    """
    text = _answers_text(path)
    if text.count(",") + text.count("\n") > MAX_VALUES:
        raise DlsolveError(
            f"the file holds more than {MAX_VALUES} values, too many for an answers file",
            file=str(path),
        )
    if flow_depth(text) > MAX_FLOW:
        raise DlsolveError(
            f"the YAML nests brackets more than {MAX_FLOW} levels deep", file=str(path)
        )
    doc = read_yaml(text, str(path), lenient=True, max_depth=MAX_NESTING, max_items=MAX_ITEMS)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error("an answers file is a mapping with 'answers:' (and optionally 'student:')")
    answers = data.get("answers")
    if not isinstance(answers, dict):
        raise doc.error(
            "'answers' must map problem ids to their answers, such as "
            "'answers: {layernorm: {mean: [6, 3, 2]}}'",
            ("answers",),
        )
    warnings = list(doc.warnings)
    warnings += [
        f"{doc.file}:{doc.line((k,))}: unknown field {k!r} (an answers file has "
        f"{', '.join(ANSWERS_FIELDS)})"
        for k in data
        if k not in ANSWERS_FIELDS
    ]
    student = data.get("student")
    variant = data.get("variant")
    if variant is not None and (isinstance(variant, (bool, list, dict))):
        raise doc.error("'variant' must be a number or a name", ("variant",))
    return AnswersFile(
        str(path),
        str(student) if student not in (None, "") else Path(path).stem,
        answers,
        doc,
        variant,
        warnings,
    )


def _answers_text(path: str | Path) -> str:
    """The text of an answers file, if it is a regular file of at most MAX_ANSWERS_BYTES."""
    p = Path(path)
    try:
        info = p.stat()
    except FileNotFoundError:
        what = "a broken symbolic link" if p.is_symlink() else "no such file"
        raise DlsolveError(what, file=str(path)) from None
    except OSError as err:
        raise DlsolveError(f"cannot read this file ({err.strerror})", file=str(path)) from None
    if stat.S_ISDIR(info.st_mode):
        raise DlsolveError("this is a folder, not an answers file", file=str(path))
    if not stat.S_ISREG(info.st_mode):
        raise DlsolveError("this is not a regular file (a device or a pipe?)", file=str(path))
    too_large = DlsolveError(
        f"the file is larger than {MAX_ANSWERS_BYTES // 1_000_000} MB, "
        "too large for an answers file",
        file=str(path),
    )
    if info.st_size > MAX_ANSWERS_BYTES:
        raise too_large
    try:
        with open(p, "rb") as f:
            data = f.read(MAX_ANSWERS_BYTES + 1)  # it may have grown since stat
        if len(data) > MAX_ANSWERS_BYTES:
            raise too_large
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DlsolveError(f"cannot read this file ({err})", file=str(path)) from None


# --------------------------------------------------------------------------- the answer key


@dataclass(frozen=True)
class Diagnostic:
    """Something the checker tried and could not do, and why: a misconception that could
    not be solved for a problem's givens, a re-solve from a student's values that failed.
    Kept so that a gap in the feedback (no mistake named, no credit carried forward) has a
    recorded reason instead of passing silently."""

    problem: str
    what: str
    reason: str
    #: the misconception being reproduced, if any
    mistake: str | None = None

    @classmethod
    def of(
        cls, problem: str, what: str, err: BaseException, mistake: str | None = None
    ) -> Diagnostic:
        text = " ".join(str(err).split())
        reason = f"{type(err).__name__}: {text}" if text else type(err).__name__
        return cls(problem, what, reason, mistake)

    def __str__(self) -> str:
        return f"problem {self.problem!r}: {self.what}: {self.reason}"


def _fingerprint(overrides: Mapping[str, Any], options: Mapping[str, Any]) -> str:
    parts = [f"{k}={exact.fmt(v)!r}" for k, v in sorted(overrides.items())]
    parts += [f"{k}:{v!r}" for k, v in sorted(options.items())]
    return "|".join(parts)


@dataclass
class KeyedProblem:
    """One problem of the key: its solution, its buggy solutions and how it is graded."""

    problem: Problem
    solution: Solution
    buggy: list[tuple[str, dict[str, Any], Solution]]
    symbols: frozenset[str]
    tolerance: Tolerance
    share: Fraction
    timeout: float
    #: what could not be done for this problem, newest last (see :class:`Diagnostic`)
    diagnostics: deque[Diagnostic] = field(
        default_factory=lambda: deque(maxlen=MAX_DIAGNOSTICS), repr=False
    )
    #: how many diagnostics were ever noted (the deque forgets the oldest)
    noted: int = 0
    #: the kind grades this problem's answers together (``Kind.grades_together``)
    together: bool = False
    _cache: dict[str, Solution | None] = field(default_factory=dict, repr=False)
    _failures: dict[str, Diagnostic] = field(default_factory=dict, repr=False)
    _rivals: dict[str, list[tuple[str, Any]]] = field(default_factory=dict, repr=False)

    @property
    def asked(self) -> list[Answer]:
        return self.solution.asked()

    def rivals(self, a: Answer) -> list[tuple[str, Any]]:
        """The misconceptions' values of an answer where they differ from it: a decimal
        that is theirs is not a rounding of the right value."""
        if a.type not in NUMERIC_TYPES:
            return []
        if a.key in self._rivals:
            return self._rivals[a.key]
        out = self._rivals[a.key] = []
        for name, _, buggy in self.buggy:
            other = buggy.answers.get(a.key)
            if other is not None and exact.fmt(other.value) != exact.fmt(a.value):
                out.append((name, other.value))
        return out

    def max_points(self, key: str) -> Fraction:
        return self.solution.points_for(key)

    def note(self, diagnostic: Diagnostic) -> None:
        self.diagnostics.append(diagnostic)
        self.noted += 1

    def resolve(self, overrides: Mapping[str, Any], options: Mapping[str, Any]) -> Solution | None:
        """The problem solved again from a student's values; None if the kind cannot, with
        the reason noted in :attr:`diagnostics` (each time, so each student's check sees it)."""
        fp = _fingerprint(overrides, options)
        if fp not in self._cache:
            if len(self._cache) >= RESOLVE_CACHE:
                self._cache.clear()
                self._failures.clear()
            # runs inside the checker's worker, whose clock bounds it (AnswerKey.check)
            try:
                self._cache[fp] = solve_problem(
                    self.problem, overrides=dict(overrides), record_steps=False, **options
                )
            # A kind fed a student's odd values (a wrong shape, a negative variance) may fail
            # in any way; the failure is the reason no credit can be carried forward from them.
            except Exception as err:
                self._cache[fp] = None
                what = f"re-solving from the answers for {_names(overrides)}"
                mistake = _misconception_name(self, options) if options else None
                if mistake:
                    what += f" with the mistake {mistake!r}"
                self._failures[fp] = Diagnostic.of(self.problem.id, what, err, mistake)
        if self._cache[fp] is None:
            self.note(self._failures[fp])
        return self._cache[fp]


def _misconception_name(kp: KeyedProblem, options: Mapping[str, Any]) -> str:
    return next((name for name, opts, _ in kp.buggy if opts == options), str(dict(options)))


def _symbols_of(value: Any) -> set[str]:
    """The symbols in a value, and the undefined functions it applies (σ in σ(h_t))."""
    names: set[str] = set()
    for x in exact.flatten(value) if isinstance(value, list) else [value]:
        if isinstance(x, sympy.Basic):
            names |= {s.name for s in x.free_symbols}
            names |= {f"{f.func.__name__}()" for f in x.atoms(AppliedUndef)}  # see parse.Names
    return names


def _problem_symbols(problem: Problem, solutions: list[Solution]) -> frozenset[str]:
    """The names a student may use: every symbol in the givens and in any answer."""
    names: set[str] = set()
    for fname in type(problem.given).model_fields:
        value = getattr(problem.given, fname)
        if isinstance(value, (list, sympy.Basic)):
            with contextlib.suppress(TypeError):
                names |= _symbols_of(value)
    for s in solutions:
        for a in s.answers.values():
            if a.type in NUMERIC_TYPES or a.type == AnswerType.COMPLEXITY:
                names |= _symbols_of(a.value)
    return frozenset(names)


_LIVE: list[AnswerKey] = []  # the key whose worker is running in this process


class AnswerKey:
    """A problem set solved once for a whole class, with its misconceptions."""

    def __init__(self, problem_set: ProblemSet, settings: Settings | None = None) -> None:
        from . import kinds

        settings = settings or Settings()
        self.path = problem_set.path
        self.title = problem_set.title
        self.settings = settings
        self.errors: list[DlsolveError] = list(problem_set.errors)
        self.problems: dict[str, KeyedProblem] = {}
        self._live: Worker | None = None
        self._judge: Judge | None = None  # the worker's own, built in the worker
        for problem in problem_set.problems:
            try:
                solution = solve_problem(problem)
            except DlsolveError as err:
                self.errors.append(err)
                continue
            buggy = []
            skipped: list[Diagnostic] = []
            for name, options in kinds.get(problem.kind).misconceptions.items():
                try:
                    buggy.append((name, dict(options), solve_problem(problem, **options)))
                except DlsolveError as err:  # the mistake does not apply to these givens
                    skipped.append(
                        Diagnostic.of(problem.id, f"mistake {name!r} skipped", err, name)
                    )
                # Anything else is a bug in the kind's misconception: the rest of the key still
                # works, and the bug is logged and kept where a test (and a TA) can see it.
                except Exception as err:
                    skipped.append(Diagnostic.of(problem.id, f"mistake {name!r} failed", err, name))
                    log.warning("%s (a bug in kind %r)", skipped[-1], problem.kind)
            tol = settings.tolerance.updated(problem.tolerance)
            share = (
                problem.carry_forward
                if problem.carry_forward is not None
                else settings.carry_forward
            )
            self.problems[problem.id] = kp = KeyedProblem(
                problem,
                solution,
                buggy,
                _problem_symbols(problem, [solution, *(b for _, _, b in buggy)]),
                tol,
                share,
                settings.timeout,
                together=kinds.get(problem.kind).grades_together,
            )
            for d in skipped:
                kp.note(d)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """What the key could not do (mistakes skipped, re-solves that failed), by problem."""
        return [d for kp in self.problems.values() for d in kp.diagnostics]

    @classmethod
    def load(cls, path: str | Path, settings: Settings | None = None) -> AnswerKey:
        return cls(load(path), settings)

    def graded(self) -> list[tuple[str, str]]:
        """Every graded ``(problem, key)``, in order."""
        return [(pid, a.key) for pid, kp in self.problems.items() for a in kp.asked]

    def check(self, answers: AnswersFile, judge: Judge | None = None) -> Report:
        """Check one student's answers file against this key, each answer inside limits.

        The work runs in this key's :class:`~solver.sandbox.Worker`; an answer
        whose reading and comparing overruns the time limit, or kills the
        worker (memory, a crash), is that answer's "unreadable" with the
        reason, and the file is checked again in a fresh worker without it.
        Where no worker can be forked the check runs here, with ``judge``.
        """
        worker = self._worker()
        if worker.in_process:
            return self.check_here(answers, judge or Judge(), lambda label, seconds: None, {})
        skipped: dict[Step, str] = {}
        lost = 0  # attempts that failed before any answer (the worker was gone, say)
        while True:
            try:
                return worker.call((answers, skipped), max(FILE_SECONDS, self.settings.timeout))
            except Stopped as stop:
                lost += stop.label is None
                if lost > 1 or stop.label in skipped:
                    raise DlsolveError(
                        f"the answers could not be checked: the checker {stop.reason}",
                        file=answers.path,
                    ) from None
                if stop.label is not None:
                    skipped[stop.label] = stop.reason

    def _worker(self) -> Worker:
        """This key's worker process (one live worker per process: keys of variants take
        turns, so that a class with many variants does not keep a process for each)."""
        if self._live is None:
            for other in list(_LIVE):
                other.close()
            self._live = Worker(self._serve)
            _LIVE.append(self)
        return self._live

    def _serve(self, request: tuple[AnswersFile, dict[Step, str]], mark: Mark) -> Report:
        """The worker's side of :meth:`check`: sympy jobs run in this process, under its clock."""
        answers, skipped = request
        if self._judge is None:
            self._judge = Judge(Sandbox(self.settings.timeout, in_process=True))
        return self.check_here(answers, self._judge, mark, skipped)

    def close(self) -> None:
        """Stop this key's worker process (the next check starts another)."""
        if self._live is not None:
            self._live.close()
            self._live = None
        if self in _LIVE:
            _LIVE.remove(self)

    def check_here(
        self, answers: AnswersFile, judge: Judge, mark: Mark, skipped: Mapping[Step, str]
    ) -> Report:
        """Check in this process: ``mark`` announces each answer's steps, ``skipped`` holds the
        steps that overran in an earlier attempt (with why)."""
        report = Report(
            answers.student, answers.path, self.path, [], list(answers.warnings), answers.variant
        )
        for pid in answers.answers:
            if pid not in self.problems:
                hint = difflib.get_close_matches(str(pid), list(self.problems), n=1)
                report.warnings.append(
                    f"{answers.path}:{answers.doc.line(('answers', pid))}: there is no problem "
                    f"{pid!r} in {self.path}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                )
        for kp in self.problems.values():
            report.results += check_problem(kp, answers, judge, report.warnings, mark, skipped)
        return report


# --------------------------------------------------------------------------- one problem


@dataclass
class _Read:
    answer: Answer
    raw: Any
    value: Any = None
    match: Match | None = None
    result: Result | None = None


def _student_keys(
    kp: KeyedProblem, answers: AnswersFile, warnings: list[str]
) -> dict[str, str] | str:
    """Asked key -> the key as the student wrote it (or a reason the problem is unreadable)."""
    pid = kp.problem.id
    given = answers.answers.get(pid)
    if given is None:
        return {}
    if not isinstance(given, dict):
        return (
            f"the answers for problem {pid!r} must map answer keys to values "
            f"(line {answers.doc.line(('answers', pid))})"
        )
    asked = [a.key for a in kp.asked]
    folded = {"".join(k.split()).casefold(): k for k in asked}
    out: dict[str, str] = {}
    for written in given:
        key = written if written in asked else folded.get("".join(str(written).split()).casefold())
        if key is None:
            hint = difflib.get_close_matches(str(written), asked, n=1)
            what = (
                "is not asked"
                if any(d.matches(str(written)) for d in kp.solution.keys)
                else "is not an answer key"
            )
            warnings.append(
                f"{answers.path}:{answers.doc.line(('answers', pid, written))}: "
                f"problem {pid!r}: {written!r} {what}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
            )
            continue
        out[key] = written
    return out


def check_problem(
    kp: KeyedProblem,
    answers: AnswersFile,
    judge: Judge,
    warnings: list[str],
    mark: Mark | None = None,
    skipped: Mapping[Step, str] | None = None,
) -> list[Result]:
    """Verdicts for every asked key of one problem.

    ``mark`` announces each answer's reading-and-comparing (and, for a wrong
    one, its judging) to the worker's clock; a step in ``skipped`` overran
    before and is not tried again.
    """
    mark = mark or (lambda label, seconds: None)
    skipped = skipped or {}
    written = _student_keys(kp, answers, warnings)
    if kp.together:
        return _check_together(kp, answers, written, mark, skipped)
    reads: list[_Read] = []
    for a in kp.asked:
        item = _read_entry(
            kp, answers, written, a, mark, skipped, lambda it: _read_and_compare(it, kp, judge)
        )
        reads.append(item)
        if item.result is not None:
            continue
        assert item.match is not None
        if item.match.full:
            item.result = _result(
                kp,
                a,
                Verdict.CORRECT,
                kp.max_points(a.key),
                item.raw,
                " ".join(item.match.feedback),
            )
    before = kp.noted
    _judge_wrong(kp, reads, judge, mark, skipped)
    _warn_failed_resolves(kp, before, warnings)
    return [item.result for item in reads if item.result is not None]


def _read_entry(
    kp: KeyedProblem,
    answers: AnswersFile,
    written: dict[str, str] | str,
    a: Answer,
    mark: Mark,
    skipped: Mapping[Step, str],
    read: Callable[[_Read], str | None],
) -> _Read:
    """One asked key's entry: missing, unreadable (with its line), or read by ``read`` under
    the answer time limit; ``result`` is set only for the first two."""
    pid = kp.problem.id
    item = _Read(a, None)
    if isinstance(written, str):
        item.result = _result(kp, a, Verdict.UNREADABLE, Fraction(0), None, written)
        return item
    if a.key not in written or answers.answers[pid][written[a.key]] is None:
        item.result = _result(kp, a, Verdict.MISSING, Fraction(0), None, "No answer given.")
        return item
    item.raw = answers.raw(pid, written[a.key])
    step = (pid, a.key, READING)
    why = skipped.get(step)
    if why is None:
        mark(step, _limit(kp, skipped))
        why = read(item)
    if why is not None:
        line = answers.doc.line(("answers", pid, written[a.key]))
        item.result = _result(
            kp,
            a,
            Verdict.UNREADABLE,
            Fraction(0),
            item.raw,
            f"Could not read this answer (line {line}): {_sentence(why)}",
        )
    return item


def _check_together(
    kp: KeyedProblem,
    answers: AnswersFile,
    written: dict[str, str] | str,
    mark: Mark,
    skipped: Mapping[Step, str],
) -> list[Result]:
    """Verdicts for a problem whose kind grades its answers together (``Kind.grade``: a
    hand-set network is right when it passes its cases, whatever its weights). Each value is
    read by its type as usual, each under the answer time limit; then the kind grades them
    all at once, under the judging time limit. A wrong value is not compared with the key,
    so no misconception, slip or error carried forward is looked for here: the kind's
    feedback says what is wrong."""
    from . import kinds

    pid = kp.problem.id
    results: dict[str, Result] = {}
    values: dict[str, Any] = {}
    raws: dict[str, Any] = {}
    for a in kp.asked:
        item = _read_entry(kp, answers, written, a, mark, skipped, lambda it: _read_only(it, kp))
        if item.result is None:
            values[a.key], raws[a.key] = item.value, item.raw
        else:
            values[a.key], results[a.key] = None, item.result
    step = (pid, "", GRADING)
    why = skipped.get(step)
    matches: Mapping[str, Match] = {}
    if why is None and raws:  # some value was read: the kind grades them
        mark(step, JUDGING * _limit(kp, skipped))
        try:
            matches = kinds.get(kp.problem.kind).grade(kp.problem.given, values)
        # The kind runs the student's values (a network): whatever fails is why these answers
        # could not be graded, said to the student and kept for the TA.
        except Exception as err:
            kp.note(Diagnostic.of(pid, "grading the answers together", err))
            why = "they could not be run"
    out = []
    for a in kp.asked:
        if a.key in results:
            out.append(results[a.key])
            continue
        match = matches.get(a.key)
        if match is None:
            reason = why or "they could not be run"
            out.append(
                _result(
                    kp,
                    a,
                    Verdict.UNREADABLE,
                    Fraction(0),
                    raws[a.key],
                    f"Your answers could not be graded together: {_sentence(reason)}",
                )
            )
            continue
        maxp = kp.max_points(a.key)
        verdict = (
            Verdict.CORRECT
            if match.full
            else Verdict.PARTIAL
            if match.score > 0
            else Verdict.INCORRECT
        )
        out.append(
            _result(
                kp,
                a,
                verdict,
                match.score * maxp,
                raws[a.key],
                " ".join(match.feedback),
                match.mistake,
            )
        )
    return out


def _read_only(item: _Read, kp: KeyedProblem) -> str | None:
    """Read the student's value by its type (for a kind that grades by the values together);
    why not, if that failed."""

    def step() -> None:
        item.value = read(item.answer, item.raw, kp.symbols)

    return _why_not(step)


def _warn_failed_resolves(kp: KeyedProblem, before: int, warnings: list[str]) -> None:
    """One warning per re-solve from this student's answers that failed: why no credit could
    be carried forward from them (a mistake's re-solve failing only stays unnamed)."""
    new = list(kp.diagnostics)[max(len(kp.diagnostics) - (kp.noted - before), 0) :]
    for d in dict.fromkeys(x for x in new if x.mistake is None):
        text = f"{d} (no credit for errors carried forward could be checked from them)"
        if text not in warnings:
            warnings.append(text)


def _limit(kp: KeyedProblem, skipped: Mapping[Step, str]) -> float:
    """Seconds for one answer's step: the time limit, or a tenth of it in a file that has
    already overrun OVERRUNS times."""
    return kp.timeout if len(skipped) < OVERRUNS else kp.timeout / 10


def _read_and_compare(item: _Read, kp: KeyedProblem, judge: Judge) -> str | None:
    """Read the student's value and compare it with the answer; why not, if that failed.

    Any failure here is this answer's alone (the checking rules: the rest is still
    checked), so it is turned into the reason the student sees.
    """

    def step() -> None:
        item.value = read(item.answer, item.raw, kp.symbols)
        item.match = compare(item.answer, item.value, judge, kp.tolerance, kp.rivals(item.answer))

    return _why_not(step)


def _why_not(step: Callable[[], None]) -> str | None:
    """Run one answer's reading step; the reason the student sees if it failed, else None."""
    try:
        step()
    except Unreadable as err:
        return str(err)
    except MemoryError:
        return "it needs more memory than an answer may use"
    except RecursionError:
        return "it is nested too deeply"
    except (ArithmeticError, ValueError, TypeError) as err:  # decimal Overflow, a huge int
        return f"its value cannot be computed ({type(err).__name__})"
    return None


def _judge_wrong(
    kp: KeyedProblem,
    reads: list[_Read],
    judge: Judge,
    mark: Mark,
    skipped: Mapping[Step, str],
) -> None:
    """Misconceptions and errors carried forward, for the readable answers that are wrong.

    A wrong answer that follows from earlier wrong answers is carried forward, and its
    feedback names the *root*: the earliest wrong answers it follows from that are not
    themselves carried forward, with the mistake diagnosed there (no second, coincidental
    diagnosis). A correct answer that took another, equally valid value (a tie) feeds the
    later ones too: what follows from it is correct.
    """
    ties: dict[str, Any] = {}  # correct answers that took one of the alternatives
    wrong: dict[str, Any] = {}  # the student's wrong answers so far, as the kind's values
    roots: dict[str, list[str]] = {}  # wrong key -> the root keys it follows from
    mistakes: dict[str, str] = {}  # root key -> the mistake diagnosed there
    shown: dict[str, str] = {}  # root key -> the student's value, short
    for item in reads:
        a = item.answer
        if item.result is not None:
            if item.match is not None and item.match.tie:
                native = _as_override(a, item.value)
                if native is not None:
                    ties[a.key] = native
            continue
        if item.match is None:
            continue
        m = item.match
        maxp = kp.max_points(a.key)
        verdict = Verdict.PARTIAL if m.score > 0 else Verdict.INCORRECT
        points = m.score * maxp
        feedback = list(m.feedback)
        step = (kp.problem.id, a.key, JUDGING_WRONG)
        if step in skipped:  # re-solving from it overran: judged on its own value only
            feedback.append(
                f"(It was not checked for errors carried forward: that {skipped[step]}.)"
            )
            item.result = _result(kp, a, verdict, points, item.raw, " ".join(feedback))
            continue
        mark(step, JUDGING * _limit(kp, skipped))
        if ties and _matches(kp.resolve(ties, {}), a, item.value, judge, kp):
            item.result = _result(
                kp,
                a,
                "correct",
                maxp,
                item.raw,
                f"Accepted: it follows from your answer for {_names(list(ties))}, which ties "
                "with the answer shown (equally valid).",
            )
            native = _as_override(a, item.value)
            if native is not None:
                ties[a.key] = native
            continue
        name: str | None = None
        direct = _carried_from(kp, a, item.value, judge, ties, wrong, roots)
        zero_from: list[str] = []
        if direct is not None and a.type in NUMERIC_TYPES and _zero(_as_override(a, item.value)):
            # A zero early makes every product after it zero: no credit for carrying it.
            zero_from = [k for k in direct if _zero(wrong.get(k))]
            if zero_from:
                direct = None
        if direct is not None:
            root_keys = list(dict.fromkeys(r for k in direct for r in roots.get(k, [k])))
            roots[a.key] = root_keys
            source = f"your {'answer' if len(root_keys) == 1 else 'answers'} for " + _names(
                [f"{k} ({shown[k]})" if shown.get(k) else k for k in root_keys]
            )
            underneath = list(dict.fromkeys(mistakes[r] for r in root_keys if r in mistakes))
            name = underneath[0] if underneath else None
            if kp.share * maxp > points:  # else the entries already right are worth more
                verdict, points = Verdict.CARRIED_FORWARD, kp.share * maxp
                feedback = [
                    f"Not the answer, but it follows correctly from {source} (error "
                    f"carried forward): {_share(kp.share)} of the points."
                ]
            else:
                feedback.append(f"It does follow correctly from {source}.")
            if underneath:
                feedback.append(f"The mistake underneath: {'; '.join(underneath)}.")
        else:
            roots[a.key] = [a.key]
            shown[a.key] = _shown(item.value)
            mistake = _misconception(kp, a, item.value, judge, wrong)
            if mistake is not None:
                name, from_earlier = mistake
                source = " applied to your earlier answers" if from_earlier else ""
                feedback.insert(
                    0, f"This is what you get with a well-known mistake{source}: {name}."
                )
            elif m.mistake is not None:
                name = m.mistake
            elif zero_from:
                feedback.append(
                    f"It follows from your {'answer' if len(zero_from) == 1 else 'answers'} "
                    f"for {_names([f'{k} (0)' for k in zero_from])}, but a zero there makes "
                    "this part trivial: no credit is carried forward."
                )
            else:
                feedback += _slips(kp, a, item.value, judge)
            if name is not None:
                mistakes[a.key] = name
        feedback += _reasons(kp, a, item.value, verdict)
        item.result = _result(kp, a, verdict, points, item.raw, " ".join(feedback), name)
        native = _as_override(a, item.value)
        if native is not None:
            wrong[a.key] = native


def _zero(value: Any) -> bool:
    """Whether a value (a kind's own, as an override) is 0 or all zeros."""
    if value is None:
        return False
    try:
        entries = exact.flatten(value) if isinstance(value, list) else [value]
        return bool(entries) and all(exact.is_numeric(x) and exact.is_zero(x) for x in entries)
    except (TypeError, ValueError, ArithmeticError):
        return False


def _shown(value: Any) -> str:
    """A student's value in a sentence, if short: ``[8, 27, 27]``, ``1152``."""
    from .compare import show

    text = show(value) if not isinstance(value, (set, frozenset)) else ""
    return text if len(text) <= 30 else ""


def _carried_from(
    kp: KeyedProblem,
    a: Answer,
    value: Any,
    judge: Judge,
    ties: Mapping[str, Any],
    wrong: Mapping[str, Any],
    roots: Mapping[str, list[str]],
) -> list[str] | None:
    """The earlier wrong answers ``value`` follows from (few, the nearest first), or None.

    All of them together first; then each alone, latest first (an answer usually follows
    from the one just before it), which also finds credit when another wrong answer the
    later one does not depend on would spoil the re-solve; then the roots alone.
    """
    if not wrong:
        return None

    def follows(keys: list[str]) -> bool:
        return _matches(
            kp.resolve({**ties, **{k: wrong[k] for k in keys}}, {}), a, value, judge, kp
        )

    keys = list(wrong)
    together = follows(keys)
    if len(keys) == 1:
        return keys if together else None
    for k in reversed(keys):
        if follows([k]):
            return [k]
    if not together:
        own = [k for k in keys if roots.get(k) == [k]]
        return own if own and own != keys and follows(own) else None
    needed = list(keys)
    if len(keys) > MAX_MINIMIZE:
        return needed
    for k in keys:  # drop what it does not depend on
        rest = [x for x in needed if x != k]
        if rest and follows(rest):
            needed = rest
    return needed


def _reasons(kp: KeyedProblem, a: Answer, value: Any, verdict: str) -> list[str]:
    """For a wrong choice or true/false, which says little by itself: why not the option
    picked (``why_not``), and the reason the solution gives for the answer."""
    if verdict != "incorrect" or a.type not in ("boolean", "choice"):
        return []
    out = []
    if a.type == "choice":
        why_not = a.meta.get("why_not") or {}
        options = choice_options(a.meta)
        for i in sorted(x for x in value if isinstance(x, int)):
            label = options[i][0] if i < len(options) else None
            if label in why_not:
                out.append(f"Not ({label}): {_sentence(' '.join(str(why_not[label]).split()))}")
    why = a.meta.get("why") or (
        kp.solution.steps[a.step - 1].text if 0 < a.step <= len(kp.solution.steps) else ""
    )
    if why and a.key in kp.solution.answers:
        out.append(f"Why: {_sentence(why)}")
    return out


# Slips a TA spots at a glance when no named mistake explains a wrong value: the student's
# value is the answer changed in one of these ways. Scalars and tensors alike, except where
# the change only makes sense for one (a reciprocal, a transpose).
_SLIPS: tuple[tuple[str, Callable[[Any], Any], Callable[[Any], bool]], ...] = (
    (
        "Your value is the answer with its sign flipped.",
        lambda v: exact.tmap(lambda x: -x, v),
        lambda v: True,
    ),
    ("Your value is twice the answer.", lambda v: exact.tmap(lambda x: 2 * x, v), lambda v: True),
    (
        "Your value is half the answer.",
        lambda v: exact.tmap(lambda x: x * Fraction(1, 2), v),
        lambda v: True,
    ),
    (
        "Your value is the reciprocal of the answer.",
        lambda v: Fraction(1) / v,
        lambda v: not isinstance(v, list) and not exact.is_zero(v),
    ),
    (
        "Your matrix is the transpose of the answer.",
        exact.transpose,
        lambda v: isinstance(v, list) and len(exact.shape(v)) == 2 and len(v) == len(v[0]) > 1,
    ),
)


def _slips(kp: KeyedProblem, a: Answer, value: Any, judge: Judge) -> list[str]:
    """The slip that turns the answer into the student's wrong value, if one does."""
    if a.type not in NUMERIC_TYPES or a.type == AnswerType.SHAPE or a.value is None:
        return []
    meta = {k: v for k, v in a.meta.items() if k not in ("alternatives", "entry_alternatives")}
    for sentence, change, applies in _SLIPS:
        try:
            if not applies(a.value):
                continue
            slipped = change(a.value)
            if slipped == a.value:
                continue  # a zero's sign, a symmetric matrix: no slip to tell apart
            if compare(replace(a, value=slipped, meta=meta), value, judge, kp.tolerance).full:
                return [sentence]
        except (ArithmeticError, ValueError, TypeError, RecursionError):
            continue  # a value the change does not apply to (a symbol's reciprocal overflow)
    return []


def _matches(s: Solution | None, a: Answer, value: Any, judge: Judge, kp: KeyedProblem) -> bool:
    if s is None or a.key not in s.answers:
        return False
    try:
        return compare(s.answers[a.key], value, judge, kp.tolerance).full
    except (ArithmeticError, ValueError, TypeError, RecursionError):
        return False  # a value this solution cannot be compared with (a decimal overflow)


def _telling(a: Answer) -> bool:
    """Whether matching a buggy answer says anything: a wrong true/false (or a wrong pick of
    two options) matches every mistake that flips it."""
    if a.type == AnswerType.BOOLEAN:
        return False
    return a.type != AnswerType.CHOICE or len(choice_options(a.meta)) > 2


def _misconception(
    kp: KeyedProblem, a: Answer, value: Any, judge: Judge, earlier: Mapping[str, Any]
) -> tuple[str, bool] | None:
    """The mistake whose buggy solution gives ``value`` (from the correct givens, else from
    the student's earlier answers): ``(name, from_earlier)``."""
    if not _telling(a):
        return None
    differ = {name for name, _ in kp.rivals(a)} if a.type in NUMERIC_TYPES else None
    for name, _, buggy in kp.buggy:
        other = buggy.answers.get(a.key)
        if other is None or (name not in differ if differ is not None else other.value == a.value):
            continue  # the mistake does not change this answer: matching it says nothing
        if _matches(buggy, a, value, judge, kp):
            return name, False
    if earlier:
        plain = kp.resolve(earlier, {})
        base = plain.answers.get(a.key) if plain is not None else None
        for name, options, _ in kp.buggy:
            if differ is not None and name not in differ:
                continue  # a mistake that leaves this answer alone: not worth a re-solve
            s = kp.resolve(earlier, options)
            other = s.answers.get(a.key) if s is not None else None
            if base is not None and other is not None and other.value == base.value:
                continue  # from these earlier answers the mistake changes nothing here
            if _matches(s, a, value, judge, kp):
                return name, True
    return None


def _as_override(a: Answer, value: Any) -> Any:
    """The student's value as the kind's own value type, or None if it cannot feed a kind
    (wrong shape, an undefined entry where a number is due, a formula too large)."""
    if a.type == AnswerType.CHOICE:
        return choice_native(a, value)
    if a.type not in NUMERIC_TYPES:
        return value
    if isinstance(a.value, list):
        if not isinstance(value, list):
            return None
        value = conform(value, exact.shape(a.value), lenient_shape(a))
        if value is None:
            return None
        pairs = zip(exact.flatten(a.value), exact.flatten(value), strict=True)
    elif isinstance(value, list):
        return None
    else:
        pairs = iter([(a.value, value)])
    for e, g in pairs:
        if g is None and e is not None:
            return None
        if isinstance(g, sympy.Basic) and (
            not isinstance(e, sympy.Basic) or sympy.count_ops(g) > MAX_OVERRIDE_OPS
        ):
            return None
    return exact.tmap(_plain_number, value) if isinstance(value, list) else _plain_number(value)


def _plain_number(x: Any) -> Any:
    if isinstance(x, WrittenDecimal):
        return exact.rational(Fraction(x))
    if isinstance(x, Fraction):
        return exact.rational(x)
    return x


def _names(keys: Mapping[str, Any]) -> str:
    names = list(keys)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _share(q: Fraction) -> str:
    return str(q) if q.denominator != 1 else ("all" if q == 1 else "none")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else text + "."


def _result(
    kp: KeyedProblem,
    a: Answer,
    verdict: Verdict,
    points: Fraction,
    given: Any,
    feedback: str,
    misconception: str | None = None,
) -> Result:
    return Result(
        kp.problem.id,
        a.key,
        verdict,
        points,
        kp.max_points(a.key),
        expected_json(a),
        given_json(given),
        feedback,
        misconception,
    )


def expected_json(a: Answer) -> Any:
    """The answer as check's JSON shows values: exact strings sympy reads back, nested."""
    if a.type == AnswerType.COMPLEXITY:
        return f"O({exact.fmt(a.value)})"
    if a.type in NUMERIC_TYPES:
        return exact.fmt(a.value)
    if isinstance(a.value, (set, frozenset, tuple)):
        return [str(v) for v in a.value]
    return a.value


def given_json(raw: Any) -> Any:
    """What the student wrote, as JSON: decimals as written, fractions as strings."""
    if isinstance(raw, list):
        return [given_json(v) for v in raw]
    if isinstance(raw, WrittenDecimal):
        from .compare import show

        return show(raw)
    if isinstance(raw, Fraction):
        return str(raw)
    if raw is None or isinstance(raw, (bool, int, str)):
        return raw
    return str(raw)


def check_file(
    problems: str | Path,
    answers: str | Path,
    settings: Settings | None = None,
    judge: Judge | None = None,
) -> tuple[AnswerKey, Report]:
    """Load both files and check (a convenience for one student; grade reuses the key)."""
    key = AnswerKey.load(problems, settings)
    sheet = read_answers(answers)
    own = judge is None
    judge = judge or Judge()
    try:
        return key, key.check(sheet, judge)
    finally:
        if own:
            judge.close()
