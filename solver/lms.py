"""Grades back to the LMS: a CSV that Canvas or Moodle imports into its gradebook.

dlsolve knows a student by the ``student:`` name of their answers file; an LMS knows them by
its own IDs. So the instructor exports the class list from the LMS (the **roster**), and
each submission is matched to one roster row by an identifier (login, SIS ID, e-mail, ID
number) or by name. The file written is that roster's identifying columns, one row per
roster student, and one grade column:

* **Canvas** (Grades → Import). The gradebook CSV whose first columns are ``Student``,
  ``ID``, ``SIS User ID``, ``SIS Login ID`` and ``Section`` (only Student name, ID or SIS
  User ID is needed to match a student), then one column per assignment: an existing
  assignment's column is headed ``Name (assignment id)`` as the gradebook export writes it,
  a new name creates a new assignment. A row whose Student cell reads ``Points Possible``
  gives each assignment's points. Sources: Canvas's export notes (read-only columns, the
  export's layout) and the import guide of The Ohio State University's CarmenCanvas,
  https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades
  and https://ts.vcu.edu/askit/teaching-and-learning/canvas/faculty/grading-faculty/gradebook-action-menu-faculty/
* **Moodle** (Grades → Import → CSV file). "The import file format is the same as the
  corresponding export format": a header row, a column that identifies the user, mapped at
  import ("Map from" Email address to useremail, or ID number to useridnumber), and one
  column per grade item, mapped to an existing or a new grade item. Source: MoodleDocs,
  Grade import, https://docs.moodle.org/311/en/Grade_import

A roster student without a submission gets an empty cell, never a zero (an LMS reads a
blank as "not graded"); a submission that matches no roster row, or that could not be
graded, is one sentence in :attr:`Export.notes`; a name that matches two roster rows, or
two submissions that match one, is an error naming the student. Nothing is dropped
silently. Text cells are :func:`~solver.output.spreadsheet_safe`.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DlsolveError
from .output import spreadsheet_safe
from .vocab import Word

if TYPE_CHECKING:
    from .grade import Outcome


class Lms(Word):
    """The gradebooks dlsolve writes for."""

    CANVAS = "canvas"
    MOODLE = "moodle"

    @property
    def label(self) -> str:
        """The LMS's name as its users write it."""
        return "Canvas" if self is Lms.CANVAS else "Moodle"


#: Canvas's identifying columns, in the gradebook export's order
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
#: what Canvas writes in the Student cell of its points row (the export pads it with spaces)
POINTS_POSSIBLE = "Points Possible"

#: Moodle's user columns as its grade export heads them, each with the spellings of Moodle's
#: user-upload CSV that mean the same field
MOODLE_ALIASES: dict[str, tuple[str, ...]] = {
    "First name": ("first name", "firstname"),
    "Last name": ("last name", "lastname", "surname"),
    "ID number": ("id number", "idnumber"),
    "Username": ("username",),
    "Email address": ("email address", "email"),
}
#: the Moodle columns an import can map users from
MOODLE_IDENTIFIERS = ("Email address", "ID number", "Username")


@dataclass(frozen=True)
class Member:
    """One student row of the roster: its cells as the LMS wrote them."""

    line: int  # the row's line in the roster file, for messages
    cells: tuple[str, ...]  # the identifying columns, in Roster.columns order
    name: str  # how the LMS names the student
    ids: tuple[str, ...]  # exact identifiers (login, SIS ID, e-mail, ID number)
    names: tuple[str, ...]  # the name as written and turned round ("Smith, Ann" / "Ann Smith")
    mailbox: str = ""  # the part of an e-mail login before the @


@dataclass(frozen=True)
class Roster:
    """The class list exported from the LMS."""

    lms: Lms
    file: str
    columns: tuple[str, ...]  # the identifying columns written back, spelt as the roster does
    headers: tuple[str, ...]  # every header of the roster (to find an assignment's column)
    members: tuple[Member, ...]
    #: per kind of evidence (identifier, name, mailbox): the rows each compared key names,
    #: built once so that matching a large class stays linear
    index: tuple[dict[str, list[Member]], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tiers: tuple[dict[str, list[Member]], ...] = ({}, {}, {})
        for m in self.members:
            for tier, keys in zip(tiers, (m.ids, m.names, (m.mailbox,)), strict=True):
                for key in {_norm(k) for k in keys if k}:
                    tier.setdefault(key, []).append(m)
        object.__setattr__(self, "index", tiers)


@dataclass(frozen=True)
class Score:
    """One graded submission as the LMS needs it: who, from where, how many points."""

    student: str
    source: str  # the answers file (or the page) it came from, which messages name
    points: Fraction | float | None  # None: it could not be graded
    why: str = ""  # for None, the reason
    also: str = ""  # another name the student goes by: the answers file's own name


@dataclass
class Export:
    """The LMS's CSV, and every submission that did not become a cell, in a sentence each."""

    text: str
    header: str  # the grade column's header
    graded: int  # roster rows that got a score
    empty: int  # roster rows left empty (no submission)
    notes: list[str] = field(default_factory=list)


def _norm(text: str) -> str:
    """A name or identifier as compared: Unicode-normalised, case-folded, single-spaced."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _turned(name: str) -> str:
    """'Smith, Ann' as 'Ann Smith' (Canvas lists students by sortable name), else ''."""
    last, comma, first = name.partition(",")
    return f"{first.strip()} {last.strip()}" if comma and first.strip() else ""


def _error(roster: str, message: str, column: str | None = None) -> DlsolveError:
    return DlsolveError(message, file=roster, field=column)


def read_roster(path: str | Path, lms: Lms | str) -> Roster:
    """The roster file at ``path`` (DlsolveError naming the file and column if unusable)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise _error(str(path), f"cannot read the roster ({err.strerror or err})") from None
    return roster_from_bytes(raw, str(path), lms)


def roster_from_bytes(raw: bytes, name: str, lms: Lms | str) -> Roster:
    """A roster from the bytes of its file (``name`` is how messages call it)."""
    lms = Lms(lms)
    try:
        text = raw.decode("utf-8-sig")  # Excel saves "CSV UTF-8" with a byte-order mark
    except UnicodeDecodeError as err:
        raise _error(
            name, f"the roster is not UTF-8 text (byte {err.start}); save it as CSV UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), dialect=_dialect(text))
    try:  # each row with the line it ends on (a quoted cell may span lines)
        rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except csv.Error as err:
        raise _error(
            name, f"line {reader.line_num}: this is not CSV the LMS wrote ({err})"
        ) from None
    if not rows:
        raise _error(name, f"the roster is empty; export the class list from {lms.label}")
    headers = tuple(h.strip() for h in rows[0][1])
    read = _canvas if lms is Lms.CANVAS else _moodle
    return read(name, headers, rows[1:])


def _dialect(text: str) -> type[csv.Dialect]:
    """Comma-separated, unless the header row is plainly separated by tabs or semicolons
    (Moodle's plain-text export lets the teacher choose)."""
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])

    class Chosen(csv.excel):
        delimiter = best if counts[best] > counts[","] else ","

    return Chosen


def _canvas(name: str, headers: tuple[str, ...], rows: list[tuple[int, list[str]]]) -> Roster:
    where = {h: i for i, h in reversed(list(enumerate(headers)))}
    for needed in ("Student", "ID"):
        if needed not in where:
            raise _error(
                name,
                f"the roster has no {needed!r} column; a Canvas roster is the gradebook's "
                "export (Grades, Export), which begins Student, ID, SIS User ID, SIS Login ID, "
                "Section",
                needed,
            )
    columns = tuple(c for c in CANVAS_COLUMNS if c in where)
    members = []
    for line, row in rows:
        cells = tuple(row[where[c]].strip() if where[c] < len(row) else "" for c in columns)
        got = dict(zip(columns, cells, strict=True))
        student = got["Student"]
        if student == POINTS_POSSIBLE or not any(cells):
            continue  # the points row, the posting-policy row, a blank line
        ids = tuple(got[c] for c in ("ID", "SIS User ID", "SIS Login ID") if got.get(c))
        login = got.get("SIS Login ID", "")
        members.append(
            Member(
                line,
                cells,
                student,
                ids,
                tuple(n for n in (student, _turned(student)) if n),
                login.split("@", 1)[0] if "@" in login else "",
            )
        )
    return Roster(Lms.CANVAS, name, columns, headers, tuple(members))


def _moodle(name: str, headers: tuple[str, ...], rows: list[tuple[int, list[str]]]) -> Roster:
    where: dict[str, int] = {}
    for i, h in enumerate(headers):
        for canonical, spellings in MOODLE_ALIASES.items():
            if _norm(h) in spellings and canonical not in where:
                where[canonical] = i
    if not any(c in where for c in MOODLE_IDENTIFIERS):
        raise _error(
            name,
            "the roster has no 'Email address', 'ID number' or 'Username' column, so Moodle "
            "could not match its rows to users; export the grades (or participants) with the "
            "e-mail address",
            "Email address",
        )
    canon = tuple(c for c in MOODLE_ALIASES if c in where)
    columns = tuple(headers[where[c]] for c in canon)
    members = []
    for line, row in rows:
        cells = tuple(row[where[c]].strip() if where[c] < len(row) else "" for c in canon)
        if not any(cells):
            continue
        got = dict(zip(canon, cells, strict=True))
        first, last = got.get("First name", ""), got.get("Last name", "")
        full = f"{first} {last}".strip()
        ids = tuple(got[c] for c in MOODLE_IDENTIFIERS if got.get(c))
        email = got.get("Email address", "")
        members.append(
            Member(
                line,
                cells,
                full or (ids[0] if ids else ""),
                ids,
                tuple(n for n in (full, f"{last}, {first}" if first and last else "") if n),
                email.split("@", 1)[0] if "@" in email else "",
            )
        )
    return Roster(Lms.MOODLE, name, columns, headers, tuple(members))


# --------------------------------------------------------------------------- matching


def _candidates(roster: Roster, wanted: str) -> list[Member]:
    """The roster rows ``wanted`` names, by the strongest evidence that names any: an exact
    identifier, then the full name, then the part of an e-mail login before the @."""
    key = _norm(wanted)
    for tier in roster.index if key else ():
        if key in tier:
            return tier[key]
    return []


def match(roster: Roster, score: Score) -> Member | None:
    """The roster row of one submission: by its ``student:`` name, else by its file's name;
    None if no row fits. A name that fits two rows is a DlsolveError naming the student."""
    names = [score.student]
    if score.also and _norm(score.also) != _norm(score.student):
        names.append(score.also)
    for wanted in names:
        found = _candidates(roster, wanted)
        if len(found) > 1:
            lines = ", ".join(str(m.line) for m in found)
            raise DlsolveError(
                f"student {_quoted(wanted)} matches {len(found)} rows of the roster "
                f"{roster.file} (lines {lines}); write their login or ID as 'student:' in "
                "the answers file",
                file=score.source,
            )
        if found:
            return found[0]
    return None


def _quoted(name: str, limit: int = 60) -> str:
    """A student's name as it fits in one sentence (it comes from an answers file)."""
    flat = " ".join(str(name).split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


# --------------------------------------------------------------------------- writing


def column_for(roster: Roster, assignment: str) -> str:
    """The grade column's header: the roster's own column for ``assignment`` where it has
    one (Canvas heads an existing assignment ``Name (12345)``; Moodle's export
    ``Assignment: Name (Real)``), else ``assignment`` itself (a new assignment or grade item)."""
    name = " ".join(assignment.split())
    if not name:
        raise DlsolveError("the assignment's name is empty", field="--assignment")
    if any(_norm(c) == _norm(name) for c in roster.columns):
        raise DlsolveError(
            f"the assignment cannot be called {name!r}, like one of the roster's student columns",
            field="--assignment",
        )
    if roster.lms is Lms.CANVAS:
        with_id = re.compile(rf"{re.escape(name)} \(\d+\)")
        for h in roster.headers:
            if h == name or with_id.fullmatch(h):
                return h
    for h in roster.headers:
        if _norm(h) == _norm(name) and h not in roster.columns:
            return h
    return name


def points_text(points: Fraction | float) -> str:
    """Points as an LMS reads them: a whole number, else a decimal to 4 places."""
    q = Fraction(points)
    if q.denominator == 1:
        return str(q.numerator)
    return f"{float(q):.4f}".rstrip("0").rstrip(".")


def export(
    roster: Roster,
    scores: Iterable[Score],
    assignment: str,
    max_points: Fraction | float,
) -> Export:
    """The LMS's CSV for ``scores``: one row per roster student, in the roster's order.

    A DlsolveError if a submission fits two roster rows, or two submissions fit one (the
    first such student; grading cannot guess which is meant)."""
    header = column_for(roster, assignment)
    cell: dict[int, str] = {}
    taken: dict[int, Score] = {}
    notes: list[str] = []
    for s in scores:
        member = match(roster, s)
        if member is None:
            nobody = f"student {_quoted(s.student)} matches no one in the roster {roster.file}"
            notes.append(
                f"{s.source}: could not be graded ({_reason(s)}), and {nobody}"
                if s.points is None
                else f"{s.source}: {nobody}, so their score "
                f"({points_text(s.points)} of {points_text(max_points)}) is not in the file"
            )
            continue
        if member.line in taken:
            raise DlsolveError(
                f"both {taken[member.line].source} and {s.source} match {_quoted(member.name)} "
                f"(line {member.line} of the roster {roster.file}); keep one submission or "
                "correct its 'student:'",
                file=s.source,
            )
        taken[member.line] = s
        if s.points is None:
            notes.append(
                f"{s.source}: could not be graded ({_reason(s)}), so the cell of "
                f"{_quoted(member.name)} is left empty"
            )
            continue
        cell[member.line] = points_text(s.points)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(_safe([*roster.columns, header]))
    if roster.lms is Lms.CANVAS:
        w.writerow(
            _safe([POINTS_POSSIBLE, *[""] * (len(roster.columns) - 1), points_text(max_points)])
        )
    for m in roster.members:
        w.writerow(_safe([*m.cells, cell.get(m.line, "")]))
    graded = len(cell)
    return Export(out.getvalue(), header, graded, len(roster.members) - graded, notes)


def scores(outcomes: Iterable[Outcome]) -> list[Score]:
    """What ``dlsolve grade`` found, as the LMS needs it."""
    return [
        Score(o.student, o.file, o.report.score, also=Path(o.file).stem)
        if o.report is not None
        else Score(o.student, o.file, None, o.status.removeprefix("error: "), Path(o.file).stem)
        for o in outcomes
    ]


def output_path(grades_csv: str | Path, lms: Lms | str, given: str | None) -> str:
    """Where ``grade --lms`` writes: ``given`` ('-' for standard output), else beside
    grades.csv and named for the LMS; never over grades.csv itself."""
    p = Path(grades_csv)
    target = given or str(p.with_name(f"{p.stem}-{Lms(lms)}.csv"))
    if target != "-" and Path(target).resolve() == p.resolve():
        raise DlsolveError(
            f"the {Lms(lms).label} file would overwrite dlsolve's own grades ({grades_csv}); "
            "give it another name",
            file=target,
            field="--lms-output",
        )
    return target


def prepare(
    lms: Lms | str | None,
    roster: str | Path | None,
    assignment: str | None = None,
    output: str | None = None,
) -> Roster | None:
    """The roster of ``grade --lms L --roster FILE``, read before any grading (None without
    either option; one without the other, or an LMS option without both, is a DlsolveError)."""
    if lms is None and roster is None:
        for given, option in ((assignment, "--assignment"), (output, "--lms-output")):
            if given is not None:
                raise DlsolveError(
                    f"{option} is for the LMS's file: give --lms and --roster too", field=option
                )
        return None
    if roster is None:
        raise DlsolveError(
            f"--lms {lms} needs --roster FILE: the class list exported from "
            f"{Lms(lms).label}, whose IDs the grades go back under",
            field="--roster",
        )
    if lms is None:
        raise DlsolveError(
            "--roster needs --lms canvas or --lms moodle: the gradebook to write for",
            field="--lms",
        )
    return read_roster(roster, lms)


def _reason(s: Score) -> str:
    """Why a submission could not be graded, without its file's name (the note starts with
    it) or a closing full stop."""
    why = re.sub(rf"^{re.escape(s.source)}(:\d+)?: ", "", s.why.strip())
    return why.rstrip(".") or "no reason given"


def _safe(cells: Sequence[str]) -> list[str]:
    return [spreadsheet_safe(c) for c in cells]
