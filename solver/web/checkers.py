"""The checker processes: warm, long-lived, and reached from the event loop without threads.

A check is one request to one of ``size`` checker processes (each holds the course and
its answer keys, see :func:`solver.web.course.start_checker`, and reads answers in its
own sandboxed :class:`solver.sandbox.Worker`). Why not ``concurrent.futures``'
process pool: it hands each call over through a management thread and a queue
feeder thread, and every hand-over waits for the GIL behind the event loop
(measured: about 1.5 ms of a lone student's 6 ms check, and more under load). Here
each checker is one socket pair: the event loop writes the request and is woken by
the reply, nothing else runs in between.

Scheduling (:class:`_Queue`): requests wait in one queue, first come, first served:
with one check in flight per student, that is what keeps a class's latencies
tight, every check waiting for the work of the checks ahead of it alike. Serving
predicted-cheap checks first (a "fast path") was simulated on the benchmark's
class (50 students, the 22-answer model-size problem ten times dearer than the
rest): p50 falls to a few ms but the dear checks then wait behind every cheap one,
and p99/p50 grows from about 7 to over 100; serving the dear ones first fares no
better. What makes the tail is the dear checks themselves, so the one liberty the
queue takes is to make them cheaper: a free checker takes the oldest request of a
student it served last (or of a new student) before older requests of students
whose own checker is free to take them, because a checker's reader keeps the
problem re-solved from that student's wrong answers (errors carried forward,
misconceptions), and their next check, usually the same answers with one or two
changed, finds most of that work done (while that memo, 512 re-solves a problem,
still holds it: under a class of 50 checking the same problem it is refilled
between one student's checks).

Failures: a checker that dies is replaced and the request it held fails with
:class:`CheckerDied`; a request not answered by its deadline fails with
:class:`CheckerBusy`, and if a checker was working on it that checker is killed and
replaced (its sandboxed reader dies with it), so no stale reply is ever read. Either
way the caller hears of the failure only once the process that held its request is
dead, so what that process stored (a check stores its attempt) is final by then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import pickle
import signal
import socket
import struct
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..sandbox import die_with_parent

log = logging.getLogger("dlsolve.serve")
FRAME = struct.Struct("!I")  # a message is its length, then its pickle
RESTART_PAUSE = 1.0  # seconds between attempts to start a checker that would not start


class CheckerDied(Exception):
    """The checker process ended while it held the request (it has been replaced)."""


class CheckerBusy(Exception):
    """The request was not answered before its deadline (a checker on it was replaced)."""


class CheckerFailed(Exception):
    """The checked function raised in the checker: a bug, logged with its traceback."""


# --------------------------------------------------------------------------- the checker's side


def _receive(sock: socket.socket) -> Any:
    (n,) = FRAME.unpack(_exactly(sock, FRAME.size))
    return pickle.loads(_exactly(sock, n))


def _exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def checker_main(sock: socket.socket, start: Callable[[], None]) -> None:
    """A checker process: ``start()`` (the course, warm), then ``(fn, args)`` requests one at
    a time, each answered ``("ok", result)`` or ``("failed", traceback)``."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's: it stops us
    start()
    while True:
        try:
            fn, args = _receive(sock)
        except (EOFError, OSError):
            return
        try:
            data = pickle.dumps(("ok", fn(*args)), pickle.HIGHEST_PROTOCOL)
        except Exception:  # the function failed, or its result cannot be sent
            data = pickle.dumps(("failed", traceback.format_exc()), pickle.HIGHEST_PROTOCOL)
        try:
            sock.sendall(FRAME.pack(len(data)) + data)
        except OSError:
            return


# --------------------------------------------------------------------------- the server's side


@dataclass
class _Job:
    """One request waiting for a checker (``data``: the pickled call); ``who`` (a student)
    for the checker it goes to."""

    data: bytes
    deadline: float
    future: asyncio.Future
    who: Any = None
    started: bool = False  # a checker has it: only that checker settles it from now on


class _Queue:
    """The waiting requests, oldest first. Checker ``i`` takes the oldest request it may:
    one whose student it served last, or who has no checker yet, or whose checker is busy;
    so a student keeps to their checker while it is free, and no checker waits while a
    request does."""

    def __init__(self, size: int) -> None:
        self._jobs: list[_Job] = []
        self._ready = asyncio.Event()
        self._busy = [False] * size
        self._home: dict[Any, int] = {}  # student -> the checker that served them last

    def put(self, job: _Job) -> None:
        self._jobs.append(job)
        self._ready.set()

    async def get(self, i: int) -> _Job:
        self._busy[i] = False
        while True:
            self._jobs = [j for j in self._jobs if not j.future.done()]  # callers gone
            job = next((j for j in self._jobs if self._mine(j, i)), None)
            if job is not None:
                self._jobs.remove(job)
                self._busy[i] = True
                if job.who is not None:
                    self._home[job.who] = i
                if self._jobs:  # this checker is busy now: what was left for it may not be
                    self._ready.set()
                return job
            self._ready.clear()
            await self._ready.wait()

    def _mine(self, job: _Job, i: int) -> bool:
        home = self._home.get(job.who) if job.who is not None else None
        return home is None or home == i or self._busy[home]


class _Process:
    """One checker process and the stream to it."""

    def __init__(self, proc: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.proc, self.reader, self.writer = proc, reader, writer

    async def call(self, data: bytes) -> tuple[str, Any]:
        self.writer.write(FRAME.pack(len(data)) + data)
        await self.writer.drain()
        (n,) = FRAME.unpack(await self.reader.readexactly(FRAME.size))
        return pickle.loads(await self.reader.readexactly(n))

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.writer.close()
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=2)


class Checkers:
    """``size`` checker processes started with ``start()`` in each; :meth:`call` runs a
    function in one of them, from the event loop."""

    def __init__(self, start: Callable[[], None], size: int) -> None:
        self.start_fn, self.size = start, max(1, size)
        methods = multiprocessing.get_all_start_methods()
        self._ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self._queue: _Queue | None = None
        self._tasks: list[asyncio.Task] = []
        self._procs: list[_Process | None] = []

    def pids(self) -> list[int]:
        """The checker processes' ids (for tests that kill one)."""
        return [p.proc.pid for p in self._procs if p is not None]

    async def start(self) -> None:
        """Start the processes (they warm up on their own; requests queue meanwhile)."""
        if self._tasks:
            return
        self._queue = _Queue(self.size)
        self._procs = [None] * self.size
        for i in range(self.size):
            self._procs[i] = await self._spawn()
            self._tasks.append(asyncio.create_task(self._serve(i)))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []
        for p in self._procs:
            if p is not None:
                p.kill()
        self._procs = []
        self._queue = None

    async def call(
        self, fn: Callable[..., Any], *args: Any, timeout: float, who: Any = None
    ) -> Any:
        """``fn(*args)`` in a checker, within ``timeout`` seconds from now (waiting included);
        ``who`` (a student's id) keeps a student's requests on one checker where it can."""
        if not self._tasks:
            await self.start()
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        deadline = loop.time() + timeout
        data = pickle.dumps((fn, args), pickle.HIGHEST_PROTOCOL)  # here, so a bad call fails here
        job = _Job(data, deadline, future, who)
        self._queue.put(job)
        expire = loop.call_at(deadline, _expire, job)
        try:
            status, value = await future
        finally:
            expire.cancel()
        if status == "failed":
            raise CheckerFailed(value)
        return value

    async def _spawn(self) -> _Process:
        parent, child = socket.socketpair()
        try:
            # not a daemon: a checker has children of its own (its sandboxed readers)
            proc = self._ctx.Process(
                target=checker_main, args=(child, self.start_fn), name="dlsolve-checker"
            )
            proc.start()
        finally:
            child.close()
        reader, writer = await asyncio.open_connection(sock=parent)
        return _Process(proc, reader, writer)

    async def _serve(self, i: int) -> None:
        """Checker ``i``'s loop: take the next request, run it, replace the process if it died
        or overran."""
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            job = await self._queue.get(i)
            proc = self._procs[i]
            while proc is None:
                try:
                    proc = self._procs[i] = await self._spawn()
                except OSError as err:  # no process to be had now (a process limit)
                    log.error("could not start a checker: %s", err)
                    await asyncio.sleep(RESTART_PAUSE)
            left = job.deadline - loop.time()
            if left <= 0:
                _expire(job)
                continue
            job.started = True
            try:
                reply = await asyncio.wait_for(proc.call(job.data), left)
            except asyncio.TimeoutError:
                self._replace(i)  # dead before the caller hears: what it stored is final
                if not job.future.done():
                    job.future.set_exception(CheckerBusy())
                continue
            except (EOFError, OSError, asyncio.IncompleteReadError, pickle.UnpicklingError):
                self._replace(i)
                if not job.future.done():
                    job.future.set_exception(CheckerDied())
                continue
            except Exception as err:  # anything else: this request fails, the loop goes on
                self._replace(i)
                if not job.future.done():
                    job.future.set_exception(err)
                continue
            if job.future.done():  # its caller gave up while the checker worked: that is fine
                continue
            job.future.set_result(reply)

    def _replace(self, i: int) -> None:
        """Kill checker ``i``; the next request it takes starts a fresh one."""
        proc = self._procs[i]
        self._procs[i] = None
        if proc is not None:
            log.warning("checker %d (pid %s) replaced", i, proc.proc.pid)
            proc.kill()


def _expire(job: _Job) -> None:
    """A request still waiting at its deadline fails with :class:`CheckerBusy`. One a checker
    has started is left to that checker's own deadline in :meth:`Checkers._serve`, which
    kills the process before failing the request: so when a caller hears of a failure, the
    checker can no longer change anything (it may store an attempt, see
    :func:`solver.web.course.save_check`)."""
    if not job.started and not job.future.done():
        job.future.set_exception(CheckerBusy())
