"""The student page in a real browser: Playwright for Python driving Debian's Chromium.

Playwright cannot download its own browsers here, so it is pointed at
``/usr/bin/chromium`` (``apt-get install -y chromium``); without it, or without
the ``playwright`` package, these tests are skipped with the reason. The
server is the real one (``python cli.py serve``) on 127.0.0.1. Each test leaves a
screenshot of every page it visits in its temporary folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import HOMEWORK

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SOLUTION_ENTRY = r"4 \sqrt{3}"  # in the worked solution's data-tex, never before the policy

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not CHROMIUM.exists():
    pytest.skip(
        "Debian's Chromium is not installed (apt-get install -y chromium)", allow_module_level=True
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real server for the module (each test is its own student)."""
    yield from serve(
        [str(HOMEWORK), "--reveal", "after:2", "--instructor-token", "t0ken"],
        tmp_path_factory.mktemp("server"),
    )


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Every shipped problem set, with the worked solutions shown."""
    yield from serve(["problems/", "--reveal", "always"], tmp_path_factory.mktemp("shipped"))


def serve(args: list[str], tmp_path: Path) -> Iterator[str]:
    """A real server on 127.0.0.1 (its stderr in ``tmp_path/server.log``) until the caller
    is done with it."""
    port = free_port()
    log = tmp_path / "server.log"
    err = log.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "cli.py",
            "serve",
            *args,
            "--port",
            str(port),
            "--db",
            f"sqlite:///{tmp_path / 'class.db'}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=err,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    err.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url + "/", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.js_errors = errors  # type: ignore[attr-defined]
        yield pg
        browser.close()


def shot(page: Any, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path


def assert_maths_rendered(page: Any) -> None:
    """KaTeX rendered every formula, with MathML for screen readers, and none failed."""
    page.wait_for_load_state("load")
    every = "[...document.querySelectorAll('[data-tex]')].every(e => e.querySelector('.katex'))"
    deadline = time.monotonic() + 15  # (wait_for_function would need eval, which the CSP bars)
    while not page.evaluate(every):
        assert time.monotonic() < deadline, "KaTeX did not render every formula"
        time.sleep(0.1)
    assert page.locator(".katex-error").count() == 0
    if page.locator("[data-tex]").count():
        assert page.locator(".katex-mathml math").count() > 0


def test_a_student_works_a_problem_in_the_browser(server: str, page: Any, tmp_path: Path) -> None:
    page.goto(server + "/")
    shot(page, tmp_path, "1-name-yourself")
    page.fill("#name", "Ada")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Layer normalization")
    shot(page, tmp_path, "2-problem-sets")

    page.click("text=Layer normalization")
    page.wait_for_selector("#box-1")
    assert_maths_rendered(page)
    assert SOLUTION_ENTRY not in page.content()
    shot(page, tmp_path, "3-problem")

    page.fill("#box-1", r"\begin{bmatrix} 6 & 3 & \frac{4}{2} \end{bmatrix}")
    page.wait_for_selector("#preview-1.ok .katex")
    assert "2" in page.inner_text("#preview-1")
    page.fill("#box-2", "[16/3, 12, (4]")
    page.wait_for_selector("#preview-2.bad")
    assert "position" in page.inner_text("#preview-2")
    shot(page, tmp_path, "4-preview")
    page.fill("#box-2", "[16/3, 12, 4]")
    page.wait_for_selector("#preview-2.ok .katex")

    page.click("button:has-text('Check')")
    page.wait_for_selector("#results")
    assert page.get_attribute("tr[data-key=mean]", "class") == "verdict-row correct"
    assert "variance divided by N−1" in page.inner_text("tr[data-key=var]")
    assert page.locator("#hint-1").count() == 1 and page.locator("#hint-2").count() == 0
    page.click("#hint-1 summary")
    assert page.is_visible("#hint-1 p")
    assert "opens after 2 attempts" in page.inner_text("body")
    assert SOLUTION_ENTRY not in page.content()
    assert_maths_rendered(page)
    shot(page, tmp_path, "5-checked")

    page.click("button:has-text('Check')")
    page.wait_for_selector(".solution")
    assert page.locator("#hint-2").count() == 1
    assert SOLUTION_ENTRY in page.content()
    assert_maths_rendered(page)
    shot(page, tmp_path, "6-solution")

    page.click("text=Your attempts")
    page.wait_for_selector("h1:has-text('Your attempts')")
    assert page.locator("section.attempt").count() == 2
    shot(page, tmp_path, "7-history")

    page.goto(server + "/instructor")
    page.fill("#token", "t0ken")
    page.click("button:has-text('Open the class view')")
    page.wait_for_selector("text=Most frequent misconceptions")
    assert "Ada" in page.inner_text("body")
    shot(page, tmp_path, "8-instructor")
    assert page.js_errors == []
    assert len(list(tmp_path.glob("*.png"))) == 8


def tab_to(page: Any, test: str, limit: int = 60) -> None:
    """Press Tab until the focused element passes ``test`` (a JS predicate on it)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(e => {test})(document.activeElement)"):
            return
    pytest.fail(f"Tab never reached an element where {test}")


def test_the_page_works_with_the_keyboard_alone(server: str, page: Any, tmp_path: Path) -> None:
    page.goto(server + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    tab_to(page, "e.id === 'name'")
    page.keyboard.type("Grace")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=A small classifier")
    tab_to(page, "e.textContent.trim() === 'A small classifier'")
    page.keyboard.press("Enter")
    page.wait_for_selector("#box-1")
    tab_to(page, "e.id === 'box-1'")
    page.keyboard.type("30")
    tab_to(page, "e.id === 'box-3'")
    page.keyboard.type("300")
    tab_to(page, "e.tagName === 'BUTTON' && e.textContent.trim() === 'Check'")
    page.keyboard.press("Enter")
    page.wait_for_selector("#results")
    assert page.evaluate("document.activeElement.id") == "results"
    assert "forgot the bias" in page.inner_text("#results")
    shot(page, tmp_path, "keyboard-checked")
    tab_to(page, "e.tagName === 'SUMMARY'")
    page.keyboard.press("Enter")
    assert page.evaluate("document.getElementById('hint-1').open")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused element shows where the keyboard is"
    assert page.js_errors == []


def test_every_shipped_problem_and_solution_renders_without_a_katex_error(
    shipped: str, page: Any, tmp_path: Path
) -> None:
    page.goto(shipped + "/")
    page.fill("#name", "Reader")
    page.click("button:has-text('Start')")
    links = [a.get_attribute("href") for a in page.locator("ol.problems a").all()]
    assert len(links) >= 30
    for href in links:
        page.goto(shipped + href)
        assert page.locator(".solution").count() == 1, href
        assert_maths_rendered(page)
        errors = page.evaluate("[...document.querySelectorAll('.katex-error')].map(e => e.title)")
        assert errors == [], (href, errors)
    shot(page, tmp_path, "last-shipped-problem")
    assert page.js_errors == []
