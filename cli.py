"""The dlsolve command line: parse options, call solver, print. No maths here."""

from __future__ import annotations

import sys

import click

from solver.errors import DlsolveError


class Group(click.Group):
    """A click group that turns every DlsolveError into one sentence on stderr and exit 2."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except DlsolveError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dlsolve")
def main() -> None:
    """Solve deep-learning problem sets exactly, check answers, export, verify with PyTorch."""


if __name__ == "__main__":
    main()
