"""The student page through Starlette's TestClient: pages, preview, check, reveal, security."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from markupsafe import escape

from solver import exact, load, solve

from .conftest import HOMEWORK, Student


def visible(html: str) -> str:
    """The words of a page without its tags (attributes dropped)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_student_names_themselves_and_sees_the_problem_set(make_app: Any) -> None:
    s = Student(make_app())
    first = s.get("/")
    assert 'name="name"' in first.text and "Name yourself" in first.text
    r = s.login("Ada Lovelace")
    assert r.status_code == 200
    page = visible(r.text)
    assert "Layer normalization" in page and "A small classifier" in page
    assert re.search(r"Your personal code is [0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}", page)
    assert "Signed in as Ada Lovelace" in page


def test_the_problem_page_shows_givens_as_maths_and_the_layer_table_with_blanks(
    student: Student,
) -> None:
    r = student.get("/set/homework/layernorm")
    assert r.status_code == 200
    assert r"\begin{bmatrix}" in r.text  # X as a matrix, rendered by KaTeX in the browser
    assert r.text.count('name="answer:') == 3
    net = student.get("/set/homework/net").text
    table = net[net.index('<table class="grid">') : net.index("</table>")]
    assert "linear2" in table and "52" in table and "30" in table
    assert table.count('class="blank"') == 2  # in and out of linear2 are blanks
    assert not re.search(r"(src|href)=\"(https?:)?//", net), "everything is served locally"
    assert "/static/katex/katex.min.js" in net


def test_the_preview_shows_how_dlsolve_reads_latex_and_where_it_cannot(student: Student) -> None:
    r = student.preview("layernorm", "mean", r"\begin{bmatrix} 6 & 3 & \frac{4}{2} \end{bmatrix}")
    assert r.status_code == 200 and r.json()["ok"] is True
    assert r.json()["latex"] == r"\begin{bmatrix} 6 & 3 & 2 \end{bmatrix}"
    bad = student.preview("layernorm", "mean", "[6, 3, (2]").json()
    assert bad["ok"] is False and "position" in bad["error"]
    hostile = student.preview("layernorm", "mean", "9^9^9^9^9").json()
    assert hostile["ok"] is False


def test_the_preview_needs_the_session_csrf_token(student: Student) -> None:
    r = student.client.post(
        "/api/preview",
        json={"set": "homework", "problem": "layernorm", "key": "mean", "text": "1"},
        headers={"X-CSRF-Token": "forged"},
    )
    assert r.status_code == 403 and r.json()["ok"] is False


def test_check_gives_verdicts_and_names_the_misconception(student: Student) -> None:
    r = student.check("layernorm", {"mean": "[6, 3, 2]", "var": "[16/3, 12, 4]", "output": ""})
    assert r.status_code == 200
    verdicts = {
        k: v for v, k in re.findall(r'class="verdict-row (\w+)" data-key="([\w.\[\]]+)"', r.text)
    }
    assert verdicts == {"mean": "correct", "var": "incorrect", "output": "missing"}
    assert "variance divided by N−1" in visible(r.text)


def test_hints_unlock_with_attempts_and_the_solution_waits_for_the_policy(
    student: Student,
) -> None:
    key = r"4 \sqrt{3}"  # an entry of the expected output, as the solution writes it
    page = student.get("/set/homework/layernorm").text
    assert "Hint 1 unlocks after your first check" in page and key not in page
    one = student.check("layernorm", {"mean": "[1, 1, 1]"}).text
    assert 'id="hint-1"' in one and 'id="hint-2"' not in one
    assert key not in one and "opens after 2 attempts" in one
    two = student.check("layernorm", {"mean": "[1, 1, 1]"}).text
    assert 'id="hint-2"' in two and "variance divided by N−1" in two
    hint2 = two[two.index('id="hint-2"') :]
    assert hint2.count("found in your answers") == 0  # [1, 1, 1] is no known mistake
    three = student.check("layernorm", {"var": "[16/3, 12, 4]"}).text
    hint2 = three[three.index('id="hint-2"') :]
    assert re.search(r"variance divided by N−1[^<]*<strong class=\"made\">", hint2)
    assert key in two and "Worked solution" in two  # after:2 reached


def test_a_fully_correct_attempt_opens_the_solution_at_once(student: Student) -> None:
    r = student.check(
        "net",
        {"linear2.in": "30", "linear2.out": "10", "params.linear2": "310", "params.total": "1900"},
    )
    assert "4 / 4 points" in visible(r.text)
    assert 'class="solution"' in r.text


def test_a_student_sees_only_their_own_attempts(make_app: Any) -> None:
    client = make_app()
    alice = Student(client)
    alice.login("alice")
    alice.check("layernorm", {"mean": "[7777, 1, 1]"})
    client.cookies.clear()
    bob = Student(client)
    bob.login("bob")
    assert "7777" not in bob.get("/history").text
    assert "7777" not in bob.get("/set/homework/layernorm").text
    client.cookies.clear()
    mallory = Student(client)
    r = mallory.login("alice")  # the name without alice's code
    assert r.status_code == 403 and "already taken" in r.text
    assert "7777" not in mallory.get("/history").text


def test_a_returning_student_continues_with_their_code(make_app: Any) -> None:
    client = make_app()
    alice = Student(client)
    page = alice.login("alice").text
    code = re.search(r"<code>([0-9a-f-]{14})</code>", page).group(1)
    alice.check("layernorm", {"mean": "[7777, 1, 1]"})
    client.cookies.clear()
    again = Student(client)
    assert again.login("alice", code).status_code == 200
    assert "7777" in again.get("/history").text


def test_forms_without_the_csrf_token_are_refused_and_nothing_is_saved(student: Student) -> None:
    r = student.client.post("/set/homework/layernorm/check", data={"answer:mean": "[6, 3, 2]"})
    assert r.status_code == 403 and "expired" in r.text
    assert "No attempts yet" in student.get("/history").text


def test_oversized_answers_are_refused_with_a_sentence(student: Student) -> None:
    r = student.check("layernorm", {"mean": "1+" * 2500})
    assert r.status_code == 400 and "longer than 4000 characters" in r.text
    big = student.client.post(
        "/set/homework/layernorm/check",
        data={"csrf": student.csrf, "answer:mean": "1" * 300_000},
    )
    assert big.status_code == 413 and "too large" in big.text
    assert "No attempts yet" in student.get("/history").text


def test_failures_are_one_sentence_on_the_page_never_a_traceback(student: Student) -> None:
    for url in ("/set/homework/nope", "/set/nope/layernorm", "/no-such-page"):
        r = student.get(url)
        assert r.status_code == 404 and "Traceback" not in r.text
        assert 'role="alert"' in r.text
    client = student.client
    client.cookies.clear()
    r = client.get("/set/homework/layernorm")
    assert r.status_code == 401 and "name yourself" in r.text.lower()


def test_unreadable_answers_say_where_and_the_rest_is_checked(student: Student) -> None:
    r = student.check("layernorm", {"mean": "[6, 3, (2]", "var": "[4, 9, 3]"})
    text = visible(r.text)
    assert "unreadable" in text and "position" in text and "line None" not in text
    assert re.search(r'class="verdict-row correct" data-key="var"', r.text)


def test_the_instructor_sees_scores_shares_and_misconceptions_and_exports_csv(
    make_app: Any,
) -> None:
    client = make_app(instructor_token="s3cret")
    for name, var in (("alice", "[16/3, 12, 4]"), ("bob", "[4, 9, 3]")):
        client.cookies.clear()
        s = Student(client)
        s.login(name)
        s.check("layernorm", {"mean": "[6, 3, 2]", "var": var})
    client.cookies.clear()
    teacher = Student(client)
    page = teacher.get("/instructor")
    assert 'name="token"' in page.text and "alice" not in page.text
    wrong = client.post("/instructor/login", data={"csrf": teacher.csrf, "token": "guess"})
    assert wrong.status_code == 403
    assert client.get("/instructor/export.csv").status_code == 401
    teacher.get("/instructor")
    ok = client.post("/instructor/login", data={"csrf": teacher.csrf, "token": "s3cret"})
    text = visible(ok.text)
    assert "alice" in text and "bob" in text
    assert "1 of 2" in text  # var: bob right, alice not
    assert "2 of 2" in text  # mean
    assert "variance divided by N−1" in text
    rows = list(csv.DictReader(io.StringIO(client.get("/instructor/export.csv").text)))
    by_name = {r["student"]: r for r in rows}
    assert by_name["alice"]["homework/layernorm/var"] == "0"
    assert by_name["bob"]["homework/layernorm/var"] == "1"
    assert by_name["bob"]["score"] == "2.0"


def test_the_instructor_view_is_off_without_a_token(student: Student) -> None:
    assert student.get("/instructor").status_code == 404


def test_a_students_variant_follows_from_their_name(make_app: Any) -> None:
    client = make_app(draw=5, seed=1)
    server = client.app.state.server
    names = [f"student{i}" for i in range(12)]
    variants = {n: server.course.variant_for(n) for n in names}
    assert set(variants.values()) <= set(range(1, 6)) and len(set(variants.values())) > 1
    assert variants == {n: server.course.variant_for(n) for n in names}
    a, b = (n for n in names if variants[n] != variants[names[0]]).__next__(), names[0]
    pages = {}
    for name in (a, b):
        client.cookies.clear()
        s = Student(client)
        s.login(name)
        assert f"You have variant {variants[name]}" in s.get("/").text
        pages[name] = s.get("/set/homework/layernorm").text
        given = re.search(r'data-tex="(\\begin\{bmatrix\}[^"]*)"', pages[name]).group(1)
        pages[name] = given
    assert pages[a] != pages[b]


def test_the_database_keeps_every_checked_attempt(make_app: Any, tmp_path: Any) -> None:
    from solver.web.store import Store

    client = make_app()
    s = Student(client)
    s.login("alice")
    for i in range(3):
        s.check("net", {"linear2.in": str(30 + i)})
    store = Store(f"sqlite:///{tmp_path / 'class.db'}")
    attempts = store.all_attempts()
    assert [a.answers["linear2.in"] for a in attempts] == ["30", "31", "32"]
    assert attempts[0].results[0]["verdict"] == "correct"
    with store.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


def test_serve_without_the_web_extra_says_how_to_install_it(cli_run: Any, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "uvicorn", None)
    code, _, err = cli_run("serve", str(HOMEWORK))
    assert code == 2
    assert err.strip().count("\n") == 0 and 'pip install "dlsolve[web]"' in err


def test_serve_binds_127_0_0_1_unless_told(cli_run: Any, monkeypatch, tmp_path) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert cli_run("serve", str(HOMEWORK), "--db", db)[0] == 0
    assert seen["host"] == "127.0.0.1"
    assert cli_run("serve", str(HOMEWORK), "--db", db, "--host", "0.0.0.0", "--port", "9")[0] == 0
    assert seen["host"] == "0.0.0.0" and seen["port"] == 9


def test_serve_rejects_a_bad_reveal_and_a_bad_database(cli_run: Any, tmp_path) -> None:
    code, _, err = cli_run("serve", str(HOMEWORK), "--reveal", "sometimes")
    assert code == 2 and "never, always or after:N" in err
    code, _, err = cli_run("serve", str(HOMEWORK), "--db", "nosuchdb://x")
    assert code == 2 and "cannot open the database" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "answer", ["[6, 3, 2]", r"\begin{bmatrix}6 & 3 & 2\end{bmatrix}", "[6 3 2]"]
)
def test_every_written_form_of_a_right_answer_is_right(student: Student, answer: str) -> None:
    r = student.check("layernorm", {"mean": answer})
    assert re.search(r'class="verdict-row correct" data-key="mean"', r.text)


def test_the_page_shows_the_same_answers_as_solve(student: Student) -> None:
    """After the policy allows, the solution's answers are the solver's (one fact, one place)."""
    student.check("net", {"linear2.in": "1"})
    page = student.check("net", {"linear2.in": "1"}).text
    s = {p.id: solve(p) for p in load(HOMEWORK)}["net"]
    for a in s.asked():
        assert f'data-tex="{exact.latex(a.value)}"' in page


def test_what_a_student_types_is_shown_as_text_never_as_html(student: Student) -> None:
    hostile = '<script>alert("x")</script>'
    page = student.check("layernorm", {"mean": hostile}).text
    history = student.get("/history").text
    for html in (page, history):
        assert hostile not in html and "&lt;script&gt;" in html
    assert "script-src" not in page  # no inline allowance: the CSP is default-src 'self'
    csp = student.get("/set/homework/layernorm").headers["content-security-policy"]
    assert "default-src 'self'" in csp


def test_a_variants_folder_gives_each_student_their_variant(
    make_app: Any, cli_run: Any, tmp_path: Any
) -> None:
    folder = tmp_path / "variants"
    assert cli_run("variants", str(HOMEWORK), "-n", "3", "--seed", "5", "-o", str(folder))[0] == 0
    client = make_app(variants_dir=str(folder))
    course = client.app.state.server.course
    assert course.variant_count == 3
    s = Student(client)
    s.login("carol")
    k = course.variant_for("carol")
    expected = solve(load(folder / f"homework-{k}.yaml").problems[0])
    page = s.get("/set/homework/layernorm").text
    assert f"You have variant {k}" in s.get("/").text
    assert f'data-tex="{escape(expected.givens[0][1].latex())}"' in page
    r = s.check("layernorm", {"mean": str([str(x) for x in expected["mean"]]).replace("'", "")})
    assert re.search(r'class="verdict-row correct" data-key="mean"', r.text)


def test_a_checker_that_dies_is_replaced_and_nothing_half_saved(student: Student) -> None:
    import os
    import signal
    import time

    server = student.client.app.state.server
    student.check("net", {"linear2.in": "30"})  # the checker is up
    for pid in server.checkers.pids():
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    r = student.check("net", {"linear2.in": "31"})
    if r.status_code == 503:  # the request that met the dead checker: a sentence, not saved
        assert "restarted" in r.text and "nothing was saved" in r.text
    again = student.check("net", {"linear2.in": "32"})
    assert again.status_code == 200
    typed = [a.answers["linear2.in"] for a in server.store.all_attempts()]
    assert typed[0] == "30" and typed[-1] == "32"
    assert typed in (["30", "32"], ["30", "31", "32"])


def test_a_check_stored_by_a_checker_that_died_before_replying_is_acknowledged(
    make_app: Any, monkeypatch
) -> None:
    import os

    from solver.web import checkers, store

    if checkers.multiprocessing.get_start_method(allow_none=True) not in (None, "fork"):
        pytest.skip("the checkers are not forked here: the patch would not reach them")
    add_attempt = store.Store.add_attempt

    def store_then_die(self: store.Store, row: store.NewAttempt) -> int:
        attempt = add_attempt(self, row)
        if row.answers.get("linear2.in") == "31":
            os._exit(1)  # committed, then gone before the reply
        return attempt

    monkeypatch.setattr(store.Store, "add_attempt", store_then_die)  # before the checkers fork
    s = Student(make_app())
    s.login("alice")
    r = s.check("net", {"linear2.in": "31"})
    assert r.status_code == 200 and "nothing was saved" not in r.text
    assert re.search(r'class="verdict-row \w+" data-key="linear2.in"', r.text)  # its results
    server = s.client.app.state.server
    assert [a.answers["linear2.in"] for a in server.store.all_attempts()] == ["31"]
    again = s.check("net", {"linear2.in": "32"})  # answered by the checker that replaced it
    assert again.status_code == 200
    assert len(server.store.all_attempts()) == 2


def test_a_form_is_read_as_browsers_send_it_and_a_broken_one_is_a_sentence(
    student: Student,
) -> None:
    url = "/set/homework/layernorm/check"
    twice = f"csrf={student.csrf}&answer:mean=%5B1%2C+1%2C+1%5D&answer:mean=%5B6%2C+3%2C+2%5D"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = student.client.post(url, content=twice, headers=form)
    assert r.status_code == 200  # a name sent twice: its last value, as Starlette reads it
    server = student.client.app.state.server
    assert server.store.all_attempts()[-1].answers["mean"] == "[6, 3, 2]"
    multipart = student.client.post(
        url, data={"csrf": student.csrf, "answer:mean": "[6, 3, 2]"}, files={"x": ("", b"")}
    )
    assert multipart.status_code in (200, 400) and "Traceback" not in multipart.text
    before = len(server.store.all_attempts())
    not_utf8 = student.client.post(
        url, content=f"csrf={student.csrf}&answer:mean=%FF%FE".encode() + b"\xff", headers=form
    )
    many = student.client.post(url, content="&".join(["a=1"] * 500), headers=form)
    for bad in (not_utf8, many):
        assert bad.status_code == 400 and "could not be read" in bad.text
    assert len(server.store.all_attempts()) == before


def test_a_server_failure_is_a_sentence_on_the_page(student: Student) -> None:
    server = student.client.app.state.server
    student.check("net", {"linear2.in": "29"})  # the checker is up: it made its tables already
    with server.store.engine.begin() as c:  # the checker's insert fails: no table to store in
        c.exec_driver_sql("DROP TABLE attempts")
    r = student.check("net", {"linear2.in": "30"})
    assert r.status_code == 500
    assert "The server failed on this request" in r.text
    assert "disk on fire" not in r.text and "Traceback" not in r.text


@pytest.mark.parametrize(("reveal", "shown"), [("after:3", True), ("never", False)])
def test_a_question_answered_in_words_has_no_box_and_its_model_answer_follows_the_policy(
    make_app: Any, reveal: str, shown: bool
) -> None:
    from .conftest import HERE

    s = Student(
        make_app([str(HERE.parents[1] / "problems" / "lecture-normalization.yaml")], reveal=reveal)
    )
    s.login("dana")
    page = s.get("/set/lecture-normalization/why-regularize").text
    assert 'name="answer:' not in page and "explanation in words" in page
    assert ('class="solution"' in page) is shown
    r = s.client.post("/set/lecture-normalization/why-regularize/check", data={"csrf": s.csrf})
    assert r.status_code == 400 and "nothing to check" in r.text


def test_a_check_the_checker_cannot_finish_is_a_sentence_and_not_saved(
    student: Student, monkeypatch
) -> None:
    async def failing(*args: Any, **kwargs: Any) -> dict:  # save_check, when check gave up
        return {"error": "the checker took longer than 10 s"}

    monkeypatch.setattr(student.client.app.state.server, "check", failing)
    r = student.check("net", {"linear2.in": "30"})
    assert r.status_code == 400 and "took longer than 10 s" in r.text
    assert "nothing was saved" in r.text
    assert "No attempts yet" in student.get("/history").text
