"""The course a server serves: its problem files, each student's variant, and the pages'
content, all through dlsolve's own API (load, solve, check, render).

Two sides use it:

* the web process builds :class:`ProblemView` objects (statement, givens, answer boxes,
  and the worked solution kept apart so a route hands it to a template only when
  the reveal policy allows);
* checker processes (:func:`start_checker`, :func:`save_check`,
  :func:`preview_in_worker`, a pool of them for parallel checks) hold the answer
  keys, read and check what students typed, and store each checked attempt. The
  reading itself runs where ``check`` runs it: in a :class:`solver.sandbox.Worker`
  forked from them, killed when a step overruns its time limit, so the web process
  never runs student text through the parser, and a hostile answer costs one answer,
  never the server.

No maths and no checking rules live here: the checker decides, this module only
carries its verdicts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from .. import kinds, solve
from ..check import AnswerKey, AnswersFile, Settings, number
from ..compare import Unreadable, read
from ..display import BLANK, M, Table, lines_latex, m
from ..errors import DlsolveError
from ..sandbox import Mark, Stopped, Worker
from ..solution import TENSOR_TYPES, TYPES, Answer, Solution
from ..spec import Document, Problem, ProblemSet, load, load_text
from .store import NewAttempt, Store, Student

MAX_ANSWER_CHARS = 4_000  # characters in one answer box
NAME_RE = re.compile(r"[\w][\w .'\-]{0,59}")


@dataclass(frozen=True)
class Config:
    """Everything a checker process needs to rebuild the course (picklable)."""

    paths: tuple[str, ...]
    variants_dir: str | None = None
    draw: int = 0  # variants drawn in memory (0: none, unless variants_dir)
    seed: int = 0
    timeout: float = 1.0
    db: str | None = None  # where a checker stores the attempts it checks (see save_check)


class Course:
    """The problem files served, by a short id each, and their variants."""

    def __init__(self, config: Config) -> None:
        from .. import expand_paths

        self.config = config
        self.files: dict[str, Path] = {}
        for p in expand_paths(config.paths):
            sid = re.sub(r"[^a-z0-9-]+", "-", p.stem.lower()).strip("-") or "set"
            while sid in self.files:
                sid += "-2"
            self.files[sid] = p
        if not self.files:
            raise DlsolveError("no problem files to serve", field="PATH")
        for p in self.files.values():
            if not p.is_file():
                raise DlsolveError("no such problem file", file=str(p))
        self.variant_count = self._count_variants()
        self._sets: dict[tuple[str, int | None], ProblemSet] = {}
        self._keys: dict[tuple[str, int | None], AnswerKey] = {}
        self._views: dict[tuple[str, int | None], SetView] = {}

    def _count_variants(self) -> int:
        c = self.config
        if c.variants_dir:
            folder = Path(c.variants_dir)
            if not folder.is_dir():
                raise DlsolveError("no such variants folder", field="--variants")
            manifest = folder / "variants.json"
            if manifest.is_file():
                try:
                    return int(json.loads(manifest.read_text(encoding="utf-8"))["count"])
                except (ValueError, KeyError, TypeError):
                    raise DlsolveError("variants.json has no count", file=str(manifest)) from None
            stem = next(iter(self.files.values())).stem
            found = [
                int(m_.group(1))
                for q in folder.glob(f"{stem}-*.yaml")
                if (m_ := re.fullmatch(re.escape(stem) + r"-(\d+)\.yaml", q.name))
            ]
            if not found:
                raise DlsolveError(f"no variants of {stem}.yaml in the folder", field="--variants")
            return max(found)
        return c.draw

    def variant_for(self, name: str) -> int | None:
        """A student's variant, from their name alone (the same name, the same variant)."""
        if not self.variant_count:
            return None
        digest = hashlib.sha256(f"{self.config.seed}/{name.casefold()}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.variant_count + 1

    def problem_set(self, sid: str, variant: int | None) -> ProblemSet:
        if (sid, variant) not in self._sets:
            path = self.files[sid]
            if variant is None:
                ps = load(path)
            elif self.config.variants_dir:
                from ..grade import variant_path

                ps = load(variant_path(self.config.variants_dir, path, variant))
            else:
                from ..variants import dump, make

                v = make(load(path), variant, self.config.draw, self.config.seed)
                ps = load_text(dump(v.doc), f"{path} (variant {variant})")
            self._sets[sid, variant] = ps
        return self._sets[sid, variant]

    def key(self, sid: str, variant: int | None) -> AnswerKey:
        if (sid, variant) not in self._keys:
            settings = Settings(timeout=self.config.timeout)
            self._keys[sid, variant] = AnswerKey(self.problem_set(sid, variant), settings)
        return self._keys[sid, variant]

    @property
    def cached_views(self) -> dict[tuple[str, int | None], SetView]:
        return self._views

    def view(self, sid: str, variant: int | None) -> SetView:
        if (sid, variant) not in self._views:
            self._views[sid, variant] = build_set_view(sid, self.problem_set(sid, variant))
        return self._views[sid, variant]


# --------------------------------------------------------------------------- page content


@dataclass
class Cell:
    """A table cell for a template: plain text, LaTeX, or a blank to fill in."""

    text: str = ""
    latex: str | None = None
    blank: bool = False


@dataclass
class TableView:
    title: str | None
    columns: list[str]
    rows: list[list[Cell]]
    footer: list[list[Cell]] = field(default_factory=list)


@dataclass
class BoxView:
    """One answer box: the key, what kind of value it takes, nothing of its value."""

    key: str
    label: str | None  # LaTeX
    type: str
    what: str
    doc: str
    shape: list[int] | None
    multiline: bool


@dataclass
class BoxGrid:
    """Per-step boxes laid out as the kind's table (``Kind.table_columns``): a row per step,
    a column per key name, None where a step does not ask that column."""

    columns: list[str]
    docs: list[str]  # what each column takes, from its first box
    rows: list[tuple[int, list[BoxView | None]]]
    keys: frozenset[str]  # the keys in the grid (``ProblemView.boxes`` holds them too)


_STEP_KEY = re.compile(r"([A-Za-z_]\w*)\[(\d+)\]")


def box_grid(columns: tuple[str, ...], boxes: list[BoxView]) -> BoxGrid | None:
    """The boxes of ``columns[t]`` keys as a grid (None if there are none); the page shows
    the other boxes one by one."""
    cells: dict[int, dict[str, BoxView]] = {}
    for b in boxes:
        found = _STEP_KEY.fullmatch(b.key)
        if found and found.group(1) in columns:
            cells.setdefault(int(found.group(2)), {})[found.group(1)] = b
    if not cells:
        return None
    used = [c for c in columns if any(c in row for row in cells.values())]
    docs = [next(row[c].doc for row in cells.values() if c in row) for c in used]
    rows = [(t, [cells[t].get(c) for c in used]) for t in sorted(cells)]
    keys = frozenset(b.key for row in cells.values() for b in row.values())
    return BoxGrid(used, docs, rows, keys)


@dataclass
class StepView:
    text: str
    latex: str | None
    tables: list[TableView]


@dataclass
class SolutionView:
    """The key of one problem: only ever handed to a template once the policy allows."""

    tables: list[TableView]
    steps: list[StepView]
    answers: dict[str, str]  # key -> LaTeX


@dataclass
class ProblemView:
    id: str
    kind: str
    title: str | None
    text: str | None
    givens: list[tuple[str, str]]  # (label LaTeX, value LaTeX)
    given_tables: list[TableView]
    boxes: list[BoxView]
    first_step: StepView | None  # hint 1
    #: whether the first step's maths show an asked answer (then hint 1 keeps to its sentence
    #: until the key is revealed)
    first_step_tells: bool
    mistakes: list[str]  # hint 2: the named misconceptions the checker knows here
    max_points: float
    #: per-step boxes shown as a table (a parser's configurations); ``boxes`` has them too
    grid: BoxGrid | None = None


@dataclass
class SetView:
    """A problem set's pages; the key (worked solutions and answers) is kept apart, in
    ``keys``, so that a route hands a template only what the policy lets the student see."""

    id: str
    title: str
    text: str | None
    problems: dict[str, ProblemView]
    keys: dict[str, SolutionView]
    errors: list[str]


def cell(x: Any) -> Cell:
    """A table cell as the renderers show one: text, maths, or blank."""
    if x is None or x == "":
        return Cell(blank=True)
    if x == BLANK or isinstance(x, str):
        return Cell(text=str(x))
    if isinstance(x, bool):
        return Cell(text=str(x).lower())
    if isinstance(x, int):
        return Cell(text=f"{x:,}")
    if isinstance(x, list) and all(isinstance(v, int) for v in x):
        return Cell(text="[" + ", ".join(map(str, x)) + "]")
    try:
        return Cell(latex=m(x).latex())
    except (TypeError, ValueError):
        return Cell(text=str(x))


def table_view(t: Table) -> TableView:
    return TableView(
        t.title,
        list(t.columns),
        [[cell(c) for c in r] for r in t.rows],
        [[cell(c) for c in r] for r in t.footer],
    )


def given_table_view(t: Table) -> TableView:
    """A network's layers as ``Kind.given_tables`` lays them out (the handout shows the same
    table): None is a blank the student fills in, "" a field the layer leaves out."""

    def given_cell(x: Any) -> Cell:
        if x is None:
            return Cell(blank=True)
        return Cell(text="" if x == "" else str(x))

    return TableView(t.title, list(t.columns), [[given_cell(c) for c in r] for r in t.rows])


def step_view(step: Any) -> StepView:
    eqs = step.equations
    return StepView(
        step.text, lines_latex(eqs) if eqs else None, [table_view(t) for t in step.tables]
    )


def box_view(a: Answer) -> BoxView:
    shape = list(a.shape) if a.type in TENSOR_TYPES else None
    return BoxView(
        a.key,
        a.label.latex() if isinstance(a.label, M) else None,
        a.type,
        TYPES.get(a.type, a.type),
        a.doc,
        shape,
        bool(shape) and len(shape) >= 2,
    )


def key_view(s: Solution) -> SolutionView:
    return SolutionView(
        [table_view(t) for t in s.tables],
        [step_view(st) for st in s.steps],
        {a.key: a.display().latex() for a in s.asked()},
    )


def problem_view(problem: Problem, s: Solution, max_points: float) -> ProblemView:
    first = step_view(s.steps[0]) if s.steps else None
    answers = key_view(s).answers.values()
    tells = first is not None and any(v in (first.latex or "") for v in answers)
    boxes = [box_view(a) for a in s.asked()]
    grid = box_grid(kinds.get(problem.kind).table_columns, boxes)
    return ProblemView(
        problem.id,
        problem.kind,
        problem.title,
        s.text,
        [(label.latex(), value.latex()) for label, value in s.givens],
        [given_table_view(t) for t in s.given_tables],
        boxes,
        first,
        tells,
        list(kinds.get(problem.kind).misconceptions),
        max_points,
        grid,
    )


def build_set_view(sid: str, ps: ProblemSet) -> SetView:
    problems: dict[str, ProblemView] = {}
    keys: dict[str, SolutionView] = {}
    errors = [str(e) for e in ps.errors]
    for problem in ps.problems:
        try:
            s = solve(problem)
        except DlsolveError as err:
            errors.append(str(err))
            continue
        top = sum(_points(problem, a.key) for a in s.asked())
        problems[problem.id] = problem_view(problem, s, float(top))
        keys[problem.id] = key_view(s)
    return SetView(sid, ps.title or Path(ps.path).stem, ps.text, problems, keys, errors)


def _points(problem: Problem, key: str) -> Fraction:
    """A key's points as the checker counts them (KeyedProblem.max_points)."""
    from ..solution import pattern_matches

    if key in problem.points:
        return problem.points[key]
    for pattern, value in problem.points.items():
        if pattern_matches(pattern, key):
            return value
    return Fraction(1)


# --------------------------------------------------------------------------- checker processes

_course: Course | None = None
_reader: Worker | None = None
_store: Store | None = None


def start_worker(config: Config) -> None:
    """Process initializer: the course, and a killable process of its own for previews."""
    global _course, _reader
    _course = Course(config)
    _reader = Worker(_read_for_preview)


def start_checker(config: Config) -> None:
    """A checker process's start: the course, then the first set's answer key built, its
    reading process forked and a wrong answer to its first problem checked (reading,
    comparing and judging a wrong answer load and fill what they use the first time: the
    better part of a second the first student would otherwise wait). Only the first set's:
    a folder of sets would keep the first students waiting for every key; the others, and
    variants' keys, are built as their students come."""
    global _store
    start_worker(config)
    if config.db is not None:  # its own connection: nothing opened before the fork is used
        _store = Store(config.db)
    course = _worker_course()
    if course.variant_count:
        return
    key = course.key(next(iter(course.files)), None)
    first = next(iter(key.problems.values()), None)
    if first is not None:
        zeros = {first.problem.id: {a.key: "0" for a in first.asked}}
        with contextlib.suppress(DlsolveError):
            key.check(_sheet("warm-up", zeros, None))


def _sheet(student: str, answers: dict[str, Any], variant: int | None) -> AnswersFile:
    """What the page sends the checker, as the answers file ``check`` reads."""
    return AnswersFile("(the page)", student, answers, Document({}, {}, "(the page)"), variant)


def _worker_course() -> Course:
    if _course is None:  # in-process use (tests, benchmarks)
        raise RuntimeError("start_worker was not called")
    return _course


def check_in_worker(
    sid: str, variant: int | None, pid: str, student: str, answers: dict[str, str]
) -> dict[str, Any]:
    """Check one problem's answers: ``{score, max_score, results: [...]}`` (unredacted)."""
    course = _worker_course()
    key = course.key(sid, variant)
    sheet = _sheet(student, {pid: {k: v for k, v in answers.items() if v.strip()}}, variant)
    try:  # the other problems of the set come back "missing" at no cost: only this one is kept
        results = [r for r in key.check(sheet).results if r.problem == pid]
    except DlsolveError as err:  # the checker failed twice on these answers
        return {"error": err.message}
    score = sum((r.points for r in results), Fraction(0))
    top = sum((r.max_points for r in results), Fraction(0))
    out = []
    for r in results:
        item = r.to_json()
        item["feedback"] = item["feedback"].replace(" (line None)", "")
        out.append(item)
    return {"score": number(score), "max_score": number(top), "results": out}


def save_check(
    sid: str,
    variant: int | None,
    pid: str,
    student: Student,
    answers: dict[str, str],
) -> dict[str, Any]:
    """Check one problem's answers and store the attempt: ``{score, attempt}`` once its
    transaction has committed (the reply is the acknowledgement), or ``{error}`` with
    nothing stored.

    Why the checker stores it: the results are here; sending them to the web process
    to be written there cost a lone student about a millisecond a check (the rows'
    JSON, a writer thread's two hand-overs) and the web process half its CPU. Storing is
    the last step, so a checker that dies or is stopped has stored the attempt whole or
    not at all (the web process then looks, see :meth:`Store.stored_since`)."""
    if _store is None:
        raise RuntimeError("start_checker was given no database")
    outcome = check_in_worker(sid, variant, pid, student.name, answers)
    if "error" in outcome:
        return outcome
    row = NewAttempt(
        student.id,
        sid,
        pid,
        float(outcome["score"]),
        float(outcome["max_score"]),
        answers,
        outcome["results"],
    )
    return {"score": outcome["score"], "attempt": _store.add_attempt(row)}


def preview_in_worker(sid: str, variant: int | None, pid: str, key: str, text: str) -> dict:
    """How dlsolve reads one box: ``{ok, latex}`` or ``{ok: False, error}``; nothing of the
    expected value (only its type decides how the text is read)."""
    course = _worker_course()
    kp = course.key(sid, variant).problems[pid]
    answer = next((a for a in kp.asked if a.key == key), None)
    if answer is None:
        return {"ok": False, "error": "This problem asks for no such answer."}
    if not text.strip():
        return {"ok": True, "latex": "", "empty": True}
    assert _reader is not None
    try:
        return _reader.call((answer, text, kp.symbols), kp.timeout)
    except Stopped as stop:
        return {"ok": False, "error": f"Could not read this answer: reading it {stop.reason}."}


def _read_for_preview(request: tuple[Answer, str, frozenset[str]], mark: Mark) -> dict:
    """The reader process's side: the text read as the checker reads it, as LaTeX."""
    answer, text, symbols = request
    try:
        return {"ok": True, "latex": _value_latex(read(answer, text, symbols))}
    except Unreadable as err:
        msg = str(err)
        return {"ok": False, "error": msg[:1].upper() + msg[1:]}


def _value_latex(value: Any) -> str:
    from ..check import given_json

    if isinstance(value, (set, frozenset)):
        return r"\text{" + ", ".join(sorted(map(str, value))) + "}"
    if isinstance(value, bool):
        return r"\text{" + str(value).lower() + "}"
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return r"\text{" + _tex_escape(" ".join(value)) + "}"
    if isinstance(value, str):
        return r"\text{" + _tex_escape(value) + "}"
    try:
        return m(value).latex()
    except (TypeError, ValueError, AttributeError):
        return r"\text{" + _tex_escape(str(given_json(value))) + "}"


def _tex_escape(s: str) -> str:
    """Text inside ``\\text{...}``: TeX's special characters escaped."""
    s = s[:500].replace("\\", "\x00")
    s = re.sub(r"([{}$&#_%])", r"\\\1", s)
    s = s.replace("^", r"\^{}").replace("~", r"\~{}")
    return s.replace("\x00", r"\textbackslash{}")
