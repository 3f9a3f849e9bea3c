"""Training experiments (dlsolve reproduce): an experiment YAML in, a report with numbers out.

The problem sets end in experiments a student is asked to run: BatchNorm
placement on an MLP and a CNN (IST 597), BatchNorm and dropout on a CNN
(Com S 573). ``dlsolve reproduce`` runs them as specified, every model ×
variant × trial × epoch seeded, and writes the table the assignment asks for:
mean ± std over trials of train and test accuracy and loss, the generalization
gap and the time per epoch, with the training curves as plots.

A report's numbers repeat to the last digit only under the same
:class:`Conditions`: the same torch, the same device and the same number of
CPU threads (a matrix product split over two threads sums in another order
than on one). So the thread count is set, not inherited (``--threads``,
default 1), deterministic algorithms are switched on, the conditions are
written into REPORT.json and stated in REPORT.md, and :func:`check` reruns a
report under its recorded conditions and lists every number that differs.

An experiment file names the ``runner`` that executes it: ``training`` (the
default) here, or one of the two experiments that back the theory in
:mod:`solver.verify.theory`. Validation errors name the file, the field and
its line, as for problem files (same YAML reader). Nothing here imports torch
until an experiment actually runs, so ``import cli`` stays light.
"""

from __future__ import annotations

import difflib
import json
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError

from .. import exact
from ..errors import DlsolveError, FieldError
from ..given import Count, Index, NonNegative, Positive, Probability
from ..spec import ID_PATTERN, Document, read_file
from . import pick_device, report, require, require_torch
from .report import Report, pm, table

if TYPE_CHECKING:
    import torch

    from .data import Dataset

# --------------------------------------------------------------------------- spec


PositiveReal = Annotated[Positive, AfterValidator(exact.to_float)]
NonNegativeReal = Annotated[NonNegative, AfterValidator(exact.to_float)]
UnitReal = Annotated[Probability, AfterValidator(exact.to_float)]  # in [0, 1)


def _experiment_name(value: Any) -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise FieldError(
            "the experiment's name must be lower-case letters, digits, '.', '_' "
            "or '-' (it names the output folder)"
        )
    return value


def _variant_name(value: Any) -> str:
    from .models import Variant  # imports torch, which reproduce() has already asked for

    if not isinstance(value, str):
        raise FieldError("a variant is a name such as bn-pre or bn+dropout")
    try:
        Variant.parse(value)
    except ValueError as err:
        raise FieldError(str(err)) from None
    return value


def _nonempty(values: list[Any]) -> list[Any]:
    if not values:
        raise FieldError("must list at least one")
    if len(set(values)) != len(values):
        raise FieldError("lists the same name twice")
    return values


def _at_least_two(n: int) -> int:
    if n < 2:
        raise FieldError("must be at least 2: BatchNorm needs two examples per batch")
    return n


class Strict(BaseModel):
    """Unknown fields are errors: a typo in an experiment file must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ExperimentSpec(Strict):
    """The fields every experiment file has."""

    experiment: Annotated[str, BeforeValidator(_experiment_name)]
    runner: str = "training"
    title: str | None = None
    #: Markdown shown at the top of the report: what the experiment is for
    text: str | None = None
    seed: Index = 0

    #: the command-line overrides this runner accepts, by field name
    overridable: ClassVar[frozenset[str]] = frozenset({"seed"})

    @property
    def folder(self) -> str:
        """The report's default folder under ``reports/``: the experiment's name."""
        return self.experiment


class Optimizer(Strict):
    """A ``torch.optim`` optimizer by name: SGD (with momentum), Adam or AdamW."""

    name: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: PositiveReal = 0.1
    momentum: UnitReal = 0.0
    weight_decay: NonNegativeReal = 0.0
    betas: tuple[UnitReal, UnitReal] = (0.9, 0.999)

    def build(self, params: Iterable[Any]) -> Any:
        torch = require_torch()
        if self.name == "sgd":
            return torch.optim.SGD(
                params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
            )
        cls = torch.optim.Adam if self.name == "adam" else torch.optim.AdamW
        return cls(params, lr=self.lr, betas=self.betas, weight_decay=self.weight_decay)

    def describe(self) -> str:
        if self.name == "sgd":
            return (
                f"SGD (lr {self.lr:g}, momentum {self.momentum:g}, "
                f"weight decay {self.weight_decay:g})"
            )
        return (
            f"{'Adam' if self.name == 'adam' else 'AdamW'} (lr {self.lr:g}, betas "
            f"{self.betas[0]:g}/{self.betas[1]:g}, weight decay {self.weight_decay:g})"
        )


class TrainingSpec(ExperimentSpec):
    """A grid of trainings: models × variants × trials, each for ``epochs`` epochs."""

    runner: Literal["training"] = "training"
    dataset: Literal["fashion-mnist", "digits"] = "fashion-mnist"
    models: Annotated[list[Literal["mlp", "cnn"]], AfterValidator(_nonempty)]
    variants: Annotated[
        list[Annotated[str, BeforeValidator(_variant_name)]], AfterValidator(_nonempty)
    ]
    batchnorm: Literal["scratch", "torch"] = "scratch"
    trials: Count = 3
    epochs: Count = 10
    batch_size: Annotated[Count, AfterValidator(_at_least_two)] = 128
    optimizer: Optimizer = Optimizer()
    #: the dropout probability of the variants with ``+dropout``
    dropout: UnitReal = 0.5

    overridable: ClassVar[frozenset[str]] = frozenset({"seed", "trials", "epochs", "dataset"})

    @property
    def folder(self) -> str:
        """``<experiment>-<dataset>``: a digits run never lands on a Fashion-MNIST report."""
        return f"{self.experiment}-{self.dataset}"


def validate(model: type[ExperimentSpec], doc: Document, runner: str) -> ExperimentSpec:
    """Validate a document against a spec model; the first problem becomes one sentence
    with the file, the field and its line."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as err:
        e = err.errors()[0]
        loc = tuple(e.get("loc", ()))
        cause = (e.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            message, loc = cause.message, (*loc, *cause.path)
        elif e["type"] == "missing":
            message = f"a {runner} experiment needs this field"
        elif e["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(loc[-1]), _fields(model, loc[:-1]), n=1)
            message = "unknown field" + (f" (did you mean {close[0]!r}?)" if close else "")
        else:
            msg = e.get("msg", "invalid value")
            message = msg[:1].lower() + msg[1:]
        dotted = ".".join(str(p) for p in loc) or None
        raise DlsolveError(message, file=doc.file, line=doc.line(loc), field=dotted) from None


def _fields(model: type[BaseModel], path: tuple[Any, ...]) -> list[str]:
    """The field names of the (nested) model at ``path``, for did-you-mean suggestions."""
    for part in path:
        info = model.model_fields.get(str(part))
        sub = getattr(info, "annotation", None) if info else None
        if not (isinstance(sub, type) and issubclass(sub, BaseModel)):
            return []
        model = sub
    return list(model.model_fields)


# --------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Conditions:
    """What a report's numbers depend on besides its spec: the same conditions, the same
    numbers to the last digit.

    The torch version (kernels change between releases), the device (and which
    GPU), and the number of CPU threads: a reduction split over two threads adds
    in another order than on one, which moves the last bits of a loss and,
    epochs later, a test accuracy. Deterministic algorithms are on, so that CUDA
    too picks the same kernels every time. Batches are drawn in the main process
    from a seeded generator (no loader workers), so there is no worker to seed.
    """

    torch: str
    device: str
    threads: int
    gpu: str | None = None
    deterministic: bool = True

    @classmethod
    def of(cls, device: torch.device, threads: int) -> Conditions:
        torch = require_torch()
        gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
        return cls(torch.__version__, device.type, threads, gpu)

    @classmethod
    def recorded(cls, data: Any, file: str) -> Conditions:
        """The conditions a REPORT.json records, or a DlsolveError naming the file."""
        try:
            return cls(
                str(data["torch"]),
                str(data["device"]),
                int(data["threads"]),
                data.get("gpu"),
                bool(data.get("deterministic", True)),
            )
        except (KeyError, TypeError, ValueError):
            raise DlsolveError(
                "records no conditions (torch, device, threads): it was written by an older "
                "dlsolve; run the experiment again to get a report that can be checked",
                file=file,
                field="conditions",
            ) from None

    def as_json(self) -> dict[str, Any]:
        return {
            "torch": self.torch,
            "device": self.device,
            "gpu": self.gpu,
            "threads": self.threads,
            "deterministic": self.deterministic,
        }

    def describe(self) -> str:
        """``torch 2.13.0+cpu, device cpu, 1 CPU thread, deterministic algorithms``"""
        device = f"{self.device} ({self.gpu})" if self.gpu else self.device
        threads = f"{self.threads} CPU thread{'s' if self.threads > 1 else ''}"
        det = ", deterministic algorithms" if self.deterministic else ""
        return f"torch {self.torch}, device {device}, {threads}{det}"

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Set the thread count and deterministic algorithms for the duration of a run,
        then put back what was there (tests and callers in the same process keep theirs)."""
        torch = require_torch()
        threads = torch.get_num_threads()
        deterministic = torch.are_deterministic_algorithms_enabled()
        if self.device == "cuda":  # cuBLAS is deterministic only with a fixed workspace
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.set_num_threads(self.threads)
        torch.use_deterministic_algorithms(self.deterministic)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic)


# --------------------------------------------------------------------------- runners


@dataclass
class Context:
    """How to run, as opposed to what: device, data folder, progress, the command line,
    CPU threads."""

    device: torch.device
    data_dir: Path | None = None
    progress: bool = True
    command: str = ""
    threads: int = 1

    @property
    def conditions(self) -> Conditions:
        return Conditions.of(self.device, self.threads)


@dataclass(frozen=True)
class Runner:
    spec: type[ExperimentSpec]
    run: Callable[[Any, Context], Report]


def runners() -> dict[str, Runner]:
    """Every runner by name: ``training`` and the experiments that back the theory."""
    from . import theory

    return {"training": Runner(TrainingSpec, run_training), **theory.RUNNERS}


def load(path: str | Path) -> ExperimentSpec:
    """Read and validate an experiment file (needs torch: variants are checked against
    the models)."""
    doc = read_file(path)
    if not isinstance(doc.data, dict):
        raise doc.error(
            "an experiment file is a mapping with 'experiment', 'runner' and the "
            "runner's fields (see the README's 'Reproducing the training experiments')"
        )
    name = doc.data.get("runner", "training")
    table_ = runners()
    if name not in table_:
        raise doc.error(
            f"unknown runner {name!r}: use one of {', '.join(table_)}", ("runner",), field="runner"
        )
    return validate(table_[name].spec, doc, name)


REPORTS = Path("reports")  # relative to the current folder, like any output of a command
#: one CPU thread unless asked: the last digits depend on the count, and models this small
#: lose far more to a descheduled second thread on a shared machine than they gain from it
DEFAULT_THREADS = 1


def report_path(spec: ExperimentSpec, output: str | Path | None) -> Path:
    """The Markdown report: ``reports/<experiment>-<dataset>/REPORT.md`` by default; ``-o``
    names a folder (REPORT.md goes inside) or a file ending in ``.md``."""
    if output is None:
        return REPORTS / spec.folder / "REPORT.md"
    out = Path(output)
    return out if out.suffix.lower() == ".md" else out / "REPORT.md"


def run(spec: ExperimentSpec, ctx: Context) -> Report:
    """Run ``spec`` under the conditions of ``ctx`` and record them in the payload."""
    conditions = ctx.conditions
    with conditions.applied():
        result = runners()[spec.runner].run(spec, ctx)
    result.payload["conditions"] = conditions.as_json()
    return result


def reproduce(
    path: str | Path,
    *,
    trials: int | None = None,
    epochs: int | None = None,
    dataset: str | None = None,
    seed: int | None = None,
    data_dir: str | Path | None = None,
    device: str = "auto",
    threads: int | None = None,
    output: str | Path | None = None,
    progress: bool = True,
) -> tuple[Report, list[Path]]:
    """Run an experiment file and write its report (see :func:`report_path`).

    Returns the report and the files written: the Markdown, the JSON, the PNGs.
    The output folder is checked before anything runs: one that holds anything
    but an earlier report of the same experiment is refused.
    """
    require_torch()
    threads = DEFAULT_THREADS if threads is None else threads
    if threads < 1:
        raise DlsolveError(f"must be at least 1, got {threads}", field="--threads")
    spec = load(path)
    overrides = {
        k: v
        for k, v in {"trials": trials, "epochs": epochs, "dataset": dataset, "seed": seed}.items()
        if v is not None
    }
    for key in overrides:
        if key not in type(spec).overridable:
            raise DlsolveError(
                f"--{key} does not apply to a {spec.runner} experiment",
                file=str(path),
                field=f"--{key}",
            )
    spec = spec.model_copy(update=overrides)
    md = report_path(spec, output)
    replaces = report.previous_report(md, spec.experiment)
    dev = pick_device(device)
    words = ["dlsolve", "reproduce", str(path)]
    for key, value in overrides.items():
        words += [f"--{key}", str(value)]
    if data_dir is not None:
        words += ["--data-dir", str(data_dir)]
    words += ["--device", dev.type, "--threads", str(threads)]
    ctx = Context(dev, Path(data_dir) if data_dir else None, progress, shlex.join(words), threads)
    result = run(spec, ctx)
    return result, report.write(result, md, replaces)


@dataclass
class Check:
    """A report rerun under its recorded conditions: what was compared and what differs."""

    report: Path
    conditions: Conditions
    #: how many numbers the report holds, timings aside
    compared: int
    #: (where, recorded, rerun) of every value that differs
    differ: list[tuple[str, Any, Any]]

    @property
    def matches(self) -> bool:
        return not self.differ

    def lines(self) -> list[str]:
        """The verdict, then one line per differing value."""
        head = f"rerun of {self.report} under {self.conditions.describe()}: "
        if self.matches:
            return [head + f"all {self.compared} numbers match (timings aside)"]
        n = len(self.differ)
        lines = [
            head + f"{n} value{'s' if n > 1 else ''} of {self.compared} numbers "
            f"{'differ' if n > 1 else 'differs'} from the recorded ones (timings aside)"
        ]
        lines += [f"  {where}: recorded {a!r}, rerun {b!r}" for where, a, b in self.differ]
        return lines


def read_report(path: str | Path) -> dict[str, Any]:
    """A REPORT.json as written by :func:`reproduce`, or a DlsolveError naming the file."""
    p = Path(path)
    try:
        payload = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DlsolveError("no such file", file=str(p)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise DlsolveError(f"cannot read this file ({err})", file=str(p)) from None
    except ValueError as err:
        raise DlsolveError(f"not JSON ({err})", file=str(p)) from None
    needed = ("experiment", "conditions", "command", "report")
    if not isinstance(payload, dict) or not isinstance(payload.get("experiment"), dict):
        raise DlsolveError(
            "not a REPORT.json written by dlsolve reproduce (no 'experiment' spec)", file=str(p)
        )
    missing = [k for k in needed if k not in payload]
    if missing == ["conditions"]:
        Conditions.recorded(payload, str(p))  # raises: an older report
    if missing:
        raise DlsolveError(
            f"not a REPORT.json written by dlsolve reproduce (no {', '.join(missing)})",
            file=str(p),
        )
    return payload


def check(path: str | Path, *, data_dir: str | Path | None = None, progress: bool = True) -> Check:
    """Rerun the experiment a REPORT.json records, as recorded (spec, device, threads),
    and compare every number with the recorded one."""
    require_torch()
    recorded = read_report(path)
    conditions = Conditions.recorded(recorded["conditions"], str(path))
    spec_data = recorded["experiment"]
    name = spec_data.get("runner", "training")
    table_ = runners()
    if name not in table_:
        raise DlsolveError(f"unknown runner {name!r}", file=str(path), field="experiment.runner")
    try:
        spec = table_[name].spec.model_validate(spec_data)
    except ValidationError as err:
        e = err.errors()[0]
        where = ".".join(str(p) for p in ("experiment", *e.get("loc", ())))
        raise DlsolveError(
            f"the recorded spec does not validate ({e.get('msg', 'invalid value')})",
            file=str(path),
            field=where,
        ) from None
    if conditions.threads < 1:
        raise DlsolveError("must be at least 1", file=str(path), field="conditions.threads")
    ctx = Context(
        pick_device(conditions.device),
        Path(data_dir) if data_dir else None,
        progress,
        str(recorded["command"]),
        conditions.threads,
    )
    result = run(spec, ctx)
    rerun = report.json_payload(result, Path(path).with_name(str(recorded["report"])))
    return Check(
        Path(path),
        ctx.conditions,
        report.numbers(recorded),
        list(report.differences(recorded, rerun)),
    )


def header(spec: ExperimentSpec, ctx: Context, details: str) -> list[str]:
    """The report's opening: what the experiment is for, how it ran, the conditions under
    which its numbers repeat, how to run it again and how to check it."""
    parts = [spec.text.strip()] if spec.text else []
    parts.append(f"{details} Seed {spec.seed}.")
    parts.append(
        f"The numbers below repeat to the last digit under the conditions they were "
        f"measured in: {ctx.conditions.describe()}. Reproduce with `{ctx.command}`; "
        "`dlsolve reproduce --check REPORT.json` reruns this report under its recorded "
        "conditions and lists any number that differs. Another torch version, device or "
        "thread count can change the last digits."
    )
    return parts


# --------------------------------------------------------------------------- training

CURVES = ("train_loss", "train_acc", "test_loss", "test_acc", "seconds")
EVAL_BATCH = 1000


@dataclass
class Run:
    """One training: a model, a variant, a trial, and its per-epoch curves."""

    model: str
    variant: str
    trial: int
    seed: int
    device: str
    curves: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in CURVES})

    def final(self, key: str) -> float:
        """The value after the last epoch; ``gap`` is train minus test accuracy."""
        if key == "gap":
            return self.final("train_acc") - self.final("test_acc")
        if key == "seconds":
            return sum(self.curves["seconds"]) / len(self.curves["seconds"])
        return self.curves[key][-1]

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "variant": self.variant,
            "trial": self.trial,
            "seed": self.seed,
            "device": self.device,
            "epochs": len(self.curves["seconds"]),
            "final": {
                k: self.final(k) for k in ("train_acc", "train_loss", "test_acc", "test_loss")
            },
            "seconds_per_epoch": self.final("seconds"),
            "curves": self.curves,
        }


@dataclass
class Tensors:
    """A dataset on the device: images float32 ``[N, C, H, W]``, labels int64."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @classmethod
    def of(cls, ds: Dataset, device: torch.device) -> Tensors:
        torch = require_torch()
        return cls(
            *(
                torch.from_numpy(a).to(device)
                for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test)
            )
        )


class Progress:
    """Where a long experiment is, on stderr.

    On a terminal two tqdm bars: epochs of the whole experiment, and batches of
    this epoch. Otherwise (CI logs, pipes, a file) one line per epoch, flushed
    as it happens, so a log shows the run moving. Nothing when disabled (``-q``).
    """

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.stream = sys.stderr  # looked up now: test runners swap it
        self.total, self.done, self.desc, self.epoch = total, 0, desc, ""
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.mode = "bars" if enabled and tty else "lines" if enabled else "off"
        self.tqdm = require("tqdm").tqdm if self.mode == "bars" else None
        self.bar = (
            self.tqdm(total=total, desc=desc, unit="epoch", dynamic_ncols=True, file=self.stream)
            if self.tqdm
            else None
        )

    def batches(self, items: list[Any], desc: str) -> Iterable[Any]:
        self.epoch = desc
        if self.tqdm is None:
            return items
        return self.tqdm(
            items, desc=desc, unit="batch", leave=False, dynamic_ncols=True, file=self.stream
        )

    def epoch_done(self, train_loss: float, test_acc: float, seconds: float) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix(
                {"train_loss": f"{train_loss:.4g}", "test_acc": f"{test_acc:.2%}"}, refresh=False
            )
            self.bar.update(1)
        elif self.mode == "lines":
            print(
                f"{self.desc} [{self.done}/{self.total}] {self.epoch}: train loss "
                f"{train_loss:.4f}, test acc {test_acc:.2%}, {seconds:.3f} s",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def evaluate(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``net`` in eval mode (running BN estimates).

    Under ``inference_mode``: the same kernels, so the same numbers, without
    autograd's bookkeeping (version counters, views).
    """
    torch = require_torch()
    net.eval()
    loss, correct = 0.0, 0
    with torch.inference_mode():
        for i in range(0, len(y), EVAL_BATCH):
            logits = net(x[i : i + EVAL_BATCH])
            target = y[i : i + EVAL_BATCH]
            loss += torch.nn.functional.cross_entropy(logits, target, reduction="sum").item()
            correct += int((logits.argmax(1) == target).sum().item())
    return loss / len(y), correct / len(y)


def train_one(
    spec: TrainingSpec,
    ds: Dataset,
    tensors: Tensors,
    model: str,
    variant: str,
    trial: int,
    device: torch.device,
    progress: Progress,
) -> Run:
    """Train one model from a seeded initialization in a seeded data order.

    The seed of trial t is ``seed + t`` for every model and variant, so the
    variants of one trial start from the same random stream and see the
    batches in the same order: the comparison is paired.
    """
    torch = require_torch()
    from .models import Variant, build

    seed = spec.seed + trial
    torch.manual_seed(seed)
    net = build(
        model, ds.image_shape, ds.classes, Variant.parse(variant), spec.batchnorm, spec.dropout
    ).to(device)
    optimizer = spec.optimizer.build(net.parameters())
    order = torch.Generator().manual_seed(seed)
    n = len(tensors.y_train)
    # a last batch of a single example cannot be batch-normalized: it is skipped
    spans = [
        (i, min(i + spec.batch_size, n))
        for i in range(0, n, spec.batch_size)
        if min(i + spec.batch_size, n) - i >= 2
    ]
    run = Run(model, variant, trial, seed, device.type)
    for epoch in range(spec.epochs):
        perm = torch.randperm(n, generator=order).to(device)
        net.train()
        start = time.perf_counter()
        desc = f"{model} {variant} trial {trial + 1}/{spec.trials} epoch {epoch + 1}/{spec.epochs}"
        for i, j in progress.batches(spans, desc):
            idx = perm[i:j]
            loss = torch.nn.functional.cross_entropy(
                net(tensors.x_train[idx]), tensors.y_train[idx]
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        run.curves["seconds"].append(time.perf_counter() - start)
        for split in ("train", "test"):
            split_loss, split_acc = evaluate(
                net, getattr(tensors, f"x_{split}"), getattr(tensors, f"y_{split}")
            )
            run.curves[f"{split}_loss"].append(split_loss)
            run.curves[f"{split}_acc"].append(split_acc)
        progress.epoch_done(
            train_loss=run.curves["train_loss"][-1],
            test_acc=run.curves["test_acc"][-1],
            seconds=run.curves["seconds"][-1],
        )
    return run


def warm_up(spec: TrainingSpec, ds: Dataset, tensors: Tensors, device: torch.device) -> None:
    """One untimed training step of each model and variant, so that the first timed epoch
    does not pay for thread pools, allocator growth and lazy initialisation. It draws
    random numbers before any run seeds itself, so results do not depend on it."""
    torch = require_torch()
    from .models import Variant, build

    x, y = tensors.x_train[: spec.batch_size], tensors.y_train[: spec.batch_size]
    for model in spec.models:
        for variant in spec.variants:
            net = build(
                model,
                ds.image_shape,
                ds.classes,
                Variant.parse(variant),
                spec.batchnorm,
                spec.dropout,
            ).to(device)
            torch.nn.functional.cross_entropy(net(x), y).backward()


def run_training(spec: TrainingSpec, ctx: Context) -> Report:
    """Every model × variant × trial, then the report."""
    from .data import load as load_dataset

    ds = load_dataset(spec.dataset, ctx.data_dir)
    tensors = Tensors.of(ds, ctx.device)
    warm_up(spec, ds, tensors, ctx.device)
    grid = [(m, v, t) for m in spec.models for v in spec.variants for t in range(spec.trials)]
    progress = Progress(len(grid) * spec.epochs, spec.experiment, ctx.progress)
    try:
        runs = [train_one(spec, ds, tensors, m, v, t, ctx.device, progress) for m, v, t in grid]
    finally:
        progress.close()
    return training_report(spec, ds, runs, ctx)


# --------------------------------------------------------------------------- training report

#: the table's columns: (header, metric, decimals, scale)
COLUMNS = (
    ("train acc (%)", "train_acc", 2, 100.0),
    ("test acc (%)", "test_acc", 2, 100.0),
    ("train loss", "train_loss", 4, 1.0),
    ("test loss", "test_loss", 4, 1.0),
    ("gap (pp)", "gap", 2, 100.0),
    ("s/epoch", "seconds", 3, 1.0),
)


def by_setting(runs: list[Run]) -> dict[tuple[str, str], list[Run]]:
    """The runs grouped by (model, variant), in the order they ran."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        groups.setdefault((r.model, r.variant), []).append(r)
    return groups


def summarize(runs: list[Run]) -> list[dict[str, Any]]:
    """Per model and variant, the mean and sample std over trials of every final metric."""
    out = []
    for (model, variant), rs in by_setting(runs).items():
        row: dict[str, Any] = {"model": model, "variant": variant, "trials": len(rs)}
        for _, key, _, _ in COLUMNS:
            mean, std = report.mean_std([r.final(key) for r in rs])
            row[key] = {"mean": mean, "std": std}
        out.append(row)
    return out


def results_table(runs: list[Run]) -> str:
    """The Markdown table of :data:`COLUMNS`, one row per model and variant."""
    rows = [
        (
            model,
            variant,
            *(pm([r.final(key) for r in rs], digits, scale) for _, key, digits, scale in COLUMNS),
        )
        for (model, variant), rs in by_setting(runs).items()
    ]
    return table(("model", "variant", *(c[0] for c in COLUMNS)), rows)


def curves_figure(runs: list[Run], model: str) -> Any:
    """Loss and accuracy per epoch of one model, a colour per variant: the mean over trials
    (train solid, test dashed), the test curve shaded ± one standard deviation."""
    require("matplotlib")
    from matplotlib.ticker import MaxNLocator

    fig, (ax_loss, ax_acc) = report.figure(2)
    variants = list(dict.fromkeys(r.variant for r in runs if r.model == model))
    for colour, variant in enumerate(variants):
        rs = [r for r in runs if r.model == model and r.variant == variant]
        for ax, key, scale in ((ax_loss, "loss", 1.0), (ax_acc, "acc", 100.0)):
            for split, style in (("train", "-"), ("test", "--")):
                values = np.array([r.curves[f"{split}_{key}"] for r in rs]) * scale
                epochs = np.arange(1, values.shape[1] + 1)
                mean = values.mean(0)
                ax.plot(epochs, mean, style, color=f"C{colour}", label=f"{variant} {split}")
                if split == "test" and len(rs) > 1:
                    std = values.std(0, ddof=1)
                    ax.fill_between(
                        epochs, mean - std, mean + std, color=f"C{colour}", alpha=0.15, linewidth=0
                    )
    ax_loss.set(title=f"{model}: cross-entropy", xlabel="epoch", ylabel="loss")
    ax_acc.set(title=f"{model}: accuracy", xlabel="epoch", ylabel="accuracy (%)")
    ax_acc.legend(fontsize="small")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


PLACEMENT_QUESTION = "BatchNorm before or after the activation?"
ASSIGNED_DATASET = "fashion-mnist"  # what IST 597 and Com S 573 train on


def _variant_named(spec: TrainingSpec, placement: str) -> str | None:
    """The spec's name of the variant with this BatchNorm placement and no dropout."""
    from .models import Variant

    return next((v for v in spec.variants if Variant.parse(v) == Variant(placement)), None)


def _where(variant: str, pre: str) -> str:
    return "before" if variant == pre else "after"


def _percent(values: list[float]) -> str:
    return pm(values, 2, 100.0) + " %"


def placement_answer(spec: TrainingSpec, ds: Dataset, runs: list[Run]) -> str | None:
    """IST 597's question (D.2), answered from this report's own numbers, or None when the
    experiment does not compare the two placements.

    Per model: test (and train) accuracy before and after the activation, and
    the difference trial by trial. The trials are paired (trial t of every
    variant starts from seed + t: the same initialization stream and the same
    batch order), so the per-trial difference is the fair comparison; a
    placement counts as better only when it is ahead in every trial. Then what
    the dataset allows: digits is not the Fashion-MNIST the assignment asks for.
    """
    pre, post, none = (_variant_named(spec, p) for p in ("bn-pre", "bn-post", "none"))
    if pre is None or post is None:
        return None
    groups = by_setting(runs)
    image_pp = 100.0 / len(ds.y_test)
    paragraphs = [
        f"IST 597 (D.2) asks whether BatchNorm works better on the pre-activation, "
        f"g(BN(f(x))) (`{pre}`), or after the activation, BN(g(f(x))) (`{post}`). "
        f"From the numbers above (test accuracy after the last epoch; one test image "
        f"is {image_pp:.2f} pp):"
    ]
    verdicts: list[str | None] = []
    leans: list[str] = []
    for model in spec.models:
        acc = {v: [r.final("test_acc") for r in groups[model, v]] for v in (pre, post, none) if v}
        train = {v: [r.final("train_acc") for r in groups[model, v]] for v in (pre, post)}
        diffs = [100.0 * (a - b) for a, b in zip(acc[pre], acc[post], strict=True)]
        n = len(diffs)
        ahead, behind = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
        mean, std = report.mean_std(diffs)
        spread = f"{mean:+.2f}" + (f" ± {std:.2f}" if std is not None else "") + " pp"
        text = (
            f"- **{model}**: {_percent(acc[pre])} with BatchNorm before the activation, "
            f"{_percent(acc[post])} after it"
            + (f", {_percent(acc[none])} without BatchNorm" if none else "")
            + f" (train accuracy {_percent(train[pre])} and {_percent(train[post])}). "
            f"Trial by trial, {pre} minus {post} is {spread}: ahead in {ahead}, behind in "
            f"{behind}, tied in {n - ahead - behind} of {n} trial{'s' if n > 1 else ''}. "
        )
        if n < 2:
            text += "One trial has no spread to judge a difference by."
            verdicts.append(None)
        elif ahead == n or behind == n:
            winner = pre if ahead == n else post
            text += f"BatchNorm {_where(winner, pre)} the activation is ahead in every trial."
            verdicts.append(winner)
        else:
            text += "Neither placement is ahead in every trial: the difference is within "
            text += "the spread between trials"
            if (ahead and not behind) or (behind and not ahead):
                lean = pre if ahead else post
                leans.append(f"{model} leans to {lean}, ahead or tied in every trial")
                text += f", though {lean} is never behind"
            text += "."
            verdicts.append(None)
        if none:
            base = report.mean_std(acc[none])[0]
            better = [v for v in (pre, post) if report.mean_std(acc[v])[0] > base]
            text += (
                " Both placements beat no BatchNorm on the mean."
                if len(better) == 2
                else f" Only {better[0]} beats no BatchNorm on the mean."
                if better
                else " Neither beats no BatchNorm on the mean."
            )
        paragraphs.append(text)
    decided = {v for v in verdicts if v is not None}
    if len(decided) == 1 and None not in verdicts:
        answer = (
            f"**Answer from this run:** BatchNorm {_where(decided.pop(), pre)} the activation, "
            "for every model and in every trial."
        )
    elif decided:
        answer = (
            "**Answer from this run:** no placement wins for every model: "
            + "; ".join(
                f"{m}: {v or 'undecided'}" for m, v in zip(spec.models, verdicts, strict=True)
            )
            + "."
        )
    else:
        answer = (
            "**Answer from this run:** neither placement is clearly better; with "
            f"{spec.trials} trial{'s' if spec.trials > 1 else ''} the two are within the "
            "spread between trials" + (f" ({'; '.join(leans)})" if leans else "") + "."
        )
    paragraphs.append(answer)
    if ds.name != ASSIGNED_DATASET:
        fits = all(r.final("train_acc") >= 0.99 for r in runs)
        why = "Every run fits its training set here, so " if fits else "On so small a set "
        paragraphs.append(
            f"Caveat: this ran on {ds.name} ({len(ds.y_train)} training and {len(ds.y_test)} "
            f"test images of {'x'.join(map(str, ds.image_shape[1:]))}), not on "
            "Fashion-MNIST, which the assignment asks for. "
            + why
            + "a ranking of the placements need not hold on Fashion-MNIST: run with "
            "`--dataset fashion-mnist` for the assignment's answer."
        )
    return "\n\n".join(paragraphs)


def training_report(spec: TrainingSpec, ds: Dataset, runs: list[Run], ctx: Context) -> Report:
    c, h, w = ds.image_shape
    details = (
        f"Dataset {ds.name}: {len(ds.y_train)} training and {len(ds.y_test)} test "
        f"images of {c}x{h}x{w}, {ds.classes} classes. {spec.trials} trial(s) × "
        f"{spec.epochs} epoch(s), batch size {spec.batch_size}, "
        f"{spec.optimizer.describe()}, BatchNorm: {spec.batchnorm}"
        + (f", dropout p = {spec.dropout:g}" if any("dropout" in v for v in spec.variants) else "")
        + "."
    )
    results = results_table(runs)
    note = (
        f"Mean ± sample standard deviation (n − 1) over {spec.trials} trial(s) of the values "
        "after the last epoch. Accuracy and loss (mean cross-entropy) are measured in eval "
        "mode on the whole training and test sets; the gap is train minus test accuracy in "
        "percentage points; s/epoch is the mean time of the training pass alone."
    )
    payload = {
        "experiment": spec.model_dump(mode="json"),
        "dataset": {
            "name": ds.name,
            "train": len(ds.y_train),
            "test": len(ds.y_test),
            "image_shape": [c, h, w],
            "classes": ds.classes,
        },
        "command": ctx.command,
        "runs": [r.as_json() for r in runs],
        "summary": summarize(runs),
    }
    answer = placement_answer(spec, ds, runs)
    return Report(
        title=spec.title or spec.experiment,
        sections=[
            *header(spec, ctx, details),
            "## Results",
            note,
            results,
            *([f"## {PLACEMENT_QUESTION}", answer] if answer else []),
        ],
        payload=payload,
        figures={model: curves_figure(runs, model) for model in spec.models},
        summary=results,
    )
