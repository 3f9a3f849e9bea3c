"""A real ``dlsolve serve`` killed with SIGKILL while students check: every attempt it
acknowledged is in the database afterwards, and the database opens cleanly."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from .conftest import HOMEWORK

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not hasattr(os, "killpg") or sys.platform == "win32", reason="needs POSIX process groups"
)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Student:
    def __init__(self, port: int, name: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = self.csrf = ""
        self.request("GET", "/")
        form = urllib.parse.urlencode({"csrf": self.csrf, "name": name})
        self.request("POST", "/login", form)
        self.request("GET", "/")

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": self.cookie, "Content-Type": "application/x-www-form-urlencoded"}
        if path.endswith("/check"):
            headers["Accept"] = "application/json"
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        text = r.read().decode()
        if cookie := r.getheader("set-cookie"):
            self.cookie = cookie.split(";", 1)[0]
        if found := re.search(r'<meta name="csrf" content="([^"]+)"', text):
            self.csrf = found.group(1)
        return r.status, text

    def check(self, value: str) -> bool:
        body = urllib.parse.urlencode({"csrf": self.csrf, "answer:linear2.in": value})
        status, text = self.request("POST", "/set/homework/net/check", body)
        return status == 200 and json.loads(text).get("saved") is True


def test_a_server_killed_mid_load_keeps_every_attempt_it_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "class.db"
    port = _port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "cli.py", "serve", str(HOMEWORK), "--port", str(port)),
            *("--db", f"sqlite:///{db}", "--workers", "2"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the kill takes the checker processes too
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/")
                if c.getresponse().status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("the server did not start")
                time.sleep(0.2)
        acked: list[tuple[str, str]] = []
        lock = threading.Lock()
        stop = threading.Event()

        def student(i: int) -> None:
            try:
                s = _Student(port, f"student {i}")
                for n in range(200):  # bounded; the kill ends it well before
                    if stop.is_set():
                        return
                    value = str(30 + n)
                    if s.check(value):
                        with lock:
                            acked.append((f"student {i}", value))
            except (OSError, http.client.HTTPException, ValueError):
                return  # the server is gone

        threads = [threading.Thread(target=student, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        end = time.monotonic() + 60
        while len(acked) < 20 and time.monotonic() < end:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # mid-load: checks are in flight
        stop.set()
        for t in threads:
            t.join(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert len(acked) >= 20, "the load did not get going"
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = set(
            con.execute(
                "SELECT s.name, json_extract(a.answers, '$.\"linear2.in\"') FROM attempts a "
                "JOIN students s ON s.id = a.student_id"
            ).fetchall()
        )
    finally:
        con.close()
    missing = [a for a in acked if a not in stored]
    assert not missing, f"acknowledged but lost: {missing[:5]}"
