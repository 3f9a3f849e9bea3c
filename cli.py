"""The dlsolve command line: parse options, call solver, print. No maths here."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import click

import solver
from solver import describe, kinds
from solver.errors import DlsolveError
from solver.render import FORMATS

#: the keys of solver.render.report.FORMATS (a test keeps them equal): named here so that
#: `solve` need not import the checker to build its command line
REPORT_FORMATS = ("text", "json", "gradescope")


class Group(click.Group):
    """A click group that turns every DlsolveError into one sentence on stderr and exit 2,
    and SIGINT/SIGTERM into one line and exit 130/143 (workers stopped, outputs untouched)."""

    def invoke(self, ctx: click.Context) -> object:
        from solver.errors import Interrupted, interruptible

        try:
            with interruptible():
                return super().invoke(ctx)
        except DlsolveError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)
        except (Interrupted, KeyboardInterrupt) as stop:
            signum = stop.signum if isinstance(stop, Interrupted) else 2
            click.echo(
                f"interrupted ({'SIGTERM' if signum == 15 else 'SIGINT'}): workers stopped; "
                "no output was left half-written",
                err=True,
            )
            sys.exit(128 + signum)


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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default="text",
    show_default=True,
    help="Terminal text with Unicode maths, Markdown, or JSON.",
)
@click.option(
    "--only", multiple=True, metavar="ID", help="Solve only the problem with this id (repeatable)."
)
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
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="The file to write (Markdown, or HTML with --format html; '-' for standard output).",
)
@click.option("--only", multiple=True, metavar="ID", help="Export only these problem ids.")
@click.option("--no-steps", is_flag=True, help="Answers only, without the worked steps.")
@click.option(
    "--questions",
    is_flag=True,
    help="The questions alone (statements, givens, answer keys): a handout.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "html"]),
    default="markdown",
    show_default=True,
    help="html: one self-contained page (KaTeX inlined) that a browser prints to PDF.",
)
def export(
    paths: tuple[str, ...],
    output: str,
    only: tuple[str, ...],
    no_steps: bool,
    questions: bool,
    fmt: str,
) -> None:
    """Write worked solutions as Markdown with LaTeX maths (GitHub, Jupyter, pandoc), or as
    one HTML page to print."""
    from solver import output as out
    from solver.render import html, markdown

    if output != "-":
        out.file_target(output)
    solved, errors = _solve_all(paths, only)
    renderer = html if fmt == "html" else markdown
    md = renderer.render(solved, steps=not no_steps, answers=not questions)
    if output == "-":
        click.echo(md, nl=False)
    else:
        out.written(output, md)
        count = sum(len(ss.solutions) for ss in solved)
        what = "questions" if questions else "worked solutions"
        click.echo(f"wrote {count} {what} to {output}", err=True)
    _report(errors)
    if errors:
        sys.exit(2)


class Share(click.ParamType):
    """A share of the points: 1/2, 0.5, 0 or 1."""

    name = "share"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Fraction:
        try:
            q = Fraction(str(value))
        except (ValueError, ZeroDivisionError):
            self.fail(f"{value!r} is not a number such as 1/2 or 0.5", param, ctx)
        if not 0 <= q <= 1:
            self.fail(f"{value} is not between 0 and 1", param, ctx)
        return q


def _grading_options(f: object) -> object:
    """The options check and grade share: tolerances, carried-forward share, time limit."""
    options = [
        click.option(
            "--carry-forward",
            type=Share(),
            default="1/2",
            show_default=True,
            help="Share of a key's points for an answer that is right given the "
            "student's own earlier wrong answers (a problem's carry_forward "
            "setting wins).",
        ),
        click.option(
            "--rtol",
            type=Share(),
            default="1/100",
            show_default=True,
            metavar="RATIO",
            help="Relative tolerance for real answers (a problem's tolerance wins).",
        ),
        click.option(
            "--atol",
            type=float,
            default=1e-8,
            show_default=True,
            help="Absolute tolerance for real answers.",
        ),
        click.option(
            "--decimals",
            type=click.IntRange(0, 30),
            default=None,
            help="Fewest decimal places a rounded or truncated answer must show "
            "(default: at least 2 significant figures).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(0.05, 60),
            default=1.0,
            show_default=True,
            help="Seconds allowed for reading and comparing one answer (twice that for "
            "judging a wrong one for partial credit); an answer that runs over is unreadable.",
        ),
        _variants_option(_VARIANTS_HELP),
    ]
    for option in reversed(options):
        f = option(f)  # type: ignore[operator]
    return f


def _settings(
    carry_forward: Fraction, rtol: Fraction, atol: float, decimals: int | None, timeout: float
) -> Any:
    from solver.check import Settings
    from solver.compare import Tolerance

    return Settings(Tolerance(rtol, Fraction(str(atol)), decimals), carry_forward, timeout)


class RevealChoice(click.ParamType):
    """A reveal policy: never, always or after:N (see solver.reveal)."""

    name = "never|after:N|always"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Any:
        from solver.reveal import Reveal

        if isinstance(value, Reveal):
            return value
        try:
            return Reveal.parse(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)


def _device_option(f: Any) -> Any:
    """``--device``, the same for verify and reproduce: where torch computes."""
    return click.option(
        "--device",
        type=click.Choice(["auto", "cpu", "cuda"]),
        default="auto",
        show_default=True,
        help="auto uses CUDA when PyTorch sees it, else the CPU.",
    )(f)


_REVEAL_HELP = (
    "never: verdicts and feedback without any expected value; after:N: expected "
    "values from the N-th attempt (see --attempt) or an all-correct one; always."
)


def _reveal_option(default: str = "always", help: str = _REVEAL_HELP) -> Any:
    """``--reveal``: whether feedback that goes back to students may state expected values.

    One option for check, grade, gradescope and serve; only serve (students at a page,
    trying again) starts from a stricter default."""
    return click.option(
        "--reveal",
        type=RevealChoice(),
        metavar="never|after:N|always",
        default=default,
        show_default=True,
        help=help,
    )


def _variants_option(help: str) -> Any:
    """``--variants DIR``: the folder ``dlsolve variants`` wrote, for every command that
    needs a student's own variant."""
    return click.option(
        "--variants",
        "variants_dir",
        type=click.Path(file_okay=False),
        default=None,
        help=help,
    )


_VARIANTS_HELP = "Folder of variant problem files, for answers files that name 'variant: N'."


@main.command()
@click.argument("problems", type=click.Path())
@click.argument("answers", type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(REPORT_FORMATS),
    default="text",
    show_default=True,
    help=(
        "A table for the terminal, JSON (student, score, max_score, results), or "
        "Gradescope's results.json."
    ),
)
@_grading_options
@_reveal_option()
@click.option(
    "--attempt",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Which attempt of this student this is (for --reveal after:N).",
)
def check(
    problems: str,
    answers: str,
    fmt: str,
    reveal: Any,
    attempt: int,
    carry_forward: Fraction,
    rtol: Fraction,
    atol: float,
    decimals: int | None,
    timeout: float,
    variants_dir: str | None,
) -> None:
    """Check one student's ANSWERS file against the solved PROBLEMS.

    Exit 0 when every answer is correct, 1 when something is wrong or missing,
    2 when an input is unusable.
    """
    from solver import grade as grade_mod
    from solver.render import report as report_render
    from solver.reveal import redact

    settings = _settings(carry_forward, rtol, atol, decimals, timeout)
    grader = grade_mod.Grader(problems, settings, variants_dir)
    try:
        _report(grader.key.errors)
        result = grader.check(answers)
    except DlsolveError as err:
        if fmt == "gradescope":  # an autograder must find a valid results.json
            top = grade_mod.top_score(grader.key)
            click.echo(report_render.unusable_gradescope(str(err), top), nl=False)
        raise
    finally:
        grader.close()
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    shown = redact(result, reveal, attempt)
    click.echo(report_render.FORMATS[fmt](shown), nl=False)
    sys.exit(2 if grader.key.errors else 0 if result.all_correct else 1)


@main.command()
@click.argument("problems", type=click.Path())
@click.argument("submissions_dir", type=click.Path())
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default="grades.csv",
    show_default=True,
    help="The CSV file to write: one row per submission.",
)
@click.option(
    "--results-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write a Gradescope results.json per submission, in DIR/<file name>/.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Worker processes grading in parallel.",
)
@click.option(
    "--lms",
    type=click.Choice(["canvas", "moodle"]),
    default=None,
    help="Also write the grades as this LMS imports them (needs --roster).",
)
@click.option(
    "--roster",
    type=click.Path(dir_okay=False),
    default=None,
    help="The class list exported from the LMS (Canvas: the gradebook's CSV export; "
    "Moodle: a grade or participants export with e-mail, ID number or username).",
)
@click.option(
    "--assignment",
    default=None,
    metavar="NAME",
    help="The LMS column the scores go in [default: the problem set's title].",
)
@click.option(
    "--lms-output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to write the LMS's CSV ('-' for standard output) [default: <output>-<lms>.csv].",
)
@_grading_options
@_reveal_option()
def grade(
    problems: str,
    submissions_dir: str,
    output: str,
    results_dir: str | None,
    jobs: int,
    lms: str | None,
    roster: str | None,
    assignment: str | None,
    lms_output: str | None,
    reveal: Any,
    carry_forward: Fraction,
    rtol: Fraction,
    atol: float,
    decimals: int | None,
    timeout: float,
    variants_dir: str | None,
) -> None:
    """Check every answers file (*.yaml) in SUBMISSIONS_DIR against PROBLEMS.

    A file that cannot be read still gets its row, with the reason in 'status'.
    With --lms and --roster, also write the scores as Canvas or Moodle imports them.
    """
    from solver import grade as grade_mod
    from solver import lms as lms_mod
    from solver import output as out
    from solver.check import AnswerKey
    from solver.reveal import redact_outcomes

    settings = _settings(carry_forward, rtol, atol, decimals, timeout)
    out.file_target(output)
    if results_dir:
        out.folder_target(results_dir, "--results-dir")
    class_list = lms_mod.prepare(lms, roster, assignment, lms_output)  # before any grading
    lms_target = lms_mod.output_path(output, lms, lms_output) if class_list else ""
    if class_list is not None and lms_target != "-":
        out.file_target(lms_target, "--lms-output")
    with out.locked(output):
        key = AnswerKey.load(problems, settings)
        _report(key.errors)
        files = grade_mod.submissions(submissions_dir)
        outcomes = grade_mod.grade(
            problems, files, settings=settings, jobs=jobs, variants_dir=variants_dir
        )
        grade_mod.write_csv(outcomes, key, output)
        notes: list[str] = []
        if results_dir:
            grade_mod.write_results(redact_outcomes(outcomes, reveal), results_dir, key)
            notes = grade_mod.result_folders(outcomes)[1]
        if class_list is not None:
            made = lms_mod.export(
                class_list,
                lms_mod.scores(outcomes),
                assignment or key.title or Path(problems).stem,
                grade_mod.top_score(key),
            )
            if lms_target == "-":
                click.echo(made.text, nl=False)
            else:
                out.written(lms_target, made.text, "--lms-output")
            notes += made.notes
    for note in notes:
        click.echo(f"warning: {note}", err=True)
    broken = sum(o.report is None for o in outcomes)
    scores = [float(o.report.score) for o in outcomes if o.report is not None]
    mean = f", mean score {sum(scores) / len(scores):.2f}" if scores else ""
    click.echo(
        f"graded {len(outcomes)} submissions ({broken} could not be read){mean}; "
        f"wrote {output}"
        + (f" and {Path(results_dir) / '*' / 'results.json'}" if results_dir else ""),
        err=True,
    )
    if class_list is not None:
        where = "standard output" if lms_target == "-" else lms_target
        click.echo(
            f"{lms_mod.Lms(lms).label} column {made.header!r}: {made.graded} of "
            f"{made.graded + made.empty} students in {roster} have a score, {made.empty} "
            f"left empty; wrote {where}",
            err=True,
        )
    if key.errors:
        sys.exit(2)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="The port to listen on.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on; 0.0.0.0 opens the page to the network.",
)
@click.option(
    "--db",
    default="sqlite:///dlsolve.db",
    show_default=True,
    help="Where attempts are kept: any SQLAlchemy URL (postgresql://... for a course server).",
)
@_reveal_option(
    default="after:3",
    help="When expected values, and the worked solution, are shown to a student.",
)
@_variants_option(
    "A folder written by 'dlsolve variants': each student gets the variant their name draws."
)
@click.option(
    "--draw",
    type=click.IntRange(0, 10_000),
    default=0,
    show_default=True,
    help="Without --variants: draw this many variants in memory (as 'dlsolve variants -n').",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the drawn variants.")
@click.option(
    "--instructor-token",
    default=None,
    envvar="DLSOLVE_INSTRUCTOR_TOKEN",
    help="Opens /instructor (the class's scores) to whoever types this token.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Checker processes reading and checking answers in parallel.",
)
def serve(
    paths: tuple[str, ...],
    port: int,
    host: str,
    db: str,
    reveal: Any,
    variants_dir: str | None,
    draw: int,
    seed: int,
    instructor_token: str | None,
    workers: int,
) -> None:
    """The student page: students type answers, see how dlsolve reads them, and check them.

    Needs the web extra: pip install "dlsolve[web]".
    """
    try:
        import uvicorn

        from solver.web.app import create_app
    except ImportError as err:
        click.echo(
            f'error: serve needs the web extra ({err.name} is missing): pip install "dlsolve[web]"',
            err=True,
        )
        sys.exit(2)
    app = create_app(
        paths,
        db=db,
        reveal=reveal,
        variants_dir=variants_dir,
        draw=draw,
        seed=seed,
        instructor_token=instructor_token,
        workers=workers,
    )
    click.echo(f"dlsolve serve: http://{host}:{port} (attempts in {db}; reveal {reveal})", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@main.command()
@click.argument("problems", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="The zip to write (upload it as the assignment's autograder).",
)
@_reveal_option()
@_variants_option(_VARIANTS_HELP)
def gradescope(problems: str, output: str, reveal: Any, variants_dir: str | None) -> None:
    """Write Gradescope's autograder bundle for PROBLEMS: setup.sh, run_autograder, the
    problems and dlsolve itself. Each submission's results.json follows --reveal."""
    from solver import gradescope as gs

    names = gs.bundle(
        Path(problems), Path(output), reveal, Path(variants_dir) if variants_dir else None
    )
    click.echo(f"wrote {output} ({len(names)} files; reveal {reveal})", err=True)


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
        raise DlsolveError(f"unknown kind {kind!r}; 'dlsolve kinds' lists them", field="KIND")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@_device_option
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="List every answer with its verdict and largest difference.",
)
def verify(paths: tuple[str, ...], device: str, verbose: bool) -> None:
    """Recompute every answer with a numeric meaning with PyTorch (float64) and compare.

    One line per problem, every disagreement with both values, a total. Exit 0
    when everything agrees, 1 on a disagreement (or a cross-check that failed),
    2 for unusable input. Needs the torch extra: pip install "dlsolve[torch]".
    """
    from solver.verify import runner

    result = runner.verify(paths, device)
    click.echo(runner.render(result, verbose=verbose), nl=False)
    _report(result.errors)
    sys.exit(result.exit_code)


@main.command()
@click.argument("experiment", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--check",
    "check_report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Rerun the experiment a REPORT.json records, under its recorded conditions, and "
    "list every number that differs (exit 1 if any).",
)
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    help="Trials per model and variant (or random matrices for rnn-vanishing), "
    "instead of the file's.",
)
@click.option(
    "--epochs", type=click.IntRange(min=1), help="Epochs per trial, instead of the file's."
)
@click.option(
    "--dataset",
    type=click.Choice(["fashion-mnist", "digits"]),
    help="Dataset instead of the file's; digits needs no files and no network.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Base seed instead of the file's (trial t uses seed + t).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder with the Fashion-MNIST IDX files (*-ubyte or *-ubyte.gz); "
    "else the cache folder, else a download.",
)
@_device_option
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="CPU threads for torch [default: 1]; recorded, since the last digits depend on it.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="A folder for REPORT.md, REPORT.json and the plots, or a file ending in .md "
    "[default: reports/<experiment>-<dataset>/]. A folder holding anything but an "
    "earlier report of the same experiment is refused.",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No progress (bars on a terminal, else one line per epoch on stderr).",
)
def reproduce(
    experiment: Path | None,
    check_report: Path | None,
    trials: int | None,
    epochs: int | None,
    dataset: str | None,
    seed: int | None,
    data_dir: Path | None,
    device: str,
    threads: int | None,
    output: Path | None,
    quiet: bool,
) -> None:
    """Run a training experiment and write its report.

    Prints the results table and the files written. Exit 1 when a claim the
    experiment tests does not hold (the theory experiments state claims).
    'reproduce --check REPORT.json' reruns a report as recorded and exits 1
    when a number differs. Needs the torch and train extras: pip install "dlsolve[train]".
    """
    from solver.verify import experiments

    if check_report is not None:
        given = {
            "EXPERIMENT": experiment,
            "--trials": trials,
            "--epochs": epochs,
            "--dataset": dataset,
            "--seed": seed,
            "--threads": threads,
            "--output": output,
            "--device": None if device == "auto" else device,
        }
        extra = [name for name, value in given.items() if value is not None]
        if extra:
            raise DlsolveError(
                f"--check reruns the report as recorded, so {', '.join(extra)} cannot be given "
                "with it",
                field=extra[0],
            )
        checked = experiments.check(check_report, data_dir=data_dir, progress=not quiet)
        click.echo("\n".join(checked.lines()))
        sys.exit(0 if checked.matches else 1)
    if experiment is None:
        raise DlsolveError(
            "give an experiment file (dlsolve reproduce EXPERIMENT.yaml) or a report to "
            "check (dlsolve reproduce --check REPORT.json)",
            field="EXPERIMENT",
        )
    result, written = experiments.reproduce(
        experiment,
        trials=trials,
        epochs=epochs,
        dataset=dataset,
        seed=seed,
        data_dir=data_dir,
        device=device,
        threads=threads,
        output=output,
        progress=not quiet,
    )
    click.echo(result.summary)
    for claim in result.claims:
        click.echo(f"{'holds' if claim.holds else 'FAILS'}: {claim.text} ({claim.detail})")
    click.echo("wrote " + ", ".join(str(p) for p in written))
    if result.failed:
        sys.exit(1)


@main.command()
@click.argument("problems", type=click.Path(dir_okay=False))
@click.option(
    "-n", "count", type=click.IntRange(1, 10_000), required=True, help="How many variants to write."
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="The same seed gives the same variants."
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False),
    help="The folder to write the variants into (created if needed).",
)
def variants(problems: str, count: int, seed: int, output: str) -> None:
    """Write COUNT randomized versions of PROBLEMS: new numbers, nice answers.

    Each variant k gets a problem file <stem>-k.yaml, its worked solutions and a
    blank answers file naming 'variant: k'; grade a class with
    'dlsolve grade PROBLEMS SUBMISSIONS --variants DIR'.
    """
    from solver import variants as variants_mod

    written, warnings = variants_mod.write(problems, count, seed, output)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"wrote {count} variants of {problems} to {output} ({len(written)} files)", err=True)


if __name__ == "__main__":
    main()
