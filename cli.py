"""The dlsolve command line: parse options, call solver, print. No maths here."""

from __future__ import annotations

import sys
from pathlib import Path

import click

import solver
from solver import describe, kinds
from solver.errors import DlsolveError
from solver.render import FORMATS


class Group(click.Group):
    """A click group that turns every DlsolveError into one sentence on stderr and exit 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DlsolveError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dlsolve")
def main() -> None:
    """Solve deep-learning problem sets exactly, check answers, export, verify with PyTorch."""


def _report(errors: list[DlsolveError]) -> None:
    for err in errors:
        click.echo(f"error: {err}", err=True)


def _solve_all(paths: tuple[str, ...], only: tuple[str, ...]) -> tuple[list, list]:
    solved = solver.solve_paths(paths, only=only or None)
    errors = [e for ss in solved for e in ss.errors]
    if only:
        found = {s.id for ss in solved for s in ss.solutions}
        found |= {e.problem for e in errors if e.problem}
        for pid in only:
            if pid not in found:
                errors.append(DlsolveError(f"no problem has the id {pid!r}", field="--only"))
    return solved, errors


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="text",
              show_default=True, help="Terminal text with Unicode maths, Markdown, or JSON.")
@click.option("--only", multiple=True, metavar="ID",
              help="Solve only the problem with this id (repeatable).")
@click.option("--no-steps", is_flag=True, help="Print the answers without the worked steps.")
def solve(paths: tuple[str, ...], fmt: str, only: tuple[str, ...], no_steps: bool) -> None:
    """Solve problem files (a folder means every *.yaml in it)."""
    solved, errors = _solve_all(paths, only)
    click.echo(FORMATS[fmt](solved, steps=not no_steps), nl=False)
    _report(errors)
    if errors:
        sys.exit(2)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The Markdown file to write ('-' for standard output).")
@click.option("--only", multiple=True, metavar="ID", help="Export only these problem ids.")
@click.option("--no-steps", is_flag=True, help="Answers only, without the worked steps.")
def export(paths: tuple[str, ...], output: str, only: tuple[str, ...], no_steps: bool) -> None:
    """Write worked solutions as Markdown with LaTeX maths (GitHub, Jupyter, pandoc)."""
    solved, errors = _solve_all(paths, only)
    md = FORMATS["markdown"](solved, steps=not no_steps)
    if output == "-":
        click.echo(md, nl=False)
    else:
        Path(output).write_text(md, encoding="utf-8")
        count = sum(len(ss.solutions) for ss in solved)
        click.echo(f"wrote {count} worked solutions to {output}", err=True)
    _report(errors)
    if errors:
        sys.exit(2)


@main.command(name="kinds")
@click.argument("kind", required=False)
def kinds_cmd(kind: str | None) -> None:
    """List the problem kinds, or show one: its given fields and its answer keys."""
    if kind is None:
        click.echo(describe.kind_list(), nl=False)
        return
    _known(kind)
    click.echo(describe.kind_help(kind), nl=False)


@main.command()
@click.argument("kind")
def new(kind: str) -> None:
    """Print a commented YAML template for a problem of KIND."""
    _known(kind)
    click.echo(describe.template(kind), nl=False)


def _known(kind: str) -> None:
    if kind not in kinds.names():
        raise DlsolveError(f"unknown kind {kind!r}; 'dlsolve kinds' lists them",
                           field="KIND")


if __name__ == "__main__":
    main()
