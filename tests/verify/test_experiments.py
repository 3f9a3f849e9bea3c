"""Experiment files: validation with file:line, seeded runs, and `dlsolve reproduce` end to end."""

from __future__ import annotations

import io
import json
import re
import statistics
from pathlib import Path

import numpy as np
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


# --------------------------------------------------------------------------- reproducibility

TINY = """\
experiment: tiny
dataset: digits
models: [mlp]
variants: [none, bn-pre]
trials: 1
epochs: 1
batch_size: 32
optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
seed: 0
"""


@pytest.fixture
def few_digits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Digits cut to 160 training and 80 test images: a whole experiment in a blink."""
    full = data.load_digits()

    def few() -> data.Dataset:
        return data.Dataset(
            "digits",
            full.x_train[:160],
            full.y_train[:160],
            full.x_test[:80],
            full.y_test[:80],
            full.classes,
        )

    monkeypatch.setattr(data, "load_digits", few)


def without_timings(payload: object) -> str:
    """REPORT.json as text with every wall-clock time taken out."""

    def strip(v: object) -> object:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in report.TIMINGS}
        return [strip(x) for x in v] if isinstance(v, list) else v

    return json.dumps(strip(payload), indent=1)


def test_same_settings_give_byte_identical_results_and_threads_are_recorded(
    tmp_path: Path, few_digits: None, cli_run
) -> None:
    spec = spec_file(tmp_path, TINY)
    # two threads on a busy machine wait for each other at every op: as few ops as can be
    two = tmp_path / "two.yaml"
    two.write_text(TINY.replace("[none, bn-pre]", "[none]").replace("32", "80"), encoding="utf-8")
    texts = {}
    for name, threads, file in (("a", "1", spec), ("b", "1", spec), ("c", "2", two)):
        code, out, _ = cli_run(
            "reproduce", str(file), "-q", "--threads", threads, "-o", str(tmp_path / name)
        )
        assert code == 0, out
        texts[name] = (tmp_path / name / "REPORT.json").read_text(encoding="utf-8")
    a, b, c = (json.loads(texts[k]) for k in "abc")
    assert without_timings(a) == without_timings(b)
    assert a["runs"][0]["seconds_per_epoch"] > 0  # the timings were there to take out
    assert a["conditions"] == {
        "torch": torch.__version__,
        "device": "cpu",
        "gpu": None,
        "threads": 1,
        "deterministic": True,
    }
    assert c["conditions"]["threads"] == 2 and "--threads 2" in c["command"]
    assert "torch " + torch.__version__ + ", device cpu, 2 CPU threads" in (
        tmp_path / "c" / "REPORT.md"
    ).read_text(encoding="utf-8")
    assert "1 CPU thread," in (tmp_path / "a" / "REPORT.md").read_text(encoding="utf-8")
    # a check reruns on the recorded thread count
    code, out, _ = cli_run("reproduce", "--check", str(tmp_path / "c" / "REPORT.json"), "-q")
    assert code == 0 and "2 CPU threads" in out, out
    # the run put back the caller's settings (one thread from tests/verify/conftest.py)
    assert torch.get_num_threads() == 1 and not torch.are_deterministic_algorithms_enabled()
    # the files themselves differ, in their timings only: the equality above is not vacuous
    assert texts["a"] != texts["b"] and str(a["runs"][1]["final"]["test_acc"]) in texts["b"]


def test_check_reruns_a_report_and_names_every_number_that_differs(
    tmp_path: Path, few_digits: None, cli_run
) -> None:
    spec = spec_file(tmp_path, TINY)
    code, out, _ = cli_run("reproduce", str(spec), "-q", "-o", str(tmp_path / "r"))
    assert code == 0, out
    js = tmp_path / "r" / "REPORT.json"
    payload = json.loads(js.read_text(encoding="utf-8"))
    payload["runs"][0]["seconds_per_epoch"] = 99.0  # a timing: never compared
    js.write_text(json.dumps(payload), encoding="utf-8")

    code, out, _ = cli_run("reproduce", "--check", str(js), "-q")
    assert code == 0, out
    n = report.numbers(payload)
    assert n > 20 and f"all {n} numbers match (timings aside)" in out
    assert "1 CPU thread" in out

    recorded = payload["runs"][1]["final"]["test_acc"]
    payload["runs"][1]["final"]["test_acc"] = recorded + 1e-12
    payload["runs"][0]["curves"]["train_loss"][0] *= 2
    tampered = tmp_path / "r" / "TAMPERED.json"
    tampered.write_text(json.dumps(payload), encoding="utf-8")
    code, out, _ = cli_run("reproduce", "--check", str(tampered), "-q")
    assert code == 1
    lines = out.splitlines()
    assert f"2 values of {n} numbers differ" in lines[0]
    assert lines[1:] == [
        f"  runs[0].curves.train_loss[0]: recorded "
        f"{payload['runs'][0]['curves']['train_loss'][0]!r}, rerun "
        f"{payload['runs'][0]['curves']['train_loss'][0] / 2!r}",
        f"  runs[1].final.test_acc: recorded {recorded + 1e-12!r}, rerun {recorded!r}",
    ]


def test_check_refuses_what_it_cannot_rerun(tmp_path: Path, cli_run) -> None:
    bad = tmp_path / "REPORT.json"
    bad.write_text("{not json", encoding="utf-8")
    code, _, err = cli_run("reproduce", "--check", str(bad))
    assert code == 2 and "not JSON" in err and err.count("\n") == 1
    old = {"experiment": {"experiment": "x"}, "command": "c", "report": "REPORT.md"}
    bad.write_text(json.dumps(old), encoding="utf-8")
    code, _, err = cli_run("reproduce", "--check", str(bad))
    assert code == 2 and "records no conditions" in err and err.count("\n") == 1
    code, _, err = cli_run("reproduce", "--check", str(bad), "--threads", "2")
    assert code == 2 and "--threads cannot be given with it" in err
    code, _, err = cli_run("reproduce")
    assert code == 2 and "give an experiment file" in err


def test_reports_go_to_their_own_folder_and_never_over_other_output(
    tmp_path: Path, few_digits: None, cli_run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = spec_file(tmp_path, TINY.replace("models: [mlp]", "models: [mlp, cnn]"))
    code, out, err = cli_run("reproduce", str(spec))
    assert code == 0, out
    folder = Path("reports") / "tiny-digits"
    assert sorted(p.name for p in folder.iterdir()) == [
        "REPORT-cnn.png",
        "REPORT-mlp.png",
        "REPORT.json",
        "REPORT.md",
    ]
    # off a terminal: one progress line per epoch on stderr, none on stdout
    epochs = [ln for ln in err.splitlines() if ln.startswith("tiny [")]
    assert len(epochs) == 4 and epochs[-1].startswith("tiny [4/4] cnn bn-pre trial 1/1 epoch 1/1")
    assert "tiny [" not in out
    # an earlier report of the same experiment is replaced, its stale plot removed
    spec.write_text(TINY, encoding="utf-8")
    code, out, _ = cli_run("reproduce", str(spec), "-q", "-o", str(folder))
    assert code == 0, out
    assert not (folder / "REPORT-cnn.png").exists() and (folder / "REPORT-mlp.png").exists()
    # anything else in the folder: refused before training, nothing touched
    (folder / "grades.csv").write_text("student,score\n", encoding="utf-8")
    before = (folder / "REPORT.json").read_bytes()
    code, out, err = cli_run("reproduce", str(spec), "-q", "-o", str(folder))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "not an earlier report of tiny (grades.csv)" in err
    assert (folder / "REPORT.json").read_bytes() == before
    # another experiment's report is someone else's output too
    other = spec_file(tmp_path, TINY.replace("experiment: tiny", "experiment: other"))
    (folder / "grades.csv").unlink()
    code, _, err = cli_run("reproduce", str(other), "-q", "-o", str(folder))
    assert code == 2 and "not an earlier report of other" in err


def fake_placement_runs(pre: list[float], post: list[float]) -> list[experiments.Run]:
    runs = []
    for variant, accs in (("none", [0.5] * len(pre)), ("bn-pre", pre), ("bn-post", post)):
        runs += [fake_run("mlp", variant, t, acc) for t, acc in enumerate(accs)]
    return runs


def test_the_placement_question_is_answered_from_the_reports_own_numbers() -> None:
    spec = experiments.TrainingSpec(
        experiment="p", models=["mlp"], variants=["none", "bn-pre", "bn-post"], trials=3
    )
    image, label = np.zeros((1, 1, 8, 8)), np.zeros(1)
    ds = data.Dataset("digits", image, label, image, np.zeros(400), classes=10)  # 1 = 0.25 pp
    text = experiments.placement_answer(
        spec, ds, fake_placement_runs([0.9, 0.8, 0.7], [0.85, 0.75, 0.6])
    )
    assert text is not None
    assert "one test image is 0.25 pp" in text
    diffs = [5.0, 5.0, 10.0]
    assert f"{statistics.mean(diffs):+.2f} ± {statistics.stdev(diffs):.2f} pp" in text
    assert "ahead in 3, behind in 0, tied in 0 of 3 trials" in text
    assert "BatchNorm before the activation, for every model and in every trial" in text
    assert "not on Fashion-MNIST" in text
    mixed = experiments.placement_answer(
        spec, ds, fake_placement_runs([0.9, 0.8, 0.7], [0.85, 0.85, 0.7])
    )
    assert mixed is not None and "ahead in 1, behind in 1, tied in 1 of 3" in mixed
    assert "neither placement is clearly better" in mixed
    ds.name = "fashion-mnist"
    assert "Caveat" not in (
        experiments.placement_answer(spec, ds, fake_placement_runs([0.9], [0.8])) or ""
    )
    no_post = spec.model_copy(update={"variants": ["none", "bn-pre"]})
    assert experiments.placement_answer(no_post, ds, fake_placement_runs([0.9], [0.8])) is None


def test_the_docs_table_is_the_shipped_report_of_the_command_beside_it() -> None:
    page = ROOT / "solver" / "docs" / "pages" / "guide" / "experiments.md"
    section = page.read_text(encoding="utf-8")
    found = re.search(
        r"^\$ (dlsolve reproduce problems/experiments/bn-placement\.yaml.*)$", section, re.M
    )
    assert found is not None
    shipped = SHIPPED / "reports" / "bn-placement-digits"
    payload = json.loads((shipped / "REPORT.json").read_text(encoding="utf-8"))
    assert payload["command"] == f"{found.group(1)} --device cpu --threads 1"
    assert parse_table(section) == parse_table((shipped / "REPORT.md").read_text(encoding="utf-8"))
    for js in sorted((SHIPPED / "reports").glob("*/REPORT.json")):
        conditions = json.loads(js.read_text(encoding="utf-8"))["conditions"]
        assert conditions["threads"] == 1 and conditions["deterministic"], js


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stream", "mode"), [(Terminal, "bars"), (io.StringIO, "lines")])
def test_progress_is_bars_on_a_terminal_and_lines_elsewhere(
    monkeypatch: pytest.MonkeyPatch, stream: type[io.StringIO], mode: str
) -> None:
    err = stream()
    monkeypatch.setattr("sys.stderr", err)
    progress = experiments.Progress(2, "exp", enabled=True)
    assert progress.mode == mode
    for epoch in (1, 2):
        list(progress.batches([1, 2, 3], f"mlp none trial 1/1 epoch {epoch}/2"))
        progress.epoch_done(train_loss=0.5, test_acc=0.875, seconds=0.25)
    progress.close()
    text = err.getvalue()
    if mode == "lines":
        assert text.splitlines() == [
            f"exp [{e}/2] mlp none trial 1/1 epoch {e}/2: train loss 0.5000, test acc 87.50%, "
            "0.250 s"
            for e in (1, 2)
        ]
    else:
        assert "\r" in text and "2/2" in text and "test_acc=87.50%" in text
    quiet = experiments.Progress(2, "exp", enabled=False)
    quiet.epoch_done(train_loss=0.5, test_acc=0.875, seconds=0.25)
    assert quiet.mode == "off" and err.getvalue() == text
