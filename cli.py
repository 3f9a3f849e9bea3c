"""The dlsolve command line: parse options, call solver, print. No maths here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from solver.errors import DlsolveError


class Group(click.Group):
    """A click group that turns every DlsolveError into one sentence on stderr and exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DlsolveError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dlsolve")
def main() -> None:
    """Solve deep-learning problem sets exactly, check answers, export, verify with PyTorch."""


@main.command()
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--trials", type=click.IntRange(min=1),
              help="Trials per model and variant (or random matrices for rnn-vanishing), "
                   "instead of the file's.")
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs per trial, instead of the "
                                                             "file's.")
@click.option("--dataset", type=click.Choice(["fashion-mnist", "digits"]),
              help="Dataset instead of the file's; digits needs no files and no network.")
@click.option("--seed", type=click.IntRange(min=0), help="Base seed instead of the file's "
                                                           "(trial t uses seed + t).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder with the Fashion-MNIST IDX files (*-ubyte or *-ubyte.gz); "
                   "else the cache folder, else a download.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="auto uses CUDA when PyTorch sees it, else the CPU.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The Markdown report; REPORT.json and the PNG plots go beside it "
                   "[default: out/<experiment>/REPORT.md].")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bars (they are off anyway when stderr is not a terminal).")
def reproduce(experiment: Path, trials: int | None, epochs: int | None, dataset: str | None,
              seed: int | None, data_dir: Path | None, device: str, output: Path | None,
              quiet: bool) -> None:
    """Run a training experiment and write its report (SPEC section 5).

    Prints the results table and the files written. Exit 1 when a claim the
    experiment tests does not hold (the theory experiments state claims).
    Needs the torch and train extras: pip install "dlsolve[train]".
    """
    from solver.verify.experiments import reproduce as run

    result, written = run(experiment, trials=trials, epochs=epochs, dataset=dataset, seed=seed,
                          data_dir=data_dir, device=device, output=output, progress=not quiet)
    click.echo(result.summary)
    for claim in result.claims:
        click.echo(f"{'holds' if claim.holds else 'FAILS'}: {claim.text} ({claim.detail})")
    click.echo("wrote " + ", ".join(str(p) for p in written))
    if result.failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
