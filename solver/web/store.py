"""Where the student page keeps students and their attempts: SQLAlchemy, SQLite by default.

Any SQLAlchemy URL works (``postgresql://...`` for a course server). A SQLite
file is opened in WAL mode with ``synchronous=NORMAL``: an attempt is
acknowledged to the student only after its transaction has committed, and a
commit has written the log to the operating system, so a server killed at any
moment (SIGKILL included) loses no acknowledged attempt and the file opens
cleanly on restart (a power cut may lose the last commits: that would take an
fsync per commit, ``FULL``, milliseconds each).

Attempts are written by one thread (:class:`AttemptWriter`): under a class's load
the attempts that arrive while a commit is under way go into the next
transaction together, one commit for many, and each is acknowledged once its
transaction has committed.

Stored per attempt: the student's raw text per key and the checker's full
results (expected values included). The key stays on the server; what a
student is shown of it is decided when a page is rendered (:mod:`solver.reveal`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import queue
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


def _now() -> datetime:
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
            "created": _now(),
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
        #: writers queue here instead, and wake the moment the previous commit is done
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
                        name=name, variant=variant, code_hash=_hash(new_code), created=_now()
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

    def add_attempt(
        self,
        student_id: int,
        problem_set: str,
        problem: str,
        score: float,
        max_score: float,
        answers: dict[str, str],
        results: list[dict[str, Any]],
    ) -> int:
        """Store an attempt; returns its id once committed (only then is it acknowledged)."""
        row = NewAttempt(student_id, problem_set, problem, score, max_score, answers, results)
        return self.add_attempts([row])[0]

    def add_attempts(self, rows: list[NewAttempt]) -> list[int]:
        """Store attempts in one transaction; their ids once it has committed."""
        with self._write() as c:
            return [int(c.execute(_insert, row.values()).inserted_primary_key[0]) for row in rows]

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


class AttemptWriter:
    """The one thread that writes attempts, for the event loop: ``await add(row)`` returns
    the attempt's id once the transaction holding it has committed.

    Why a thread of its own: a thread from the shared pool per attempt means as many
    writers as students checking at once, all queueing on one lock and taking the
    GIL in turn; one writer takes whatever has arrived, writes it in one
    transaction and wakes each waiting request, so under load one commit serves
    many. A transaction that fails is retried attempt by attempt, so that one bad
    row fails only its own request.
    """

    BATCH = 64  # attempts in one transaction at most

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: queue.SimpleQueue[tuple[NewAttempt, asyncio.Future] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def add(self, row: NewAttempt) -> int:
        future = asyncio.get_running_loop().create_future()
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="dlsolve-attempt-writer", daemon=True
                )
                self._thread.start()
        self._queue.put((row, future))
        return await future

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        with self._start_lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join()
                self._thread = None

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:  # stop after this batch
                    self._queue.put(None)
                    break
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[tuple[NewAttempt, asyncio.Future]]) -> None:
        try:
            ids = self.store.add_attempts([row for row, _ in batch])
        except Exception as err:
            if len(batch) == 1:
                _settle(batch[0][1], error=err)
                return
            for item in batch:  # which one failed? each alone, in its own transaction
                self._write([item])
            return
        for (_, future), attempt_id in zip(batch, ids, strict=True):
            _settle(future, value=attempt_id)


def _settle(future: asyncio.Future, value: Any = None, error: BaseException | None = None) -> None:
    """Resolve ``future`` from the writer thread, on its own event loop."""

    def settle() -> None:
        if future.done():  # its request was cancelled: the attempt is stored all the same
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
        future.get_loop().call_soon_threadsafe(settle)
