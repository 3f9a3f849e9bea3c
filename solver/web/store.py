"""Where the student page keeps students and their attempts: SQLAlchemy, SQLite by default.

Any SQLAlchemy URL works (``postgresql://...`` for a course server). A SQLite
file is opened in WAL mode with ``synchronous=NORMAL``: an attempt is
acknowledged to the student only after its transaction has committed, and a
commit has written the log to the operating system, so a server killed at any
moment (SIGKILL included) loses no acknowledged attempt and the file opens
cleanly on restart (a power cut may lose the last commits: that would take an
fsync per commit, ``FULL``, milliseconds each).

An attempt is written by the checker process that checked it, in its own connection,
as the last step of the check (:func:`solver.web.course.save_check`): the checker's
reply is the acknowledgement. Storing the results where they are made spares the web
process the rows, their JSON and a writer thread's hand-overs (a lone student's check
was about 1 ms faster, and the web process's CPU per check halved, measured with
benchmarks/bench_serve.py).

Stored per attempt: the student's raw text per key and the checker's full
results (expected values included). The key stays on the server; what a
student is shown of it is decided when a page is rendered (:mod:`solver.reveal`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

metadata = MetaData()

students = Table(
    "students",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("variant", Integer, nullable=True),
    Column("code_hash", String(64), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("student_id", Integer, ForeignKey("students.id"), nullable=False, index=True),
    Column("problem_set", String(200), nullable=False),
    Column("problem", String(200), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("score", Float, nullable=False),
    Column("max_score", Float, nullable=False),
    Column("answers", Text, nullable=False),  # JSON: key -> the text the student typed
    Column("results", Text, nullable=False),  # JSON: the checker's results, unredacted
)

settings = Table(
    "settings",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("value", Text, nullable=False),
    UniqueConstraint("name"),
)


def now() -> datetime:
    """The time students and attempts are stamped with, in UTC."""
    return datetime.now(timezone.utc)


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


@dataclass(frozen=True)
class Student:
    id: int
    name: str
    variant: int | None


@dataclass(frozen=True)
class Attempt:
    id: int
    student_id: int
    problem_set: str
    problem: str
    created: datetime
    score: float
    max_score: float
    answers: dict[str, str]
    results: list[dict[str, Any]]


@dataclass(frozen=True)
class NewAttempt:
    """An attempt to store: what the student typed and what the checker said of it."""

    student_id: int
    problem_set: str
    problem: str
    score: float
    max_score: float
    answers: dict[str, str]
    results: list[dict[str, Any]]

    def values(self) -> dict[str, Any]:
        return {
            "student_id": self.student_id,
            "problem_set": self.problem_set,
            "problem": self.problem,
            "created": now(),
            "score": self.score,
            "max_score": self.max_score,
            "answers": json.dumps(self.answers, ensure_ascii=False),
            "results": json.dumps(self.results, ensure_ascii=False),
        }


_insert = insert(attempts)


def _attempt(row: Any) -> Attempt:
    return Attempt(
        row.id,
        row.student_id,
        row.problem_set,
        row.problem,
        row.created,
        row.score,
        row.max_score,
        json.loads(row.answers),
        json.loads(row.results),
    )


class Store:
    """Students and attempts in one database; every method is one short transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        sqlite = url.startswith("sqlite")
        #: SQLite lets one writer in at a time and makes the others sleep and retry with
        #: growing pauses (seconds of tail latency under a class's load): this process's
        #: writers queue here instead, and wake the moment the previous commit is done.
        #: Checker processes each write their own attempts, one at a time; between them
        #: SQLite's own wait applies (with 2 checkers under benchmarks/bench_serve.py's 50
        #: students, p99/p50 stays at 2.7 to 3.4)
        self._write_lock = threading.Lock() if sqlite else contextlib.nullcontext()
        self.engine: Engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30} if sqlite else {},
            pool_pre_ping=not sqlite,
        )
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    # ---------------------------------------------------------------- settings

    def secret(self, name: str) -> str:
        """A random secret kept in the database (the session key survives a restart)."""
        with self._tx() as c:
            found = c.execute(select(settings.c.value).where(settings.c.name == name)).scalar()
            if found is not None:
                return found
        value = secrets.token_urlsafe(32)
        try:
            with self._write() as c:
                c.execute(insert(settings).values(name=name, value=value))
        except IntegrityError:  # another worker wrote it first
            pass
        with self._tx() as c:
            return c.execute(select(settings.c.value).where(settings.c.name == name)).scalar_one()

    # ---------------------------------------------------------------- students

    def student(self, student_id: int) -> Student | None:
        with self._tx() as c:
            row = c.execute(select(students).where(students.c.id == student_id)).first()
        return Student(row.id, row.name, row.variant) if row else None

    def claim(self, name: str, code: str | None, variant: int | None) -> tuple[Student, str | None]:
        """The student named ``name``: created with a new personal code (returned) if the name
        is free, else returned if ``code`` is theirs. PermissionError when the code is wrong."""
        with self._tx() as c:
            row = c.execute(select(students).where(students.c.name == name)).first()
        if row is not None:
            if code is None or not hmac.compare_digest(row.code_hash, _hash(code.strip())):
                raise PermissionError(name)
            return Student(row.id, row.name, row.variant), None
        new_code = "-".join(secrets.token_hex(2) for _ in range(3))
        try:
            with self._write() as c:
                sid = c.execute(
                    insert(students).values(
                        name=name, variant=variant, code_hash=_hash(new_code), created=now()
                    )
                ).inserted_primary_key[0]
        except IntegrityError:  # the same name claimed at the same moment elsewhere
            raise PermissionError(name) from None
        return Student(int(sid), name, variant), new_code

    def students(self) -> list[Student]:
        with self._tx() as c:
            rows = c.execute(select(students).order_by(students.c.name)).all()
        return [Student(r.id, r.name, r.variant) for r in rows]

    # ---------------------------------------------------------------- attempts

    def add_attempt(self, row: NewAttempt) -> int:
        """Store an attempt; returns its id once committed (only then is it acknowledged)."""
        with self._write() as c:
            return int(c.execute(_insert, row.values()).inserted_primary_key[0])

    def stored_since(
        self,
        student_id: int,
        problem_set: str,
        problem: str,
        answers: dict[str, str],
        since: datetime,
    ) -> Attempt | None:
        """The student's last attempt at a problem if it has exactly these answers and was stored
        at ``since`` or later: after a checker died or overran holding a check, whether the
        check's attempt was stored before it ended (it is the last thing a check does)."""
        mine = self.attempts_of(student_id, problem_set, problem)
        if not mine or mine[-1].answers != answers:
            return None
        created = mine[-1].created
        if created.tzinfo is None:  # SQLite keeps no offset: every time here is UTC
            created = created.replace(tzinfo=timezone.utc)
        return mine[-1] if created >= since else None

    def attempts_of(
        self, student_id: int, problem_set: str | None = None, problem: str | None = None
    ) -> list[Attempt]:
        """One student's attempts, oldest first (optionally of one problem)."""
        q = select(attempts).where(attempts.c.student_id == student_id)
        if problem_set is not None:
            q = q.where(attempts.c.problem_set == problem_set)
        if problem is not None:
            q = q.where(attempts.c.problem == problem)
        with self._tx() as c:
            return [_attempt(r) for r in c.execute(q.order_by(attempts.c.id)).all()]

    def all_attempts(self) -> list[Attempt]:
        """Every attempt of the class (the instructor's view), oldest first."""
        with self._tx() as c:
            return [_attempt(r) for r in c.execute(select(attempts).order_by(attempts.c.id))]

    def count_attempts(self) -> int:
        with self._tx() as c:
            return int(c.execute(select(func.count()).select_from(attempts)).scalar_one())


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
