"""A worker process for the slow, symbolic path of checking, stopped when it runs over time.

Deciding whether two formulas are equal can keep sympy busy for as long as a
hostile answer likes (expand ``(x+1)^1000·(y+1)^1000``, evaluate
``exp(exp(exp(99)))``), and a thread cannot be stopped. So that work runs in a
separate process, one item at a time under a per-item time limit; an item that
overruns is answered ``None`` ("could not be decided in time"), the process is
killed, and a fresh one takes the remaining items. Everything cheap (rationals,
surds, floats, identical formulas) is decided by the checker in its own process
and never comes here.

Three jobs, each a pure function of one item:

* ``number``: a closed-form number (``exp(-3/2)``, ``sqrt(2)+sqrt(3)``) to 50
  significant digits, as a decimal string (None if it is not a finite real);
* ``equal``: whether two formulas are the same function, exactly (``cancel``)
  where they are rational functions, else at random positive points;
* ``order``: whether two expressions name the same big-O class.

The worker is forked from the checker (so sympy is already imported); on a
platform without fork it is spawned. Its address space is capped so that a
runaway expansion fails with MemoryError rather than taking the machine down.
If no process can be started at all the jobs run in the calling process,
without a time limit (and the ``in_process`` attribute says so).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

import sympy

DEFAULT_TIMEOUT = 1.0  # seconds per item
BUDGET = 3  # a run of many items may take this many items' time limits in all
POINTS = 8  # random points tried for an equivalence that cancel cannot decide
RELATIVE = 1e-12  # how close two values at a point must be to count as equal
MEMORY_HEADROOM = 1 << 30  # bytes of address space the worker may add to what it starts with


# --------------------------------------------------------------------------- the jobs


def number(e: Any) -> str | None:
    """``e`` (a sympy number) to 50 significant digits, or None if not a finite real."""
    v = sympy.N(e, 50)
    re_part, im_part = v.as_real_imag()
    if im_part != 0 and abs(im_part) > 1e-40 * max(1, abs(re_part)):
        return None
    if not re_part.is_finite or not re_part.is_number:
        return None
    text = str(sympy.Float(re_part, 50))
    try:
        Decimal(text)
    except InvalidOperation:
        return None
    return text


def equal(pair: tuple[Any, Any]) -> bool:
    """Whether two formulas in the problem's (real) symbols are the same function."""
    a, b = pair
    difference = a - b
    if difference == 0:
        return True
    if a.is_rational_function() and b.is_rational_function():
        reduced = sympy.cancel(sympy.together(difference))
        if reduced == 0:
            return True
        integer_powers = all(p.exp.is_Integer for p in reduced.atoms(sympy.Pow))
        if integer_powers and all(n.is_Rational for n in reduced.atoms(sympy.Number)):
            return False  # a nonzero rational function with rational coefficients
    return _equal_at_points(a, b)


def _points(symbols: Sequence[sympy.Symbol]) -> list[dict[sympy.Symbol, sympy.Rational]]:
    """Random positive rational points: the symbols of these problem sets are sizes, rates and
    probabilities, so log(ηγ) = log η + log γ and √(η²) = η are accepted."""
    rng = random.Random(20240607)
    return [
        {s: sympy.Rational(rng.randint(13, 300), rng.randint(37, 100)) for s in symbols}
        for _ in range(POINTS)
    ]


def _equal_at_points(a: sympy.Expr, b: sympy.Expr) -> bool:
    symbols = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    valid = 0
    for point in _points(symbols):
        va, vb = complex(a.evalf(30, subs=point)), complex(b.evalf(30, subs=point))
        if not all(map(_finite, (va, vb))):
            continue
        valid += 1
        if abs(va - vb) > RELATIVE * max(1.0, abs(va), abs(vb)):
            return False
    if valid >= 3:
        return True
    return bool(sympy.simplify(a - b) == 0)


def _finite(z: complex) -> bool:
    return all(map(lambda x: x == x and abs(x) != float("inf"), (z.real, z.imag)))


def order(pair: tuple[Any, Any]) -> bool:
    """Whether two expressions are the same big-O class (constants, lower-order terms dropped)."""
    a, b = pair
    ca, cb = big_o_class(a), big_o_class(b)
    if ca is not None and cb is not None:
        return ca == cb
    ratio = sympy.simplify(a / b)
    return bool(ratio.is_number and ratio.is_finite and ratio != 0)


def big_o_class(e: sympy.Expr) -> frozenset[tuple[tuple[str, Any, Any], ...]] | None:
    """The leading terms of ``e`` as ``{(symbol, power, log power), ...}`` sets, coefficients
    dropped; None when a term is not a product of powers of symbols and of their logarithms.

    A term is dominated when, for every symbol, its (power, log power) is no larger
    (lexicographically) than another term's: with independent sizes going to
    infinity, T·N + N² keeps both terms, T·N² + T·N keeps T·N².
    """
    e = sympy.expand(sympy.expand_log(e, force=True))
    signatures: list[dict[str, tuple[Any, Any]]] = []
    for term in sympy.Add.make_args(e):
        _, rest = term.as_coeff_Mul()
        sig: dict[str, tuple[Any, Any]] = {}
        for factor in sympy.Mul.make_args(rest):
            base, exp = factor.as_base_exp()
            if factor.is_number:
                continue
            if not (exp.is_number and exp.is_real):
                return None
            if base.is_Symbol:
                p, q = sig.get(base.name, (0, 0))
                sig[base.name] = (p + exp, q)
            elif isinstance(base, sympy.log) and base.args[0].is_Symbol:
                p, q = sig.get(base.args[0].name, (0, 0))
                sig[base.args[0].name] = (p, q + exp)
            else:
                return None
        signatures.append(sig)

    def dominated(s: dict[str, tuple[Any, Any]], t: dict[str, tuple[Any, Any]]) -> bool:
        return all(s.get(x, (0, 0)) <= t.get(x, (0, 0)) for x in s.keys() | t.keys())

    leading = [s for s in signatures if not any(dominated(s, t) and s != t for t in signatures)]
    return frozenset(
        tuple(sorted((x, str(p), str(q)) for x, (p, q) in s.items() if (p, q) != (0, 0)))
        for s in leading
    )


JOBS: dict[str, Callable[[Any], Any]] = {"number": number, "equal": equal, "order": order}


class Overrun(BaseException):
    """Work stopped by :func:`time_limit` (a BaseException, so that no ``except Exception``
    on the way, such as the parser's, mistakes it for a fault of the input)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise Overrun in this block after ``seconds`` (main thread on POSIX; else no limit).

    For work that stays in the checker's process but depends on a student:
    reading an answer (the parser bounds sizes; this bounds time) and re-solving
    a kind from a student's values. A signal interrupts Python code between
    bytecodes, which is enough there; the symbolic comparisons, whose single
    steps can run long inside sympy, go to the worker process instead.
    """
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def overrun(signum: int, frame: Any) -> None:
        raise Overrun

    previous = signal.signal(signal.SIGALRM, overrun)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # someone else's timer (pytest-timeout, a caller's limit) keeps running
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - start), 1e-3))


# --------------------------------------------------------------------------- the worker


def _limit_memory() -> None:
    try:
        import resource

        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = size + MEMORY_HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, ValueError):
        pass


def _serve(conn: Any) -> None:
    """The worker's loop: receive ``(job, items)``, send back one result per item as it is done."""
    _limit_memory()
    while True:
        try:
            job, items = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        for item in items:
            try:
                result: tuple[str, Any] = ("ok", JOBS[job](item))
            except BaseException as err:
                if isinstance(err, (SystemExit, KeyboardInterrupt)):
                    return
                result = ("error", type(err).__name__)
            conn.send(result)


class Sandbox:
    """The checker's handle on the worker: ``run(job, items)`` -> results, None where an item
    overran its time limit or failed."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._proc: Any = None
        self._conn: Any = None
        self.in_process = False
        self.timeouts = 0  # items stopped for overrunning, for reports and tests

    def _start(self) -> bool:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        try:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child,), daemon=True, name="dlsolve-sandbox")
            proc.start()
            child.close()
        except (OSError, ValueError, AssertionError):
            self.in_process = True
            return False
        self._proc, self._conn = proc, parent
        return True

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(timeout=1)
            self._conn.close()
        self._proc = self._conn = None

    def close(self) -> None:
        """Stop the worker (it is restarted by the next ``run``)."""
        self._stop()

    def run(self, job: str, items: Sequence[Any], timeout: float | None = None) -> list[Any]:
        """Results of ``job`` on each item, in order; None for an item that failed or overran.

        Each item may take ``timeout`` seconds, and the whole run ``BUDGET`` times
        that: the items left when the budget is spent are not attempted.
        """
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + BUDGET * limit
        results: list[Any] = []
        todo = list(items)
        while todo:
            if self._proc is None and not self.in_process:
                self._start()
            if self.in_process:
                return results + [_run_here(job, item) for item in todo]
            if time.monotonic() >= deadline:
                self.timeouts += len(todo)
                return results + [None] * len(todo)
            try:
                self._conn.send((job, todo))
            except (OSError, ValueError):
                self._stop()
                continue
            done = self._collect(len(todo), limit, deadline, results)
            todo = todo[done:]
        return results

    def _collect(self, n: int, limit: float, deadline: float, results: list[Any]) -> int:
        """Receive up to ``n`` results; on a timeout or a dead worker, give the item None,
        stop the worker, and return how many items were settled."""
        for k in range(n):
            wait = max(0.0, min(limit, deadline - time.monotonic()))
            try:
                ready = self._conn.poll(wait)
                message = self._conn.recv() if ready else None
            except (EOFError, OSError):
                message, ready = None, True
            if message is None:
                if not ready:
                    self.timeouts += 1
                self._stop()
                results.append(None)
                return k + 1
            status, value = message
            results.append(value if status == "ok" else None)
        return n


def _run_here(job: str, item: Any) -> Any:
    try:
        return JOBS[job](item)
    except Exception:
        return None
