"""The errors a user can cause, each one sentence naming the file, problem, field and line.

Anything that reaches the user as exit code 2 is a :class:`DlsolveError`; the
CLI prints ``str(error)`` and nothing else, never a traceback.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class DlsolveError(Exception):
    """Unusable input, located as precisely as we know: ``file:line: problem 'id', field: why``."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        problem: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.file, self.line = message, file, line
        self.problem, self.field = problem, field

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        parts = []
        if self.problem:
            parts.append(f"problem '{_one_line(self.problem)}'")
        if self.field:
            parts.append(f"field '{_one_line(self.field)}'")
        context = ", ".join(parts)
        msg = self.message.rstrip()
        if not msg.endswith((".", "?", "!")):
            msg += "."
        return f"{where}{context}: {msg}" if context else f"{where}{msg}"


def _one_line(name: str, limit: int = 60) -> str:
    """A name from the user's file as it fits in a one-sentence error: a mangled id can hold
    a whole paragraph, newlines included, and the message must stay one line."""
    flat = " ".join(str(name).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class FieldError(ValueError):
    """Raised while validating or solving: ``field`` (dotted, relative to ``given``) is wrong.

    ``path`` goes deeper into the field's value (a row index of a matrix, a
    layer's position), so that the YAML line of the culprit can be found.
    """

    def __init__(self, message: str, field: str | None = None, path: tuple[Any, ...] = ()) -> None:
        super().__init__(message)
        self.message, self.field, self.path = message, field, path


class Interrupted(BaseException):
    """SIGTERM (or SIGINT) arrived: the command unwinds, stopping its workers and removing
    its temporary files, and exits 128 + ``signum``. A BaseException, like
    KeyboardInterrupt, so that no ``except Exception`` on the way stops it."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


@contextmanager
def interruptible() -> Iterator[None]:
    """Turn SIGTERM into :class:`Interrupted` in this block (main thread only; Ctrl-C is
    KeyboardInterrupt already). Only the command's own process waits here: the work that
    a signal could interrupt badly runs in worker processes, which are killed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
