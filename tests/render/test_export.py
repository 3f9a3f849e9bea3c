"""Export that prints: broken equations, decimals, escaping, one HTML page (issue 17)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

import solver
from solver import exact
from solver.display import says
from solver.render import breaking, html, markdown
from solver.render.breaking import WIDTH, break_equation, visible

from ..conftest import PROBLEMS

SHIPPED = sorted(PROBLEMS.glob("*.yaml"))


def _solved(paths=SHIPPED):
    return [solver.solve_set(solver.load(p)) for p in paths]


def _lines(latex: str) -> list[str]:
    inner = re.sub(r"\\(begin|end)\{aligned\}", "", latex)
    return [line.replace("&", "").strip() for line in inner.split(r" \\ ")]


def test_a_long_sum_in_a_fraction_breaks_into_aligned_lines():
    terms = " + ".join(rf"\left({i} - \frac{{31}}{{12}}\right)^{{2}}" for i in range(1, 13))
    eq = rf"\sigma^{{2}} = \frac{{{terms}}}{{12}} = \frac{{155}}{{144}}"
    assert visible(eq) > 2 * WIDTH
    out = break_equation(eq)
    assert out.startswith(r"\begin{aligned} \sigma^{2} & = \frac{1}{12} \Bigl(")
    lines = _lines(out)
    assert len(lines) >= 3 and all(visible(line) <= WIDTH for line in lines)
    assert lines[-1].endswith(r"= \frac{155}{144}")
    # nothing is lost: the same symbols in the same order, only regrouped
    assert re.sub(r"\s|&|\\\\", "", out).count(r"\left(") == 12


def test_a_short_equation_is_left_alone():
    assert break_equation(r"x = \frac{1}{2}") == r"x = \frac{1}{2}"


def test_every_equation_of_the_shipped_sets_fits_or_cannot_break():
    """A line still too wide holds one piece (a matrix) too wide to share a line."""
    for ss in _solved():
        for s in ss.solutions:
            for step in s.steps:
                for eq in step.equations:
                    if isinstance(eq, solver.display.Table):
                        continue
                    for line in _lines(break_equation(eq.latex())):
                        unbreakable = max(visible(p) for p in breaking._pieces(line))
                        assert visible(line) <= WIDTH or unbreakable > WIDTH // 2, (
                            s.id,
                            line[:120],
                        )


def test_irrational_answers_have_a_decimal_beside_them():
    assert markdown.approx(exact.sqrt(2)) == r"\approx 1.414"
    assert markdown.approx(Fraction(1, 3)) is None
    assert markdown.approx([exact.sqrt(2), 1]) == (
        r"\approx \begin{bmatrix} 1.414 & 1 \end{bmatrix}"
    )
    md = markdown.render(_solved([PROBLEMS / "ist597-batchnorm.yaml"]))
    normalized = md[md.index("`normalized`") :]
    assert r"\sqrt{21}" in normalized.split("`defined`")[0]
    assert r"\approx \left[ \left[ \begin{bmatrix} -1.528" in normalized.split("`defined`")[0]


def test_angle_brackets_in_a_text_are_escaped_outside_maths_and_code():
    text = "Start at <BOS>, then `<EOS>` ends; $a < b$ holds & so on."
    assert markdown.escape_prose(text) == (
        "Start at &lt;BOS&gt;, then `<EOS>` ends; $a < b$ holds &amp; so on."
    )
    ps = solver.load_text(
        "problems:\n  - id: p\n    kind: choice\n    title: <BOS> first\n"
        "    text: The token <BOS> starts it.\n"
        "    given: {options: [one, two], answer: a}\n"
    )
    md = markdown.render([solver.solve_set(ps)])
    assert "<BOS>" not in md and "&lt;BOS&gt; starts it" in md and "`p`: &lt;BOS&gt; first" in md
    page = html.render([solver.solve_set(ps)])
    assert "&lt;BOS&gt; starts it" in page and "<BOS>" not in page


def test_html_export_is_one_self_contained_page(tmp_path, cli_run):
    out = tmp_path / "handout.html"
    code, _, err = cli_run(
        "export", str(PROBLEMS / "coms573-cnn.yaml"), "--format", "html", "-o", str(out)
    )
    assert code == 0, err
    page = out.read_text()
    assert page.count("<html") == 1 and "katex.render" in page and "@media print" in page
    assert "data:font/woff2;base64," in page and "url(fonts/" not in page
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)  # nothing from the network
    assert '<div class="display math">' in page and "<table" in page


def test_markdown_passes_pandoc_with_xelatex(tmp_path):
    if not shutil.which("pandoc") or not shutil.which("xelatex"):
        pytest.skip("pandoc and xelatex are not installed (apt-get install pandoc texlive-xetex)")
    md = tmp_path / "all.md"
    md.write_text(markdown.render(_solved()))
    done = subprocess.run(
        ["pandoc", str(md), "--pdf-engine=xelatex", "-o", str(tmp_path / "all.pdf")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]


PROBE = """
(function probe() {
  if (!document.body.getAttribute("data-rendered")) { setTimeout(probe, 50); return; }
  var width = document.documentElement.clientWidth, wide = [];
  document.querySelectorAll("main *").forEach(function (el) {
    // KaTeX clips its own SVG, and its MathML copy for screen readers (1px, overflow hidden)
    if (el.closest("svg") || el.closest(".display") || el.closest(".katex-mathml")) return;
    var r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > width + 1) wide.push(el.tagName + ": " + el.textContent);
  });
  if (document.documentElement.scrollWidth > width + 1) wide.push("the page scrolls sideways");
  document.querySelectorAll(".display").forEach(function (el) {
    if (el.scrollWidth > el.clientWidth + 1) wide.push("display: " + el.textContent.slice(0, 60));
  });
  var p = document.createElement("pre"); p.id = "probe";
  p.textContent = JSON.stringify({
    errors: Array.from(document.querySelectorAll(".katex-error")).map(function (e) {
      return e.title || e.textContent; }),
    wide: wide, maths: document.querySelectorAll(".katex").length});
  document.body.appendChild(p);
})();
"""


@pytest.mark.parametrize("questions", [False, True], ids=["solutions", "questions"])
def test_shipped_sets_render_in_chromium_without_katex_errors_or_overflow(tmp_path, questions):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page = html.render(_solved(), answers=not questions)
    path = tmp_path / "page.html"
    path.write_text(page.replace("</body>", f"<script>{PROBE}</script></body>"))
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=794,1123",  # A4 at 96 dpi
            "--virtual-time-budget=15000",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    report = json.loads(html_unescape(found.group(1)))
    assert report["maths"] > 10
    assert report["errors"] == []
    assert report["wide"] == []


def html_unescape(s: str) -> str:
    import html as h

    return h.unescape(s)


def test_the_docs_show_a_conv_handout_as_dlsolve_writes_it():
    page = Path(__file__).parents[2] / "solver" / "docs" / "pages" / "guide" / "solving.md"
    readme = page.read_text(encoding="utf-8")
    md = markdown.render(
        [solver.solve_set(solver.load(PROBLEMS / "coms573-cnn.yaml"), only=["conv-sizes"])],
        answers=False,
    )
    section = md[md.index("## `conv-sizes`") :]
    assert section.strip() in readme


def test_step_prose_writes_marked_formulas_as_maths_in_markdown_only():
    text = "δ_t(j) = max_i δ_{t−1}(i)·P(j | i) for <BOS>; N^T sequences; running_mean stays"
    # unmarked: words, escaped, nothing guessed (and nothing cut in two)
    assert markdown.prose(text) == text.replace("<", "&lt;").replace(">", "&gt;")
    marked = says("⟦δ_t(j) = max_i δ_{t−1}(i)·P(j | i)⟧ for <BOS>; ⟦N^T⟧ sequences")
    assert markdown.prose(marked) == (
        r"$\delta _{t}(j) = \max _{i} \delta _{t-1}(i) \cdot P(j \mid i)$ for &lt;BOS&gt;; "
        r"$N^{T}$ sequences"
    )
    md = markdown.render(_solved([PROBLEMS / "ift6135-rnn-decoding.yaml"]))
    # the viterbi kind marks its recurrence, so it is written whole, not guessed in pieces
    assert r"$\delta _{t}(j) = \max _{i} \delta _{t-1}(i) \cdot P(j \mid i)$" in md
    assert "δ_{t−1}" not in md.split("**Answers")[0]
    from solver.render import text as text_render

    terminal = text_render.render(_solved([PROBLEMS / "ift6135-rnn-decoding.yaml"]))
    assert "δ_t(j) = max_i δ_{t−1}(i)" in terminal  # the terminal keeps its Unicode
