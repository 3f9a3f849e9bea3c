"""The report of an experiment: REPORT.md with tables and PNG plots, and REPORT.json.

Every runner (training, and the two experiments that back the theory) ends
in a :class:`Report`; writing it is the same for all of them, so the Markdown
layout, the ``mean ± std`` convention and the JSON encoding live here once.
Plots are drawn on ``matplotlib.figure.Figure`` objects directly, never through
pyplot, so no GUI backend and no global state is involved (the Agg canvas
renders PNGs headless, on a server or in CI).

A report folder holds one report and nothing else: :func:`previous_report`
refuses, before anything runs, a folder that holds files of another command,
and :func:`differences` is how ``reproduce --check`` compares a rerun with
the recorded numbers (wall-clock times aside: they never repeat).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DlsolveError
from ..output import write_atomic
from . import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class Claim:
    """A statement the experiment tests, whether it held, and the numbers that say so."""

    text: str
    holds: bool
    detail: str


@dataclass
class Report:
    """What a runner produced: Markdown sections, the JSON payload, figures by name, claims."""

    title: str
    sections: list[str]
    payload: dict[str, Any]
    figures: dict[str, Figure] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    #: the main table again, for the terminal
    summary: str = ""

    @property
    def failed(self) -> list[Claim]:
        return [c for c in self.claims if not c.holds]


# --------------------------------------------------------------------------- numbers


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (n − 1); no deviation from a single value."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


def pm(values: Sequence[float], digits: int, scale: float = 1.0) -> str:
    """``mean ± std`` with ``digits`` decimals after multiplying by ``scale``; the mean alone
    for one value."""
    mean, std = mean_std([v * scale for v in values])
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def sci(x: float, digits: int = 3) -> str:
    """A number in scientific notation, as tables of tiny differences want it."""
    return f"{x:.{digits}e}"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None, so that REPORT.json is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


#: keys whose values are wall-clock times: they differ from run to run and are not compared
TIMINGS = frozenset({"seconds", "seconds_per_epoch"})


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def differences(recorded: Any, rerun: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """``(where, recorded, rerun)`` for every value that is not the same in both, timings
    aside. ``where`` is a path such as ``runs[3].final.test_acc``; numbers are compared
    exactly (a report that repeats, repeats to the last bit)."""
    if isinstance(recorded, dict) and isinstance(rerun, dict):
        for key in dict.fromkeys([*recorded, *rerun]):
            if key in TIMINGS:
                continue
            where = f"{path}.{key}" if path else str(key)
            if key not in recorded or key not in rerun:
                yield where, recorded.get(key, "(absent)"), rerun.get(key, "(absent)")
            else:
                yield from differences(recorded[key], rerun[key], where)
    elif isinstance(recorded, list) and isinstance(rerun, list) and len(recorded) == len(rerun):
        for i, (a, b) in enumerate(zip(recorded, rerun, strict=True)):
            yield from differences(a, b, f"{path}[{i}]")
    elif type(recorded) is not type(rerun) or recorded != rerun:
        yield path, recorded, rerun


def numbers(payload: Any) -> int:
    """How many numbers ``payload`` holds, timings aside: what a check compares."""
    if isinstance(payload, dict):
        return sum(numbers(v) for k, v in payload.items() if k not in TIMINGS)
    if isinstance(payload, list):
        return sum(numbers(v) for v in payload)
    return int(is_number(payload))


# --------------------------------------------------------------------------- figures


def figure(ncols: int = 1, width: float = 5.0, height: float = 3.6) -> tuple[Figure, Any]:
    """A new figure with ``ncols`` side-by-side axes, independent of any pyplot state."""
    require("matplotlib")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


# --------------------------------------------------------------------------- writing


def claims_section(claims: Sequence[Claim]) -> str:
    rows = [("holds" if c.holds else "**fails**", c.text, c.detail) for c in claims]
    return "## Claims\n\n" + table(("", "claim", "measured"), rows)


def figure_path(md: Path, name: str) -> Path:
    """Where the figure ``name`` of the report ``md`` goes: ``REPORT-<name>.png`` beside it."""
    return md.with_name(f"{md.stem}-{name}.png")


def json_payload(report: Report, md: Path) -> dict[str, Any]:
    """The contents of REPORT.json exactly as written (strict JSON: no NaN)."""
    payload = {
        **report.payload,
        "report": md.name,
        "claims": [c.__dict__ for c in report.claims],
        "figures": [figure_path(md, name).name for name in report.figures],
    }
    return json.loads(json.dumps(finite(payload), allow_nan=False))


def previous_report(md: Path, experiment: str) -> list[Path]:
    """The files of an earlier report of ``experiment`` that writing ``md`` replaces.

    Raises a DlsolveError when the folder holds anything else (another
    experiment's report, a command's output, a notes file): a report never
    overwrites what it did not write. Called before the experiment runs, so a
    long run is not lost to a refusal at the end.
    """
    folder, js = md.parent, md.with_suffix(".json")
    if folder.exists() and not folder.is_dir():
        raise DlsolveError("is a file, not a folder for a report", file=str(folder))
    present = sorted(folder.iterdir()) if folder.is_dir() else []
    if not present:
        return []
    mine: set[Path] = set()
    try:
        earlier = json.loads(js.read_text(encoding="utf-8"))
        if earlier["experiment"]["experiment"] == experiment and earlier["report"] == md.name:
            figures = [folder / Path(str(name)).name for name in earlier["figures"]]
            mine = {md, js, *figures}
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no readable earlier report of this experiment: everything present is foreign
    foreign = [p.name for p in present if p not in mine]
    if foreign:
        shown = ", ".join(foreign[:3]) + (", …" if len(foreign) > 3 else "")
        raise DlsolveError(
            f"holds files that are not an earlier report of {experiment} ({shown}): "
            "give an empty or new folder with -o",
            file=str(folder),
            field="--output",
        )
    return [p for p in present if p in mine]


def write(report: Report, path: str | Path, replaces: Iterable[Path] = ()) -> list[Path]:
    """Write ``path`` (Markdown), the JSON beside it, and one PNG per figure; return the paths.

    ``replaces``: files of an earlier report in the same folder (see
    :func:`previous_report`); those not written again are removed, so the
    folder holds exactly one report.
    """
    md = Path(path)
    if md.suffix.lower() != ".md":
        raise DlsolveError(
            "the report must be a Markdown file ending in .md", file=str(md), field="--output"
        )
    try:
        md.parent.mkdir(parents=True, exist_ok=True)
        written = []
        sections = [f"# {report.title}", *report.sections]
        if report.claims:
            sections.append(claims_section(report.claims))
        if report.figures:
            sections.append("## Plots")
        for name, fig in report.figures.items():
            png = figure_path(md, name)
            fig.savefig(png, dpi=110)
            written.append(png)
            sections.append(f"![{name}]({png.name})")
        write_atomic(md, "\n\n".join(sections) + "\n")
        js = md.with_suffix(".json")  # last: a REPORT.json means a whole report
        write_atomic(js, json.dumps(json_payload(report, md), indent=1, allow_nan=False) + "\n")
        for stale in set(replaces) - {md, js, *written}:
            stale.unlink(missing_ok=True)
    except OSError as err:
        raise DlsolveError(
            f"cannot write the report ({err.strerror or err})", file=str(err.filename or md)
        ) from None
    return [md, js, *written]
