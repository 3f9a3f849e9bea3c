"""The checker processes (solver.web.checkers): what a request meets when a checker dies,
overruns or fails (and that the caller hears of it only once that checker is dead, so what
it stored is final), and in what order requests are served."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import pytest

from solver.web.checkers import CheckerBusy, CheckerDied, CheckerFailed, Checkers


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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_request_past_its_deadline_fails_and_its_checker_is_replaced() -> None:
    async def main() -> tuple[list[int], bool, list[int], Any]:
        checkers = Checkers(_ready, 1)
        await checkers.start()
        try:
            before = checkers.pids()
            with pytest.raises(CheckerBusy):
                await checkers.call(_sleep, 5.0, "late", timeout=0.3)
            # heard only once the checker that held it is gone: it can store nothing more
            alive = _alive(before[0])
            # the next request is answered by a fresh checker, never with the stale reply
            value = await checkers.call(_echo, "fresh", timeout=20)
            return before, alive, checkers.pids(), value
        finally:
            await checkers.stop()

    before, alive, after, value = _run(main())
    assert not alive
    assert value == "fresh"
    assert after and after != before


def test_a_request_no_checker_took_by_its_deadline_fails_and_the_busy_checker_goes_on() -> None:
    async def main() -> tuple[float, Any, list[int], list[int]]:
        checkers = Checkers(_ready, 1)
        await checkers.start()
        try:
            before = checkers.pids()
            busy = asyncio.ensure_future(checkers.call(_sleep, 1.5, "done", timeout=20))
            await asyncio.sleep(0.1)
            t0 = time.monotonic()
            with pytest.raises(CheckerBusy):
                await checkers.call(_echo, "waiting", timeout=0.3)
            waited = time.monotonic() - t0
            return waited, await busy, before, checkers.pids()
        finally:
            await checkers.stop()

    waited, value, before, after = _run(main())
    assert waited < 1.2  # failed at its own deadline, not when the checker came free
    assert value == "done" and after == before  # the checker at work was left alone


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
