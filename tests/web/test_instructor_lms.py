"""The instructor's Canvas/Moodle export on the student page (solver/web/app.py, solver/lms.py)."""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any

from .conftest import Student

ROSTER = (
    "Student,ID,SIS User ID,SIS Login ID,Section\n"
    '"Lovelace, Ada",11,s11,ada,A\n'
    "\"=cmd|' /C calc'!A0\",12,s12,bob,A\n"
    '"Hopper, Grace",13,s13,grace,B\n'
)


def _teacher(make_app: Any) -> tuple[Any, Student]:
    client = make_app(instructor_token="s3cret")
    for name, var in (("ada", "[4, 9, 3]"), ("bob", "[16/3, 12, 4]"), ("zed", "[4, 9, 3]")):
        client.cookies.clear()
        s = Student(client)
        s.login(name)
        s.check("layernorm", {"mean": "[6, 3, 2]", "var": var})
    client.cookies.clear()
    teacher = Student(client)
    teacher.get("/instructor")
    teacher.client.post("/instructor/login", data={"csrf": teacher.csrf, "token": "s3cret"})
    teacher.get("/instructor")
    return client, teacher


def _upload(teacher: Student, roster: bytes, lms: str = "canvas", **extra: str) -> Any:
    data = {"csrf": teacher.csrf, "lms": lms, "assignment": "Homework 3", **extra}
    return teacher.client.post(
        "/instructor/lms", data=data, files={"roster": ("roster.csv", roster, "text/csv")}
    )


def test_the_instructor_downloads_the_class_for_canvas(make_app: Any) -> None:
    client, teacher = _teacher(make_app)
    page = teacher.get("/instructor")
    assert 'action="/instructor/lms"' in page.text and 'enctype="multipart/form-data"' in page.text
    r = _upload(teacher, ROSTER.encode())
    assert r.status_code == 200, r.text
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.text)))
    assert "2 of 3 students" in text and "1 left empty" in text
    assert "student 'zed' matches no one in the roster roster.csv" in text  # never dropped
    href = re.search(r'href="(/instructor/lms/[^"]+\.csv)"', r.text)
    assert href
    got = client.get(href.group(1))
    assert got.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(got.text)))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 3"]
    max_points = float(rows[1][-1])
    assert rows[1][0] == "Points Possible" and max_points > 2
    cells = {r[1]: r for r in rows[2:]}
    # ada has mean and var right (1 point each), bob the mean only; grace never tried
    assert cells["11"][-1] == "2" and cells["12"][-1] == "1" and cells["13"][-1] == ""
    assert cells["12"][0] == "'=cmd|' /C calc'!A0"  # a formula in the roster stays text
    # signed out, neither the export nor the file is served
    client.cookies.clear()
    assert client.get(href.group(1)).status_code == 401


def test_a_bad_roster_is_one_sentence_on_the_page(make_app: Any) -> None:
    _, teacher = _teacher(make_app)
    r = _upload(teacher, b"First name,Last name\nAda,Lovelace\n", lms="moodle")
    assert r.status_code == 400
    assert "roster.csv: field &#39;Email address&#39;: the roster has no" in r.text
    teacher.get("/instructor")
    r = _upload(teacher, b"Student,ID,SIS Login ID\nAda L,1,ada\nAda K,2,ada\n")
    assert r.status_code == 400 and "matches 2 rows of the roster roster.csv" in r.text
    teacher.get("/instructor")
    assert _upload(teacher, ROSTER.encode(), lms="blackboard").status_code == 400
    teacher.get("/instructor")
    r = _upload(teacher, ROSTER.encode(), csrf="forged")
    assert r.status_code == 403
