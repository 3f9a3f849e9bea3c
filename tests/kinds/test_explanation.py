"""The explanation kind: a model answer in the solution, nothing for the checker to mark."""

from __future__ import annotations

import solver
from solver import kinds

PROSE = """
title: prose
problems:
  - id: why-normalize
    kind: explanation
    text: Why normalize the inputs?
    given:
      answer: |
        Features on one scale.

        A better-conditioned loss.
      points: [one scale, conditioning]
"""


def test_model_answer_is_shown_paragraph_by_paragraph_and_has_no_keys():
    s = solver.solve(solver.load_text(PROSE, "prose.yaml").get("why-normalize"))
    texts = [st.text for st in s.steps]
    assert texts[0] == "Model answer (not graded): Features on one scale."
    assert texts[1] == "A better-conditioned loss."
    assert texts[2] == "A complete answer makes these points: one scale; conditioning."
    assert s.asked() == []
    assert kinds.get("explanation").keys == ()


def test_check_has_nothing_to_mark_and_the_handout_says_so(tmp_path, cli_run):
    problems = tmp_path / "prose.yaml"
    problems.write_text(PROSE)
    answers = tmp_path / "a.yaml"
    answers.write_text("answers: {why-normalize: {}}\n")
    code, out, _ = cli_run("check", str(problems), str(answers))
    assert code == 0
    assert "0 / 0 points: nothing to check." in out
    handout = tmp_path / "q.md"
    code, _, _ = cli_run("export", str(problems), "--questions", "-o", str(handout))
    assert code == 0
    text = handout.read_text()
    assert "*Answer in prose: this part is not graded.*" in text
    assert "Features on one scale" not in text
