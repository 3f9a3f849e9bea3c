"""The student page on PostgreSQL (a course server's database), when one can be started.

A throwaway cluster is made with Debian's ``initdb`` and ``pg_ctl`` in the
test's temporary folder, listening on a Unix socket only. Without the
PostgreSQL server packages or the psycopg2 driver the test is skipped, with the
reason.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Student

pytest.importorskip("psycopg2", reason="the PostgreSQL driver psycopg2 is not installed")
BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
if not BIN or not Path(BIN[-1], "initdb").exists():
    pytest.skip(
        "no PostgreSQL server from Debian's packages (apt-get install -y postgresql)",
        allow_module_level=True,
    )
PG = Path(BIN[-1])


def _as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run as the packages' postgres user then."""
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    folder = Path("/tmp") / f"dlsolve-pg-{os.getpid()}-{tmp_path.name}"[:40]
    data = folder / "data"
    folder.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    run = lambda *a: subprocess.run(_as_postgres(list(a)), capture_output=True, text=True)  # noqa: E731
    init = run(str(PG / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    if init.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"initdb could not make a cluster: {init.stderr.strip()[-300:]}")
    options = f"-k {folder} -c listen_addresses='' -p 5433"
    log = str(folder / "log")
    start = run(str(PG / "pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "start")
    if start.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {start.stderr.strip()[-300:]}")
    try:
        yield f"postgresql+psycopg2://postgres@/postgres?host={folder}&port=5433"
    finally:
        run(str(PG / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def test_attempts_are_kept_in_postgresql_across_restarts(make_app: Any, postgres_url: str) -> None:
    s = Student(make_app(db=postgres_url))
    page = s.login("alice").text
    s.check("layernorm", {"mean": "[6, 3, 2]", "var": "[16/3, 12, 4]"})
    assert "variance divided by N−1" in s.get("/set/homework/layernorm").text
    code = re.search(r"<code>([0-9a-f-]{14})</code>", page).group(1)
    again = Student(make_app(db=postgres_url))
    again.login("alice", code)
    history = again.get("/history").text
    assert "16/3" in history and "correct" in history
