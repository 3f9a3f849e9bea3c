"""The student page's routes (Starlette): who may see what, and nothing else.

Every route is a thin step between a request and dlsolve's own API: the
problem pages come from :mod:`solver.web.course` (load and solve), a check
runs :meth:`solver.check.AnswerKey.check` in a checker process, what the student
is shown of the key follows :mod:`solver.reveal`, attempts are kept by
:mod:`solver.web.store`.

Security, in one place:

* the session cookie is signed (its key is kept in the database, so sessions
  survive a restart); the only student a request can read is the session's;
* every form and the preview endpoint carry the session's CSRF token;
* a request body over :data:`MAX_BODY` bytes, or an answer box over
  :data:`~solver.web.course.MAX_ANSWER_CHARS` characters, is refused with a sentence;
* student text is read only in checker processes, under the parser's limits and
  the checker's time limit;
* any failure is a page with one clear sentence, never a traceback.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hmac
import io
import json
import logging
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..check import Result
from ..errors import DlsolveError
from ..reveal import Mode, Reveal, redact_result
from . import STATIC_DIR
from .checkers import CheckerBusy, CheckerDied, CheckerFailed, Checkers
from .course import (
    MAX_ANSWER_CHARS,
    NAME_RE,
    Config,
    Course,
    preview_in_worker,
    save_check,
    start_checker,
)
from .store import Attempt, Store, Student, now

MAX_BODY = 256_000  # bytes of one request body
MAX_FIELDS = 400  # fields of one form
CHECK_DEADLINE = 60.0  # seconds a check may wait for a checker process in all
HINTS = 2  # hint k unlocks after k attempts
log = logging.getLogger("dlsolve.serve")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


class PageError(Exception):
    """A request that cannot be served: one sentence for the page, and a status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class Server:
    """What the routes share: the course, the policy, the store and the checkers."""

    course: Course
    reveal: Reveal
    store: Store
    instructor_token: str | None
    checkers: Checkers
    students: dict[int, Student] = field(default_factory=dict)
    lms_files: dict[str, tuple[str, str]] = field(default_factory=dict)  # token: (name, CSV)

    async def run(self, fn: Callable[..., Any], *args: Any, who: Any = None) -> Any:
        """``fn(*args)`` in a checker process (``who``: the student, whom the checkers keep
        to one of them where they can); a checker that died or overran is replaced, and
        nothing it was doing was saved (:meth:`check` looks, since a check saves)."""
        try:
            return await self._call(fn, *args, who=who)
        except (CheckerDied, CheckerBusy) as lost:
            raise _lost(lost) from None

    async def check(
        self, sid: str, pid: str, student: Student, answers: dict[str, str]
    ) -> dict[str, Any]:
        """Check and store an attempt (:func:`save_check`, in a checker): ``{score, ...}``
        once it is committed, or ``{error}`` with nothing stored. If the checker died or
        overran on it, it is dead by now, and the attempt is acknowledged if it was stored
        before that after all; else the page says that nothing was saved."""
        since = now()
        try:
            return await self._call(
                save_check, sid, student.variant, pid, student, answers, who=student.id
            )
        except (CheckerDied, CheckerBusy) as lost:
            stored = await run_in_threadpool(
                self.store.stored_since, student.id, sid, pid, answers, since
            )
            if stored is None:
                raise _lost(lost) from None
            return {"score": stored.score, "attempt": stored.id}

    async def _call(self, fn: Callable[..., Any], *args: Any, who: Any) -> Any:
        """``fn(*args)`` in a checker; a bug in it is this server's failure (logged)."""
        try:
            return await self.checkers.call(fn, *args, timeout=CHECK_DEADLINE, who=who)
        except CheckerFailed as err:
            raise RuntimeError(f"the checker failed:\n{err}") from None


def _lost(error: CheckerDied | CheckerBusy) -> PageError:
    """The page's sentence for a request no checker answered (nothing of it was saved)."""
    if isinstance(error, CheckerDied):
        return PageError(
            "The checker stopped while reading this answer and has been restarted; "
            "nothing was saved. Please try again.",
            503,
        )
    return PageError("The checker is busy; nothing was saved. Please try again.", 503)


def create_app(
    paths: list[str] | tuple[str, ...],
    *,
    db: str = "sqlite:///dlsolve.db",
    reveal: Reveal | str = "after:3",
    variants_dir: str | None = None,
    draw: int = 0,
    seed: int = 0,
    instructor_token: str | None = None,
    workers: int = 1,
    timeout: float = 1.0,
) -> Starlette:
    """The student page for the problem files ``paths`` (DlsolveError if unusable)."""
    policy = reveal if isinstance(reveal, Reveal) else Reveal.parse(reveal)
    config = Config(tuple(map(str, paths)), variants_dir, draw, seed, timeout, db)
    course = Course(config)
    for sid in course.files:  # fail at start, not on a student's first page
        course.view(sid, None)
    try:
        store = Store(db)
    except (SQLAlchemyError, ImportError, OSError) as err:  # a bad URL, a missing driver, ...
        raise DlsolveError(
            f"cannot open the database ({type(err).__name__}: {err})", field="--db"
        ) from None
    checkers = Checkers(functools.partial(start_checker, config), workers)
    server = Server(course, policy, store, instructor_token or None, checkers)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await checkers.start()
        try:
            yield
        finally:
            await checkers.stop()
            store.close()

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/history", history, methods=["GET"]),
        Route("/set/{sid}/{pid}", problem_page, methods=["GET"]),
        Route("/set/{sid}/{pid}/check", check_answers, methods=["POST"]),
        Route("/api/preview", preview, methods=["POST"]),
        Route("/instructor", instructor, methods=["GET"]),
        Route("/instructor/login", instructor_login, methods=["POST"]),
        Route("/instructor/export.csv", instructor_csv, methods=["GET"]),
        Route("/instructor/lms", instructor_lms, methods=["POST"]),
        Route("/instructor/lms/{token}.csv", instructor_lms_csv, methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=store.secret("session-key"),
                session_cookie="dlsolve_session",
                same_site="strict",
                max_age=60 * 60 * 24 * 120,
            ),
        ],
        exception_handlers={
            PageError: page_error,
            HTTPException: http_error,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    app.state.server = server
    return app


# --------------------------------------------------------------------------- helpers


def _server(request: Request) -> Server:
    return request.app.state.server


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


def _check_csrf(request: Request, sent: Any) -> None:
    token = request.session.get("csrf")
    if not token or not isinstance(sent, str) or not hmac.compare_digest(token, sent):
        raise PageError(
            "This form has expired (or did not come from this page). Reload the page and "
            "try again.",
            403,
        )


async def _form(request: Request) -> Mapping[str, Any]:
    """The posted form's fields (a name sent twice: its last value), after the CSRF check.

    A page's own form comes URL-encoded, and is read here with :func:`urllib.parse.parse_qsl`:
    Starlette's streaming parser (python-multipart, a callback per field) took a third of
    the web process's time on a check of 40 boxes. Anything else goes to Starlette."""
    size = request.headers.get("content-length")
    if size is None or not size.isdigit() or int(size) > MAX_BODY:
        raise PageError(f"This request is too large (the limit is {MAX_BODY // 1000} kB).", 413)
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            text = (await request.body()).decode()
            form: Mapping[str, Any] = dict(
                parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
            )
        except (UnicodeDecodeError, ValueError):  # not UTF-8, or more fields than any page has
            raise PageError("This form could not be read; reload the page and try again.") from None
    else:
        form = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_BODY)
    _check_csrf(request, form.get("csrf"))
    return form


async def _student(request: Request) -> Student:
    server = _server(request)
    sid = request.session.get("student")
    student = server.students.get(sid) if sid else None
    if student is None and sid:
        student = await run_in_threadpool(server.store.student, sid)
        if student is not None:  # a student's row never changes: remember it
            server.students[sid] = student
    if student is None:
        raise PageError("Please name yourself first, on the front page.", 401)
    return student


def _page(request: Request, name: str, http_status: int = 200, **context: Any) -> Response:
    context.setdefault("student_name", request.session.get("name"))
    response = TEMPLATES.TemplateResponse(
        request, name, {"csrf": _csrf(request), **context}, status_code=http_status
    )
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self'; frame-ancestors 'none'; form-action 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def _solved(attempts: list[Attempt]) -> bool:
    return any(a.results and all(r["verdict"] == "correct" for r in a.results) for a in attempts)


def _as_result(d: dict[str, Any]) -> Result:
    return Result(
        d["problem"],
        d["key"],
        d["verdict"],
        Fraction(str(d["points"])),
        Fraction(str(d["max_points"])),
        d.get("expected"),
        d.get("given"),
        d.get("feedback", ""),
        d.get("misconception"),
    )


def shown_results(results: list[dict[str, Any]], revealed: bool) -> list[dict[str, Any]]:
    """The results as the student may see them now (:func:`solver.reveal.redact_result`)."""
    out = []
    for d in results:
        r = _as_result(d) if revealed else redact_result(_as_result(d))
        out.append(
            {
                "key": r.key,
                "verdict": r.verdict,
                "points": d["points"],
                "max_points": d["max_points"],
                "feedback": r.feedback,
                "misconception": r.misconception,
                "given": d.get("given"),
            }
        )
    return out


# --------------------------------------------------------------------------- student pages


async def index(request: Request) -> Response:
    server = _server(request)
    sid = request.session.get("student")
    student = await run_in_threadpool(server.store.student, sid) if sid else None
    if student is None:
        request.session.pop("student", None)
        return _page(request, "login.html", title="Name yourself")
    views = [
        await run_in_threadpool(server.course.view, s, student.variant) for s in server.course.files
    ]
    mine = await run_in_threadpool(server.store.attempts_of, student.id)
    status: dict[tuple[str, str], dict[str, Any]] = {}
    for a in mine:
        st = status.setdefault((a.problem_set, a.problem), {"attempts": 0, "best": 0.0})
        st["attempts"] += 1
        st["best"] = max(st["best"], a.score)
    return _page(
        request,
        "index.html",
        title="Problem sets",
        sets=views,
        status=status,
        variant=student.variant,
        code=request.session.get("code"),
        reveal=str(server.reveal),
    )


async def login(request: Request) -> Response:
    server = _server(request)
    form = await _form(request)
    name = " ".join(str(form.get("name", "")).split())
    code = str(form.get("code", "")).strip() or None
    if not NAME_RE.fullmatch(name):
        raise PageError(
            "A name is 1 to 60 letters, digits, spaces, dots, apostrophes or hyphens, "
            "starting with a letter or digit."
        )
    try:
        student, new_code = await run_in_threadpool(
            server.store.claim, name, code, server.course.variant_for(name)
        )
    except PermissionError:
        raise PageError(
            f"The name {name!r} is already taken. If it is yours, type the personal code "
            "you were given with it; otherwise choose another name.",
            403,
        ) from None
    request.session.clear()
    request.session.update(
        {"student": student.id, "name": student.name, "csrf": secrets.token_urlsafe(24)}
    )
    if new_code:
        request.session["code"] = new_code
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    await _form(request)
    request.session.clear()
    return RedirectResponse("/", status_code=303)


async def _problem_async(server: Server, sid: str, variant: int | None, pid: str) -> Any:
    """:func:`_problem`, in a thread only the first time (building a view solves the set)."""
    if (sid, variant) in server.course.cached_views:
        return _problem(server, sid, variant, pid)
    return await run_in_threadpool(_problem, server, sid, variant, pid)


def _problem(server: Server, sid: str, variant: int | None, pid: str) -> Any:
    if sid not in server.course.files:
        raise PageError("There is no such problem set.", 404)
    view = server.course.view(sid, variant)
    if pid not in view.problems:
        raise PageError("There is no such problem in this set.", 404)
    return view, view.problems[pid]


def _hint_math_ok(server: Server, problem: Any, revealed: bool) -> bool:
    """Whether hint 1 may show the first step's maths (not only its sentence): never under
    ``never``; else only when it shows none of the asked answers."""
    if revealed:
        return True
    if server.reveal.mode is Mode.NEVER or problem.first_step is None:
        return False
    return not problem.first_step_tells


async def problem_page(request: Request) -> Response:
    server = _server(request)
    student = await _student(request)
    sid, pid = request.path_params["sid"], request.path_params["pid"]
    view, problem = await _problem_async(server, sid, student.variant, pid)
    attempts = await run_in_threadpool(server.store.attempts_of, student.id, sid, pid)
    revealed = server.reveal.allows(len(attempts), _solved(attempts))
    if not problem.boxes and server.reveal.mode is Mode.AFTER:
        revealed = True  # a question answered in words: nothing to attempt, the model answer
    last = attempts[-1] if attempts else None
    unlocked = HINTS if server.reveal.mode is Mode.ALWAYS else min(len(attempts), HINTS)
    ids = list(view.problems)
    i = ids.index(pid)
    return _page(
        request,
        "problem.html",
        title=problem.title or problem.id,
        set=view,
        problem=problem,
        results=shown_results(last.results, revealed) if last else None,
        last=last,
        attempts=len(attempts),
        typed=last.answers if last else {},
        revealed=revealed,
        solution=view.keys[pid] if revealed else None,
        hints_unlocked=unlocked,
        made={r["misconception"] for a in attempts for r in a.results if r.get("misconception")},
        hint_math=_hint_math_ok(server, problem, revealed),
        hints=HINTS,
        reveal=server.reveal,
        prev_id=ids[i - 1] if i > 0 else None,
        next_id=ids[i + 1] if i + 1 < len(ids) else None,
    )


async def check_answers(request: Request) -> Response:
    server = _server(request)
    form = await _form(request)
    student = await _student(request)
    sid, pid = request.path_params["sid"], request.path_params["pid"]
    _, problem = await _problem_async(server, sid, student.variant, pid)
    if not problem.boxes:
        raise PageError("This question is answered in words; there is nothing to check.")
    answers: dict[str, str] = {}
    for box in problem.boxes:
        text = str(form.get(f"answer:{box.key}", ""))
        if len(text) > MAX_ANSWER_CHARS:
            raise PageError(
                f"The answer for {box.key} is longer than {MAX_ANSWER_CHARS} characters; "
                "nothing was saved."
            )
        answers[box.key] = text
    outcome = await server.check(sid, pid, student, answers)  # committed, or an error
    if "error" in outcome:
        why = outcome["error"]
        raise PageError(f"Your answers could not be checked ({why}); nothing was saved.")
    if request.headers.get("accept", "").startswith("application/json"):
        return JSONResponse({"saved": True, "score": outcome["score"]})
    return RedirectResponse(f"/set/{sid}/{pid}#results", status_code=303)


async def preview(request: Request) -> Response:
    server = _server(request)
    size = request.headers.get("content-length")
    if size is None or not size.isdigit() or int(size) > MAX_BODY:
        return JSONResponse({"ok": False, "error": "This answer is too long to read."}, 413)
    _check_csrf(request, request.headers.get("x-csrf-token"))
    student = await _student(request)
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return JSONResponse({"ok": False, "error": "The request was not JSON."}, 400)
    if not isinstance(body, dict) or not all(
        isinstance(body.get(k), str) for k in ("set", "problem", "key", "text")
    ):
        return JSONResponse(
            {"ok": False, "error": "The request lacks set, problem, key or text."}, 400
        )
    if len(body["text"]) > MAX_ANSWER_CHARS:
        return JSONResponse(
            {"ok": False, "error": f"An answer is at most {MAX_ANSWER_CHARS} characters."}
        )
    await _problem_async(server, body["set"], student.variant, body["problem"])
    out = await server.run(
        preview_in_worker,
        *(body["set"], student.variant, body["problem"], body["key"], body["text"]),
        who=student.id,
    )
    return JSONResponse(out)


async def history(request: Request) -> Response:
    server = _server(request)
    student = await _student(request)
    mine = await run_in_threadpool(server.store.attempts_of, student.id)
    by_problem: dict[tuple[str, str], list[Attempt]] = {}
    for a in mine:
        by_problem.setdefault((a.problem_set, a.problem), []).append(a)
    rows = []
    for a in reversed(mine):
        group = by_problem[a.problem_set, a.problem]
        revealed = server.reveal.allows(len(group), _solved(group))
        rows.append({"attempt": a, "results": shown_results(a.results, revealed)})
    return _page(request, "history.html", title="Your attempts", rows=rows)


# --------------------------------------------------------------------------- instructor


def _instructor(request: Request) -> Server:
    server = _server(request)
    if server.instructor_token is None:
        raise PageError(
            "The instructor's view is off (start the server with --instructor-token).", 404
        )
    return server


async def instructor_login(request: Request) -> Response:
    server = _instructor(request)
    form = await _form(request)
    token = str(form.get("token", ""))
    assert server.instructor_token is not None
    if not hmac.compare_digest(token.encode(), server.instructor_token.encode()):
        raise PageError("That is not the instructor's token.", 403)
    request.session["instructor"] = True
    return RedirectResponse("/instructor", status_code=303)


def class_summary(server: Server) -> dict[str, Any]:
    """Scores per student (their best attempt per problem), per-key share correct (over each
    student's latest attempt), the most frequent misconceptions (over all attempts)."""
    students = server.store.students()
    attempts = server.store.all_attempts()
    names = {s.id: s for s in students}
    best: dict[tuple[int, str, str], float] = {}
    latest: dict[tuple[int, str, str], Attempt] = {}
    count: Counter[int] = Counter()
    mistakes: Counter[tuple[str, str, str]] = Counter()
    for a in attempts:
        k = (a.student_id, a.problem_set, a.problem)
        best[k] = max(best.get(k, 0.0), a.score)
        latest[k] = a
        count[a.student_id] += 1
        for r in a.results:
            if r.get("misconception"):
                mistakes[a.problem, r["key"], r["misconception"]] += 1
    top = {
        (sid, p.id): p.max_points
        for sid in server.course.files
        for p in server.course.view(sid, None).problems.values()
    }
    max_total = sum(top.values())
    rows = []
    for s in students:
        score = sum(v for (st, _, _), v in best.items() if st == s.id)
        rows.append({"name": s.name, "variant": s.variant, "attempts": count[s.id], "score": score})
    keys: dict[tuple[str, str, str], list[int]] = {}
    for (_, sid, pid), a in latest.items():
        for r in a.results:
            tally = keys.setdefault((sid, pid, r["key"]), [0, 0])
            tally[0] += r["verdict"] == "correct"
            tally[1] += 1
    per_key = [
        {"set": sid, "problem": pid, "key": k, "correct": c, "of": n, "share": c / n}
        for (sid, pid, k), (c, n) in sorted(keys.items())
    ]
    return {
        "students": rows,
        "max_total": max_total,
        "per_key": per_key,
        "mistakes": [
            {"problem": p, "key": k, "name": name, "count": n}
            for (p, k, name), n in mistakes.most_common(15)
        ],
        "latest": latest,
        "names": names,
    }


async def instructor(request: Request) -> Response:
    server = _instructor(request)
    if not request.session.get("instructor"):
        return _page(request, "instructor_login.html", title="Instructor")
    summary = await run_in_threadpool(class_summary, server)
    return _page(request, "instructor.html", title="The class", summary=summary)


async def instructor_csv(request: Request) -> Response:
    server = _instructor(request)
    if not request.session.get("instructor"):
        raise PageError("Sign in as the instructor first, on /instructor.", 401)
    summary = await run_in_threadpool(class_summary, server)
    latest: dict[tuple[int, str, str], Attempt] = summary["latest"]
    columns = sorted(
        {(sid, pid, r["key"]) for (_, sid, pid), a in latest.items() for r in a.results}
    )
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            "student",
            "variant",
            "attempts",
            "score",
            "max_score",
            *[f"{s}/{p}/{k}" for s, p, k in columns],
        ]
    )
    for s, row in zip(summary["names"].values(), summary["students"], strict=True):
        got = {
            (sid, pid, r["key"]): r["points"]
            for (st, sid, pid), a in latest.items()
            if st == s.id
            for r in a.results
        }
        w.writerow(
            [
                row["name"],
                "" if row["variant"] is None else row["variant"],
                row["attempts"],
                row["score"],
                summary["max_total"],
                *[got.get(c, "") for c in columns],
            ]
        )
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="dlsolve-class.csv"'},
    )


MAX_ROSTER = 4_000_000  # bytes of an uploaded roster (a large course's full gradebook export)
LMS_FILES_KEPT = 16  # LMS files ready to download at once (the newest)


async def instructor_lms(request: Request) -> Response:
    """The class's scores as Canvas or Moodle imports them (:mod:`solver.lms`), matched to
    the roster the instructor uploads: a page with what did not match, and the file."""
    from .. import lms

    server = _instructor(request)
    if not request.session.get("instructor"):
        raise PageError("Sign in as the instructor first, on /instructor.", 401)
    size = request.headers.get("content-length")
    if size is None or not size.isdigit() or int(size) > MAX_ROSTER:
        raise PageError(
            f"This roster is too large (the limit is {MAX_ROSTER // 1_000_000} MB).", 413
        )
    form = await request.form(max_files=1, max_fields=10, max_part_size=MAX_BODY)
    _check_csrf(request, form.get("csrf"))
    upload, which = form.get("roster"), str(form.get("lms", ""))
    if isinstance(upload, str) or upload is None or not upload.filename:
        raise PageError("Choose the roster file exported from the LMS.")
    if which not in {m.value for m in lms.Lms}:
        raise PageError("Choose Canvas or Moodle.")
    raw = await upload.read(MAX_ROSTER + 1)
    summary = await run_in_threadpool(class_summary, server)
    scores = [
        lms.Score(row["name"], "the student page", row["score"])
        for row in summary["students"]
        if row["attempts"]
    ]
    try:
        roster = lms.roster_from_bytes(raw, Path(upload.filename).name, which)
        made = lms.export(
            roster, scores, str(form.get("assignment", "")) or "dlsolve", summary["max_total"]
        )
    except DlsolveError as err:
        raise PageError(str(err)) from None
    token = secrets.token_urlsafe(16)
    server.lms_files[token] = (f"dlsolve-{which}.csv", made.text)
    while len(server.lms_files) > LMS_FILES_KEPT:
        server.lms_files.pop(next(iter(server.lms_files)))
    return _page(
        request,
        "instructor_lms.html",
        title=f"Grades for {roster.lms.label}",
        lms=roster.lms.label,
        made=made,
        href=f"/instructor/lms/{token}.csv",
    )


async def instructor_lms_csv(request: Request) -> Response:
    server = _instructor(request)
    if not request.session.get("instructor"):
        raise PageError("Sign in as the instructor first, on /instructor.", 401)
    found = server.lms_files.get(request.path_params["token"])
    if found is None:
        raise PageError("This file is no longer kept; upload the roster again.", 404)
    name, text = found
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --------------------------------------------------------------------------- failures


async def page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"ok": False, "error": exc.message}, exc.status)
    return _page(
        request, "error.html", exc.status, title="Something went wrong", message=exc.message
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "There is no such page." if exc.status_code == 404 else str(exc.detail)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"ok": False, "error": message}, exc.status_code)
    return _page(
        request, "error.html", exc.status_code, title="Something went wrong", message=message
    )


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("request %s failed", request.url.path, exc_info=exc)
    message = (
        "The server failed on this request (it is logged); nothing was saved. Please try again."
    )
    if request.url.path.startswith("/api/"):
        return JSONResponse({"ok": False, "error": message}, 500)
    return _page(request, "error.html", 500, title="Something went wrong", message=message)
