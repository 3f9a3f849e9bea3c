"""What the worked solutions of the five course documents say, pinned where a strict reading
found them wrong or incomplete: each statement here was corrected once and must stay so."""

from __future__ import annotations

import pytest

import solver

from .conftest import PROBLEMS


def solved(file: str, pid: str) -> solver.Solution:
    return solver.solve(solver.load(PROBLEMS / file).get(pid))


def steps_text(s: solver.Solution) -> str:
    return " ".join(st.text for st in s.steps)


def test_l2_large_lambda_argues_from_the_objective_at_zero():
    text = steps_text(solved("discussion-normalization.yaml", "l2-large-lambda"))
    assert "λ‖θ_λ‖² ≤ CE(0)" in text and "‖θ_λ‖² ≤ CE(0)/λ" in text
    assert "stays between 0 and its value" not in text


def test_batch_of_one_zero_variance_is_said_of_fully_connected_inputs_only():
    text = steps_text(solved("coms573-cnn.yaml", "batchnorm-batch-size"))
    assert "[1, F]" in text and "[1, C, H, W] each channel still has H·W values" in text


def test_the_posted_conv_sizes_are_explained_in_the_solutions_not_in_the_question(
    tmp_path, cli_run
):
    handout = tmp_path / "q.md"
    code, _, _ = cli_run(
        "export", str(PROBLEMS / "coms573-cnn.yaml"), "--questions", "-o", str(handout)
    )
    assert code == 0
    questions = handout.read_text()
    assert (
        "(H + 2p − k)/(s + 1)" not in questions
        and "+ 1" not in questions.split("conv-sizes-posted")[0]
    )
    text = steps_text(solved("coms573-cnn.yaml", "conv-sizes-posted"))
    assert "(64 + 2 − 3)/(2 + 1) = 21" in text and "(21 + 2 − 3)/(1 + 1) = 10" in text


@pytest.mark.parametrize(
    ("file", "pid"),
    [
        ("ift6135-rnn-decoding.yaml", "exploding-gradients"),  # 1.3
        ("ift6135-rnn-decoding.yaml", "viterbi-proof"),  # 2.2(b-c)
        ("ift6135-rnn-decoding.yaml", "viterbi-pseudocode"),  # 2.2(d)
        ("ift6135-rnn-decoding.yaml", "viterbi-rnn"),  # 2.2(f)
        ("ift6135-rnn-decoding.yaml", "beam-practical"),  # 2.3
        ("ift6135-rnn-decoding.yaml", "beam-limits"),  # 2.4(d)
        ("coms573-cnn.yaml", "conv-sizes-posted"),  # 1, the posted sizes and 1(c) for conv1
        ("lecture-normalization.yaml", "why-normalize-inputs"),
        ("lecture-normalization.yaml", "why-regularize"),
        ("lecture-normalization.yaml", "dropout-ensemble"),
    ],
)
def test_every_part_the_documents_ask_in_prose_has_a_model_answer(file, pid):
    s = solved(file, pid)
    assert s.steps[0].text.startswith("Model answer (not graded):")
    assert len(steps_text(s)) > 200


def test_the_transposed_convolution_part_is_answered_with_the_direct_convolution():
    text = steps_text(solved("coms573-cnn.yaml", "conv-matrix"))
    assert "pad it with d(k − 1) − p = 2 zeros on each side, and slide the flipped kernel" in text


def test_adamw_decay_without_eta_is_reconciled_with_pytorchs():
    text = steps_text(solved("ift6135-rnn-decoding.yaml", "adam-vs-adamw"))
    assert "λ′ = ηλ" in text


def test_the_memory_crossover_says_what_it_counts():
    text = steps_text(solved("discussion-normalization.yaml", "model-size"))
    assert "optimizer's state" in text and "from batch size 28 on" in text
