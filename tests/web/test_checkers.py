"""The checker processes (solver.web.checkers) and the attempt writer (solver.web.store): what
a request meets when a checker dies, overruns or fails, in what order requests are served,
and that an attempt is acknowledged only once committed, one failure failing one request."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from solver.web.checkers import CheckerBusy, CheckerDied, CheckerFailed, Checkers
from solver.web.store import AttemptWriter, NewAttempt, Store


def _ready() -> None:
    """A checker's start: nothing to load."""


def _echo(x: Any) -> Any:
    return x


def _sleep(seconds: float, x: Any) -> Any:
    time.sleep(seconds)
    return x


def _pid() -> int:
    return os.getpid()


def _sleep_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _fail() -> None:
    raise ValueError("a bug in the checked function")


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_a_call_runs_in_a_checker_process_and_comes_back() -> None:
    async def main() -> tuple[Any, int, list[int]]:
        checkers = Checkers(_ready, 2)
        await checkers.start()
        try:
            value = await checkers.call(_echo, {"x": [1, 2]}, timeout=10)
            pid = await checkers.call(_pid, timeout=10)
            return value, pid, checkers.pids()
        finally:
            await checkers.stop()

    value, pid, pids = _run(main())
    assert value == {"x": [1, 2]}
    assert pid != os.getpid() and pid in pids and len(pids) == 2


def test_a_request_past_its_deadline_fails_and_its_checker_is_replaced() -> None:
    async def main() -> tuple[list[int], list[int], Any]:
        checkers = Checkers(_ready, 1)
        await checkers.start()
        try:
            before = checkers.pids()
            with pytest.raises(CheckerBusy):
                await checkers.call(_sleep, 5.0, "late", timeout=0.3)
            # the next request is answered by a fresh checker, never with the stale reply
            value = await checkers.call(_echo, "fresh", timeout=20)
            return before, checkers.pids(), value
        finally:
            await checkers.stop()

    before, after, value = _run(main())
    assert value == "fresh"
    assert after and after != before


def test_a_checker_that_dies_fails_its_request_and_is_replaced() -> None:
    async def main() -> tuple[int, Any]:
        checkers = Checkers(_ready, 1)
        await checkers.start()
        try:
            (pid,) = checkers.pids()
            call = asyncio.ensure_future(checkers.call(_sleep, 5.0, "never", timeout=20))
            await asyncio.sleep(0.3)
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(CheckerDied):
                await call
            return pid, await checkers.call(_pid, timeout=20)
        finally:
            await checkers.stop()

    dead, new = _run(main())
    assert new != dead


def test_a_bug_in_the_checked_function_is_reported_with_its_traceback() -> None:
    async def main() -> tuple[str, Any]:
        checkers = Checkers(_ready, 1)
        await checkers.start()
        try:
            with pytest.raises(CheckerFailed) as err:
                await checkers.call(_fail, timeout=10)
            return str(err.value), await checkers.call(_echo, 7, timeout=10)
        finally:
            await checkers.stop()

    text, after = _run(main())
    assert "ValueError: a bug in the checked function" in text and "Traceback" in text
    assert after == 7  # the checker goes on


def test_requests_are_served_in_the_order_they_arrived() -> None:
    async def main() -> list[int]:
        checkers = Checkers(_ready, 1)
        await checkers.start()
        done: list[int] = []
        try:
            await checkers.call(_echo, None, timeout=10)  # started

            async def one(i: int) -> None:
                await checkers.call(_sleep, 0.02, i, timeout=30)
                done.append(i)

            tasks = []
            for i in range(8):
                tasks.append(asyncio.ensure_future(one(i)))
                await asyncio.sleep(0.001)  # arrivals in this order
            await asyncio.gather(*tasks)
            return done
        finally:
            await checkers.stop()

    assert _run(main()) == list(range(8))


def test_a_caller_that_gives_up_does_not_lose_the_checker_or_shift_the_replies() -> None:
    async def main() -> list[Any]:
        checkers = Checkers(_ready, 1)
        await checkers.start()
        try:
            slow = asyncio.ensure_future(checkers.call(_sleep, 0.3, "abandoned", timeout=10))
            await asyncio.sleep(0.1)
            slow.cancel()  # the student closed the page while their answer was being read
            return [await checkers.call(_echo, i, timeout=10) for i in range(3)]
        finally:
            await checkers.stop()

    assert _run(main()) == [0, 1, 2]


# --------------------------------------------------------------------------- the attempt writer


def _row(student: int, n: int) -> NewAttempt:
    return NewAttempt(student, "set", f"p{n}", 1.0, 2.0, {"a": str(n)}, [{"key": "a"}])


def test_every_acknowledged_attempt_is_in_the_database_and_many_share_a_commit(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    student, _ = store.claim("ada", None, None)
    writer = AttemptWriter(store)
    transactions: list[int] = []
    add_attempts = store.add_attempts

    def counted(rows: list[NewAttempt]) -> list[int]:
        transactions.append(len(rows))
        time.sleep(0.01)  # a commit that takes a moment: others arrive meanwhile
        return add_attempts(rows)

    store.add_attempts = counted  # type: ignore[method-assign]

    async def main() -> list[int]:
        async def one(n: int) -> int:
            attempt_id = await writer.add(_row(student.id, n))
            # acknowledged: it is committed, so a fresh connection reads it
            fresh = Store(store.url)
            try:
                assert any(a.id == attempt_id for a in fresh.attempts_of(student.id))
            finally:
                fresh.close()
            return attempt_id

        return list(await asyncio.gather(*(one(n) for n in range(40))))

    try:
        ids = _run(main())
    finally:
        writer.stop()
    assert len(set(ids)) == 40 and store.count_attempts() == 40
    assert sum(transactions) == 40 and len(transactions) < 40  # commits were shared
    store.close()


def test_an_attempt_that_cannot_be_stored_fails_only_its_own_request(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    student, _ = store.claim("ada", None, None)
    writer = AttemptWriter(store)
    add_attempts = store.add_attempts

    def picky(rows: list[NewAttempt]) -> list[int]:
        time.sleep(0.01)
        if any(r.problem == "p3" for r in rows):
            raise RuntimeError("disk on fire")
        return add_attempts(rows)

    store.add_attempts = picky  # type: ignore[method-assign]

    async def main() -> list[Any]:
        return list(
            await asyncio.gather(
                *(writer.add(_row(student.id, n)) for n in range(8)), return_exceptions=True
            )
        )

    try:
        out = _run(main())
    finally:
        writer.stop()
    assert isinstance(out[3], RuntimeError)
    assert all(isinstance(x, int) for i, x in enumerate(out) if i != 3)
    assert sorted(a.problem for a in store.all_attempts()) == [f"p{n}" for n in range(8) if n != 3]
    store.close()


def test_a_student_keeps_to_one_checker_while_it_is_free_and_no_checker_idles() -> None:
    async def main() -> tuple[list[int], int, int]:
        checkers = Checkers(_ready, 2)
        await checkers.start()
        try:
            alone = [await checkers.call(_pid, timeout=10, who="ada") for _ in range(6)]
            # while ada's checker is busy with a slow request, her next one goes to the
            # other checker rather than wait
            slow = asyncio.ensure_future(checkers.call(_sleep_pid, 0.5, timeout=10, who="ada"))
            await asyncio.sleep(0.1)
            quick = await checkers.call(_pid, timeout=10, who="ada")
            busy = slow.done()
            return alone, quick, await slow if not busy else -1
        finally:
            await checkers.stop()

    alone, quick, slow = _run(main())
    assert len(set(alone)) == 1  # the same checker each time: its memo of ada's answers
    assert slow == alone[0] and quick != slow  # answered by the free one, while slow ran


def test_requests_of_many_students_at_once_are_all_answered() -> None:
    async def main() -> list[int]:
        checkers = Checkers(_ready, 2)
        await checkers.start()
        order: list[int] = []
        try:

            async def one(i: int) -> None:
                await checkers.call(_sleep, 0.01, i, timeout=30, who=i % 5)
                order.append(i)

            tasks = []
            for i in range(30):
                tasks.append(asyncio.ensure_future(one(i)))
                await asyncio.sleep(0.001)
            await asyncio.gather(*tasks)
            return order
        finally:
            await checkers.stop()

    assert sorted(_run(main())) == list(range(30))  # none lost to the students' checkers
