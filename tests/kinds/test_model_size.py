"""The model-size kinds against values computed independently: by hand, by brute force, and
(where torch is installed) from real torch modules."""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import numpy as np
import pytest
import sympy

import solver
from solver import exact, kinds
from solver.errors import DlsolveError
from solver.kinds.model_size import PYTORCH, SIZE_RULES, SizeRule
from solver.kinds.softmax import NoTemperatureMistake

n = exact.symbol("n")


def solve_yaml(text: str, **options):
    """Load a one-problem file and solve it."""
    ps = solver.load_text(text, "p.yaml")
    assert not ps.errors, [str(e) for e in ps.errors]
    return solver.solve(ps.problems[0], **options)


def load_error(text: str) -> str:
    ps = solver.load_text(text, "p.yaml")
    assert len(ps.errors) == 1 and not ps.problems
    return str(ps.errors[0])


def network(kind: str, input_shape, layers, **extra) -> str:
    lines = [
        "problems:",
        "  - id: net",
        f"    kind: {kind}",
        "    given:",
        f"      input_shape: {input_shape}",
    ]
    lines += [f"      {k}: {v}" for k, v in extra.items()]
    lines.append("      layers:")
    lines += [f"        - {layer}" for layer in layers]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the size formula


def positions(n: int, k: int, s: int, p: int, d: int) -> int:
    """Brute force: how many window starts fit in the padded input."""
    return sum(
        1 for start in range(-p, n + p) if (start + p) % s == 0 and start + d * (k - 1) <= n + p - 1
    )


@pytest.mark.parametrize(
    "n,k,s,p,d",
    [
        (n_, k_, s_, p_, d_)
        for n_, k_, s_, p_, d_ in itertools.product(
            (5, 7, 8, 32, 64), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2)
        )
        if d_ * (k_ - 1) + 1 <= n_ + 2 * p_
    ],
)
def test_output_size_counts_the_window_positions(n, k, s, p, d):
    assert PYTORCH.size(n, k, s, p, d) == positions(n, k, s, p, d)


def test_the_mistaken_rules_are_the_known_wrong_formulas():
    # Com S 573's posted 21 = (64 + 2 - 3)/(2 + 1): no +1 and a divisor of s + 1
    assert SIZE_RULES["no_plus_one_stride_plus_one"].size(64, 3, 2, 1, 1) == 21
    assert SIZE_RULES["no_plus_one"].size(64, 3, 2, 1, 1) == 31
    assert SIZE_RULES["stride_plus_one"].size(64, 3, 2, 1, 1) == 22
    assert SIZE_RULES["no_dilation"].size(10, 3, 1, 0, 2) == 8  # used k = 3, not 5
    assert SIZE_RULES["one_side_padding"].size(8, 3, 1, 1, 1) == 7
    assert SIZE_RULES["round_up"].size(8, 3, 2, 0, 1) == 4
    assert SizeRule().formula().text() == "⌊(H + 2·p - d·(k - 1) - 1)/s⌋ + 1"


# --------------------------------------------------------------------------- the shipped problems


@pytest.fixture(scope="module")
def worksheet():
    ps = solver.load("problems/discussion-normalization.yaml")
    assert ps.problems[0].id == "model-size"
    return solver.solve(ps.problems[0])


def test_worksheet_blanks_and_shapes(worksheet):
    s = worksheet
    assert (s["linear1.out"], s["linear3.in"], s["linear4.in"], s["linear4.out"]) == (
        128,
        256,
        20,
        1000,
    )
    per_layer = [128, 128, 128, 256, 256, 256, 256, 20, 20, 1000]
    assert [s[f"z{i}"] for i in range(1, 11)] == [[4, f] for f in per_layer]
    assert s["z11"] == []  # mean reduction: one number
    assert s["logits"] == "z10" and s["to_probabilities"] == "softmax"


def test_worksheet_parameters_activations_and_memory(worksheet):
    s = worksheet
    C = (
        (52 * 128 + 128)
        + 2 * 128
        + (128 * 256 + 256)
        + 2 * 256
        + (256 * 20 + 20)
        + (20 * 1000 + 1000)
    )
    K = 3 * 128 + 4 * 256 + 2 * 20 + 1000
    assert s["params.total"] == C == 66716
    assert s["activations.per_example"] == K == 2448
    assert sympy.simplify(s["activation_elements"] - K * n) == 0
    assert s["memory.params_bytes"] == 4 * C
    assert sympy.simplify(s["memory.activation_bytes"] - 4 * K * n) == 0
    assert s["memory.crossover_batch"] == next(b for b in range(1, 10**6) if b * K > C) == 28
    assert s["memory.dominant"] == "activations"
    assert s["macs.total"] == 4 * (52 * 128 + 128 * 256 + 256 * 20 + 20 * 1000)


@pytest.fixture(scope="module")
def coms573():
    return {p.id: p for p in solver.load("problems/coms573-cnn.yaml")}


def test_coms573_conv_sizes_are_32_not_21(coms573):
    ids = [p for p in coms573]
    assert ids.index("conv-sizes") < ids.index("batchnorm-neurons") < ids.index("conv-matrix")
    s = solver.solve(coms573["conv-sizes"])
    assert s["conv1.output_size"] == [32, 32] and s["conv2.output_size"] == [32, 32]
    assert s["conv1.output_shape"] == [256, 32, 32] and s["conv2.output_shape"] == [512, 32, 32]
    assert s["conv1.params"] == 3 * 3 * 128 * 256 and s["conv2.params"] == 3 * 3 * 256 * 512
    assert s["params.total"] == 1_474_560
    assert s["conv1.macs"] == 9 * 128 * 256 * 32 * 32
    assert s["conv2.macs"] == 9 * 256 * 512 * 32 * 32
    assert s["macs.total"] == s["conv1.macs"] + s["conv2.macs"]
    assert s["activations.input"] == 128 * 64 * 64 == s["activations.output"]
    assert s["memory.change"] == 0 and s["memory.ratio"] == 1
    wrong = solver.solve(coms573["conv-sizes"], size_rule="no_plus_one_stride_plus_one")
    assert wrong["conv1.output_size"] == [21, 21]  # the posted solution's mistake
    # the posted solution's 21 is explained in the solutions, not handed out with the question
    assert "21" not in coms573["conv-sizes"].text and "21" in coms573["conv-sizes-posted"].text


def test_coms573_conv_matrix_by_hand(coms573):
    s = solver.solve(coms573["conv-matrix"])
    w1, w2, w3 = (exact.symbol(f"w{i}") for i in (1, 2, 3))
    row = [w1, w2, w3, 0, 0, 0, 0, 0]
    A = [row, [0, *row[:-1]], [0] * 4 + row[:4], [0] * 5 + row[:3]]
    assert s["matrix"] == A
    x = [exact.symbol(f"x{i}{j}") for i in (1, 2) for j in (1, 2, 3, 4)]
    dy = [exact.symbol(f"dy{i}{j}") for i in (1, 2) for j in (1, 2)]
    y = [sum(a * v for a, v in zip(r, x, strict=True)) for r in A]
    assert all(sympy.expand(u - v) == 0 for u, v in zip(s["output"], y, strict=True))
    grad = [sum(A[i][j] * dy[i] for i in range(4)) for j in range(8)]
    assert all(sympy.expand(u - v) == 0 for u, v in zip(s["input_gradient"], grad, strict=True))
    assert s["transposed"] == [list(c) for c in zip(*A, strict=True)]


# --------------------------------------------------------------------------- mlp


def test_mlp_infers_through_norms_from_a_later_in_and_num_classes():
    s = solve_yaml(
        network(
            "mlp",
            "[n, 10]",
            [
                "{type: Linear, out: null}",
                "{type: LayerNorm}",
                "{type: Tanh}",
                "{type: Linear, in: 7, out: null}",
                "{type: Sigmoid}",
                "{type: Softmax}",
            ],
            num_classes=3,
        )
    )
    assert s["linear1.in"] == 10 and s["linear1.out"] == 7 and s["linear2.out"] == 3
    assert s["z2"] == [n, 7] and s["z6"] == [n, 3]
    assert s["params.ln1"] == 14
    assert s["logits"] == "z5"  # what enters the Softmax
    assert s["activations.per_example"] == 3 * 7 + 3 * 3


def test_mlp_loss_without_reduction_keeps_the_batch():
    s = solve_yaml(
        network(
            "mlp", "[5, 4]", ["{type: Linear, out: 2}", "{type: CrossEntropyLoss, reduction: none}"]
        )
    )
    assert s["z2"] == [5]


def test_mlp_error_carried_forward_uses_the_students_sizes():
    p = solver.load("problems/discussion-normalization.yaml").problems[0]
    s = solver.solve(p, overrides={"linear1.out": 100})
    assert s["z1"] == [4, 100] and s["params.linear1"] == 52 * 100 + 100
    s = solver.solve(p, overrides={"z3": [4, 64]})
    assert s["z4"] == [4, 256] and s["z3"] == [4, 64]
    s = solver.solve(p, overrides={"params.linear1": 6656})
    assert s["params.total"] == 66716 - 128


def test_mlp_misconceptions_give_the_mistaken_answers():
    p = solver.load("problems/discussion-normalization.yaml").problems[0]
    k = kinds.get("mlp")
    by_option = {tuple(sorted(o.items())): name for name, o in k.misconceptions.items()}
    assert len(by_option) == len(k.misconceptions)
    assert solver.solve(p, bias_params=False)["params.linear1"] == 52 * 128
    assert solver.solve(p, bn_buffers=True)["params.bn1"] == 4 * 128
    assert solver.solve(p, norm_params=False)["params.total"] == 66716 - 256 - 512
    assert solver.solve(p, logits_at="loss")["logits"] == "z11"
    assert solver.solve(p, loss_reduced=False)["z11"] == [4]
    assert solver.solve(p, count_input=True)["activations.per_example"] == 2448 + 52
    assert solver.solve(p, macs_factor=2)["macs.total"] == 2 * 4 * (
        52 * 128 + 128 * 256 + 256 * 20 + 20 * 1000
    )
    for options in k.misconceptions.values():
        solver.solve(p, **options)


# --------------------------------------------------------------------------- conv by hand


HIDDEN_SPEC = [
    "{type: Conv2d, name: stem, in: 3, out: 8, kernel: [5, 3], stride: [2, 1], "
    "padding: [2, 1], dilation: [1, 2]}",
    "{type: BatchNorm2d}",
    "{type: ReLU}",
    "{type: MaxPool2d, kernel: 3, stride: 2, padding: 1, dilation: 2}",
    "{type: Conv2d, name: grouped, out: 12, kernel: 3, groups: 4, bias: false}",
    "{type: AvgPool2d, kernel: 2, ceil_mode: true}",
    "{type: Flatten}",
    "{type: Linear, out: 10}",
]


def test_a_spec_with_stride_padding_dilation_groups_and_pooling_by_hand():
    s = solve_yaml(network("conv", "[2, 3, 33, 20]", HIDDEN_SPEC, count_bias="true"))
    # stem: H = ⌊(33 + 4 - 4 - 1)/2⌋ + 1 = 17, W = ⌊(20 + 2 - 4 - 1)/1⌋ + 1 = 18
    assert s["stem.output_shape"] == [2, 8, 17, 18]
    # max pool, dilation 2 (span 5): H = ⌊(17 + 2 - 4 - 1)/2⌋ + 1 = 8, W = ⌊15/2⌋ + 1 = 8
    assert s["pool1.output_size"] == [8, 8]
    assert s["grouped.output_shape"] == [2, 12, 6, 6]
    assert s["pool2.output_size"] == [3, 3]
    assert s["linear1.in"] == 12 * 3 * 3
    assert s["stem.params"] == 5 * 3 * 3 * 8 + 8
    assert s["grouped.params"] == 3 * 3 * (8 // 4) * 12
    assert s["bn1.params"] == 16
    assert s["stem.macs"] == 2 * 8 * 17 * 18 * (5 * 3 * 3 + 1)  # count_bias: +1 per output
    assert s["grouped.macs"] == 2 * 12 * 6 * 6 * (3 * 3 * 2)  # no bias to count
    assert s["linear1.macs"] == 2 * 10 * (108 + 1)
    assert s["activations.output"] == 20


def test_symbolic_batch_and_same_padding():
    s = solve_yaml(
        network(
            "conv",
            "[n, 4, 9, 9]",
            [
                "{type: Conv2d, out: 6, kernel: 4, padding: same}",
                "{type: AdaptiveAvgPool2d, output_size: [2, 3]}",
            ],
        )
    )
    assert s["conv1.output_shape"] == [n, 6, 9, 9]
    assert s["pool1.output_shape"] == [n, 6, 2, 3]
    assert sympy.simplify(s["conv1.macs"] - n * 6 * 81 * 4 * 16) == 0
    assert s["memory.ratio"] == Fraction(36, 4 * 81)


def test_conv_error_carried_forward_and_misconceptions(coms573):
    p = coms573["conv-sizes"]
    s = solver.solve(p, overrides={"conv1.output_shape": [256, 21, 21]})
    assert s["conv1.macs"] == 9 * 128 * 256 * 21 * 21
    assert s["conv2.output_shape"] == [512, 21, 21]
    assert solver.solve(p, size_rule="no_plus_one")["conv1.output_size"] == [31, 31]
    assert solver.solve(p, flip_bias_macs=True)["conv1.macs"] == 9 * 128 * 256 * 32 * 32  # no bias
    assert solver.solve(p, macs_factor=2)["macs.total"] == 2 * 1_509_949_440
    grouped = solve_yaml(
        network("conv", "[8, 5, 5]", ["{type: Conv2d, out: 4, kernel: 3, groups: 2}"]), groups=False
    )
    assert grouped["conv1.params"] == 3 * 3 * 8 * 4 + 4
    hidden = solver.load_text(network("conv", "[2, 3, 33, 20]", HIDDEN_SPEC), "h.yaml")
    for options in kinds.get("conv").misconceptions.values():
        solver.solve(p, **options)
        solver.solve(hidden.problems[0], **options)


# --------------------------------------------------------------------------- against torch


def random_specs(count: int, seed: int = 7):
    """Random small CNNs with every option, as (input shape, layer strings)."""
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        h, w = rng.randint(9, 30), rng.randint(9, 30)
        groups = rng.choice((1, 2, 3))
        cin = groups * rng.randint(1, 3)
        k = [rng.randint(1, 4), rng.randint(1, 4)]
        d = [rng.randint(1, 2), rng.randint(1, 2)]
        layers = [
            f"{{type: Conv2d, in: {cin}, out: {groups * rng.randint(1, 3)}, kernel: {k}, "
            f"stride: {[rng.randint(1, 3), rng.randint(1, 3)]}, padding: "
            f"{[rng.randint(0, 2), rng.randint(0, 2)]}, dilation: {d}, groups: {groups}, "
            f"bias: {rng.choice(['true', 'false'])}}}",
            rng.choice(["{type: ReLU}", "{type: BatchNorm2d}", "{type: GELU}"]),
            rng.choice(
                [
                    f"{{type: MaxPool2d, kernel: 2, stride: {rng.randint(1, 2)}, padding: "
                    f"1, dilation: {rng.randint(1, 2)}, ceil_mode: "
                    f"{rng.choice(['true', 'false'])}}}",
                    f"{{type: AvgPool2d, kernel: 3, stride: {rng.randint(1, 3)}, padding: "
                    f"1, ceil_mode: {rng.choice(['true', 'false'])}}}",
                ]
            ),
            "{type: Flatten}",
            "{type: Linear, out: 5}",
        ]
        text = network("conv", f"[2, {cin}, {h}, {w}]", layers)
        try:
            solve_yaml(text)
        except AssertionError:  # a random spec whose kernel does not fit: draw again
            continue
        out.append(text)
    return out


def torch_network(given, count_bias=False):
    """Build the layers as torch modules by hand and run them: shapes, params and MACs."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    x = torch.zeros(*given["input_shape"])
    rows = []
    for spec in given["layers"]:
        t = spec["type"]
        opts = {
            k: spec[k]
            for k in ("stride", "padding", "dilation", "groups", "bias", "ceil_mode")
            if k in spec
        }
        if t == "Conv2d":
            m = nn.Conv2d(x.shape[1], spec["out"], spec["kernel"], **opts)
        elif t in ("MaxPool2d", "AvgPool2d"):
            m = getattr(nn, t)(spec["kernel"], **opts)
        elif t == "BatchNorm2d":
            m = nn.BatchNorm2d(x.shape[1])
        elif t == "Linear":
            m = nn.Linear(x.shape[-1], spec["out"])
        else:
            m = getattr(nn, t)()
        y = m.eval()(x)
        macs = 0
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            taps = m.weight[0].numel()
            macs = y.numel() * (taps + (1 if count_bias and m.bias is not None else 0))
        rows.append((list(y.shape), sum(p.numel() for p in m.parameters()), macs))
        x = y
    return rows


RANDOM_CNNS = random_specs(40)


@pytest.mark.parametrize("text", RANDOM_CNNS, ids=[f"cnn{i}" for i in range(len(RANDOM_CNNS))])
def test_random_cnns_match_torch_modules(text):
    import yaml

    given = yaml.safe_load(text)["problems"][0]["given"]
    rows = torch_network(given)
    s = solve_yaml(text)
    layers = [s.answers[k] for k in s.answers if k.endswith(".output_shape")]
    assert [a.value for a in layers] == [r[0] for r in rows]
    assert s["params.total"] == sum(r[1] for r in rows)
    assert s["conv1.macs"] == rows[0][2] and s["linear1.macs"] == rows[-1][2]


def test_hidden_spec_matches_torch_with_count_bias():
    import yaml

    text = network("conv", "[2, 3, 33, 20]", HIDDEN_SPEC, count_bias="true")
    given = yaml.safe_load(text)["problems"][0]["given"]
    given["layers"][4]["in"] = 8
    rows = torch_network(given, count_bias=True)
    s = solve_yaml(text)
    shapes = [a.value for k, a in s.answers.items() if k.endswith(".output_shape")]
    assert shapes == [r[0] for r in rows]
    assert s["params.total"] == sum(r[1] for r in rows)
    assert s["macs.total"] == sum(r[2] for r in rows)


def test_worksheet_parameters_match_torch_modules(worksheet):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    net = nn.Sequential(
        nn.Linear(52, 128),
        nn.BatchNorm1d(128),
        nn.ReLU(),
        nn.Linear(128, 256),
        nn.BatchNorm1d(256),
        nn.ReLU(),
        nn.Dropout(),
        nn.Linear(256, 20),
        nn.ReLU(),
        nn.Linear(20, 1000),
    )
    assert worksheet["params.total"] == sum(p.numel() for p in net.parameters())
    x = torch.zeros(4, 52)
    shapes = []
    for m in net.eval():
        x = m(x)
        shapes.append(list(x.shape))
    loss = nn.CrossEntropyLoss()(x, torch.zeros(4, dtype=torch.long))
    shapes.append(list(loss.shape))
    assert [worksheet[f"z{i}"] for i in range(1, 12)] == shapes


# --------------------------------------------------------------------------- conv_matrix


def correlate(x, w, stride, padding):
    """Brute-force 2-D cross-correlation with zero padding (independent of the kind)."""
    H, W = len(x), len(x[0])
    kh, kw = len(w), len(w[0])

    def px(i, j):
        return x[i][j] if 0 <= i < H and 0 <= j < W else 0

    Ho = (H + 2 * padding - kh) // stride + 1
    Wo = (W + 2 * padding - kw) // stride + 1
    return [
        sum(
            w[a][b] * px(i * stride - padding + a, j * stride - padding + b)
            for a in range(kh)
            for b in range(kw)
        )
        for i in range(Ho)
        for j in range(Wo)
    ]


@pytest.mark.parametrize("stride,padding,size", [(1, 0, 4), (2, 1, 5), (2, 0, 6), (3, 2, 7)])
def test_conv_matrix_times_x_is_the_correlation(stride, padding, size):
    rng = random.Random(stride * 10 + padding)
    w = [[rng.randint(-3, 3) for _ in range(3)] for _ in range(2)]
    x = [[rng.randint(-5, 5) for _ in range(size)] for _ in range(size - 1)]
    text = (
        f"problems:\n  - id: c\n    kind: conv_matrix\n    given:\n      kernel: {w}\n"
        f"      input_shape: [{size - 1}, {size}]\n      stride: {stride}\n"
        f"      padding: {padding}\n      x: {x}\n"
    )
    s = solve_yaml(text)
    assert s["output"] == correlate(x, w, stride, padding)
    A = s["matrix"]
    assert s["transposed"] == [list(c) for c in zip(*A, strict=True)]
    flat = [v for row in x for v in row]
    assert [sum(a * v for a, v in zip(r, flat, strict=True)) for r in A] == s["output"]
    flipped = solve_yaml(text, flip=True)["output"]
    assert flipped == correlate(x, [r[::-1] for r in w[::-1]], stride, padding)


# --------------------------------------------------------------------------- softmax_ce


def test_softmax_ce_exact_by_hand():
    s = solve_yaml(
        "problems:\n  - id: s\n    kind: softmax_ce\n    given:\n"
        "      logits: [1, 2, 3]\n      label: 0\n"
    )
    e = sympy.E
    p = s["probabilities"]
    assert sympy.simplify(sympy.Add(*p) - 1) == 0
    assert sympy.simplify(p[0] - e / (e + e**2 + e**3)) == 0
    assert sympy.simplify(s["loss"] - sympy.log(1 + e + e**2)) == 0
    grad = s["grad_logits"]
    assert sympy.simplify(grad[0] - (p[0] - 1)) == 0 and sympy.simplify(grad[2] - p[2]) == 0
    assert s["predicted"] == 2 and s.answers["predicted"].type == "integer"


def test_softmax_ce_batch_mean_and_soft_targets_against_floats():
    s = solve_yaml(
        "problems:\n  - id: s\n    kind: softmax_ce\n    given:\n"
        "      logits: [[0, 1, -1], [2, 2, 0]]\n"
        "      target: [[0.2, 0.8, 0], [0.5, 0.5, 0]]\n"
    )
    z = [[0, 1, -1], [2, 2, 0]]
    t = [[0.2, 0.8, 0], [0.5, 0.5, 0]]
    p = [[math.exp(v) / sum(math.exp(u) for u in row) for v in row] for row in z]
    loss = (
        -sum(
            tj * math.log(pj)
            for pr, tr in zip(p, t, strict=True)
            for pj, tj in zip(pr, tr, strict=True)
        )
        / 2
    )
    assert exact.to_float(s["loss"]) == pytest.approx(loss, rel=1e-12)
    grad = exact.to_float(s["grad_logits"])
    for got, pr, tr in zip(grad, p, t, strict=True):
        want = [(pj - tj) / 2 for pj, tj in zip(pr, tr, strict=True)]
        assert got == pytest.approx(want, rel=1e-12)
    summed = solve_yaml(
        "problems:\n  - id: s\n    kind: softmax_ce\n    given:\n"
        "      logits: [[0, 1, -1], [2, 2, 0]]\n      labels: [1, 0]\n",
        reduction="sum",
    )
    assert exact.to_float(summed["loss"]) == pytest.approx(
        -math.log(p[0][1]) - math.log(p[1][0]), rel=1e-12
    )


def test_softmax_ce_misconceptions():
    text = (
        "problems:\n  - id: s\n    kind: softmax_ce\n    given:\n"
        "      logits: [0.5, 0.25, 0.25]\n      label: 1\n"
    )
    raw = solve_yaml(text, softmax=False)
    assert raw["probabilities"] == [Fraction(1, 2), Fraction(1, 4), Fraction(1, 4)]
    assert sympy.simplify(raw["loss"] - sympy.log(4)) == 0
    right = solve_yaml(text)
    flipped = solve_yaml(text, grad_sign=-1)
    assert all(
        sympy.simplify(a + b) == 0
        for a, b in zip(right["grad_logits"], flipped["grad_logits"], strict=True)
    )
    for options in kinds.get("softmax_ce").misconceptions.values():
        try:
            solve_yaml(text, **options)
        except NoTemperatureMistake:  # no temperature here: a temperature mistake is skipped
            assert {"temperature_use", "grad_temperature"} & set(options)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "layers,line,field,words",
    [
        (
            [
                "{type: Linear, in: 52, out: 100}",
                "{type: ReLU}",
                "{type: Linear, in: 128, out: 10}",
            ],
            9,
            "given.layers.2.in",
            "takes in = 128 features, but relu1's output z2 has 100",
        ),
        (
            ["{type: Linear, out: null}", "{type: ReLU}", "{type: Linear, in: null, out: 3}"],
            7,
            "given.layers.0.out",
            "linear2's in is blank too",
        ),
        (["{type: Linear, out: null}"], 7, "given.layers.0.out", "nothing after it fixes it"),
        (["{type: Linear, out: 3, kernal: 3}"], 7, "given.layers.0.kernal", "Linear has no field"),
        (["{type: Liner, out: 3}"], 7, "given.layers.0.type", "did you mean 'Linear'"),
        (
            ["{type: CrossEntropyLoss}", "{type: ReLU}"],
            8,
            "given.layers.1",
            "CrossEntropyLoss must be the last layer",
        ),
        (["{type: Conv2d, out: 3, kernel: 3}"], 7, "given.layers.0.type", "use kind: conv"),
    ],
)
def test_mlp_errors_name_file_line_layer_and_field(layers, line, field, words):
    message = load_error(network("mlp", "[4, 52]", layers))
    assert message.startswith(f"p.yaml:{line}: problem 'net', field '{field}'")
    assert words in message


@pytest.mark.parametrize(
    "layers,line,field,words",
    [
        (
            ["{type: Conv2d, out: 4, kernel: 3, stride: 2}", "{type: Conv2d, out: 4, kernel: 5}"],
            8,
            "given.layers.1.kernel",
            "larger than its padded input 3 + 2·0 = 3",
        ),
        (
            ["{type: Conv2d, out: 4, kernel: 3, groups: 4}"],
            7,
            "given.layers.0.groups",
            "must divide both in = 6 and out = 4",
        ),
        (["{type: Linear, out: 4}"], 7, "given.layers.0.type", "add a Flatten layer"),
        (
            ["{type: MaxPool2d, kernel: 2, padding: 2}"],
            7,
            "given.layers.0.padding",
            "at most half the kernel size",
        ),
        (
            ["{type: Conv2d, in: 5, out: 4, kernel: 1}"],
            7,
            "given.layers.0.in",
            "takes in = 5 channels, but the input x has 6",
        ),
        (
            ["{type: Flatten}", "{type: BatchNorm2d}"],
            8,
            "given.layers.1.type",
            "needs [channels, height, width]",
        ),
        (
            ["{type: Conv2d, out: 4, kernel: 3, stride: 2, padding: same}"],
            7,
            "given.layers.0.padding",
            "PyTorch refuses",
        ),
    ],
)
def test_conv_errors_name_file_line_layer_and_field(layers, line, field, words):
    message = load_error(network("conv", "[6, 8, 8]", layers))
    assert message.startswith(f"p.yaml:{line}: problem 'net', field '{field}'")
    assert words in message


def test_num_classes_that_the_logits_do_not_have_is_an_error():
    message = load_error(
        network(
            "mlp", "[n, 10]", ["{type: Linear, out: 4}", "{type: CrossEntropyLoss}"], num_classes=5
        )
    )
    assert "gives 4 logits but num_classes is 5" in message and "layers.0.out" in message


def test_the_other_problems_still_solve_when_one_is_broken():
    text = network("conv", "[6, 8, 8]", ["{type: Conv2d, out: 4, kernel: 9}"]) + (
        "  - id: fine\n    kind: softmax_ce\n    given:\n      logits: [1, 2]\n      label: 0\n"
    )
    ps = solver.load_text(text, "p.yaml")
    assert [p.id for p in ps.problems] == ["fine"] and len(ps.errors) == 1
    with pytest.raises(DlsolveError):
        raise ps.errors[0]


# --------------------------------------------------------------------------- examples, table


@pytest.mark.parametrize("name", ["mlp", "conv", "conv_matrix", "softmax_ce"])
def test_each_kind_example_and_template_solve(name):
    from solver import describe

    ps = solver.load_text(describe.template(name), "t.yaml")
    assert not ps.errors
    s = solver.solve(ps.problems[0])
    assert s.answers and s.steps


def test_the_table_comes_before_the_steps_in_text_and_markdown(coms573):
    from solver.render import json as json_render
    from solver.render import markdown, text

    solved = solver.solve_set(solver.load("problems/coms573-cnn.yaml"), only=["conv-sizes"])
    out = text.render([solved])
    assert out.index("Layer (type)") < out.index("Steps")
    assert "conv1 (Conv2d 128→256, 3×3, stride 2, pad 1, no bias)  [256, 32, 32]" in out
    assert "1,474,560" in out
    md = markdown.render([solved])
    assert md.index("| Layer (type) | Output shape | Params | MACs |") < md.index("**Solution**")
    import json

    table = json.loads(json_render.render([solved]))["problems"][0]["tables"][0]
    assert table["rows"][1][1:] == [[256, 32, 32], 294912, 301989888]
    assert table["footer"] == [["Total", None, 1474560, 1509949440]]


# --------------------------------------------------------------------------- variants


SOURCES = [
    ("problems/discussion-normalization.yaml", "model-size"),
    ("problems/coms573-cnn.yaml", "conv-sizes"),
    ("problems/coms573-cnn.yaml", "conv-matrix"),
]


def _sources():
    out = [solver.load(path).get(pid) for path, pid in SOURCES]
    extra = solver.load_text(
        network("conv", "[n, 3, 33, 20]", HIDDEN_SPEC, num_classes=10)
        + "  - id: cm\n    kind: conv_matrix\n    given:\n      kernel: [[1, 2], [3, 4]]\n"
        "      input_shape: [3, 3]\n      stride: 2\n      padding: 1\n      x: "
        "[[1, 2, 3], [4, 5, 6], [7, 8, 9]]\n"
        "  - id: sm\n    kind: softmax_ce\n    given:\n      logits: [[1, 2, 3], [0, 0, 1]]\n"
        "      target: [[0.1, 0.9, 0], [0.5, 0.5, 0]]\n"
        "  - id: sm1\n    kind: softmax_ce\n    given:\n      logits: [1, 2, 3]\n"
        "      label: 2\n",
        "extra.yaml",
    )
    assert not extra.errors, [str(e) for e in extra.errors]
    return out + extra.problems


@pytest.mark.parametrize("problem", _sources(), ids=lambda p: p.id)
def test_variants_keep_their_promises_and_differ(problem):
    k = kinds.get(problem.kind)
    assert k.nice
    seen = []
    for seed in range(12):
        raw = k.generate(problem.raw_given, random.Random(seed))
        assert raw == k.generate(problem.raw_given, random.Random(seed))  # same seed, same
        g = k.Given.model_validate(raw)
        s = k.new_solution()
        k.solve(g, s)
        assert k.broken_promises(g, s) == []
        assert raw != problem.raw_given
        seen.append(raw)
    assert len({repr(v) for v in seen}) >= 4  # a symbolic kernel only varies in length


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize("problem", _sources(), ids=lambda p: p.id)
def test_any_earlier_answer_can_be_carried_forward_without_a_crash(problem):
    """The checker re-solves under a student's answers; none of them may break the solve."""
    s = solver.solve(problem)
    wrong_values = [0, Fraction(-1, 2), [1], [[1, 2], [3]], "z1", [n, 2, 3]]
    for key in s.answers:
        for value in wrong_values:
            again = solver.solve(problem, overrides={key: value})
            assert again[key] == value


def test_softmax_is_written_in_textbook_form():
    s = solver.solve(
        solver.load_text(
            "problems:\n  - id: s\n    kind: softmax_ce\n"
            "    given: {logits: [-1, 0, 1], label: 2}\n",
            "s.yaml",
        ).get("s")
    )
    p = s.answers["probabilities"]
    assert p.display().text() == "[1/(1 + e + e²), e/(1 + e + e²), e²/(1 + e + e²)]"
    e = sympy.E
    assert sympy.simplify(exact.to_sympy(s["loss"]) - sympy.log((1 + e + e**2) / e**2)) == 0


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding"),
    [(4, [1, 2, 3], 1, 0), (7, [1, 2, 3], 2, 1), (6, [1, -2], 3, 0), (8, [2, 0, -1], 2, 2)],
)
def test_transposed_convolution_is_also_written_as_a_direct_one(size, kernel, stride, padding):
    text = (
        f"problems:\n  - id: c\n    kind: conv_matrix\n    given: {{kernel: {kernel}, "
        f"input_shape: [{size}], stride: {stride}, padding: {padding}, "
        f"grad_y: {list(range(1, (size + 2 * padding - len(kernel)) // stride + 2))}}}\n"
    )
    s = solver.solve(solver.load_text(text, "c.yaml").get("c"))
    step = next(st for st in s.steps if "as a direct convolution" in st.text)
    # by hand, independently: correlate the padded, spread ∂L/∂y with the flipped kernel
    pad = [int(v) for v in exact.flatten(s.answers["input_gradient"].value)]
    dy = [int(v) for v in range(1, (size + 2 * padding - len(kernel)) // stride + 2)]
    spread = np.zeros(stride * (len(dy) - 1) + 1, dtype=int)
    spread[::stride] = dy
    border = len(kernel) - 1 - padding
    full = np.concatenate([np.zeros(border, int), spread, np.zeros(size + len(kernel), int)])
    direct = [int(np.dot(full[q : q + len(kernel)], kernel[::-1])) for q in range(size)]
    assert direct == pad
    assert f"d(k − 1) − p = {border}" in step.text
