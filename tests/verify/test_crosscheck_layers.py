"""The torch recomputation of the sequence layers, Conv1d, ConvTranspose2d and receptive
fields agrees with the exact answers, and disagrees with every mistaken one."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import solver  # noqa: E402
from solver.verify import crosscheck  # noqa: E402
from solver.verify.crosscheck import compare  # noqa: E402

crosscheck.load_all()

EXTRA = """
problems:
  - id: one-sequence
    kind: mlp
    given:
      input_shape: [6, 5]
      layers:
        - {type: LSTM, hidden_size: 4, num_layers: 3, bidirectional: true}
        - {type: Linear, out: 3}
  - id: symbolic-time-major
    kind: mlp
    given:
      input_shape: [7, n, 12]
      layers:
        - {type: RNN, input_size: 12, hidden_size: 5, nonlinearity: relu, bias: false}
        - {type: Linear, out: 8}
        - {type: MultiheadAttention, num_heads: 2, bias: false}
        - {type: TransformerDecoderLayer, nhead: 4, dim_feedforward: 6, memory_length: 3}
        - {type: LayerNorm}
  - id: ids-unbatched
    kind: mlp
    given:
      input_shape: [9]
      layers:
        - {type: Embedding, num: 30, dim: 4}
        - {type: GRU, hidden: 3, batch_first: true}
        - {type: Flatten}
  - id: conv1d-field
    kind: conv
    given:
      input_shape: [2, 3, 50]
      count_bias: true
      layers:
        - {type: Conv1d, out: 4, kernel: 5, stride: 2, dilation: 2}
        - {type: BatchNorm1d}
        - {type: Conv1d, out: 6, kernel: 3, stride: 3, groups: 2}
  - id: projected-bidirectional
    kind: mlp
    given:
      input_shape: [n, 6, 7]
      layers:
        - {type: LSTM, name: lstm, hidden_size: 5, proj_size: 2, num_layers: 2,
           bidirectional: true, batch_first: true}
        - {type: MultiheadAttention, num_heads: 2, kdim: 3, vdim: 5, memory_length: 4,
           batch_first: true}
        - {type: Linear, out: 3}
  - id: self-attention-with-kdim-equal
    kind: mlp
    given:
      input_shape: [5, 8]
      layers:
        - {type: MultiheadAttention, num_heads: 4, kdim: 8, vdim: 8, bias: false}
  - id: pooling-1d
    kind: conv
    given:
      input_shape: [n, 3, 37]
      count_bias: true
      layers:
        - {type: MaxPool1d, kernel: 3, stride: 2, padding: 1, dilation: 2, ceil_mode: true}
        - {type: Conv1d, out: 4, kernel: 3, stride: 2}
        - {type: AvgPool1d, kernel: 3, stride: 2, padding: 1, ceil_mode: true}
        - {type: ConvTranspose1d, out: 2, kernel: 4, stride: 3, padding: 1, output_padding: 2}
        - {type: AdaptiveAvgPool1d, output_size: 3}
        - {type: AdaptiveMaxPool1d, output_size: 2}
        - {type: Flatten}
        - {type: Linear, out: 2}
  - id: field-hw
    kind: conv
    given:
      input_shape: [1, 2, 40, 30]
      count_bias: true
      layers:
        - {type: Conv2d, out: 4, kernel: [3, 5], stride: [2, 1]}
        - {type: MaxPool2d, kernel: 2, dilation: [1, 2]}
        - {type: Conv2d, out: 4, kernel: 3}
        - {type: ConvTranspose2d, out: 2, kernel: 4, stride: 3, padding: 1, output_padding: 2}
"""


def problems():
    """The extra cases; the shipped problems are verified by tests/verify/test_verify.py."""
    extra = solver.load_text(EXTRA, "extra.yaml")
    assert not extra.errors, [str(e) for e in extra.errors]
    return extra.problems


def problem(pid):
    shipped = solver.load("problems/sequence-models.yaml").problems
    return next(p for p in shipped + problems() if p.id == pid)


def agreements(problem, **options):
    s = solver.solve(problem, **options)
    return compare(s, crosscheck.CHECKS[problem.kind](problem.given, s, "cpu"))


@pytest.mark.parametrize("problem", problems(), ids=lambda p: p.id)
def test_every_answer_agrees_with_torch(problem):
    result = agreements(problem)
    assert result and all(a.ok for a in result), [a for a in result if not a.ok]
    assert {a.key for a in result if not a.compared} <= {"to_probabilities", "logits"}


@pytest.mark.parametrize(
    "pid,options,keys",
    [
        ("gru-with-bias", {"rnn_bias_vectors": 1}, {"params.gru", "params.total"}),
        ("gru-with-bias", {"swapped_gates": True}, {"params.gru"}),
        ("embedding-bidirectional-rnn", {"bidirectional_doubled": False}, {"params.gru", "z2"}),
        ("embedding-bidirectional-rnn", {"stacked_input": False}, {"params.gru"}),
        ("attention-heads", {"out_projection": False}, {"params.attn", "macs.attn"}),
        ("conv1d-field", {"rf_strides": False}, {"conv2.receptive_field"}),
        ("field-hw", {"rf_strides": False}, {"conv2.receptive_field_hw"}),
        ("unet-upsampling", {"transposed_rule": "conv"}, {"up1.output_size"}),
        ("lstm-projection", {"projection_weight": False}, {"params.lstm", "macs.lstm"}),
        ("lstm-projection", {"projected_recurrence": False}, {"params.lstm", "macs.lstm"}),
        ("cross-attention-kdim", {"kv_dims": False}, {"params.attn", "macs.attn"}),
        ("ecg-1d-cnn", {"rf_strides": False}, {"pool3.receptive_field"}),
        ("ecg-1d-cnn", {"pool_stride_one": True}, {"pool1.output_size", "pool3.jump"}),
        ("projected-bidirectional", {"projection_weight": False}, {"params.lstm"}),
    ],
)
def test_a_mistaken_answer_disagrees(pid, options, keys):
    wrong = {a.key for a in agreements(problem(pid), **options) if not a.ok}
    assert keys <= wrong
