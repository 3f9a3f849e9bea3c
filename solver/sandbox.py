"""Worker processes: hostile work runs where it can be killed, never where it can hang us.

Deciding whether two formulas are equal can keep sympy busy for as long as a
hostile answer likes (expand ``(x+1)^1000·(y+1)^1000``, evaluate
``exp(exp(exp(99)))``), and neither a thread nor a signal handler can stop it
reliably: a SIGALRM raised at an arbitrary point was once swallowed inside a
garbage-collector callback, losing the limit, and off the main thread there is
no alarm at all. So every piece of work that depends on a student runs in a
forked process whose parent holds the clock, and overrunning work is stopped by
killing the process (SIGKILL cannot be caught). Two kinds of process:

* :class:`Worker` runs a handler on one request at a time; the handler calls
  ``mark(label, seconds)`` before each step (one answer read and compared, one
  answer judged for partial credit), and the parent kills the process when a
  step overruns or raises :class:`Stopped` naming the step when the process
  dies (memory exhausted, a crash). The checker restarts it and carries on
  without that step: one answer lost, never the file or the class.
* :class:`Sandbox` runs three pure jobs item by item under a per-item limit:

  - ``number``: a closed-form number (``exp(-3/2)``, ``sqrt(2)+sqrt(3)``) to 50
    significant digits, as a decimal string (None if it is not a finite real);
  - ``equal``: whether two formulas are the same function, exactly (``cancel``)
    where they are rational functions, else at random positive points;
  - ``order``: whether two expressions name the same big-O class.

  Inside a Worker the sandbox runs ``in_process`` (the Worker's clock already
  bounds it).

Workers are forked (so sympy and the answer key are already in memory); their
address space is capped so that a runaway expansion fails with MemoryError
rather than taking the machine down, and on Linux they die with their parent
(``PR_SET_PDEATHSIG``), so that a killed ``grade`` leaves no process behind.
Where no process can be forked the work runs in the calling process, without
limits (``in_process`` says so).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
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


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a no-op elsewhere): a parent
    killed by a signal cannot clean up, and its workers must not outlive it."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        parent = os.getppid()
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)
    except (OSError, AttributeError):
        pass


def _context() -> Any:
    """Fork where possible: the worker starts with sympy and the key already in memory."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _serve(conn: Any) -> None:
    """The worker's loop: receive ``(job, items)``, send back one result per item as it is done."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it kills us
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

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, *, in_process: bool = False) -> None:
        self.timeout = timeout
        self._proc: Any = None
        self._conn: Any = None
        self.in_process = in_process
        self.timeouts = 0  # items stopped for overrunning, for reports and tests

    def _start(self) -> bool:
        ctx = _context()
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


# --------------------------------------------------------------------------- supervised steps


class Stopped(Exception):
    """A :class:`Worker` step did not finish: it overran its limit, or its process died.

    ``label`` is the step the handler last announced with ``mark`` (None before
    the first), ``reason`` a phrase for a student: "took longer than 1 s".
    """

    def __init__(self, label: Any, reason: str) -> None:
        super().__init__(f"{label!r}: {reason}")
        self.label, self.reason = label, reason


Mark = Callable[[Any, float], None]


def _work(conn: Any, handler: Callable[[Any, Mark], Any]) -> None:
    """A Worker's loop: one request at a time, marks streamed to the parent as steps begin."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it kills us
    _limit_memory()

    def mark(label: Any, seconds: float) -> None:
        conn.send(("mark", label, seconds))

    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            reply: tuple[Any, ...] = ("done", handler(request, mark))
        except MemoryError:
            reply = ("failed", "ran out of memory")
        except Exception as err:  # the handler's own failure: told to the parent, not lost
            reply = ("failed", f"failed ({type(err).__name__})")
        conn.send(reply)


def _gone(exitcode: int | None) -> str:
    """Why a worker process ended, as a phrase."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else ""
        if name == "SIGKILL":
            return "was stopped (out of memory?)"
        return f"crashed ({name or -exitcode})"
    return "crashed"


class Worker:
    """A forked process running ``handler(request, mark)`` for one request at a time, killed
    when a step overruns: the parent holds the clock, so no limit can be swallowed.
    Where no process can be forked (no fork, a process limit) the handler runs in the
    calling process, without limits, and ``in_process`` says so.

    ``call(request, limit)`` returns the handler's result or raises :class:`Stopped`.
    Each step the handler announces with ``mark(label, seconds)`` has those
    seconds; work before the first mark has ``limit``. After a Stopped the
    process is gone and the next call forks a fresh one.
    """

    def __init__(self, handler: Callable[[Any, Mark], Any]) -> None:
        self.handler = handler
        self._proc: Any = None
        self._conn: Any = None
        self._owner = os.getpid()
        self._lock = threading.Lock()  # one request at a time (a web server has threads)
        self.in_process = "fork" not in multiprocessing.get_all_start_methods()

    def _start(self) -> None:
        ctx = _context()
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_work, args=(child, self.handler), daemon=True, name="dlsolve-worker"
        )
        proc.start()
        child.close()
        self._proc, self._conn, self._owner = proc, parent, os.getpid()

    def close(self) -> None:
        """Kill the process (the next call starts another). A forked copy of this handle
        (in a grading pool's process) only forgets the worker, which is not its child."""
        if self._proc is not None and self._owner == os.getpid():
            self._proc.kill()
            self._proc.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def call(self, request: Any, limit: float) -> Any:
        """The handler's result for ``request``; Stopped if a step overran or the process died."""
        if self.in_process:
            return self.handler(request, lambda label, seconds: None)
        with self._lock:
            if self._proc is not None and self._owner != os.getpid():
                self.close()  # inherited from the process this one was forked from
            if self._proc is None:
                try:
                    self._start()
                except (OSError, ValueError):  # no process to be had (a process limit)
                    self.in_process = True
                    return self.handler(request, lambda label, seconds: None)
            try:
                self._conn.send(request)
            except (OSError, ValueError):
                self.close()
                raise Stopped(None, "could not reach the worker") from None
            try:
                return self._answer(limit)
            except Stopped:
                raise
            except BaseException:  # interrupted mid-request: the process is in an unknown state
                self.close()
                raise

    def _answer(self, limit: float) -> Any:
        """Wait for the reply to the request just sent, step by step."""
        label, seconds = None, limit
        deadline = time.monotonic() + limit
        while True:
            try:
                ready = self._conn.poll(max(0.0, deadline - time.monotonic()))
                message = self._conn.recv() if ready else None
            except (EOFError, OSError):
                self._proc.join(timeout=1)
                why = _gone(self._proc.exitcode)
                self.close()
                raise Stopped(label, why) from None
            if message is None:
                self.close()
                raise Stopped(label, f"took longer than {seconds:g} s")
            if message[0] == "mark":
                _, label, seconds = message
                deadline = time.monotonic() + seconds
            elif message[0] == "done":
                return message[1]
            else:
                raise Stopped(label, message[1])
