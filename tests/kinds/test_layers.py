"""The sequence layers, Conv1d, ConvTranspose2d and receptive fields of the model-size kinds,
against real torch modules (skipped without torch), by hand and by brute force."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import solver
from solver import kinds

FEW = settings(max_examples=8, deadline=None)


def solve(kind: str, input_shape, layers, **options):
    """Solve one network given as Python values."""
    k = kinds.get(kind)
    g = k.Given.model_validate({"input_shape": input_shape, "layers": layers})
    s = k.new_solution()
    k.solve(g, s, **options)
    return s


def torch_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------- recurrent


@FEW
@given(
    t=st.sampled_from(["RNN", "LSTM", "GRU"]),
    n_in=st.integers(1, 12),
    hidden=st.integers(1, 12),
    num_layers=st.integers(1, 3),
    bias=st.booleans(),
    bidirectional=st.booleans(),
    batch_first=st.booleans(),
    T=st.integers(1, 5),
    N=st.integers(1, 4),
)
def test_recurrent_layers_match_torch(
    t, n_in, hidden, num_layers, bias, bidirectional, batch_first, T, N
):
    torch = pytest.importorskip("torch")
    module = getattr(torch.nn, t)(
        n_in, hidden, num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional
    )
    shape = [N, T, n_in] if batch_first else [T, N, n_in]
    y, h = module(torch.zeros(*shape))
    h = h[0] if isinstance(h, tuple) else h
    s = solve(
        "mlp",
        shape,
        [
            {
                "type": t,
                "name": "r",
                "input_size": n_in,
                "hidden_size": hidden,
                "num_layers": num_layers,
                "bias": bias,
                "bidirectional": bidirectional,
                "batch_first": batch_first,
            }
        ],
    )
    assert s["params.r"] == torch_params(module)
    assert s["z1"] == list(y.shape)
    assert s["r.h_n"] == list(h.shape)
    # MACs by hand: G·H·(in + H) per step, layer and direction
    G = {"RNN": 1, "LSTM": 4, "GRU": 3}[t]
    D = 2 if bidirectional else 1
    ins = [n_in] + [D * hidden] * (num_layers - 1)
    assert s["macs.r"] == N * T * sum(D * G * hidden * (i + hidden) for i in ins)


def test_lstm_count_by_hand_and_the_misconceptions():
    """LSTM(256 → 512, 2 layers): 4·512·(256 + 512) + 2·4·512 for layer 1, then 512 in."""
    layers = [{"type": "LSTM", "name": "l", "in": 256, "hidden": 512, "num_layers": 2}]
    right = 4 * 512 * (256 + 512) + 8 * 512 + 4 * 512 * (512 + 512) + 8 * 512
    assert solve("mlp", [5, 256], layers)["params.l"] == right
    keras = 4 * 512 * (256 + 512) + 4 * 512 + 4 * 512 * 1024 + 4 * 512
    assert solve("mlp", [5, 256], layers, rnn_bias_vectors=1)["params.l"] == keras
    three = 3 * 512 * (256 + 512) + 6 * 512 + 3 * 512 * 1024 + 6 * 512
    assert solve("mlp", [5, 256], layers, swapped_gates=True)["params.l"] == three
    flat = 2 * (4 * 512 * (256 + 512) + 8 * 512)
    assert solve("mlp", [5, 256], layers, stacked_input=False)["params.l"] == flat
    bi = [{**layers[0], "bidirectional": True}]
    assert solve("mlp", [5, 256], bi)["params.l"] == 2 * (4 * 512 * (256 + 512) + 8 * 512) + 2 * (
        4 * 512 * (1024 + 512) + 8 * 512
    )
    assert solve("mlp", [5, 256], bi, bidirectional_doubled=False)["params.l"] == right
    gru = [{"type": "GRU", "name": "g", "in": 10, "hidden": 20}]
    assert solve("mlp", [5, 10], gru, swapped_gates=True)["params.g"] == 4 * 20 * 30 + 8 * 20


def test_every_misconception_of_the_kinds_solves_the_shipped_problems():
    for p in solver.load("problems/sequence-models.yaml").problems:
        k = kinds.get(p.kind)
        right = solver.solve(p)
        differs = 0
        for options in k.misconceptions.values():
            wrong = solver.solve(p, **options)
            differs += any(
                key not in wrong.answers or wrong[key] != right[key] for key in right.answers
            )
        assert differs >= 1, p.id


# --------------------------------------------------------------------------- embedding, attention


@FEW
@given(num=st.integers(1, 50), dim=st.integers(1, 16), T=st.integers(1, 6), N=st.integers(1, 3))
def test_embedding_matches_torch(num, dim, T, N):
    torch = pytest.importorskip("torch")
    module = torch.nn.Embedding(num, dim)
    y = module(torch.zeros(N, T, dtype=torch.long))
    s = solve("mlp", [N, T], [{"type": "Embedding", "name": "e", "num": num, "dim": dim}])
    assert s["params.e"] == torch_params(module) == num * dim
    assert s["z1"] == list(y.shape)


@FEW
@given(
    heads=st.integers(1, 4),
    per_head=st.integers(1, 6),
    bias=st.booleans(),
    T=st.integers(1, 6),
    N=st.integers(1, 3),
)
def test_multihead_attention_matches_torch(heads, per_head, bias, T, N):
    torch = pytest.importorskip("torch")
    E = heads * per_head
    module = torch.nn.MultiheadAttention(E, heads, bias=bias)
    x = torch.zeros(T, N, E)
    y = module(x, x, x)[0]
    layer = {"type": "MultiheadAttention", "name": "a", "embed_dim": E, "num_heads": heads}
    s = solve("mlp", [T, N, E], [{**layer, "bias": bias}])
    assert s["params.a"] == torch_params(module)
    assert s["z1"] == list(y.shape)
    # projections 4·T·E², QKᵀ and AV T·T·E each (fvcore's convention)
    assert s["macs.a"] == N * (4 * T * E * E + 2 * T * T * E)
    mistaken = solve("mlp", [T, N, E], [{**layer, "bias": bias}], out_projection=False)
    assert s["params.a"] - mistaken["params.a"] == E * E + (E if bias else 0)


@FEW
@given(
    t=st.sampled_from(["TransformerEncoderLayer", "TransformerDecoderLayer"]),
    nhead=st.integers(1, 4),
    per_head=st.integers(1, 4),
    ff=st.integers(1, 24),
    bias=st.booleans(),
    T=st.integers(1, 5),
)
def test_transformer_layers_match_torch(t, nhead, per_head, ff, bias, T):
    torch = pytest.importorskip("torch")
    d = nhead * per_head
    module = getattr(torch.nn, t)(d, nhead, ff, bias=bias, batch_first=True).eval()
    x = torch.zeros(2, T, d)
    y = module(x, x) if "Decoder" in t else module(x)
    layer = {"type": t, "name": "b", "d_model": d, "nhead": nhead, "dim_feedforward": ff}
    s = solve("mlp", [2, T, d], [{**layer, "bias": bias, "batch_first": True}])
    assert s["params.b"] == torch_params(module)
    assert s["z1"] == list(y.shape)


def test_transformer_base_sizes_by_hand():
    """d = 512, ff = 2048: 4d² + 4d (attention) + 2·d·ff + ff + d + 4d (two LayerNorms)."""
    d, ff = 512, 2048
    layer = {"type": "TransformerEncoderLayer", "name": "b", "d_model": d, "nhead": 8}
    s = solve("mlp", [10, d], [layer])
    assert s["params.b"] == 4 * d * d + 4 * d + 2 * d * ff + ff + d + 4 * d == 3152384


# --------------------------------------------------------------------------- convolutions


@FEW
@given(
    c_in=st.integers(1, 6),
    c_out=st.integers(1, 6),
    L=st.integers(8, 40),
    k=st.integers(1, 5),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    d=st.integers(1, 2),
)
def test_conv1d_matches_torch(c_in, c_out, L, k, s, p, d):
    torch = pytest.importorskip("torch")
    module = torch.nn.Conv1d(c_in, c_out, k, s, p, d)
    y = module(torch.zeros(2, c_in, L))
    layer = {"type": "Conv1d", "name": "c", "in_channels": c_in, "out_channels": c_out}
    layer |= {"kernel_size": k, "stride": s, "padding": p, "dilation": d}
    sol = solve("conv", [2, c_in, L], [layer])
    assert sol["c.output_shape"] == list(y.shape)
    assert sol["c.params"] == torch_params(module)
    assert sol["c.macs"] == y.numel() * c_in * k


@FEW
@given(
    c_in=st.integers(1, 6),
    c_out=st.integers(1, 6),
    H=st.integers(1, 12),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 1),
    d=st.integers(1, 2),
    op=st.integers(0, 2),
)
def test_conv_transpose2d_matches_torch(c_in, c_out, H, k, s, p, d, op):
    torch = pytest.importorskip("torch")
    op = op % max(s, d)  # PyTorch: output_padding smaller than the stride or the dilation
    H_out = (H - 1) * s - 2 * p + d * (k - 1) + op + 1
    if H_out < 1:
        return
    module = torch.nn.ConvTranspose2d(c_in, c_out, k, s, p, op, dilation=d)
    y = module(torch.zeros(1, c_in, H, H + 1))
    layer = {"type": "ConvTranspose2d", "name": "u", "in": c_in, "out": c_out, "kernel": k}
    layer |= {"stride": s, "padding": p, "output_padding": op, "dilation": d}
    sol = solve("conv", [1, c_in, H, H + 1], [layer])
    assert sol["u.output_shape"] == list(y.shape)
    assert sol["u.params"] == torch_params(module)
    assert sol["u.macs"] == c_in * H * (H + 1) * c_out * k * k  # over the input positions
    wrong = solve("conv", [1, c_in, H, H + 1], [layer], transposed_rule="conv")
    assert wrong["u.output_shape"] != list(y.shape) or s == 1


def test_pooling_flatten_and_layernorm_match_torch():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    layers = [
        {"type": "Conv2d", "in": 3, "out": 8, "kernel": 3, "padding": 1},
        {"type": "AvgPool2d", "kernel": 2},
        {"type": "LayerNorm", "normalized_shape": 16},
        {"type": "AdaptiveAvgPool2d", "output_size": [3, 2]},
        {"type": "Flatten"},
        {"type": "Linear", "out_features": 5},
    ]
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.AvgPool2d(2),
        nn.LayerNorm(16),
        nn.AdaptiveAvgPool2d((3, 2)),
        nn.Flatten(),
        nn.Linear(48, 5),
    )
    s = solve("conv", [2, 3, 32, 32], layers)
    x = torch.zeros(2, 3, 32, 32)
    names = ["conv1", "pool1", "ln1", "pool2", "flatten1", "linear1"]
    for name, module in zip(names, net, strict=True):
        x = module(x)
        assert s[f"{name}.output_shape"] == list(x.shape)
    assert s["params.total"] == torch_params(net)


# --------------------------------------------------------------------------- receptive fields


def brute_field(windows, n=400):
    """Receptive field and jump by brute force: which input positions reach output j (the
    field is the span from the first to the last, holes of a dilated kernel included)."""
    fields = [{i} for i in range(n)]
    out = []
    for k, s, d in windows:
        fields = [
            set().union(*(fields[j * s + d * t] for t in range(k)))
            for j in range((len(fields) - d * (k - 1) - 1) // s + 1)
        ]
        mid = len(fields) // 2
        span = max(fields[mid]) - min(fields[mid]) + 1
        out.append((span, min(fields[mid + 1]) - min(fields[mid])))
    return out


@FEW
@given(
    st.lists(
        st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 2)), min_size=1, max_size=4
    )
)
def test_receptive_field_and_jump_by_brute_force(windows):
    layers = [
        {"type": "Conv2d", "name": f"c{i}", "in": 1, "out": 1, "kernel": k, "stride": s}
        | {"dilation": d}
        for i, (k, s, d) in enumerate(windows)
    ]
    s = solve("conv", [1, 400, 400], layers)
    for i, (rf, jump) in enumerate(brute_field(windows)):
        assert (s[f"c{i}.receptive_field"], s[f"c{i}.jump"]) == (rf, jump)


def test_vgg_receptive_field_and_the_mistake_without_strides():
    p = solver.load("problems/sequence-models.yaml").get("vgg-receptive-field")
    s = solver.solve(p)
    assert [s["conv1_2.receptive_field"], s["pool1.receptive_field"]] == [5, 6]
    assert [s["conv2_2.receptive_field"], s["pool2.jump"]] == [14, 4]
    assert [s["conv3_3.receptive_field"], s["conv3_3.jump"]] == [40, 4]
    wrong = solver.solve(p, rf_strides=False)
    assert wrong["conv3_3.receptive_field"] == 1 + 7 * 2 + 2 * 1  # seven 3×3, two 2×2 pools


# --------------------------------------------------------------------------- the givens


def test_pytorch_argument_names_and_their_errors():
    short = solve("mlp", [4, 10], [{"type": "GRU", "in": 10, "hidden": 6}])
    long = solve("mlp", [4, 10], [{"type": "GRU", "input_size": 10, "hidden_size": 6}])
    assert short["params.gru1"] == long["params.gru1"] == 3 * 6 * 16 + 6 * 6
    bad = [
        ({"type": "GRU", "in": 10, "input_size": 10, "hidden": 6}, "give in or input_size"),
        ({"type": "LSTM", "in": 10}, "LSTM needs hidden (or hidden_size)"),
        ({"type": "MultiheadAttention", "num_heads": 3}, "must divide its width 10"),
    ]
    for layer, words in bad:
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
            kinds.get("mlp").Given.model_validate({"input_shape": [4, 10], "layers": [layer]})


def test_layouts_that_do_not_chain_are_errors():
    mlp = kinds.get("mlp").Given
    with pytest.raises(ValueError, match="must be the first layer"):
        mlp.model_validate(
            {
                "input_shape": [4, 5, 10],
                "layers": [
                    {"type": "LSTM", "hidden": 4},
                    {"type": "Embedding", "num": 3, "dim": 2},
                ],
            }
        )
    with pytest.raises(ValueError, match="which is the batch here"):
        mlp.model_validate(
            {
                "input_shape": [5, 4, 8],
                "layers": [{"type": "GRU", "hidden": 8}, {"type": "BatchNorm1d"}],
            }
        )
    with pytest.raises(ValueError, match="batch_first"):
        mlp.model_validate(
            {
                "input_shape": [4, 5, 8],
                "layers": [
                    {"type": "LSTM", "hidden": 8, "batch_first": True},
                    {"type": "MultiheadAttention", "num_heads": 2},
                ],
            }
        )


# --------------------------------------------------------------------------- the problem file


@pytest.mark.parametrize(
    "problem", solver.load("problems/sequence-models.yaml").problems, ids=lambda p: p.id
)
def test_variants_of_the_sequence_problems_keep_their_promises(problem):
    k = kinds.get(problem.kind)
    seen = set()
    for seed in range(4):
        raw = k.generate(problem.raw_given, random.Random(seed))
        g = k.Given.model_validate(raw)
        s = k.new_solution()
        k.solve(g, s)
        assert k.broken_promises(g, s) == []
        assert raw != problem.raw_given
        seen.add(repr(raw))
    assert len(seen) >= 2


def test_a_variant_language_model_still_projects_back_to_its_vocabulary():
    p = solver.load("problems/sequence-models.yaml").get("lstm-language-model")
    for seed in range(4):
        raw = kinds.get("mlp").generate(p.raw_given, random.Random(seed))
        assert raw["layers"][2]["out"] == raw["layers"][0]["num_embeddings"]
        assert raw["layers"][1]["input_size"] == raw["layers"][0]["embedding_dim"]


def test_the_language_model_by_hand():
    s = solver.solve(solver.load("problems/sequence-models.yaml").get("lstm-language-model"))
    assert s["params.embed"] == 10000 * 650
    assert s["params.lstm"] == 2 * (4 * 650 * 1300 + 8 * 650)
    assert s["params.decoder"] == 650 * 10000 + 10000
    assert s["z2"] == [20, 35, 650] and s["lstm.h_n"] == [2, 20, 650]


# --------------------------------------------------------------------------- the CLI and checking


def test_kinds_and_new_list_the_new_layer_types(cli_run):
    from solver.kinds.model_size import CONV_TYPES, MLP_TYPES

    for kind, types in (("mlp", MLP_TYPES), ("conv", CONV_TYPES)):
        for command in ("kinds", "new"):
            code, out, _ = cli_run(command, kind)
            assert code == 0
            missing = [t for t in types if t not in out]
            assert not missing, (kind, command, missing)
    code, out, _ = cli_run("kinds", "mlp")
    assert "one bias vector per gate" in out and "<name>.h_n" in out
    code, out, _ = cli_run("kinds", "conv")
    assert "<name>.receptive_field" in out and "on the wrong side" in out


@pytest.mark.parametrize(
    "pid,key,options",
    [
        ("lstm-language-model", "params.lstm", {"rnn_bias_vectors": 1}),
        ("gru-with-bias", "params.gru", {"swapped_gates": True}),
        ("embedding-bidirectional-rnn", "params.gru", {"stacked_input": False}),
        ("attention-heads", "params.attn", {"out_projection": False}),
        ("vgg-receptive-field", "conv3_3.receptive_field", {"rf_strides": False}),
        ("unet-upsampling", "up1.output_size", {"transposed_rule": "conv"}),
    ],
)
def test_the_checker_names_each_mistake(cli_run, tmp_path, pid, key, options):
    import yaml

    path = "problems/sequence-models.yaml"
    problem = solver.load(path).get(pid)
    wrong = solver.solve(problem, **options)[key]
    answers = tmp_path / "a.yaml"
    value = wrong if isinstance(wrong, (int, list)) else str(wrong)
    answers.write_text(yaml.safe_dump({"student": "s", "answers": {pid: {key: value}}}))
    _, out, _ = cli_run("check", path, str(answers))
    name = next(n for n, o in kinds.get(problem.kind).misconceptions.items() if o == options)
    assert name.split(" (")[0] in " ".join(out.split()), out


@pytest.mark.parametrize(
    "problem", solver.load("problems/sequence-models.yaml").problems, ids=lambda p: p.id
)
def test_any_earlier_answer_can_be_carried_forward_without_a_crash(problem):
    s = solver.solve(problem)
    for key in s.answers:
        for value in (0, [1], [3, 2], "z1"):
            assert solver.solve(problem, overrides={key: value})[key] == value


@pytest.mark.parametrize(
    "layer,words",
    [
        ({"output_padding": 2, "stride": 2}, "smaller than the stride 2"),
        ({"padding": 3, "kernel": 1}, "must be at least 1"),
        ({"padding": "same"}, "cannot pad 'same'"),
    ],
)
def test_transposed_convolutions_that_pytorch_refuses_are_errors(layer, words):
    spec = {"type": "ConvTranspose2d", "in": 2, "out": 3, "kernel": 3, **layer}
    with pytest.raises(ValueError, match=words):
        kinds.get("conv").Given.model_validate({"input_shape": [2, 2, 2], "layers": [spec]})
    torch = pytest.importorskip("torch")
    with pytest.raises((RuntimeError, ValueError, TypeError)):  # PyTorch refuses it too
        opts = {k: v for k, v in spec.items() if k not in ("type", "in", "out", "kernel")}
        torch.nn.ConvTranspose2d(2, 3, spec["kernel"], **opts)(torch.zeros(1, 2, 2, 2))


def test_conv1d_same_padding_keeps_the_length():
    s = solve(
        "conv",
        [2, 10],
        [{"type": "Conv1d", "name": "c", "in": 2, "out": 3, "kernel": 3} | {"padding": "same"}],
    )
    assert s["c.output_shape"] == [3, 10]
