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
    layer = {"type": "Conv1d", "name": "c", "in_channels": c_in, "out_channels": c_out}
    layer |= {"kernel_size": k, "stride": s, "padding": p, "dilation": d}
    if d * (k - 1) + 1 > L + 2 * p:  # a kernel wider than the padded input: both refuse it
        with pytest.raises(RuntimeError):
            module(torch.zeros(2, c_in, L))
        with pytest.raises(ValueError, match="larger than its padded input"):
            solve("conv", [2, c_in, L], [layer])
        return
    y = module(torch.zeros(2, c_in, L))
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
        ("lstm-projection", "params.lstm", {"projection_weight": False}),
        ("lstm-projection", "params.lstm", {"projected_recurrence": False}),
        ("cross-attention-kdim", "params.attn", {"kv_dims": False}),
        ("ecg-1d-cnn", "pool3.receptive_field", {"rf_strides": False}),
        ("ecg-1d-cnn", "pool1.output_size", {"pool_stride_one": True}),
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


# --------------------------------------------------------------------------- LSTM projection


# torch's own notice that oneDNN has no projected LSTM: it falls back to its reference code
@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@FEW
@given(
    n_in=st.integers(1, 8),
    proj=st.integers(1, 6),
    extra=st.integers(1, 6),
    num_layers=st.integers(1, 3),
    bias=st.booleans(),
    bidirectional=st.booleans(),
    batch_first=st.booleans(),
    T=st.integers(1, 4),
    N=st.integers(1, 3),
)
def test_lstm_with_projection_matches_torch(
    n_in, proj, extra, num_layers, bias, bidirectional, batch_first, T, N
):
    torch = pytest.importorskip("torch")
    hidden = proj + extra  # PyTorch: proj_size < hidden_size
    module = torch.nn.LSTM(
        n_in,
        hidden,
        num_layers,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
        proj_size=proj,
    )
    shape = [N, T, n_in] if batch_first else [T, N, n_in]
    y, (h, c) = module(torch.zeros(*shape))
    layer = {"type": "LSTM", "name": "r", "input_size": n_in, "hidden_size": hidden}
    layer |= {"proj_size": proj, "num_layers": num_layers, "bias": bias}
    layer |= {"bidirectional": bidirectional, "batch_first": batch_first}
    s = solve("mlp", shape, [layer])
    assert s["params.r"] == torch_params(module)
    assert s["z1"] == list(y.shape)
    assert s["r.h_n"] == list(h.shape)
    assert s["r.c_n"] == list(c.shape)
    # by hand: W_ih x, W_hh h_(t-1) with h projected to P, and W_hr h: 4H(in + P) + P·H
    D = 2 if bidirectional else 1
    ins = [n_in] + [D * proj] * (num_layers - 1)
    assert s["params.r"] == sum(
        D * (4 * hidden * (i + proj) + (8 * hidden if bias else 0) + proj * hidden) for i in ins
    )
    assert s["macs.r"] == N * T * sum(D * (4 * hidden * (i + proj) + proj * hidden) for i in ins)


def test_projected_lstm_by_hand_and_its_mistakes():
    """LSTM(512 → 2048, proj 512), as in Sak et al.'s LSTMP: 4·2048·(512 + 512) weights
    W_ih and W_hh, 2·4·2048 biases and 512·2048 for W_hr."""
    layers = [{"type": "LSTM", "name": "l", "in": 512, "hidden": 2048, "proj_size": 512}]
    right = 4 * 2048 * (512 + 512) + 2 * 4 * 2048 + 512 * 2048
    s = solve("mlp", [7, 3, 512], layers)
    assert s["params.l"] == right == 9453568
    assert s["z1"] == [7, 3, 512] and s["l.h_n"] == [1, 3, 512] and s["l.c_n"] == [1, 3, 2048]
    no_w_hr = solve("mlp", [7, 3, 512], layers, projection_weight=False)
    assert no_w_hr["params.l"] == right - 512 * 2048
    square_hh = solve("mlp", [7, 3, 512], layers, projected_recurrence=False)
    assert square_hh["params.l"] == 4 * 2048 * (512 + 2048) + 2 * 4 * 2048 + 512 * 2048
    # the second layer of a stack reads the projected output, D·P features
    two = [{**layers[0], "num_layers": 2, "bidirectional": True}]
    layer2 = 2 * (4 * 2048 * (1024 + 512) + 2 * 4 * 2048 + 512 * 2048)
    assert solve("mlp", [7, 512], two)["params.l"] == 2 * right + layer2
    # an LSTM without a projection: c_n has h_n's shape; proj_size 0 is PyTorch's "none"
    plain = solve("mlp", [7, 3, 8], [{"type": "LSTM", "name": "l", "hidden": 4}])
    assert plain["l.c_n"] == plain["l.h_n"] == [1, 3, 4]
    zero = solve("mlp", [7, 3, 8], [{"type": "LSTM", "name": "l", "hidden": 4, "proj_size": 0}])
    assert zero["params.l"] == plain["params.l"] == 4 * 4 * (8 + 4) + 8 * 4


# --------------------------------------------------------------------------- attention kdim, vdim


@FEW
@given(
    heads=st.integers(1, 3),
    per_head=st.integers(1, 4),
    kdim=st.integers(1, 9),
    vdim=st.integers(1, 9),
    bias=st.booleans(),
    batch_first=st.booleans(),
    T=st.integers(1, 5),
    S=st.integers(1, 5),
    N=st.integers(1, 3),
)
def test_attention_with_kdim_and_vdim_matches_torch(
    heads, per_head, kdim, vdim, bias, batch_first, T, S, N
):
    torch = pytest.importorskip("torch")
    E = heads * per_head
    module = torch.nn.MultiheadAttention(
        E, heads, bias=bias, batch_first=batch_first, kdim=kdim, vdim=vdim
    )

    def seq(length, width):
        return torch.zeros(*([N, length] if batch_first else [length, N]), width)

    y = module(seq(T, E), seq(S, kdim), seq(S, vdim))[0]
    layer = {"type": "MultiheadAttention", "name": "a", "embed_dim": E, "num_heads": heads}
    layer |= {"kdim": kdim, "vdim": vdim, "memory_length": S, "bias": bias}
    shape = [N, T, E] if batch_first else [T, N, E]
    s = solve("mlp", shape, [{**layer, "batch_first": batch_first}])
    assert s["params.a"] == torch_params(module)
    assert s["params.a"] == E * E + E * kdim + E * vdim + E * E + (4 * E if bias else 0)
    assert s["z1"] == list(y.shape)
    # projections T·E², S·E·kdim, S·E·vdim and T·E² out; QKᵀ and AV T·S·E each
    assert s["macs.a"] == N * (2 * T * E * E + S * E * (kdim + vdim) + 2 * T * S * E)
    mistaken = solve("mlp", shape, [{**layer, "batch_first": batch_first}], kv_dims=False)
    assert mistaken["params.a"] - s["params.a"] == E * (2 * E - kdim - vdim)


def test_cross_attention_of_the_same_width_counts_its_memory_length():
    """Without kdim and vdim, memory_length alone makes the keys and values S positions long:
    the same parameters as self-attention, other MACs."""
    layer = {"type": "MultiheadAttention", "name": "a", "num_heads": 2}
    E, T, S = 8, 5, 3
    self_attn = solve("mlp", [T, E], [layer])
    cross = solve("mlp", [T, E], [{**layer, "memory_length": S}])
    assert self_attn["params.a"] == cross["params.a"] == 4 * E * E + 4 * E
    assert self_attn["macs.a"] == 4 * T * E * E + 2 * T * T * E
    assert cross["macs.a"] == 2 * T * E * E + 2 * S * E * E + 2 * T * S * E


# --------------------------------------------------------------------------- 1-D pooling


@FEW
@given(
    t=st.sampled_from(["MaxPool1d", "AvgPool1d"]),
    C=st.integers(1, 4),
    L=st.integers(6, 40),
    k=st.integers(1, 5),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    d=st.integers(1, 2),
    ceil_mode=st.booleans(),
)
def test_1d_pooling_matches_torch(t, C, L, k, s, p, d, ceil_mode):
    torch = pytest.importorskip("torch")
    p = min(p, k // 2)  # PyTorch: padding at most half the kernel
    d = d if t == "MaxPool1d" else 1
    if d * (k - 1) + 1 > L + 2 * p:
        return
    opts = {"stride": s, "padding": p, "ceil_mode": ceil_mode}
    module = getattr(torch.nn, t)(k, **opts, **({"dilation": d} if d > 1 else {}))
    y = module(torch.zeros(2, C, L))
    layer = {"type": t, "name": "q", "kernel_size": k, **opts, **({"dilation": d} if d > 1 else {})}
    sol = solve("conv", [2, C, L], [layer])
    assert sol["q.output_shape"] == list(y.shape)
    assert sol["q.output_size"] == [y.shape[-1]]


def test_a_1d_network_by_hand_and_against_torch():
    """Conv1d, BatchNorm1d over (N, C, L), MaxPool1d, ConvTranspose1d and a global max pool
    (max over time), each by hand."""
    layers = [
        {"type": "Conv1d", "in": 16, "out": 32, "kernel": 5, "padding": 2},
        {"type": "BatchNorm1d"},
        {"type": "ReLU"},
        {"type": "MaxPool1d", "kernel": 3, "stride": 2, "padding": 1},
        {"type": "AvgPool1d", "kernel": 2},
        {"type": "ConvTranspose1d", "out": 8, "kernel": 4, "stride": 2, "padding": 1},
        {"type": "AdaptiveMaxPool1d", "output_size": 1},
        {"type": "AdaptiveAvgPool1d", "output_size": 1},
        {"type": "Flatten"},
        {"type": "Linear", "out": 5},
    ]
    s = solve("conv", [4, 16, 100], layers)
    assert s["conv1.params"] == 32 * 16 * 5 + 32
    assert s["bn1.params"] == 2 * 32 and s["bn1.output_shape"] == [4, 32, 100]
    assert s["pool1.output_size"] == [(100 + 2 - 2 - 1) // 2 + 1] == [50]
    assert s["pool2.output_size"] == [25]
    assert s["convt1.output_size"] == [(25 - 1) * 2 - 2 + 3 + 1] == [50]
    assert s["convt1.params"] == 32 * 8 * 4 + 8
    assert s["convt1.macs"] == 4 * 32 * 25 * 8 * 4  # over the input positions
    assert s["pool3.output_shape"] == [4, 8, 1] and s["flatten1.output_shape"] == [4, 8]
    # receptive field: 5, then + 2·1 (pool k = 3), then + 1·2 (pool k = 2 at jump 2)
    assert [s["conv1.receptive_field"], s["pool1.receptive_field"]] == [5, 7]
    assert [s["pool2.receptive_field"], s["pool2.jump"]] == [9, 4]
    assert [r for r, _ in brute_field([(5, 1, 1), (3, 2, 1), (2, 2, 1)])] == [5, 7, 9]
    torch = pytest.importorskip("torch")
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv1d(16, 32, 5, padding=2),
        nn.BatchNorm1d(32),
        nn.ReLU(),
        nn.MaxPool1d(3, 2, 1),
        nn.AvgPool1d(2),
        nn.ConvTranspose1d(32, 8, 4, 2, 1),
        nn.AdaptiveMaxPool1d(1),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    )
    x = torch.zeros(4, 16, 100)
    names = ["conv1", "bn1", "relu1", "pool1", "pool2", "convt1", "pool3", "pool4"]
    for name, module in zip([*names, "flatten1", "linear1"], net, strict=True):
        x = module(x)
        assert s[f"{name}.output_shape"] == list(x.shape)
    assert s["params.total"] == torch_params(net)


@FEW
@given(
    c_in=st.integers(1, 4),
    c_out=st.integers(1, 4),
    L=st.integers(1, 12),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 1),
    op=st.integers(0, 2),
)
def test_conv_transpose1d_matches_torch(c_in, c_out, L, k, s, p, op):
    torch = pytest.importorskip("torch")
    op = op % s
    if (L - 1) * s - 2 * p + k - 1 + op + 1 < 1:
        return
    module = torch.nn.ConvTranspose1d(c_in, c_out, k, s, p, op)
    y = module(torch.zeros(2, c_in, L))
    layer = {"type": "ConvTranspose1d", "name": "u", "in": c_in, "out": c_out, "kernel": k}
    sol = solve("conv", [2, c_in, L], [layer | {"stride": s, "padding": p, "output_padding": op}])
    assert sol["u.output_shape"] == list(y.shape)
    assert sol["u.params"] == torch_params(module)
    assert sol["u.macs"] == 2 * c_in * L * c_out * k


@pytest.mark.parametrize(
    "kind,shape,layer,words",
    [
        ("mlp", [5, 8], {"type": "LSTM", "hidden": 4, "proj_size": 4}, "smaller than hidden"),
        ("mlp", [5, 8], {"type": "GRU", "hidden": 4, "proj_size": 2}, "no field 'proj_size'"),
        ("mlp", [5, 8], {"type": "TransformerEncoderLayer", "nhead": 2, "kdim": 3}, "'kdim'"),
        ("conv", [2, 10], {"type": "MaxPool1d", "kernel": [2, 3]}, "one number here"),
        ("conv", [2, 10], {"type": "AdaptiveAvgPool1d", "output_size": [2, 3]}, "one number"),
        ("conv", [2, 10], {"type": "AvgPool1d", "kernel": 4, "padding": 3}, "at most half"),
        ("conv", [1, 2, 10, 10], {"type": "MaxPool1d", "kernel": 2}, "length\\], got 4 dim"),
        ("conv", [2, 10], {"type": "MaxPool2d", "kernel": 2}, "channels, height, width"),
        ("conv", [2, 3], {"type": "MaxPool1d", "kernel": 4}, "larger than its padded"),
    ],
)
def test_layers_pytorch_refuses_are_errors_naming_the_field(kind, shape, layer, words):
    with pytest.raises(ValueError, match=words):
        kinds.get(kind).Given.model_validate({"input_shape": shape, "layers": [layer]})


def test_a_bad_projection_is_one_sentence_naming_file_problem_and_field(cli_run, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "problems:\n  - id: lm\n    kind: mlp\n    given:\n      input_shape: [5, 8]\n"
        "      layers:\n        - {type: LSTM, hidden_size: 4, proj_size: 6}\n"
    )
    code, out, err = cli_run("solve", str(path))
    assert code == 2
    text = " ".join((out + err).split())
    assert "p.yaml" in text and "lm" in text and "layers.0.proj_size" in text, text
    assert "smaller than hidden_size = 4" in text


def test_the_handout_table_shows_the_new_fields():
    problem = solver.load_text(
        "problems:\n  - id: a\n    kind: mlp\n    given:\n      input_shape: [5, 8]\n"
        "      layers:\n        - {type: LSTM, hidden_size: 6, proj_size: 3}\n"
        "        - {type: MultiheadAttention, num_heads: 3, kdim: 4, vdim: 5}\n",
        "a.yaml",
    ).problems[0]
    (table,) = kinds.get("mlp").given_tables(problem.raw_given)
    assert {"proj_size", "kdim", "vdim"} <= set(table.columns)
    rows = {row[0]: row for row in table.rows}
    assert rows["LSTM"][table.columns.index("proj_size")] == 3
    assert rows["MultiheadAttention"][table.columns.index("vdim")] == 5
    assert rows["LSTM"][table.columns.index("kdim")] == ""  # a field the row leaves out


def test_the_new_shipped_problems_by_hand():
    get = solver.load("problems/sequence-models.yaml").get
    s = solver.solve(get("lstm-projection"))
    layer1 = 4 * 1024 * (80 + 256) + 4 * 1024 * 2 + 256 * 1024
    layer2 = 4 * 1024 * (256 + 256) + 4 * 1024 * 2 + 256 * 1024
    assert s["params.lstm"] == layer1 + layer2
    assert [s["z1"], s["lstm.h_n"], s["lstm.c_n"]] == [[100, 4, 256], [2, 4, 256], [2, 4, 1024]]
    s = solver.solve(get("cross-attention-kdim"))
    assert s["params.attn"] == 512 * 512 + 2 * 512 * 2048 + 3 * 512 + 512 * 512 + 512
    s = solver.solve(get("char-cnn-max-over-time"))
    assert s["conv.output_size"] == [21 - 5 + 1] and s["x_conv_out.output_shape"] == [64, 256]
    assert s["conv.params"] == 256 * 50 * 5 + 256
    s = solver.solve(get("ecg-1d-cnn"))
    lengths = [s[f"{n}.output_size"] for n in ("conv1", "pool1", "conv2", "pool2", "conv3")]
    assert lengths == [[128], [64], [64], [32], [32]] and s["pool3.output_size"] == [8]
    # r: 7; +1·1 (pool1); +4·2 (conv2); +1·2 (pool2); +2·2·4 (dilated conv3); +3·4 (pool3)
    assert [s["conv3.receptive_field"], s["conv3.jump"]] == [7 + 1 + 8 + 2 + 16, 4]
    assert [s["pool3.receptive_field"], s["pool3.jump"]] == [34 + 12, 16]
    assert s["bn1.params"] == 2 * 32 and s["bn2.params"] == 2 * 64


def test_a_pooling_stride_left_to_its_default_taken_as_1():
    """MaxPool1d(2) strides by 2; the mistake slides it by 1: 128 − 2 + 1 = 127 positions."""
    p = solver.load("problems/sequence-models.yaml").get("ecg-1d-cnn")
    wrong = solver.solve(p, pool_stride_one=True)
    assert wrong["pool1.output_size"] == [127] and wrong["pool1.jump"] == 1
    assert wrong["conv1.output_size"] == solver.solve(p)["conv1.output_size"]


def test_variants_of_the_sequence_problems_are_written(cli_run, tmp_path):
    """dlsolve variants refuses a text that states a given literally: the file quotes them."""
    code, out, err = cli_run(
        "variants", "problems/sequence-models.yaml", "-n", "1", "-o", str(tmp_path)
    )
    assert code == 0, out + err
    assert (tmp_path / "sequence-models-1.yaml").exists()
