"""Fixtures for the student page: an app per test (TestClient) and a student's session.

The whole folder needs the ``web`` extra; without it every test here is skipped
with the reason.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed (pip install '.[web]')")
pytest.importorskip("sqlalchemy", reason="the web extra is not installed (pip install '.[web]')")
pytest.importorskip("httpx", reason="starlette's TestClient needs httpx (the dev extra)")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

HERE = Path(__file__).parent
HOMEWORK = HERE / "homework.yaml"


def csrf_of(html: str) -> str:
    found = re.search(r'<meta name="csrf" content="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


class Student:
    """A browser-less student: names themselves, reads pages, previews and checks answers."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def get(self, url: str, **kw: Any) -> Any:
        r = self.client.get(url, **kw)
        if "text/html" in r.headers.get("content-type", ""):
            self.csrf = csrf_of(r.text)
        return r

    def login(self, name: str, code: str | None = None) -> Any:
        self.get("/")
        data = {"csrf": self.csrf, "name": name}
        if code:
            data["code"] = code
        r = self.client.post("/login", data=data)
        if "text/html" in r.headers.get("content-type", ""):
            self.csrf = csrf_of(r.text)
        return r

    def check(self, pid: str, answers: dict[str, str], sid: str = "homework") -> Any:
        self.get(f"/set/{sid}/{pid}")
        data = {"csrf": self.csrf, **{f"answer:{k}": v for k, v in answers.items()}}
        r = self.client.post(f"/set/{sid}/{pid}/check", data=data)
        if "text/html" in r.headers.get("content-type", ""):
            self.csrf = csrf_of(r.text)
        return r

    def preview(self, pid: str, key: str, text: str, sid: str = "homework") -> Any:
        if not self.csrf:
            self.get("/")
        return self.client.post(
            "/api/preview",
            json={"set": sid, "problem": pid, "key": key, "text": text},
            headers={"X-CSRF-Token": self.csrf},
        )


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Any]:
    """``make_app(reveal=..., **options)`` -> a started TestClient; closed after the test."""
    from solver.web.app import create_app

    clients: list[TestClient] = []

    def make(paths: list[str] | None = None, **options: Any) -> TestClient:
        options.setdefault("db", f"sqlite:///{tmp_path / 'class.db'}")
        options.setdefault("reveal", "after:2")
        app = create_app(paths or [str(HOMEWORK)], **options)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def student(make_app: Any) -> Student:
    s = Student(make_app())
    s.login("alice")
    return s
