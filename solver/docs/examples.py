"""The documentation's examples, run: a page shows only what the commands print.

A page's examples follow two conventions, the ones the site builder writes and
``tests/docs/test_examples.py`` holds every page (and the README) to:

- A fenced block with a title (```` ```yaml title="alice.yaml" ````) is a file
  that the page's later commands read.
- A ``console`` block holds commands after ``$ `` and, under each, what it
  prints (its stdout and stderr). A line that is only ``...`` stands for any
  number of lines the page leaves out, so a long worked solution can be shown
  in part; every other line must be printed as shown, in order.

Commands run in-process through click in a folder holding the page's files
and a link to the shipped ``problems/``, so ``dlsolve solve problems/...``
reads the real problem sets.
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: the repository (or installed tree) the shipped problems are read from
ROOT = Path(__file__).resolve().parents[2]
#: the width click formats ``--help`` to, fixed so that the pages do not depend on a terminal
HELP_WIDTH = 80

_FENCE = re.compile(
    r"^(?P<fence>```+)(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.M | re.S
)
_TITLE = re.compile(r'title="(?P<name>[^"]+)"')


@dataclass(frozen=True)
class Command:
    """One ``$ dlsolve ...`` line of a console block and the output shown under it."""

    line: str
    shown: str


def files(page: str) -> dict[str, str]:
    """The titled fenced blocks of a page: file name -> contents."""
    out = {}
    for f in _FENCE.finditer(page):
        found = _TITLE.search(f["info"])
        if found:
            out[found["name"]] = f["body"]
    return out


def commands(page: str) -> list[Command]:
    """Every command of the page's ``console`` blocks with the output shown under it."""
    out = []
    for f in _FENCE.finditer(page):
        if f["info"].split()[:1] != ["console"]:
            continue
        line, shown = None, []
        for text in f["body"].splitlines():
            if text.startswith("$ "):
                if line is not None:
                    out.append(Command(line, "\n".join(shown)))
                line, shown = text[2:], []
            else:
                shown.append(text)
        if line is not None:
            out.append(Command(line, "\n".join(shown)))
    return out


def matches(shown: str, printed: str) -> bool:
    """Whether ``printed`` is ``shown`` with each ``...`` line standing for any lines."""
    want = shown.rstrip("\n").split("\n") if shown.strip() else []
    got = printed.rstrip("\n").split("\n") if printed.strip() else []
    return _match(want, got)


def _match(want: list[str], got: list[str]) -> bool:
    # a plain backtracking match: pages elide a few runs of lines, so this stays small
    if not want:
        return not got
    if want[0].strip() == "...":
        return any(_match(want[1:], got[i:]) for i in range(len(got) + 1))
    return bool(got) and got[0].rstrip() == want[0].rstrip() and _match(want[1:], got[1:])


def run(line: str) -> str:
    """What ``line`` (``dlsolve ARGS...``) prints to stdout and stderr, run in-process."""
    from click.testing import CliRunner

    import cli

    args = shlex.split(line)
    if args[:1] != ["dlsolve"]:
        raise ValueError(f"an example command must start with 'dlsolve': {line!r}")
    result = CliRunner().invoke(cli.main, args[1:], prog_name="dlsolve", terminal_width=HELP_WIDTH)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.output


@contextmanager
def workspace(page_files: dict[str, str]) -> Iterator[Path]:
    """A temporary current folder with the page's files and ``problems/`` linked in."""
    before = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="dlsolve-docs-") as tmp:
        here = Path(tmp)
        (here / "problems").symlink_to(ROOT / "problems", target_is_directory=True)
        for name, text in page_files.items():
            path = here / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        os.chdir(here)
        try:
            yield here
        finally:
            os.chdir(before)


def mismatches(page: str) -> list[str]:
    """Each command of ``page`` whose output is not what the page shows, with what it printed."""
    out = []
    with workspace(files(page)):
        for c in commands(page):
            printed = run(c.line)
            if not matches(c.shown, printed):
                out.append(f"$ {c.line}\n--- the page shows:\n{c.shown}\n--- it prints:\n{printed}")
    return out
