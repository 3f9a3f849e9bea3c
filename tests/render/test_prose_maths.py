"""Formulas in step sentences are marked by the kinds and written whole (issue 17 follow-up):
no formula of an exported solution is split between maths and plain text."""

from __future__ import annotations

import html as html_lib
import re

import pytest

import solver
from solver.display import Prose, says, unicode_latex
from solver.render import html, markdown
from solver.render import text as text_render

from ..conftest import PROBLEMS

SHIPPED = sorted(PROBLEMS.glob("*.yaml"))

#: characters that continue a formula: a maths span beside one of them (spaces between
#: allowed) is a formula cut in two
OPERATORS = set("=·/^_≤≥←→+−×√⊙≈∂∇‖⌊⌋²³ᵀᵗ′ΣΠ")
_SPAN = re.compile(r"\$[^$\n]+\$")


def split_formulas(md: str) -> list[str]:
    """Each sentence in which a ``$…$`` span has plain-text maths beside it: an operator next
    to it (across spaces), its arguments right after it (``$σ$(x)``), or a function name
    right before it (``σ($h_t$)``)."""
    found = []
    display = False
    for line in md.splitlines():
        if line.strip() == "$$":
            display = not display
            continue
        if display or line.startswith("|"):
            continue
        plain = _SPAN.sub(lambda mt: "\0" * len(mt.group()), line)
        for mt in _SPAN.finditer(line):
            before = plain[: mt.start()].rstrip()
            after = plain[mt.end() :].lstrip()
            near = (before[-1:] or " ") + (after[:1] or " ")
            tight_after = line[mt.end() : mt.end() + 1]
            tight_before = line[max(0, mt.start() - 2) : mt.start()]
            if (
                any(c in OPERATORS for c in near)
                or tight_after in ("(", "[")
                or (
                    len(tight_before) == 2 and tight_before[1] in "([" and tight_before[0].isalpha()
                )
            ):
                found.append(line.strip())
                break
    return found


def test_the_detector_sees_a_formula_cut_in_two() -> None:
    assert split_formulas("the weights $k_h$·$k_w$·(C_in/groups)")
    assert split_formulas("so $g_t$ = σ($h_t$) for every t")
    assert split_formulas("BLEU = BP·exp(Σ $w_n$ log $p_n$)")
    assert not split_formulas("the kernel $k_h k_w C_{in}$ has 27 weights, with $s = 2$.")


@pytest.fixture(scope="module")
def solved() -> list:
    return [solver.solve_set(solver.load(p)) for p in SHIPPED]


def test_no_formula_of_a_shipped_solution_is_split_in_markdown(solved: list) -> None:
    md = markdown.render(solved)
    assert split_formulas(md) == []


def test_no_formula_of_a_shipped_solution_is_split_in_html(solved: list) -> None:
    page = html.from_markdown(markdown.render(solved))
    text = html_lib.unescape(re.sub(r"<[^>]+>", "\n", page))
    assert split_formulas(text) == []


def test_a_marked_sentence_is_unicode_in_the_terminal_and_latex_in_markdown() -> None:
    p = says("Each filter has ⟦k_h·k_w·(C_in/groups)⟧ = 27 weights.")
    assert isinstance(p, str) and p == "Each filter has k_h·k_w·(C_in/groups) = 27 weights."
    assert markdown.prose(p) == (
        r"Each filter has $k_{h} \cdot k_{w} \cdot (C_{\text{in}}/\mathrm{groups})$ = 27 weights."
    )


@pytest.mark.parametrize(
    ("unicode", "latex"),
    [
        ("η₀·γ^⌊0/2⌋", r"\eta _{0} \cdot \gamma ^{\lfloor 0/2\rfloor }"),
        ("√(1 − β₂ᵗ)", r"\sqrt{1 - \beta _{2}^{t}}"),
        (
            "θ ← θ − η·m̂/(√v̂ + ε)",
            r"\theta \leftarrow \theta - \eta \cdot \hat{m}/(\sqrt{\hat{v}} + \epsilon )",
        ),
        (
            "δ_t(j) = max_i δ_{t−1}(i)·P(j | i)",
            r"\delta _{t}(j) = \max _{i} \delta _{t-1}(i) \cdot P(j \mid i)",
        ),
        ("η_min + fan_in", r"\eta _{\text{min}} + \mathrm{fan\_in}"),
        ("‖∂h_T/∂h₀‖ ≤ δ^T", r"\| \partial h_{T}/\partial h_{0}\| \le \delta ^{T}"),
        ("λ₁(WᵀW) < 1", r"\lambda _{1}(W^\top W) \lt 1"),
    ],
)
def test_unicode_notation_reads_as_latex(unicode: str, latex: str) -> None:
    assert " ".join(unicode_latex(unicode).split()) == " ".join(latex.split())


def test_the_terminal_keeps_its_unicode(solved: list) -> None:
    terminal = text_render.render(solved)
    assert "⟦" not in terminal and "⟧" not in terminal
    assert "$" not in "".join(
        step.text for ss in solved for s in ss.solutions for step in s.steps
    ), "a kind wrote LaTeX into a sentence the terminal prints"


def test_every_kind_sentence_with_a_script_marks_it(solved: list) -> None:
    """Nothing is guessed any more: a kind's sentence with a sub- or superscript outside
    ⟦…⟧ would reach Markdown as plain Unicode, so every one is marked."""
    unmarked = [
        str(step.text)
        for ss in solved
        for s in ss.solutions
        for step in s.steps
        if SCRIPTED.search(_words(step.text))
    ]
    assert unmarked == []


#: a one-letter symbol with a sub- or superscript (δ_t, N^T, x_{o·s}), not an identifier
#: such as running_mean or cross_entropy
SCRIPTED = re.compile(r"(?<![\w\\$`.])[A-Za-zα-ω][_^](?:\{|[A-Za-z0-9](?![\w{]))")


def _words(text: str) -> str:
    if isinstance(text, Prose):
        return "".join(p for p in text.parts if isinstance(p, str))
    return text


def test_no_mark_reaches_the_terminal_or_json_for_any_kinds_example() -> None:
    from solver import kinds
    from solver.render import json as json_render

    for name in kinds.names():
        k = kinds.get(name)
        if not getattr(k, "example", None):
            continue
        s = k.new_solution()
        k.solve(k.Given.model_validate(k.example), s)
        lines = "\n".join(text_render.render_solution(s))
        assert "⟦" not in lines and "⟧" not in lines, name
        assert "⟦" not in str(json_render.solution_json(s)), name
