"""``dlsolve verify``: solve problem files, recompute their answers with PyTorch, report.

The per-kind recomputations and the verdict of each answer live in
:mod:`solver.verify.crosscheck`; this module runs them over files and turns
the verdicts into the report: one line per problem, every disagreement with
both values, a total, and the exit code (0 all agree, 1 a disagreement or a
cross-check that failed, 2 unusable input, no torch, or no CUDA for
``--device cuda``). Torch is imported through :func:`solver.verify.require_torch`
only when a verification runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import groupby
from pathlib import Path
from typing import Any

from .. import exact, expand_paths, load, solve_set
from ..errors import DlsolveError
from ..solution import Solution
from ..spec import Problem
from . import crosscheck, pick_device, require_torch
from .crosscheck import AGREE, DISAGREE, NOT_NUMERIC, NOT_RECOMPUTED, Agreement

SHOWN_ENTRIES = 8  # differing entries listed per disagreeing answer
SHOWN_CHARS = 240  # a value longer than this is cut when it is printed whole


@dataclass
class ProblemCheck:
    """One problem's answers beside torch's: its verdicts, or why there are none."""

    file: str
    id: str
    kind: str
    agreements: list[Agreement] = field(default_factory=list)
    #: the kind has a cross-check registered
    registered: bool = True
    #: the cross-check raised: the exception, in one line
    failure: str | None = None

    def keys(self, verdict: str) -> list[str]:
        return [a.key for a in self.agreements if a.verdict == verdict]

    @property
    def largest_difference(self) -> float:
        return max((a.max_diff for a in self.agreements if a.compared), default=0.0)

    @property
    def failed(self) -> bool:
        return self.failure is not None or bool(self.keys(DISAGREE))


@dataclass
class Verification:
    """Everything ``dlsolve verify`` found, and its exit code."""

    device: str
    torch_version: str
    checks: list[ProblemCheck] = field(default_factory=list)
    errors: list[DlsolveError] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(len(c.keys(verdict)) for c in self.checks)

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 2
        return 1 if any(c.failed for c in self.checks) else 0


#: the share of the machine's memory a model's parameters may take (float64, with their
#: gradients) before verify refuses to build it: a Linear 10⁹→10⁹ once took 23.7 GB of 23
MEMORY_SHARE = Fraction(1, 4)
BYTES_PER_PARAMETER = 16  # a float64 value and its gradient


def machine_memory() -> int | None:
    """Bytes of physical memory, where the system says."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def too_large(s: Solution, file: str = "") -> DlsolveError | None:
    """Why the model of ``s`` is too large to build here (None if it is not, or unknown)."""
    total = s.answers.get("params.total")
    memory = machine_memory()
    if total is None or memory is None or not exact.is_rational(total.value):
        return None
    need = int(total.value) * BYTES_PER_PARAMETER
    if need <= MEMORY_SHARE * memory:
        return None
    return DlsolveError(
        f"not cross-checked: its {int(total.value):,} parameters need {need / 2**30:,.1f} GB "
        f"in float64 with gradients, more than {MEMORY_SHARE} of this machine's "
        f"{memory / 2**30:,.1f} GB",
        file=file or None,
        problem=s.id,
    )


def check_problem(problem: Problem, s: Solution, device: Any, file: str = "") -> ProblemCheck:
    """Run the kind's cross-check (if any) and compare; a cross-check that raises (torch
    refusing an input the family did not foresee, or a bug) is reported, not raised."""
    out = ProblemCheck(file, s.id, s.kind, registered=s.kind in crosscheck.CHECKS)
    try:
        recomputed = crosscheck.CHECKS[s.kind](problem.given, s, device) if out.registered else {}
        out.agreements = crosscheck.compare(s, recomputed)
    except Exception as err:  # any failure of torch or of a family is reported, not raised
        text = " ".join(str(err).split())
        out.failure = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return out


def verify(paths: Iterable[str | Path], device: str = "auto") -> Verification:
    """Load, solve and cross-check every problem of the files (a folder: its *.yaml)."""
    torch = require_torch()
    dev = pick_device(device)
    crosscheck.load_all()
    result = Verification(str(dev), torch.__version__.split("+")[0])
    for path in expand_paths(paths):
        try:
            ps = load(path)
        except DlsolveError as err:
            result.errors.append(err)
            continue
        solved = solve_set(ps)
        result.errors += solved.errors
        for s in solved.solutions:
            refused = too_large(s, str(path))
            if refused is not None:  # before torch allocates anything
                result.errors.append(refused)
                continue
            result.checks.append(check_problem(ps.get(s.id), s, dev, str(path)))
    return result


# --------------------------------------------------------------------------- the report


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _agree(n: int) -> str:
    return f"{_plural(n, 'answer')} {'agrees' if n == 1 else 'agree'}"


def _disagree(n: int) -> str:
    return "DISAGREES" if n == 1 else "DISAGREE"


def _diff_text(d: float) -> str:
    return f"{d:.1e}"


def _keys_text(keys: list[str], shown: int = 4) -> str:
    more = f", … {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more


def problem_line(c: ProblemCheck) -> str:
    """``model-size: 34 answers agree, largest difference 0.0e+00; 1 without ...``"""
    if c.failure is not None:
        return f"{c.id}: the torch cross-check of {c.kind} FAILED: {c.failure}"
    agree, disagree = c.keys(AGREE), c.keys(DISAGREE)
    not_numeric, missing = c.keys(NOT_NUMERIC), c.keys(NOT_RECOMPUTED)
    if not c.registered and missing:
        return (
            f"{c.id}: no torch cross-check for kind '{c.kind}' "
            f"({_plural(len(missing), 'answer')} not recomputed)"
        )
    parts = []
    if agree or disagree:
        head = _agree(len(agree))
        if disagree:
            head = f"{len(disagree)} {_disagree(len(disagree))}, {len(agree)} agree"
        parts.append(f"{head}, largest difference {_diff_text(c.largest_difference)}")
    if not_numeric:
        types = sorted({a.type for a in c.agreements if a.verdict == NOT_NUMERIC})
        parts.append(
            f"{len(not_numeric)} without a numeric meaning ({'/'.join(types)}: "
            f"{_keys_text(not_numeric)})"
            if agree or disagree
            else f"{_plural(len(not_numeric), 'answer')} without a numeric meaning "
            f"({'/'.join(types)})"
        )
    if missing:
        parts.append(f"{len(missing)} not recomputed ({_keys_text(missing)})")
    return f"{c.id}: " + ("; ".join(parts) if parts else "answered in prose, nothing to recompute")


def _show(x: Any) -> str:
    """A value as printed in a disagreement: floats in full (repr), None as undefined."""
    if isinstance(x, list):
        return "[" + ", ".join(_show(v) for v in x) + "]"
    return "undefined" if x is None else repr(x)


def _value_text(x: Any) -> str:
    text = x if isinstance(x, str) and x.startswith("refused: ") else _show(x)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + " …"


def _differing_entries(a: Any, b: Any, where: str = "") -> Iterable[tuple[str, Any, Any]]:
    """(index, exact, torch) of the entries that disagree, for values of the same shape."""
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differing_entries(x, y, f"{where}[{i}]")
    elif not crosscheck.within(a, b):
        yield where, a, b


def _same_shape(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_shape(x, y) for x, y in zip(a, b, strict=True))
    return not isinstance(a, list) and not isinstance(b, list)


def _refused(a: Agreement) -> bool:
    return isinstance(a.torch, str) and a.torch.startswith("refused: ")


def disagreement_lines(a: Agreement) -> list[str]:
    """Both values of a disagreeing answer: entry by entry where the shapes match."""
    if _refused(a) or not _same_shape(a.exact, a.torch):
        note = f" ({a.note})" if a.note and not _refused(a) else ""
        return [
            f"DISAGREES {a.key}: exact {_value_text(a.exact)}, torch {_value_text(a.torch)}{note}"
        ]
    note = f"; {a.note}" if a.note else ""
    entries = list(_differing_entries(a.exact, a.torch)) or [("", a.exact, a.torch)]
    lines = [
        f"DISAGREES {a.key}{where}: exact {_value_text(x)}, torch {_value_text(y)} "
        f"(difference {_diff_text(crosscheck.difference(x, y))}{note})"
        for where, x, y in entries[:SHOWN_ENTRIES]
    ]
    if len(entries) > SHOWN_ENTRIES:
        lines.append(f"… and {len(entries) - SHOWN_ENTRIES} more entries of {a.key} differ")
    return lines


def answer_line(a: Agreement) -> str:
    """One answer's verdict, for ``--verbose``."""
    if a.compared:
        return f"{a.key}: {a.verdict}, largest difference {_diff_text(a.max_diff)}"
    return f"{a.key}: {a.verdict} ({a.type})"


def render(v: Verification, verbose: bool = False) -> str:
    """The report: a heading, a line per problem under its file, disagreements, a total."""
    lines = [f"PyTorch {v.torch_version}, float64, on {v.device}"]
    for file, checks in groupby(v.checks, key=lambda c: c.file):
        lines += ["", file]
        for c in checks:
            lines.append("  " + problem_line(c))
            for a in c.agreements:
                if a.verdict == DISAGREE:
                    lines += ["    " + x for x in disagreement_lines(a)]
                elif verbose:
                    lines.append("    " + answer_line(a))
    lines += ["", total_line(v)]
    return "\n".join(lines) + "\n"


def total_line(v: Verification) -> str:
    """``261 answers agree (largest difference 8.9e-16) in 42 problems; ...``"""
    agree, disagree = v.count(AGREE), v.count(DISAGREE)
    largest = max((c.largest_difference for c in v.checks), default=0.0)
    head = _agree(agree)
    if disagree:
        head = f"{_plural(disagree, 'answer')} {_disagree(disagree)}, {agree} agree"
    parts = [
        f"{head} (largest difference {_diff_text(largest)}) in {_plural(len(v.checks), 'problem')}"
    ]
    failed = sum(c.failure is not None for c in v.checks)
    if failed:
        parts.append(f"{_plural(failed, 'cross-check')} FAILED")
    for verdict, what in (
        (NOT_NUMERIC, "without a numeric meaning"),
        (NOT_RECOMPUTED, "not recomputed"),
    ):
        n = v.count(verdict)
        if n:
            parts.append(f"{_plural(n, 'answer')} {what}")
    if v.errors:
        parts.append(f"{_plural(len(v.errors), 'error')} in the input (on stderr)")
    return "; ".join(parts) + "."
