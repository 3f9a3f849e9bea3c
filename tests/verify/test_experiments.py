"""Experiment files: validation with file:line, seeded runs, and `dlsolve reproduce` end to end."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from solver.errors import DlsolveError
from solver.verify import report

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

from solver.verify import data, experiments  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "problems" / "experiments"

GOOD = """\
experiment: tiny
dataset: digits
models: [mlp, cnn]
variants: [none, bn-pre]
trials: 2
epochs: 1
batch_size: 64
optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
seed: 0
"""


def spec_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- validation


def test_shipped_experiments_validate() -> None:
    specs = {p.stem: experiments.load(p) for p in sorted(SHIPPED.glob("*.yaml"))}
    assert set(specs) == {
        "bn-placement",
        "cnn-regularization",
        "weight-decay-vs-l2",
        "rnn-vanishing",
    }
    bn = specs["bn-placement"]
    assert (bn.dataset, bn.models, bn.variants, bn.trials) == (
        "fashion-mnist",
        ["mlp", "cnn"],
        ["none", "bn-pre", "bn-post"],
        3,
    )
    assert specs["cnn-regularization"].variants == ["baseline", "bn", "bn+dropout"]
    assert bn.optimizer.lr == 0.1 and isinstance(bn.optimizer.lr, float)


@pytest.mark.parametrize(
    ("change", "line", "field", "message"),
    [
        ("epocs: 3", 10, "epocs", "unknown field (did you mean 'epochs'?)"),
        ("trials: 0", 5, "trials", "must be at least 1, got 0"),
        ("variants: [none, bn-middle]", 4, "variants.1", "unknown variant 'bn-middle'"),
        ("models: [mlp, rnn]", 3, "models.1", "input should be 'mlp' or 'cnn'"),
        ("optimizer: {name: sgd, lr: -1}", 8, "optimizer.lr", "must be > 0, got -1"),
        (
            "optimizer: {name: sgd, lr: 0.1, momentun: 0.9}",
            8,
            "optimizer.momentun",
            "unknown field (did you mean 'momentum'?)",
        ),
        ("dataset: mnist", 2, "dataset", "input should be 'fashion-mnist' or 'digits'"),
        ("batch_size: 1", 7, "batch_size", "must be at least 2"),
        ("experiment: ../escape", 1, "experiment", "names the output folder"),
        ("variants: []", 4, "variants", "must list at least one"),
        ("models: [mlp, mlp]", 3, "models", "lists the same name twice"),
    ],
)
def test_validation_errors_name_file_line_and_field(
    tmp_path: Path, change: str, line: int, field: str, message: str
) -> None:
    key = change.split(":")[0]
    lines = GOOD.splitlines()
    replaced = [change if ln.split(":")[0] == key else ln for ln in lines]
    if replaced == lines:
        replaced.append(change)  # a new (misspelt) field goes at the end
    path = spec_file(tmp_path, "\n".join(replaced) + "\n")
    with pytest.raises(DlsolveError) as err:
        experiments.load(path)
    text = str(err.value)
    assert text.startswith(f"{path}:{line}: field '{field}': "), text
    assert message in text and "\n" not in text


def test_missing_fields_and_unknown_runners(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "experiment: x\ndataset: digits\nvariants: [none]\n")
    with pytest.raises(
        DlsolveError,
        match=r"exp.yaml:1: field 'models': a training experiment "
        r"needs this field",
    ):
        experiments.load(path)
    path = spec_file(tmp_path, "experiment: x\nrunner: gan\n")
    with pytest.raises(
        DlsolveError,
        match=r"exp.yaml:2: field 'runner': unknown runner 'gan': "
        r"use one of training",
    ):
        experiments.load(path)
    path = spec_file(tmp_path, "- just\n- a list\n")
    with pytest.raises(DlsolveError, match="an experiment file is a mapping"):
        experiments.load(path)
    with pytest.raises(DlsolveError, match="no such file"):
        experiments.load(tmp_path / "absent.yaml")


# --------------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def digits() -> tuple[data.Dataset, experiments.Tensors]:
    ds = data.load("digits")
    return ds, experiments.Tensors.of(ds, torch.device("cpu"))


def quiet_progress() -> experiments.Progress:
    return experiments.Progress(1000, "test", enabled=False)


@pytest.mark.parametrize(("model", "variant"), [("mlp", "bn-post+dropout"), ("cnn", "bn-pre")])
def test_same_seed_same_numbers_other_seed_other_numbers(
    digits: tuple[data.Dataset, experiments.Tensors], model: str, variant: str, tmp_path: Path
) -> None:
    ds, tensors = digits
    spec = experiments.load(spec_file(tmp_path, GOOD)).model_copy(update={"epochs": 2})
    cpu = torch.device("cpu")
    a, b = (
        experiments.train_one(spec, ds, tensors, model, variant, 0, cpu, quiet_progress())
        for _ in range(2)
    )
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert a.curves[key] == b.curves[key]  # bit for bit
    other = experiments.train_one(spec, ds, tensors, model, variant, 1, cpu, quiet_progress())
    assert other.seed == 1 and other.curves["train_loss"] != a.curves["train_loss"]
    assert a.final("test_acc") > 0.5  # and it learns something in two epochs


def fake_run(model: str, variant: str, trial: int, test_acc: float) -> experiments.Run:
    run = experiments.Run(model, variant, trial, trial, "cpu")
    for key, value in (
        ("train_loss", 0.1 + trial),
        ("train_acc", 0.99),
        ("test_loss", 0.3),
        ("test_acc", test_acc),
        ("seconds", 2.0 + trial),
    ):
        run.curves[key] = [value, value] if key == "seconds" else [value / 2, value]
    return run


def test_table_shows_mean_and_sample_std_over_trials() -> None:
    runs = [fake_run("mlp", "none", t, acc) for t, acc in enumerate((0.90, 0.92, 0.97))]
    row = experiments.results_table(runs).splitlines()[2]
    cells = [c.strip() for c in row.strip("|").split("|")]
    accs = [90.0, 92.0, 97.0]
    assert cells[3] == f"{statistics.mean(accs):.2f} ± {statistics.stdev(accs):.2f}"
    gaps = [99 - a for a in accs]
    assert cells[6] == f"{statistics.mean(gaps):.2f} ± {statistics.stdev(gaps):.2f}"
    assert cells[7] == f"{statistics.mean([2, 3, 4]):.3f} ± {statistics.stdev([2, 3, 4]):.3f}"
    summary = experiments.summarize(runs)[0]
    assert summary["test_acc"]["std"] == pytest.approx(statistics.stdev([0.90, 0.92, 0.97]))
    assert report.pm([0.5], 2, 100.0) == "50.00"  # one trial: no deviation to show


def parse_table(markdown: str) -> dict[tuple[str, str], list[str]]:
    rows = [ln for ln in markdown.splitlines() if ln.startswith("| ") and "---" not in ln]
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in rows]
    assert cells[0][:2] == ["model", "variant"]
    return {(c[0], c[1]): c[2:] for c in cells[1:]}


def test_reproduce_end_to_end_report_and_json_agree(tmp_path: Path) -> None:
    out = tmp_path / "report" / "REPORT.md"
    result = CliRunner().invoke(
        main,
        [
            "reproduce",
            str(SHIPPED / "bn-placement.yaml"),
            "--dataset",
            "digits",
            "--epochs",
            "1",
            "--trials",
            "1",
            "--device",
            "cpu",
            "-o",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    markdown = out.read_text(encoding="utf-8")
    payload = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert payload["experiment"]["dataset"] == "digits" and payload["experiment"]["epochs"] == 1
    assert payload["dataset"] == {
        "name": "digits",
        "train": 1348,
        "test": 449,
        "image_shape": [1, 8, 8],
        "classes": 10,
    }
    table = parse_table(markdown)
    assert len(payload["runs"]) == len(table) == 6
    for run in payload["runs"]:
        assert run["device"] == "cpu" and run["epochs"] == 1 and run["trial"] == 0
        assert len(run["curves"]["test_acc"]) == 1
        final = run["final"]
        cells = table[run["model"], run["variant"]]
        assert cells[:5] == [
            f"{100 * final['train_acc']:.2f}",
            f"{100 * final['test_acc']:.2f}",
            f"{final['train_loss']:.4f}",
            f"{final['test_loss']:.4f}",
            f"{100 * (final['train_acc'] - final['test_acc']):.2f}",
        ]
        assert cells[5] == f"{run['seconds_per_epoch']:.3f}"
        assert 0.1 < final["test_acc"] <= 1.0
    for name in payload["figures"]:
        png = out.parent / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in markdown
    assert sorted(payload["figures"]) == ["REPORT-cnn.png", "REPORT-mlp.png"]
    assert "--dataset digits" in markdown  # how to run it again
    assert parse_table(result.output) == table  # the terminal shows the same table


def test_reproduce_errors_are_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = spec_file(tmp_path, GOOD.replace("trials: 2", "trials: two"))
    result = CliRunner().invoke(main, ["reproduce", str(bad), "-q"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "exp.yaml:5: field 'trials'" in result.output
    assert "Traceback" not in result.output
    # Fashion-MNIST nowhere to be found: the error says which files to put where
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "FASHION_MNIST_MIRRORS", ((tmp_path / "none").as_uri() + "/",))
    result = CliRunner().invoke(
        main,
        ["reproduce", str(SHIPPED / "bn-placement.yaml"), "-q", "--data-dir", str(tmp_path / "fm")],
    )
    assert result.exit_code == 2
    assert "t10k-labels-idx1-ubyte.gz" in result.output and str(tmp_path / "fm") in result.output


def test_report_json_is_strict_and_the_report_is_markdown(tmp_path: Path) -> None:
    rep = report.Report(
        "t",
        ["body"],
        {"loss": float("nan"), "curve": [1.0, float("inf")]},
        claims=[report.Claim("c", False, "d")],
    )
    md, js = report.write(rep, tmp_path / "R.md")
    payload = json.loads(js.read_text())
    assert payload["loss"] is None and payload["curve"] == [1.0, None]
    assert rep.failed and "| **fails** | c | d |" in md.read_text()
    assert re.search(r"^# t$", md.read_text(), re.M)
    with pytest.raises(DlsolveError, match="report must be a Markdown file"):
        report.write(rep, tmp_path / "REPORT.txt")
