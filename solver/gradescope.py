"""Gradescope's autograder bundle: ``dlsolve gradescope PROBLEMS -o autograder.zip``.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once
when the image is built, then ``run_autograder`` for each submission, which
must turn ``/autograder/submission/`` into ``/autograder/results/results.json``.

The bundle holds dlsolve itself (its source, installed by ``setup.sh`` with
pip; the image needs no network beyond PyPI for sympy, numpy, click, PyYAML and
pydantic), the problem files (and a variants folder when given), and a
``run_autograder`` that calls :func:`run`: the student's answers file is
checked like ``dlsolve check``, the feedback follows the reveal policy (the
attempt number comes from Gradescope's ``submission_metadata.json``), and the
results carry ``visibility`` so students see their results at once.
"""

from __future__ import annotations

import argparse
import json
import stat
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import DlsolveError
from .reveal import Reveal

SOURCE = Path(__file__).resolve().parent.parent  # the folder holding cli.py and solver/
SUBMISSION_SUFFIXES = (".yaml", ".yml")
#: what of dlsolve the image needs: the package, its command line and its build description
PACKAGE_FILES = ("pyproject.toml", "README.md", "cli.py")
SKIPPED_PARTS = ("__pycache__", "verify", "web", "docs")  # only what grading needs

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once while building the autograder's image.
set -euo pipefail
apt-get update && apt-get install -y python3 python3-pip
pip3 install --break-system-packages /autograder/source/dlsolve \\
  || pip3 install /autograder/source/dlsolve
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission: /autograder/submission/ -> results.json.
set -uo pipefail
mkdir -p /autograder/results
cd /autograder/source
python3 -m solver.gradescope {problems} --reveal {reveal} {variants}\\
  --submission /autograder/submission \\
  --metadata /autograder/submission_metadata.json \\
  --results /autograder/results/results.json
"""


def bundle(
    problems: Path, output: Path, reveal: Reveal, variants_dir: Path | None = None
) -> list[str]:
    """Write the autograder zip; returns the names it holds."""
    from . import load

    ps = load(problems)  # refuse to bundle a file that does not load
    if ps.errors:
        raise ps.errors[0]
    names: list[str] = []

    def add(z: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        mode = 0o755 if executable else 0o644
        info.external_attr = (stat.S_IFREG | mode) << 16
        z.writestr(info, data)
        names.append(name)

    variants = ""
    with zipfile.ZipFile(output, "w") as z:
        add(z, "setup.sh", SETUP_SH.encode(), executable=True)
        add(z, f"problems/{problems.name}", problems.read_bytes())
        if variants_dir is not None:
            for f in sorted(Path(variants_dir).glob("*.yaml")):
                add(z, f"variants/{f.name}", f.read_bytes())
            variants = "--variants /autograder/source/variants "
        run = RUN_AUTOGRADER.format(
            problems=f"/autograder/source/problems/{problems.name}",
            reveal=reveal,
            variants=variants,
        )
        add(z, "run_autograder", run.encode(), executable=True)
        for name in PACKAGE_FILES:
            add(z, f"dlsolve/{name}", (SOURCE / name).read_bytes())
        for f in sorted((SOURCE / "solver").rglob("*")):
            rel = f.relative_to(SOURCE)
            if f.is_file() and not set(rel.parts) & set(SKIPPED_PARTS) and f.suffix == ".py":
                add(z, f"dlsolve/{rel.as_posix()}", f.read_bytes())
    return names


def attempt_number(metadata: Path) -> int:
    """This submission's number: Gradescope lists the earlier ones in its metadata."""
    try:
        data = json.loads(metadata.read_text(encoding="utf-8"))
        return len(data.get("previous_submissions") or []) + 1
    except (OSError, ValueError, AttributeError):
        return 1


def run(
    problems: Path,
    submission: Path,
    results: Path,
    reveal: Reveal,
    attempt: int = 1,
    variants_dir: Path | None = None,
) -> dict[str, Any]:
    """Check the answers file in ``submission`` and write Gradescope's results there."""
    from .grade import Grader, top_score
    from .render.report import gradescope_results, gradescope_unusable
    from .reveal import redact

    payload: dict[str, Any]
    files = sorted(
        p for p in submission.rglob("*") if p.is_file() and p.suffix in SUBMISSION_SUFFIXES
    )
    grader = Grader(problems, variants_dir=variants_dir)
    try:
        if not files:
            raise DlsolveError(
                "the submission holds no answers file (*.yaml); upload the answers file "
                "you filled in"
            )
        report = grader.check(files[0])
        payload = gradescope_results(redact(report, reveal, attempt))
        if len(files) > 1:
            payload["output"] = f"Checked {files[0].name}; the other files were ignored."
    except DlsolveError as err:
        payload = gradescope_unusable(str(err), top_score(grader.key))
    finally:
        grader.close()
    payload["visibility"] = "visible"
    payload["stdout_visibility"] = "hidden"
    for test in payload.get("tests", []):
        test["visibility"] = "visible"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return payload


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m solver.gradescope PROBLEMS --submission DIR --results FILE ...``"""
    parser = argparse.ArgumentParser(prog="python -m solver.gradescope")
    parser.add_argument("problems", type=Path)
    parser.add_argument("--submission", type=Path, required=True)
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--metadata", type=Path, default=None)
    parser.add_argument("--reveal", type=Reveal.parse, default=Reveal())
    parser.add_argument("--variants", type=Path, default=None)
    a = parser.parse_args(argv)
    attempt = attempt_number(a.metadata) if a.metadata else 1
    run(a.problems, a.submission, a.results, a.reveal, attempt, a.variants)


if __name__ == "__main__":
    main()
