"""The theory experiments: weight decay versus L2 (SGD and Adam), and the RNN gradient bound.

Numbers are checked against independent computations (numpy, hand-derived
first Adam steps, the Jacobian as a product of W·diag(σ')), not only against
the claims the runners state about themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from solver.errors import DlsolveError

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from solver.verify import experiments, theory  # noqa: E402
from solver.verify.report import Claim, Report  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "problems" / "experiments"
CPU = torch.device("cpu")


def context() -> experiments.Context:
    return experiments.Context(CPU, command="dlsolve reproduce test.yaml")


# --------------------------------------------------------------------------- weight decay


def test_sgd_weight_decay_equals_sgd_on_the_l2_loss_and_the_update_rule() -> None:
    curves = theory.sgd_trajectories(
        theory.SgdSettings(lr=0.1, weight_decay=0.05, steps=40), seed=3, device=CPU
    )
    assert len(curves["l2"]) == 40
    assert max(curves["l2"]) <= 1e-12
    assert max(curves["rule"]) <= 1e-12
    assert curves["plain"][-1] > 1e-3  # the decay does change the weights: not a vacuous match


def test_first_adam_steps_match_the_formulas() -> None:
    """Step 1 of Adam is θ − η g/(|g| + ε); Adam-L2 uses g + wd·θ; AdamW first shrinks θ."""
    a = theory.AdamSettings(
        lr=0.01,
        weight_decay=0.1,
        steps=1,
        weights=64,
        gradient_scales={"small": 0.001, "large": 10.0},
    )
    curves, _ = theory.adam_trajectories(a, seed=7, device=CPU)
    xi = torch.randn(64, generator=torch.Generator().manual_seed(7), dtype=torch.float64).numpy()
    lr, wd, eps = a.lr, a.weight_decay, a.eps
    for group, s in a.gradient_scales.items():
        g = s * xi
        g_l2 = g + wd * 1.0
        expected = {
            "adam": 1 - lr * g / (np.abs(g) + eps),
            "adam-l2": 1 - lr * g_l2 / (np.abs(g_l2) + eps),
            "adamw": (1 - lr * wd) - lr * g / (np.abs(g) + eps),
        }
        for k, theta in expected.items():
            assert curves[k][group][0] == pytest.approx(theta.mean(), rel=1e-12)


def test_adam_l2_decays_small_gradient_weights_faster_and_adamw_does_not() -> None:
    spec = theory.WeightDecaySpec(
        experiment="wd",
        runner="weight-decay-vs-l2",
        sgd=theory.SgdSettings(steps=10),
        adam=theory.AdamSettings(steps=200, weights=200),
    )
    rep = theory.run_weight_decay(spec, context())
    assert [c.holds for c in rep.claims] == [True] * 5, [c.detail for c in rep.failed]
    rel = rep.payload["adam_relative_to_no_decay"]
    assert rel["adam-l2"]["small"] < 0.2 < 0.9 < rel["adam-l2"]["large"]
    assert rel["adamw"]["small"] == pytest.approx(rel["adamw"]["large"], abs=1e-4)
    # AdamW's decay is the decoupled factor (1 − η·wd) per step, up to the noise's drift
    assert rel["adamw"]["small"] == pytest.approx((1 - 0.01 * 0.1) ** 200, rel=0.02)
    assert rep.payload["adam_l2_vs_adamw_max_abs_diff"] > 0.1


def test_theory_specs_need_a_name(tmp_path: Path) -> None:
    path = tmp_path / "wd.yaml"
    path.write_text("runner: weight-decay-vs-l2\n", encoding="utf-8")
    with pytest.raises(
        DlsolveError,
        match=r"wd.yaml:1: field 'experiment': a weight-decay-vs-l2 "
        r"experiment needs this field",
    ):
        experiments.load(path)


def test_weight_decay_spec_needs_two_groups(tmp_path: Path) -> None:
    path = tmp_path / "wd.yaml"
    path.write_text(
        "experiment: wd\nrunner: weight-decay-vs-l2\nadam:\n  steps: 3\n"
        "  gradient_scales: {only: 1}\n",
        encoding="utf-8",
    )
    with pytest.raises(
        DlsolveError,
        match=r"wd.yaml:5: field 'adam.gradient_scales': needs at "
        r"least two groups",
    ):
        experiments.load(path)


# --------------------------------------------------------------------------- RNN


def unrolled_jacobian_norms(W: np.ndarray, spec: theory.RnnSpec, seed: int) -> np.ndarray:
    """‖∂h_t/∂h_0‖ from J_t = W·diag(σ'(h_{t−1}))·J_{t−1}, in numpy, with the inputs drawn
    in the order jacobian_norms draws them."""
    gen = torch.Generator().manual_seed(seed)
    f64 = torch.float64
    H, scale = W.shape[0], spec.input_scale
    U = torch.randn(H, spec.inputs, generator=gen, dtype=f64) * (scale / spec.inputs**0.5)
    b = torch.randn(H, generator=gen, dtype=f64) * scale
    xs = torch.randn(spec.T, spec.inputs, generator=gen, dtype=f64)
    h = (torch.randn(H, generator=gen, dtype=f64) * scale).numpy()
    U, b, xs = U.numpy(), b.numpy(), xs.numpy()
    sigma, dsigma = {
        "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
        "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
        "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
    }[spec.activation]
    J, norms = np.eye(H), []
    for t in range(spec.T):
        J = W @ np.diag(dsigma(h)) @ J
        h = W @ sigma(h) + U @ xs[t] + b
        norms.append(np.linalg.norm(J, 2))
    return np.array(norms)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_autograd_jacobian_norms_equal_the_product_of_jacobians(activation: str) -> None:
    spec = theory.RnnSpec(
        experiment="r",
        runner="rnn-vanishing",
        activation=activation,
        hidden=5,
        inputs=3,
        T=12,
        input_scale=1.0,
    )
    W = np.random.default_rng(0).normal(size=(5, 5)) * 0.5
    got = theory.jacobian_norms(torch.tensor(W), spec, torch.Generator().manual_seed(11))
    np.testing.assert_allclose(got.numpy(), unrolled_jacobian_norms(W, spec, 11), rtol=1e-10)


@pytest.mark.parametrize(
    ("activation", "matrix"),
    [("tanh", "orthogonal"), ("sigmoid", "orthogonal"), ("relu", "gaussian")],
)
def test_the_bound_holds_and_is_nearly_attained(activation: str, matrix: str) -> None:
    spec = theory.RnnSpec(
        experiment="r",
        runner="rnn-vanishing",
        activation=activation,
        matrix=matrix,
        hidden=8,
        T=40,
        trials=3,
        delta=0.8,
        input_scale=0.05,
        W=[["1/2", "1/4"], [0, "1/2"]],
    )
    rep = theory.run_rnn(spec, context())
    assert all(c.holds for c in rep.claims) and len(rep.claims) == 2
    norms, bound = np.array(rep.payload["norms"]), np.array(rep.payload["bound"])
    assert norms.shape == (3, 40) and np.all(norms <= bound * (1 + 1e-9))
    assert rep.payload["gamma"] == theory.ACTIVATION_GAMMA[activation]
    # W = [[1/2, 1/4], [0, 1/2]]: λ1(WᵀW) = (9 + √17)/32, so δ_W = γ·√λ1
    assert rep.payload["given_W"]["delta"] == pytest.approx(
        rep.payload["gamma"] * np.sqrt((9 + np.sqrt(17)) / 32), rel=1e-12
    )
    if activation == "tanh":  # orthogonal W and small inputs: the bound is nearly tight
        assert norms[:, 0].max() / bound[0] > 0.99


@pytest.mark.parametrize(
    ("line", "text", "field", "message"),
    [
        ("delta: 1.5", 3, "delta", "δ must be in (0, 1)"),
        ("W: [[1, 2, 3], [4, 5, 6]]", 3, "W", "W must be square, got 2x3"),
        ("matrix: unitary", 3, "matrix", "input should be 'orthogonal' or 'gaussian'"),
        ("T: 0", 3, "T", "must be at least 1, got 0"),
    ],
)
def test_rnn_spec_errors(tmp_path: Path, line: str, text: int, field: str, message: str) -> None:
    path = tmp_path / "rnn.yaml"
    path.write_text(f"experiment: r\nrunner: rnn-vanishing\n{line}\n", encoding="utf-8")
    with pytest.raises(DlsolveError) as err:
        experiments.load(path)
    assert str(err.value).startswith(f"{path}:{text}: field '{field}': ")
    assert message in str(err.value)


# --------------------------------------------------------------------------- through the CLI


@pytest.mark.parametrize(
    ("name", "args", "figure"),
    [
        ("weight-decay-vs-l2", [], "REPORT-trajectories.png"),
        ("rnn-vanishing", ["--trials", "2"], "REPORT-jacobian-norm.png"),
    ],
)
def test_shipped_theory_experiments_hold(
    tmp_path: Path, name: str, args: list[str], figure: str
) -> None:
    out = tmp_path / "REPORT.md"
    result = CliRunner().invoke(
        main, ["reproduce", str(SHIPPED / f"{name}.yaml"), *args, "--device", "cpu", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(out.with_suffix(".json").read_text())
    assert payload["claims"] and all(c["holds"] for c in payload["claims"])
    assert payload["figures"] == [figure] and (tmp_path / figure).stat().st_size > 10_000
    markdown = out.read_text()
    assert "## Claims" in markdown and "**fails**" not in markdown
    assert result.output.count("holds: ") == len(payload["claims"])


def test_options_that_do_not_apply_are_refused() -> None:
    with pytest.raises(
        DlsolveError, match="--epochs does not apply to a weight-decay-vs-l2 experiment"
    ):
        experiments.reproduce(SHIPPED / "weight-decay-vs-l2.yaml", epochs=3)
    with pytest.raises(DlsolveError, match="--dataset does not apply to a rnn-vanishing"):
        experiments.reproduce(SHIPPED / "rnn-vanishing.yaml", dataset="digits")


def test_a_claim_that_fails_makes_reproduce_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(spec: theory.RnnSpec, ctx: experiments.Context) -> Report:
        return Report("t", [], {}, claims=[Claim("the bound holds", False, "ratio 1.5")])

    monkeypatch.setitem(
        theory.RUNNERS, "rnn-vanishing", experiments.Runner(theory.RnnSpec, failing)
    )
    result = CliRunner().invoke(
        main, ["reproduce", str(SHIPPED / "rnn-vanishing.yaml"), "-o", str(tmp_path / "R.md")]
    )
    assert result.exit_code == 1
    assert "FAILS: the bound holds (ratio 1.5)" in result.output


def test_a_theory_report_is_checked_like_a_training_report(tmp_path: Path) -> None:
    spec = tmp_path / "rnn.yaml"
    spec.write_text(
        "experiment: rnn\nrunner: rnn-vanishing\nhidden: 4\nT: 12\ntrials: 1\n", encoding="utf-8"
    )
    out = tmp_path / "rnn"
    args = ["reproduce", str(spec), "-q", "-o", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0
    js = out / "REPORT.json"
    result = CliRunner().invoke(main, ["reproduce", "--check", str(js)])
    assert result.exit_code == 0 and "numbers match" in result.output, result.output
    payload = json.loads(js.read_text())
    payload["max_ratio"] /= 2
    js.write_text(json.dumps(payload))
    result = CliRunner().invoke(main, ["reproduce", "--check", str(js)])
    assert result.exit_code == 1 and "\n  max_ratio: recorded " in result.output
