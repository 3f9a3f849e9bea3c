"""How fast is our BatchNorm, and how long is an epoch on the CPU?

1. The scratch BatchNorm's training step (forward + backward, running
   estimates updated) divided by torch's ``BatchNorm1d``/``2d`` on the same
   input, for the activation shapes the two models produce on Fashion-MNIST at
   batch size 128, then per model (the sum over its BN layers). Goal: ≤ 1.3.
2. Seconds per training epoch of each model and placement on the CPU, with
   our BatchNorm and with torch's: on digits, and on Fashion-MNIST (its files
   from --data-dir or the cache when present, else random images of its shape,
   which cost the same to train on).

Every ratio printed is measured in this run, the two sides interleaved so that
a change in machine load hits both. Run: ``python benchmarks/bench_batchnorm.py``
(``--quick`` for a short run; set ``--threads 1`` on a busy machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solver.errors import DlsolveError
from solver.verify import data, experiments
from solver.verify.models import BatchNorm

GOAL = 1.3
#: the BN inputs of each model on 1x28x28 images at batch size 128 (see models.mlp / models.cnn)
SHAPES = {
    "mlp": [(128, 256), (128, 128)],
    "cnn": [(128, 16, 28, 28), (128, 32, 14, 14), (128, 128)],
}


def step_seconds(layer: nn.Module, x: torch.Tensor, upstream: torch.Tensor) -> float:
    start = time.perf_counter()
    layer(x).backward(upstream)
    return time.perf_counter() - start


def bn_ratio(shape: tuple[int, ...], rounds: int, per_round: int) -> tuple[float, float]:
    """Median seconds per training step of (scratch, torch), alternating blocks of steps."""
    features = shape[1]
    layers = {
        "scratch": BatchNorm(features),
        "torch": (nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d)(features),
    }
    x = torch.randn(shape, requires_grad=True)
    upstream = torch.randn(shape)
    times: dict[str, list[float]] = {k: [] for k in layers}
    for layer in layers.values():  # warm up: allocator, thread pool
        for _ in range(10):
            step_seconds(layer, x, upstream)
    for _ in range(rounds):
        for k, layer in layers.items():
            times[k] += [step_seconds(layer, x, upstream) for _ in range(per_round)]
    return statistics.median(times["scratch"]), statistics.median(times["torch"])


def bench_layers(rounds: int, per_round: int) -> None:
    print(
        f"BatchNorm training step (forward + backward), CPU, {torch.get_num_threads()} "
        f"thread(s), median of {rounds * per_round} steps each"
    )
    print(f"{'shape':>22} {'scratch ms':>11} {'torch ms':>9} {'ratio':>6}")
    totals = {}
    for model, shapes in SHAPES.items():
        ours = theirs = 0.0
        for shape in shapes:
            a, b = bn_ratio(shape, rounds, per_round)
            ours, theirs = ours + a, theirs + b
            print(f"{list(shape)!s:>22} {a * 1e3:11.3f} {b * 1e3:9.3f} {a / b:6.2f}")
        totals[model] = ours / theirs
    for model, ratio in totals.items():
        verdict = "meets" if ratio <= GOAL else "misses"
        print(
            f"ratio scratch/torch, all BN layers of the {model}: {ratio:.2f} "
            f"({verdict} the goal ≤ {GOAL})"
        )


def fashion_shaped(samples: int, data_dir: Path | None) -> tuple[data.Dataset, str]:
    try:
        ds = data.load_fashion_mnist(data_dir)
        return ds, "Fashion-MNIST"
    except DlsolveError:
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (samples, 1, 28, 28)).astype(np.float32) / 255
        y = rng.integers(0, 10, samples)
        test = slice(0, 1000)
        return (
            data.standardized("random", x, y, x[test], y[test], 10),
            f"random images of Fashion-MNIST's shape ({samples} of 1x28x28)",
        )


def epoch_seconds(
    ds: data.Dataset,
    tensors: experiments.Tensors,
    model: str,
    variant: str,
    batchnorm: str,
    epochs: int,
) -> list[float]:
    """The timed training passes of one seeded run, exactly as ``reproduce`` measures them."""
    spec = experiments.TrainingSpec(
        experiment="bench",
        dataset="digits",
        models=[model],
        variants=[variant],
        batchnorm=batchnorm,
        trials=1,
        epochs=epochs,
        optimizer=experiments.Optimizer(lr=0.05, momentum=0.9),
    )
    cpu = torch.device("cpu")
    experiments.warm_up(spec, ds, tensors, cpu)
    progress = experiments.Progress(epochs, "bench", enabled=False)
    return experiments.train_one(spec, ds, tensors, model, variant, 0, cpu, progress).curves[
        "seconds"
    ]


def bench_epochs(ds: data.Dataset, label: str, rounds: int, epochs: int) -> None:
    """Median seconds per epoch; scratch and torch BatchNorm alternate round by round."""
    print(
        f"\nseconds per training epoch, CPU, {label}: {len(ds.y_train)} images, batch 128, "
        f"median of {rounds * epochs} epochs"
    )
    print(f"{'model':>5} {'variant':>8} {'scratch BN':>11} {'torch BN':>9} {'ratio':>6}")
    tensors = experiments.Tensors.of(ds, torch.device("cpu"))
    for model in ("mlp", "cnn"):
        for variant in ("none", "bn-pre", "bn-post"):
            kinds = ("torch",) if variant == "none" else ("scratch", "torch")
            seconds: dict[str, list[float]] = {k: [] for k in kinds}
            for _ in range(rounds):
                for k in kinds:
                    seconds[k] += epoch_seconds(ds, tensors, model, variant, k, epochs)
            med = {k: statistics.median(v) for k, v in seconds.items()}
            if variant == "none":
                print(f"{model:>5} {variant:>8} {'':>11} {med['torch']:9.3f}")
            else:
                print(
                    f"{model:>5} {variant:>8} {med['scratch']:11.3f} {med['torch']:9.3f} "
                    f"{med['scratch'] / med['torch']:6.2f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, 6000 images")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument(
        "--samples", type=int, default=60000, help="random images when Fashion-MNIST is not there"
    )
    parser.add_argument("--data-dir", type=Path, help="folder with the Fashion-MNIST IDX files")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    bench_layers(rounds=4 if args.quick else 10, per_round=10 if args.quick else 30)
    bench_epochs(data.load("digits"), "digits", rounds=3, epochs=2 if args.quick else 5)
    ds, label = fashion_shaped(6000 if args.quick else args.samples, args.data_dir)
    bench_epochs(ds, label, rounds=2, epochs=1)


if __name__ == "__main__":
    main()
