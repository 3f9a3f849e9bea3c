"""The report of an experiment: REPORT.md with tables and PNG plots, and REPORT.json.

Every runner (training, and the two experiments that back the theory) ends
in a :class:`Report`; writing it is the same for all of them, so the Markdown
layout, the ``mean ± std`` convention and the JSON encoding live here once.
Plots are drawn on ``matplotlib.figure.Figure`` objects directly, never through
pyplot, so no GUI backend and no global state is involved (the Agg canvas
renders PNGs headless, on a server or in CI).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DlsolveError
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


def write(report: Report, path: str | Path) -> list[Path]:
    """Write ``path`` (Markdown), the JSON beside it, and one PNG per figure; return the paths."""
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
            png = md.with_name(f"{md.stem}-{name}.png")
            fig.savefig(png, dpi=110)
            written.append(png)
            sections.append(f"![{name}]({png.name})")
        md.write_text("\n\n".join(sections) + "\n", encoding="utf-8")
        js = md.with_suffix(".json")
        payload = {
            **report.payload,
            "report": md.name,
            "claims": [c.__dict__ for c in report.claims],
            "figures": [p.name for p in written],
        }
        js.write_text(
            json.dumps(finite(payload), indent=1, allow_nan=False) + "\n", encoding="utf-8"
        )
    except OSError as err:
        raise DlsolveError(
            f"cannot write the report ({err.strerror or err})", file=str(err.filename or md)
        ) from None
    return [md, js, *written]
