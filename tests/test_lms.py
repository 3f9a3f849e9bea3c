"""Grades back to the LMS: Canvas's and Moodle's import CSV, matched to the LMS's roster.

The files written are read back with the csv module and compared with totals worked out
by hand from the problem file below (each answer right or missing, so no partial credit
is involved): dropout's output is worth 3 points, LayerNorm's mean 2.
"""

from __future__ import annotations

import csv
import io
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from solver import lms
from solver.errors import DlsolveError
from solver.output import FORMULA_STARTS

HOMEWORK = """\
title: Homework 1
problems:
  - id: drop
    kind: dropout
    given: {z: [3, 6, 9], mask: [1, 0, 1], p: 1/3}
    ask: [output]
    points: {output: 3}
  - id: ln
    kind: layernorm
    given: {X: [[1, 1, 5, 5], [2, 4, 2, 4]]}
    ask: [mean]
    points: {mean: 2}
"""
# inverted dropout: z * mask / (1 - p) = [9/2, 0, 27/2]; the row means of X are 3 and 3
RIGHT = {"drop": {"output": ["9/2", 0, "27/2"]}, "ln": {"mean": [3, 3]}}
MAX = 5

CANVAS_ROSTER = """\
Student,ID,SIS User ID,SIS Login ID,Section,Homework 1 (4411),Current Score
    Points Possible,,,,,5,(read only)
,,,,,Manual Posting,
"Smith, Ann",101,s001,asmith@uni.edu,A,,
"Jones, Bob",102,s002,bjones,A,,
"Lee, Carol",103,s003,clee,B,,
"Park, Dana",104,s004,dpark,B,,
"""


def _answers(folder: Path, name: str, student: str | None, answers: dict) -> None:
    doc: dict = {"answers": answers}
    if student is not None:
        doc["student"] = student
    (folder / name).write_text(yaml.safe_dump(doc))


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """hw.yaml, a Canvas roster and four submissions: Ann (all right, by name), Bob (dropout
    only, by the file's name = his login), Carol (the mean only, by SIS ID) and Zed (not in
    the roster). Dana has no submission."""
    (tmp_path / "hw.yaml").write_text(HOMEWORK)
    (tmp_path / "roster.csv").write_text(CANVAS_ROSTER)
    subs = tmp_path / "subs"
    subs.mkdir()
    _answers(subs, "ann.yaml", "Ann Smith", RIGHT)
    _answers(subs, "bjones.yaml", None, {"drop": RIGHT["drop"]})
    _answers(subs, "carol.yaml", "s003", {"ln": RIGHT["ln"]})
    _answers(subs, "zed.yaml", "Zed", RIGHT)
    return tmp_path


def _rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def _grade(cli_run, course: Path, *extra: str) -> tuple[int, str, str]:
    return cli_run(
        "grade",
        str(course / "hw.yaml"),
        str(course / "subs"),
        "-o",
        str(course / "grades.csv"),
        *extra,
    )


def test_canvas_file_holds_each_roster_student_with_the_hand_computed_total(
    cli_run, course: Path
) -> None:
    code, _, err = _grade(
        cli_run, course, "--lms", "canvas", "--roster", str(course / "roster.csv")
    )
    assert code == 0, err
    rows = _rows(course / "grades-canvas.csv")
    # the roster's identifying columns, then the existing assignment's column, id and all
    assert rows[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "Homework 1 (4411)",
    ]
    assert rows[1] == ["Points Possible", "", "", "", "", str(MAX)]
    body = {r[0]: r for r in rows[2:]}
    assert list(body) == ["Smith, Ann", "Jones, Bob", "Lee, Carol", "Park, Dana"]
    assert body["Smith, Ann"][1:] == ["101", "s001", "asmith@uni.edu", "A", "5"]
    assert body["Jones, Bob"][-1] == "3"
    assert body["Lee, Carol"][-1] == "2"
    assert body["Park, Dana"][-1] == ""  # no submission: empty, never 0
    # dlsolve's own CSV agrees with the same totals
    own = {
        r["file"]: r["score"]
        for r in csv.DictReader(io.StringIO((course / "grades.csv").read_text()))
    }
    assert sorted(own.values()) == ["2", "3", "5", "5"]
    # the submission outside the roster is one sentence naming its file, its student, its score
    zed = [line for line in err.splitlines() if "zed.yaml" in line]
    assert len(zed) == 1 and "'Zed' matches no one in the roster" in zed[0]
    assert "(5 of 5)" in zed[0]
    assert "3 of 4 students" in err and "1 left empty" in err


def test_a_new_assignment_name_is_its_own_column(cli_run, course: Path) -> None:
    out = course / "to-canvas.csv"
    code, _, err = _grade(
        cli_run,
        course,
        *("--lms", "canvas", "--roster", str(course / "roster.csv")),
        *("--assignment", "Quiz 2", "--lms-output", str(out)),
    )
    assert code == 0, err
    assert _rows(out)[0][-1] == "Quiz 2"


def test_the_default_column_is_the_problem_sets_title(cli_run, course: Path) -> None:
    (course / "roster.csv").write_text(CANVAS_ROSTER.replace("Homework 1 (4411)", "Lab (9)"))
    code, _, err = _grade(
        cli_run, course, "--lms", "canvas", "--roster", str(course / "roster.csv")
    )
    assert code == 0, err
    assert _rows(course / "grades-canvas.csv")[0][-1] == "Homework 1"


def test_moodle_file_has_the_identifiers_and_one_grade_item(cli_run, course: Path) -> None:
    # Moodle's grade export, saved by Excel: a byte-order mark, semicolons
    roster = (
        "\ufeffFirst name;Last name;ID number;Institution;Department;Email address;"
        "Assignment: Homework 1 (Real);Last downloaded from this course\n"
        "Ann;Smith;9001;Uni;CS;asmith@uni.edu;-;\n"
        "Bob;Jones;9002;Uni;CS;bjones@uni.edu;-;\n"
        "Carol;Lee;s003;Uni;CS;clee@uni.edu;-;\n"
        "Dana;Park;9004;Uni;CS;dpark@uni.edu;-;\n"
    )
    (course / "moodle.csv").write_text(roster, encoding="utf-8")
    code, out, err = _grade(
        cli_run,
        course,
        *("--lms", "moodle", "--roster", str(course / "moodle.csv")),
        *("--assignment", "assignment: homework 1 (real)", "--lms-output", "-"),
    )
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == [
        "First name",
        "Last name",
        "ID number",
        "Email address",
        "Assignment: Homework 1 (Real)",  # the roster's own grade item, as Moodle spells it
    ]
    got = {r[3]: r[-1] for r in rows[1:]}
    assert got == {
        "asmith@uni.edu": "5",  # by name
        "bjones@uni.edu": "3",  # by the file's name, the e-mail's mailbox
        "clee@uni.edu": "2",  # by ID number
        "dpark@uni.edu": "",
    }
    assert not (course / "grades-moodle.csv").exists()


def test_moodle_user_upload_spellings_are_read() -> None:
    roster = lms.roster_from_bytes(
        b"username,firstname,lastname,email\nann1,Ann,Smith,ann@x.org\n", "r.csv", "moodle"
    )
    assert roster.columns == ("firstname", "lastname", "username", "email")
    made = lms.export(roster, [lms.Score("Smith, Ann", "a.yaml", Fraction(7, 2))], "HW", 5)
    assert list(csv.reader(io.StringIO(made.text))) == [
        ["firstname", "lastname", "username", "email", "HW"],
        ["Ann", "Smith", "ann1", "ann@x.org", "3.5"],
    ]


def test_an_ambiguous_name_is_an_error_naming_the_student(cli_run, course: Path) -> None:
    (course / "roster.csv").write_text(
        CANVAS_ROSTER + '"Smith, Ann",105,s005,asmith2@uni.edu,C,,\n'
    )
    code, _, err = _grade(
        cli_run, course, "--lms", "canvas", "--roster", str(course / "roster.csv")
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: ") and "ann.yaml" in lines[-1]
    assert "'Ann Smith' matches 2 rows" in lines[-1] and "lines 4, 8" in lines[-1]
    assert (course / "grades.csv").exists()  # the class's own grades are kept
    assert not (course / "grades-canvas.csv").exists()
    # naming the student by login settles it
    _answers(course / "subs", "ann.yaml", "asmith2@uni.edu", RIGHT)
    code, _, err = _grade(
        cli_run, course, "--lms", "canvas", "--roster", str(course / "roster.csv")
    )
    assert code == 0, err
    cells = {r[1]: r[-1] for r in _rows(course / "grades-canvas.csv")[2:]}
    assert cells["105"] == "5" and cells["101"] == ""


def test_two_submissions_for_one_student_are_an_error(cli_run, course: Path) -> None:
    _answers(course / "subs", "ann-again.yaml", "asmith@uni.edu", RIGHT)
    code, _, err = _grade(
        cli_run, course, "--lms", "canvas", "--roster", str(course / "roster.csv")
    )
    assert code == 2
    assert "ann-again.yaml and" in err or "ann.yaml and" in err
    assert "'Smith, Ann'" in err


def test_an_identifier_wins_over_a_name() -> None:
    roster = lms.roster_from_bytes(
        b'Student,ID,SIS Login ID\n"Kim, Alex",1,akim\n"Lee, Sam",2,Alex Kim\n', "r.csv", "canvas"
    )
    assert lms.match(roster, lms.Score("alex kim", "f.yaml", 1)).line == 3
    assert lms.match(roster, lms.Score("AKIM", "f.yaml", 1)).line == 2
    assert lms.match(roster, lms.Score("nobody", "f.yaml", 1, also="akim")).line == 2
    assert lms.match(roster, lms.Score("nobody", "f.yaml", 1)) is None


def test_a_submission_that_could_not_be_graded_leaves_an_empty_cell_and_says_why(
    cli_run, course: Path
) -> None:
    (course / "subs" / "clee.yaml").write_text("answers: [\n")  # broken YAML, Carol's login
    (course / "subs" / "carol.yaml").unlink()
    code, _, err = _grade(
        cli_run, course, "--lms", "canvas", "--roster", str(course / "roster.csv")
    )
    assert code == 0, err
    cells = {r[0]: r[-1] for r in _rows(course / "grades-canvas.csv")[2:]}
    assert cells["Lee, Carol"] == ""
    note = [line for line in err.splitlines() if "clee.yaml" in line]
    assert len(note) == 1 and "could not be graded (this is not valid YAML" in note[0]
    assert "'Lee, Carol' is left empty" in note[0]


def test_hostile_names_stay_text_in_every_cell() -> None:
    text = (
        "Student,ID,SIS User ID,SIS Login ID,Section\n"
        "\"=cmd|' /C calc'!A0\",1,s1,l1,A\n"
        '"O\'Neil, ""Jo"", Jr.",2,s2,l2,"+B, sec"\n'
        "-2+3,3,@SUM(A1),l3,A\n"
    )
    roster = lms.roster_from_bytes(text.encode(), "roster.csv", "canvas")
    scores = [
        lms.Score("=cmd|' /C calc'!A0", "a.yaml", 1),
        lms.Score('"Jo", Jr. O\'Neil', "b.yaml", 2),  # the sortable name turned round
        lms.Score("-2+3", "c.yaml", Fraction(1, 3)),
    ]
    made = lms.export(roster, scores, '=HYPERLINK("http://x")', 5)
    rows = list(csv.reader(io.StringIO(made.text)))
    assert rows[0][-1] == '\'=HYPERLINK("http://x")'
    assert rows[2] == ["'=cmd|' /C calc'!A0", "1", "s1", "l1", "A", "1"]
    assert rows[3] == ['O\'Neil, "Jo", Jr.', "2", "s2", "l2", "'+B, sec", "2"]
    assert rows[4] == ["'-2+3", "3", "'@SUM(A1)", "l3", "A", "0.3333"]
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), cell


def test_a_hostile_student_name_is_one_line_in_the_note() -> None:
    roster = lms.roster_from_bytes(b"Student,ID\nAnn,1\n", "r.csv", "canvas")
    made = lms.export(roster, [lms.Score("Eve\n=cmd\r\nx" + "y" * 200, "e.yaml", 1)], "HW", 5)
    [note] = made.notes
    assert "\n" not in note and "\r" not in note and "…" in note


@pytest.mark.parametrize(
    ("lms_name", "roster", "column"),
    [
        ("canvas", "Name,ID\nAnn,1\n", "field 'Student'"),
        ("canvas", "Student,SIS User ID\nAnn,1\n", "field 'ID'"),
        ("moodle", "First name,Last name\nAnn,Smith\n", "field 'Email address'"),
        ("canvas", "", "the roster is empty"),
    ],
)
def test_a_roster_without_the_needed_column_stops_before_grading(
    cli_run, course: Path, lms_name: str, roster: str, column: str
) -> None:
    (course / "roster.csv").write_text(roster)
    code, _, err = _grade(
        cli_run, course, "--lms", lms_name, "--roster", str(course / "roster.csv")
    )
    assert code == 2
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: {course / 'roster.csv'}: ") and column in line
    assert not (course / "grades.csv").exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--lms", "blackboard", "--roster", "r.csv"), "'blackboard' is not one of"),
        (("--lms", "canvas"), "--lms canvas needs --roster FILE"),
        (("--roster", "r.csv"), "--roster needs --lms canvas or --lms moodle"),
        (("--assignment", "HW"), "--assignment is for the LMS's file"),
        (("--lms", "moodle", "--roster", "missing.csv"), "cannot read the roster"),
        (("--lms", "canvas", "--roster", "roster.csv", "--assignment", " "), "is empty"),
        (("--lms", "canvas", "--roster", "roster.csv", "--assignment", "section"), "cannot be"),
        (
            ("--lms", "canvas", "--roster", "roster.csv", "--lms-output", "./grades.csv"),
            "overwrite",
        ),
    ],
)
def test_bad_lms_options_are_one_sentence_and_exit_2(
    cli_run, course: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], said: str
) -> None:
    monkeypatch.chdir(course)
    code, _, err = cli_run("grade", "hw.yaml", "subs", "-o", "grades.csv", *args)
    assert code == 2
    errors = [line for line in err.splitlines() if line.lower().startswith("error:")]
    assert len(errors) == 1 and said in errors[0]
    if "blackboard" not in said:  # click's own usage error shows the usage above its sentence
        assert err.strip() == errors[0]


def test_a_roster_that_is_not_utf8_or_not_csv_says_so() -> None:
    with pytest.raises(DlsolveError, match=r"r.csv: the roster is not UTF-8 text"):
        lms.roster_from_bytes("Student,ID\nJosé,1\n".encode("latin-1"), "r.csv", "canvas")
    huge = b"Student,ID\n" + b"x" * 200_000 + b",1\n"  # past the csv module's cell limit
    with pytest.raises(DlsolveError, match=r"r.csv: line 2: this is not CSV"):
        lms.roster_from_bytes(huge, "r.csv", "canvas")


def test_lines_are_counted_as_the_file_has_them() -> None:
    text = b'\nStudent,ID\n"Kim,\nAlex",1\n\nAlex Kim,2\n'
    roster = lms.roster_from_bytes(text, "r.csv", "canvas")
    assert [m.line for m in roster.members] == [4, 6]


def test_points_are_whole_or_four_places() -> None:
    assert lms.points_text(Fraction(9, 2)) == "4.5"
    assert lms.points_text(Fraction(10, 2)) == "5"
    assert lms.points_text(Fraction(2, 3)) == "0.6667"
    assert lms.points_text(0.5) == "0.5"
