"""The torch recomputation of the model-size kinds agrees with the exact answers, and
disagrees where an answer is wrong (a check that cannot fail checks nothing)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import solver  # noqa: E402
from solver import exact  # noqa: E402
from solver.verify import crosscheck  # noqa: E402
from solver.verify.crosscheck import At, at_point, compare  # noqa: E402

crosscheck.load_all()

OURS = ("mlp", "conv", "conv_matrix", "softmax_ce", "distillation")

EXTRA = """
problems:
  - id: lenet
    kind: conv
    given:
      input_shape: [n, 3, 32, 32]
      num_classes: 10
      count_bias: true
      layers:
        - {type: Conv2d, name: c1, out: 6, kernel: 5}
        - {type: ReLU}
        - {type: MaxPool2d, kernel: 2}
        - {type: Conv2d, out: 16, kernel: [5, 3], dilation: [1, 2], groups: 2, padding: [0, 1]}
        - {type: BatchNorm2d}
        - {type: AvgPool2d, kernel: 3, stride: 2, padding: 1, ceil_mode: true}
        - {type: Flatten}
        - {type: Linear, out: 120}
        - {type: Dropout, p: 0.25}
        - {type: Linear, out: null}
        - {type: CrossEntropyLoss}
  - id: mlp-n
    kind: mlp
    given:
      input_shape: [n, 20]
      num_classes: 4
      layers:
        - {type: Linear, out: null}
        - {type: LayerNorm}
        - {type: GELU}
        - {type: Linear, in: 16, out: null}
        - {type: Softmax}
  - id: cm2
    kind: conv_matrix
    given:
      kernel: [[a, 2], [3, b]]
      input_shape: [2, 4, 5]
      stride: [2, 1]
      padding: 1
      dilation: [1, 2]
  - id: cm1
    kind: conv_matrix
    given:
      kernel: [1, -2, 3]
      input_shape: [7]
      stride: 3
      padding: 2
      x: [1, 2, 3, 4, 5, 6, 7]
      grad_y: [1, -1, 2]
  - id: sce
    kind: softmax_ce
    given:
      logits: [[1, 2, 3], [0, 0, 1]]
      labels: [0, 2]
  - id: sce-hot
    kind: softmax_ce
    given:
      logits: [[2, -1, 2], [0, 1, 3]]
      labels: [1, 2]
      temperature: 3/2
  - id: sce-cold
    kind: softmax_ce
    given:
      logits: [1, u, -2]
      label: 0
      temperature: 1/3
  - id: kd
    kind: distillation
    given: {teacher: [5, 1, -2, 0], student: [1, 2, 0, 0], temperature: 4, label: 0, alpha: 0.9}
  - id: sce-soft
    kind: softmax_ce
    given:
      logits: [[0.5, z2, -1]]
      target: [[0.1, 0.9, 0]]
      reduction: sum
"""


def problems():
    out = [
        p
        for path in ("problems/discussion-normalization.yaml", "problems/coms573-cnn.yaml")
        for p in solver.load(path)
        if p.kind in OURS
    ]
    extra = solver.load_text(EXTRA, "extra.yaml")
    assert not extra.errors, [str(e) for e in extra.errors]
    return out + extra.problems


def agreements(problem, **options):
    s = solver.solve(problem, **options)
    return compare(s, crosscheck.CHECKS[problem.kind](problem.given, s, "cpu"))


@pytest.mark.parametrize("problem", problems(), ids=lambda p: p.id)
def test_every_answer_agrees_with_torch(problem):
    result = agreements(problem)
    assert result and all(a.ok for a in result), [a for a in result if not a.ok]
    # every answer is recomputed but the word of the worksheet's (b)
    assert {a.key for a in result if not a.compared} <= {"to_probabilities"}


@pytest.mark.parametrize(
    "pid,options,keys",
    [
        ("conv-sizes", {"size_rule": "no_plus_one"}, {"conv1.output_shape", "conv1.macs"}),
        ("conv-sizes", {"flip_bias_macs": True, "macs_factor": 2}, {"macs.total"}),
        ("model-size", {"bias_params": False}, {"params.linear1", "params.total"}),
        ("model-size", {"loss_reduced": False}, {"z11"}),
        ("model-size", {"logits_at": "loss"}, {"logits"}),
        ("conv-matrix", {"flip": True}, {"matrix", "output", "input_gradient"}),
        ("conv-matrix", {"transposed_is_a": True}, {"transposed"}),
        ("sce", {"grad_sign": -1}, {"grad_logits"}),
        ("sce", {"softmax": False}, {"probabilities", "loss"}),
        ("sce-hot", {"temperature_use": "ignore"}, {"probabilities", "entropy", "loss"}),
        ("sce-hot", {"temperature_use": "multiply"}, {"cold_limit", "hot_limit"}),
        ("sce-hot", {"grad_temperature": False}, {"grad_logits"}),
        ("kd", {"t_squared": False}, {"soft_loss", "grad_student", "loss"}),
        ("kd", {"student_at_T": False}, {"student_probabilities", "kl"}),
        ("kd", {"kl_swapped": True}, {"kl", "grad_student"}),
        ("lenet", {"size_rule": "stride_plus_one"}, {"pool1.output_shape"}),
    ],
)
def test_a_mistaken_answer_disagrees(pid, options, keys):
    problem = next(p for p in problems() if p.id == pid)
    wrong = {a.key for a in agreements(problem, **options) if not a.ok}
    assert keys <= wrong


def test_compare_substitutes_the_point_into_symbolic_answers():
    n = exact.symbol("n")
    assert at_point([3 * n, 4], {"n": 5}) == [15, 4]
    problem = next(p for p in problems() if p.id == "lenet")
    s = solver.solve(problem)
    good = compare(s, {"macs.total": At(s["macs.total"].subs(n, 7), {"n": 7})})
    bad = compare(s, {"macs.total": At(s["macs.total"].subs(n, 7) + 1, {"n": 7})})
    verdicts = [{a.key: a.verdict for a in found}["macs.total"] for found in (good, bad)]
    assert verdicts == ["agree", "disagree"]
