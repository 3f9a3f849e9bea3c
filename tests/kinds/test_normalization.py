"""The normalization kinds against independent numpy float64 computations.

Each reference below is written from the definition (numpy, not dlsolve), and
the exact answer is compared through its float; separate tests check that the
exact values keep their surds and that undefined cases are reported, not crashed.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import solver
from solver import exact
from solver.exact import Surd

from ..conftest import PROBLEMS, problem_file, solve_yaml

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0/0 in the references


def floats(x):
    return np.array(exact.to_float(x), dtype=float)


def assert_close(answer, reference):
    np.testing.assert_allclose(floats(answer), reference, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- references


def ref_layernorm(X, gamma=None, beta=None, eps=0.0):
    X = np.asarray(X, float)
    axes = tuple(range(1, X.ndim))
    mu = X.mean(axis=axes, keepdims=True)
    var = ((X - mu) ** 2).mean(axis=axes, keepdims=True)
    xhat = (X - mu) / np.sqrt(var + eps)
    g = np.ones(X.shape[1:]) if gamma is None else np.asarray(gamma, float)
    b = np.zeros(X.shape[1:]) if beta is None else np.asarray(beta, float)
    return mu.reshape(-1), var.reshape(-1), xhat, xhat * g + b


def _channel(v, ndim):
    return np.asarray(v, float).reshape((1, -1) + (1,) * (ndim - 2))


def ref_batchnorm(X, gamma=None, beta=None, eps=0.0, momentum=0.1, rm=None, rv=None, training=True):
    X = np.asarray(X, float)
    C = X.shape[1]
    axes = (0, *range(2, X.ndim))
    n = X.size // C
    rm = np.zeros(C) if rm is None else np.asarray(rm, float)
    rv = np.ones(C) if rv is None else np.asarray(rv, float)
    if training:
        mu = X.mean(axis=axes)
        var = X.var(axis=axes)  # biased: what normalizes the batch
    else:
        mu, var = rm, rv
    xhat = (X - _channel(mu, X.ndim)) / np.sqrt(_channel(var, X.ndim) + eps)
    g = np.ones(C) if gamma is None else np.asarray(gamma, float)
    b = np.zeros(C) if beta is None else np.asarray(beta, float)
    y = xhat * _channel(g, X.ndim) + _channel(b, X.ndim)
    if training:
        new_rm = (1 - momentum) * rm + momentum * mu
        new_rv = (1 - momentum) * rv + momentum * var * n / (n - 1)  # unbiased
    else:
        new_rm, new_rv = rm, rv
    return mu, var, xhat, y, new_rm, new_rv


def ref_instancenorm(X, eps=0.0):
    X = np.asarray(X, float)
    axes = tuple(range(2, X.ndim))
    mu = X.mean(axis=axes, keepdims=True)
    var = X.var(axis=axes, keepdims=True)
    return mu.reshape(X.shape[:2]), var.reshape(X.shape[:2]), (X - mu) / np.sqrt(var + eps)


def ref_groupnorm(X, G, eps=0.0):
    X = np.asarray(X, float)
    grouped = X.reshape(X.shape[0], G, -1)
    mu = grouped.mean(axis=2, keepdims=True)
    var = grouped.var(axis=2, keepdims=True)
    xhat = ((grouped - mu) / np.sqrt(var + eps)).reshape(X.shape)
    return mu[..., 0], var[..., 0], xhat


# --------------------------------------------------------------------------- shipped problems


def shipped(kind: str) -> list[tuple[str, solver.Problem]]:
    out = []
    for path in sorted(PROBLEMS.glob("*.yaml")):
        for p in solver.load(path):
            if p.kind == kind:
                out.append((f"{path.stem}:{p.id}", p))
    return out


@pytest.mark.parametrize(("name", "problem"), shipped("layernorm"))
def test_shipped_layernorm_matches_numpy(name, problem):
    g, s = problem.given, solver.solve(problem)
    mu, var, xhat, y = ref_layernorm(
        exact.to_float(g.X), exact.to_float(g.gamma), exact.to_float(g.beta), float(g.eps)
    )
    assert_close(s["mean"], mu)
    assert_close(s["var"], var)
    assert_close(s["normalized"], xhat)
    assert_close(s["output"], y)


@pytest.mark.parametrize(("name", "problem"), shipped("batchnorm"))
def test_shipped_batchnorm_matches_numpy(name, problem):
    g, s = problem.given, solver.solve(problem)
    mu, var, xhat, y, rm, rv = ref_batchnorm(
        exact.to_float(g.X),
        exact.to_float(g.gamma),
        exact.to_float(g.beta),
        float(g.eps),
        float(g.momentum),
        exact.to_float(g.running_mean),
        exact.to_float(g.running_var),
        g.training,
    )
    assert_close(s["mean"], mu)
    assert_close(s["var"], var)
    if s["defined"]:
        assert_close(s["normalized"], xhat)
        assert_close(s["output"], y)
    if np.asarray(g.X).shape[0] > 1 or not g.training:
        assert_close(s["running_mean"], rm)
        assert_close(s["running_var"], rv)


def test_discussion_layernorm_keeps_its_surds():
    """The worksheet's third row has variance 3: the answers are in √3, not decimals."""
    s = solve_yaml((PROBLEMS / "discussion-normalization.yaml").read_text())["layernorm"]
    assert s["mean"] == [6, 3, 2]
    assert s["var"] == [4, 9, 3]
    row3 = s["output"][2]
    assert row3 == [
        Surd(0, Fraction(-1, 3), 3),
        Surd(-1, Fraction(-2, 3), 3),
        Surd(1, -1, 3),
        Surd(0, 4, 3),
    ]
    assert exact.fmt(row3) == ["-sqrt(3)/3", "-1 - 2*sqrt(3)/3", "1 - sqrt(3)", "4*sqrt(3)"]
    assert s["output"][1] == [-1, Fraction(-5, 3), 0, Fraction(20, 3)]


def test_batch_of_one_is_undefined_with_eps_zero_and_beta_with_eps():
    sols = solve_yaml((PROBLEMS / "discussion-normalization.yaml").read_text())
    one = sols["batchnorm-batch1"]
    assert one["defined"] is False
    assert one["var"] == [0, 0, 0, 0]
    assert one["output"] == [[None] * 4]
    assert any("not defined" in st.text for st in one.steps)
    assert one["running_var"] == [None] * 4  # the unbiased variance of one value is 0/0
    with_eps = sols["batchnorm-batch1-eps"]
    assert with_eps["defined"] is True
    assert with_eps["normalized"] == [[0, 0, 0, 0]]
    assert with_eps["output"] == [[0, -1, 1, 0]]  # = beta
    assert sols["layernorm-batch1"]["defined"] is True  # LayerNorm is per example


def test_running_stats_lecture_example_by_hand():
    """Batches [[1,2],[3,6]] and [[5,2],[7,4]], m = 1/10, from 0 and 1 (unbiased variances)."""
    s = solve_yaml((PROBLEMS / "lecture-normalization.yaml").read_text())["running-stats"]
    # batch 1: means 2, 4; unbiased variances 2, 8
    assert s["running_mean[1]"] == [Fraction(1, 5), Fraction(2, 5)]
    assert s["running_var[1]"] == [
        Fraction(9, 10) + Fraction(2, 10),
        Fraction(9, 10) + Fraction(8, 10),
    ]
    # batch 2: means 6, 3; unbiased variances 2, 2
    rm2 = [
        Fraction(9, 10) * Fraction(1, 5) + Fraction(6, 10),
        Fraction(9, 10) * Fraction(2, 5) + Fraction(3, 10),
    ]
    rv2 = [
        Fraction(9, 10) * Fraction(11, 10) + Fraction(2, 10),
        Fraction(9, 10) * Fraction(17, 10) + Fraction(2, 10),
    ]
    assert s["running_mean[2]"] == rm2
    assert s["running_var[2]"] == rv2
    expected = [(4 - rm2[j]) / np.sqrt(float(rv2[j])) for j in range(2)]
    assert_close(s["eval_output"], [expected])
    assert isinstance(s["eval_output"][0][0], Surd)  # 23√119/85, exact


def test_running_stats_match_numpy_step_by_step():
    batches = [[[1, 2, 0], [3, 6, 1], [2, 2, 2]], [[5, 2, 1], [7, 4, 4]], [[0, 0, 1], [1, 3, 5]]]
    s = solve_yaml(
        problem_file(
            "bn_running_stats",
            {
                "batches": batches,
                "momentum": "1/3",
                "eval_X": [[1, 1, 1]],
                "gamma": [2, 1, 1],
                "beta": [0, 1, -1],
                "eps": "1/100",
            },
        )
    )["p"]
    rm, rv = np.zeros(3), np.ones(3)
    for t, X in enumerate(batches, start=1):
        *_, rm, rv = ref_batchnorm(X, momentum=1 / 3, rm=rm, rv=rv)
        assert_close(s[f"running_mean[{t}]"], rm)
        assert_close(s[f"running_var[{t}]"], rv)
    *_, y, _, _ = ref_batchnorm(
        [[1, 1, 1]], [2, 1, 1], [0, 1, -1], 0.01, rm=rm, rv=rv, training=False
    )
    assert_close(s["eval_output"], y)


def test_an_undefined_running_variance_stays_undefined():
    """A batch of one makes the unbiased variance 0/0; later batches cannot repair it."""
    s = solve_yaml(
        problem_file(
            "bn_running_stats", {"batches": [[[1, 2]], [[3, 4], [5, 8]]], "eval_X": [[1, 1]]}
        )
    )["p"]
    assert s["running_var[1]"] == [None, None]
    assert s["running_var[2]"] == [None, None]
    assert s["running_mean[2]"] == [
        Fraction(9, 10) * Fraction(1, 10) + Fraction(4, 10),
        Fraction(9, 10) * Fraction(2, 10) + Fraction(6, 10),
    ]
    assert s["eval_output"] == [[None, None]]


def test_norm_stats_ift6135_by_hand():
    s = solve_yaml((PROBLEMS / "ift6135-rnn-decoding.yaml").read_text())["norm-stats"]
    X = np.array(
        exact.to_float(
            solver.load(PROBLEMS / "ift6135-rnn-decoding.yaml").get("norm-stats").given.X
        )
    )
    assert_close(s["batch.mean"], X.mean(axis=(0, 2)))
    assert_close(s["batch.var"], X.var(axis=(0, 2)))
    assert_close(s["layer.mean"], X.mean(axis=(1, 2)))
    assert_close(s["layer.var"], X.var(axis=(1, 2)))
    assert_close(s["instance.mean"], X.mean(axis=2))
    assert_close(s["instance.var"], X.var(axis=2))
    assert s["batch.mean"] == [Fraction(5, 2), Fraction(31, 12)]  # by hand: 30/12, 31/12


def test_dropout_inverted_and_classic():
    s = solve_yaml((PROBLEMS / "lecture-normalization.yaml").read_text())["dropout"]
    assert s["output"] == [Fraction(8, 3), 0, 8, Fraction(32, 3)]  # z·mask/(3/4)
    assert s["expected_output"] == [2, 4, 6, 8]
    classic = solve_yaml(
        problem_file("dropout", {"z": [2, 4], "mask": [0, 1], "p": "1/4", "inverted": False})
    )["p"]
    assert classic["output"] == [0, 4]
    assert classic["expected_output"] == [Fraction(3, 2), 3]


# --------------------------------------------------------------------------- random cases

small_ints = st.integers(-6, 6)


@st.composite
def matrices(draw, min_rows=1, max_rows=4, min_cols=1, max_cols=4):
    rows = draw(st.integers(min_rows, max_rows))
    cols = draw(st.integers(min_cols, max_cols))
    return [[draw(small_ints) for _ in range(cols)] for _ in range(rows)]


@settings(max_examples=40, deadline=None)
@given(X=matrices(min_cols=2), eps=st.sampled_from(["0", "1/10", "1/1000"]))
def test_layernorm_random_matches_numpy(X, eps):
    gamma = [j + 1 for j in range(len(X[0]))]
    beta = [(-1) ** j for j in range(len(X[0]))]
    s = solve_yaml(problem_file("layernorm", {"X": X, "gamma": gamma, "beta": beta, "eps": eps}))[
        "p"
    ]
    e = float(Fraction(eps))
    mu, var, _, y = ref_layernorm(X, gamma, beta, e)
    assert_close(s["mean"], mu)
    assert_close(s["var"], var)
    if e == 0 and np.any(var == 0):
        assert s["defined"] is False
        for i in np.flatnonzero(var == 0):
            assert s["output"][i] == [None] * len(X[0])
    else:
        assert_close(s["output"], y)


@settings(max_examples=40, deadline=None)
@given(
    N=st.integers(2, 3),
    C=st.integers(1, 3),
    H=st.integers(1, 2),
    W=st.integers(1, 2),
    data=st.data(),
    training=st.booleans(),
)
def test_batchnorm_4d_random_matches_numpy(N, C, H, W, data, training):
    X = [
        [[[data.draw(small_ints) for _ in range(W)] for _ in range(H)] for _ in range(C)]
        for _ in range(N)
    ]
    rm = [data.draw(small_ints) for _ in range(C)]
    rv = [data.draw(st.integers(1, 5)) for _ in range(C)]
    s = solve_yaml(
        problem_file(
            "batchnorm",
            {
                "X": X,
                "gamma": [2] * C,
                "beta": [1] * C,
                "eps": "1/100",
                "training": training,
                "running_mean": rm,
                "running_var": rv,
                "momentum": "1/4",
            },
        )
    )["p"]
    mu, var, _, y, new_rm, new_rv = ref_batchnorm(X, [2] * C, [1] * C, 0.01, 0.25, rm, rv, training)
    assert_close(s["mean"], mu)
    assert_close(s["var"], var)
    assert_close(s["output"], y)
    assert_close(s["running_mean"], new_rm)
    assert_close(s["running_var"], new_rv)


@settings(max_examples=25, deadline=None)
@given(N=st.integers(1, 2), C=st.sampled_from([2, 4]), L=st.integers(2, 3), data=st.data())
def test_instance_and_group_norm_random_match_numpy(N, C, L, data):
    X = [[[data.draw(small_ints) for _ in range(L)] for _ in range(C)] for _ in range(N)]
    inst = solve_yaml(problem_file("instancenorm", {"X": X, "eps": "1/10"}))["p"]
    mu, var, xhat = ref_instancenorm(X, 0.1)
    assert_close(inst["mean"], mu)
    assert_close(inst["var"], var)
    assert_close(inst["output"], xhat)
    grp = solve_yaml(problem_file("groupnorm", {"X": X, "groups": 2, "eps": "1/10"}))["p"]
    mu, var, xhat = ref_groupnorm(X, 2, 0.1)
    assert_close(grp["mean"], mu)
    assert_close(grp["var"], var)
    assert_close(grp["output"], xhat)


def test_layernorm_on_3d_input_normalizes_each_example_over_all_its_values():
    X = [[[1, 3, 2], [1, 2, 3]], [[3, 3, 2], [2, 4, 4]]]
    s = solve_yaml(problem_file("layernorm", {"X": X}))["p"]
    mu, _, xhat, _ = ref_layernorm(X)
    assert_close(s["mean"], mu)
    assert_close(s["output"], xhat)


def test_groupnorm_with_affine_is_per_channel():
    X = [[[1, 3], [1, 2], [3, 3], [2, 4]]]
    gamma, beta = [1, 2, 3, 4], [0, 1, 0, -1]
    s = solve_yaml(problem_file("groupnorm", {"X": X, "groups": 2, "gamma": gamma, "beta": beta}))[
        "p"
    ]
    _, _, xhat = ref_groupnorm(X, 2)
    expected = xhat * np.array(gamma)[None, :, None] + np.array(beta)[None, :, None]
    assert_close(s["output"], expected)


# --------------------------------------------------------------------------- options


def layernorm_problem() -> solver.Problem:
    return solver.load_text(
        problem_file(
            "layernorm",
            {
                "X": [[4, 4, 8, 8], [0, 2, 2, 8], [1, 1, 1, 5]],
                "gamma": [1, 2, 3, 4],
                "beta": [0, -1, 1, 0],
            },
        )
    ).problems[0]


def test_misconception_unbiased_variance():
    p = layernorm_problem()
    buggy = solver.solve(p, ddof=1)
    X = np.array([[4, 4, 8, 8], [0, 2, 2, 8], [1, 1, 1, 5]], float)
    assert_close(buggy["var"], X.var(axis=1, ddof=1))
    assert buggy["var"] == [Fraction(16, 3), 12, 4]


def test_every_declared_misconception_changes_some_answer():
    for name in (
        "layernorm",
        "batchnorm",
        "instancenorm",
        "groupnorm",
        "norm_stats",
        "bn_running_stats",
        "dropout",
    ):
        k = solver.kinds.get(name)
        p = solver.load_text(problem_file(name, k.example)).problems[0]
        right = solver.solve(p)
        for mistake, options in k.misconceptions.items():
            wrong = solver.solve(p, **options)
            changed = [
                key
                for key in right.answers
                if exact.to_float(right[key]) != exact.to_float(wrong[key])
            ]
            assert changed, f"{name}: {mistake!r} changes nothing on the example"


def test_overrides_carry_a_wrong_mean_forward():
    """Re-solving from a student's wrong means: the variances follow from those means."""
    p = layernorm_problem()
    s = solver.solve(p, overrides={"mean": [5, 3, 2]})
    assert s["mean"] == [5, 3, 2]
    # row 1 with μ = 5: ((−1)² + (−1)² + 3² + 3²)/4 = 5
    assert s["var"][0] == 5
    assert s["var"][1:] == [9, 3]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("given", "field", "words"),
    [
        ({"X": [[1, 2, 3], [1, 2]]}, "given.X[1]", "ragged"),
        ({"X": [[1, 2, 3]], "gamma": [1, 2]}, "given.gamma", "has 2 values but X has 3"),
        ({"X": [[1, 2]], "eps": -0.1}, "given.eps", "must be ≥ 0"),
        ({"gamma": [1]}, "given.X", "needs this field"),
        ({"X": [1, 2, 3]}, "given.X", "shape [3]"),
        ({"X": [[1, "x"]]}, "given.X[0][1]", "expected a number"),
    ],
)
def test_bad_layernorm_givens_are_one_sentence(given, field, words):
    ps = solver.load_text(problem_file("layernorm", given), "bad.yaml")
    assert not ps.problems
    (err,) = ps.errors
    msg = str(err)
    assert msg.startswith("bad.yaml:") and f"field '{field}'" in msg and words in msg
    assert "problem 'p'" in msg and msg.count("\n") == 0


def test_groupnorm_groups_must_divide_channels():
    ps = solver.load_text(problem_file("groupnorm", {"X": [[[1], [2], [3]]], "groups": 2}))
    assert "must divide the 3 channels" in str(ps.errors[0])


def test_dropout_mask_must_be_zero_or_one_and_match_z():
    ps = solver.load_text(problem_file("dropout", {"z": [1, 2], "mask": [1, 0, 1], "p": 0.5}))
    assert "mask" in str(ps.errors[0]) and "shape [3]" in str(ps.errors[0])
    ps = solver.load_text(problem_file("dropout", {"z": [1, 2], "mask": [1, 2], "p": 0.5}))
    assert "given.mask[1]" in str(ps.errors[0])


def test_running_var_must_not_be_negative():
    ps = solver.load_text(problem_file("batchnorm", {"X": [[1], [2]], "running_var": [-1]}))
    assert "field 'given.running_var[0]'" in str(ps.errors[0])


def test_example_of_every_normalization_kind_round_trips_through_yaml():
    for name in (
        "layernorm",
        "batchnorm",
        "instancenorm",
        "groupnorm",
        "norm_stats",
        "bn_running_stats",
        "dropout",
    ):
        k = solver.kinds.get(name)
        text = yaml.safe_dump(
            {"title": "t", "problems": [{"id": "p", "kind": name, "given": k.example}]}
        )
        assert solve_yaml(text)["p"].answers


def test_ift6135_norm_stats_is_worked_in_full_and_labels_instance_groups_rightly():
    ps = solver.load("problems/ift6135-rnn-decoding.yaml")
    s = solver.solve(ps.get("norm-stats"))
    texts = [st.text for st in s.steps]
    assert not any("computed the same way" in t for t in texts)
    assert "Instance norm: one mean and variance per example and channel" in " ".join(texts)
    maths = " ".join(eq.text() for st in s.steps for eq in st.equations)
    assert "⋯" not in maths
    # every term of the 155/144 sum is there for a student to check
    var2 = next(eq.text() for st in s.steps for eq in st.equations if eq.text().startswith("σ₂²"))
    assert var2.count("- 31/12)²") == 12 and var2.endswith("= 155/144")
    # all 4 × 2 instance means, the last example's included
    assert any(eq.text().startswith("μ₄‚₂") for st in s.steps for eq in st.equations)
