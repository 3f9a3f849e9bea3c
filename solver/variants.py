"""Randomized versions of a problem file: new numbers, the same questions, nice answers.

``dlsolve variants PROBLEMS -n N --seed S -o DIR`` writes, for k = 1..N,

* ``DIR/<stem>-k.yaml``: a valid problem file, each problem with a new given
  drawn by its kind's generator (``Kind.generate``) and kept only if it
  validates, solves, keeps every promise of ``Kind.nice`` (``broken_promises``)
  and differs from the source;
* ``DIR/<stem>-k-questions.md``: the handout: statements, givens and answer keys;
* ``DIR/<stem>-k-solutions.md``: its worked solutions;
* ``DIR/<stem>-k-answers.yaml``: a blank answers file naming ``variant: k``,
  which ``dlsolve grade --variants DIR`` checks against ``<stem>-k.yaml``;

and ``DIR/variants.json``, the manifest. Each problem of each variant has its
own random stream, seeded by (seed, k, problem id): the same seed gives the
same variants, and adding a problem to the file does not change the others.

A problem's text often quotes its numbers. Where it quotes a given as it is
written in the file (``z = [2, 4, 6, 8]``, ``p = 1/4``), the variant quotes
the new value; other mentions are left as they are, and the worked solution
states every given anyway.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from . import exact, kinds
from .errors import DlsolveError
from .parse import ParseError, parse_value
from .render import markdown
from .solution import Solution
from .spec import PLACEHOLDER, Problem, ProblemSet, load, quote

MAX_DRAWS = 200  # draws per problem and variant before giving up on its promises


class _Dumper(yaml.SafeDumper):
    """Writes a multi-line text as a literal block (``text: |``), as problem files do."""


_Dumper.add_representer(
    str,
    lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None),
)


def dump(doc: Mapping[str, Any]) -> str:
    """A problem file's YAML: keys in order, leaf lists in flow style, texts as blocks."""
    return yaml.dump(
        doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
    )


def variant_path(folder: str | Path, problems: str | Path, k: Any) -> Path:
    """Where variant ``k`` of a problem file lives in a variants folder."""
    return Path(folder) / f"{Path(problems).stem}-{k}.yaml"


@dataclass
class Variant:
    """One variant of a problem file: its number, its problem file's data and solutions."""

    k: int
    doc: dict[str, Any]
    solutions: list[Solution]
    #: problem ids whose kind has no generator: copied unchanged
    unchanged: list[str] = field(default_factory=list)
    #: problem id -> numbers its text states that are the source's, not the variant's
    stale: dict[str, list[str]] = field(default_factory=dict)


def _yamlable(v: Any) -> Any:
    """Plain YAML values: Fractions as "p/q", other exact values as sympy-readable strings."""
    if isinstance(v, Mapping):
        return {str(k): _yamlable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_yamlable(x) for x in v]
    if isinstance(v, str) and re.fullmatch(r"-?\d+", v):
        return int(v)  # a generator's "3" is the whole number 3
    if isinstance(v, (bool, str, int)) or v is None:
        return v
    if isinstance(v, Fraction):
        return str(exact.rational(v))
    return exact.fmt(v)


def draw(problem: Problem, rng: random.Random) -> tuple[dict[str, Any], Solution]:
    """A new given for ``problem`` (as YAML values) whose problem, with its text restated,
    validates, solves, keeps its kind's promises and differs from the source; with the
    variant's solution. NotImplementedError when the kind has no generator."""
    from . import solve

    k = kinds.get(problem.kind)
    source = problem.given.model_dump()
    broken: list[str] = []
    for _ in range(MAX_DRAWS):
        raw = _yamlable(k.generate(problem.raw_given, rng))
        try:
            g = k.Given.model_validate(raw)
        except (ValidationError, ValueError):
            continue
        if g.model_dump() == source:
            continue
        text = k.restate(problem.text, problem.raw_given, raw) if problem.text else None
        candidate = dataclasses.replace(problem, given=g, raw_given=raw, text=text)
        try:
            s = solve(candidate)
        except DlsolveError:
            continue
        broken = k.broken_promises(g, s)
        if not broken:
            return raw, s
    why = f" (last: {broken[0]})" if broken else ""
    raise DlsolveError(
        f"no variant in {MAX_DRAWS} draws keeps the promises of {problem.kind}{why}",
        file=problem.file,
        line=problem.line,
        problem=problem.id,
    )


def _leaves(v: Any) -> list[Any]:
    if isinstance(v, Mapping):
        return [x for item in v.values() for x in _leaves(item)]
    if isinstance(v, list):
        return [x for item in v for x in _leaves(item)]
    return [v]


def _canonical(leaf: Any) -> str:
    """A given's leaf as a statement would write it, whether the file says 0.1 or "1/10"."""
    try:
        value = parse_value(leaf) if isinstance(leaf, (str, int, Fraction)) else leaf
    except ParseError:
        value = leaf
    return quote(value if exact.is_rational(value) else leaf)


_NUMBER = re.compile(r"(?<![\w./])-?\d+(?:[./]\d+)?(?![\w/]|\.\d)")


def stale_mentions(text: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Numbers of several digits the text states that belong to the source's given and not to
    the variant's: a statement that quotes them literally is wrong for the variant (quoting
    them as ``{{name}}`` fixes that)."""
    plain = PLACEHOLDER.sub("", text)
    before = {_canonical(x) for x in _leaves(dict(old))}
    after = {_canonical(x) for x in _leaves(dict(new))}
    said = {m for m in _NUMBER.findall(plain) if len(m.lstrip("-")) > 1}
    return sorted(said & (before - after), key=lambda x: (len(x), x))


def make(problems: ProblemSet, k: int, n: int, seed: int) -> Variant:
    """Variant ``k`` (of ``n``) of a loaded problem file."""
    if problems.errors:
        raise problems.errors[0]
    doc = problems.problems[0].doc
    data = doc.data if doc is not None else {}
    out_problems: list[dict[str, Any]] = []
    solutions: list[Solution] = []
    unchanged: list[str] = []
    stale_by_id: dict[str, list[str]] = {}
    from . import solve

    for p in problems:
        entry = dict(data["problems"][p.index])
        rng = random.Random(f"{seed}/{k}/{p.id}")
        try:
            if not kinds.get(p.kind).varies:  # prose: the same question in every variant
                out_problems.append(_yamlable(entry))
                solutions.append(solve(p))
                continue
            raw, sol = draw(p, rng)
        except NotImplementedError:
            unchanged.append(p.id)
            out_problems.append(_yamlable(entry))
            solutions.append(solve(p))
            continue
        entry["given"] = raw
        if isinstance(entry.get("text"), str):
            entry["text"] = kinds.get(p.kind).restate(entry["text"], p.raw_given, raw)
            stale = stale_mentions(entry["text"], p.raw_given, raw)
            if stale:
                stale_by_id[p.id] = stale
        out_problems.append(_yamlable(entry))
        solutions.append(sol)
    head = (
        f"Variant {k} of {n} of {Path(problems.path).name}, drawn by dlsolve variants "
        f"(seed {seed}): the questions are the original's, the numbers are new."
    )
    text = head + ("\n\n" + problems.text.strip() if problems.text else "")
    title = f"{problems.title or Path(problems.path).stem} (variant {k})"
    return Variant(
        k,
        {"title": title, "text": text + "\n", "problems": out_problems},
        solutions,
        unchanged,
        stale_by_id,
    )


def answers_template(v: Variant) -> str:
    """A blank answers file for a variant: every asked key, with what kind of value it takes."""
    lines = [
        f"# Answers for {v.doc['title']}.",
        "# Fill in each value: numbers, fractions, sqrt(...), LaTeX or decimals;",
        "# matrices as nested lists. 'dlsolve check' reads this file as it is.",
        'student: ""',
        f"variant: {v.k}",
        "answers:",
    ]
    for s in v.solutions:
        if not s.asked():  # a question answered in prose has nothing to fill in
            continue
        lines.append(f"  {s.id}:")
        for a in s.asked():
            shape = f" {list(a.shape)}" if a.shape else ""
            lines.append(f"    {_key_yaml(a.key)}:   # {a.type}{shape}")
    return "\n".join(lines) + "\n"


def _key_yaml(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z_][\w.]*", key) else json.dumps(key)


def write(
    problems_path: str | Path, n: int, seed: int, out: str | Path
) -> tuple[list[Path], list[str]]:
    """Write ``n`` variants of a problem file into ``out``; returns the files written and
    warnings (texts that state the source's numbers literally, kinds without a generator)."""
    from . import SolvedSet

    problems = load(problems_path)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    warnings: list[str] = []
    stale: dict[str, set[str]] = {}
    manifest: dict[str, Any] = {
        "source": str(problems_path),
        "seed": seed,
        "count": n,
        "variants": [],
    }
    for k in range(1, n + 1):
        v = make(problems, k, n, seed)
        path = variant_path(folder, problems_path, k)
        path.write_text(dump(v.doc), encoding="utf-8")
        solved = SolvedSet(path.name, v.doc["title"], v.solutions, text=v.doc["text"])
        md = path.with_name(f"{path.stem}-solutions.md")
        md.write_text(markdown.render([solved]), encoding="utf-8")
        handout = path.with_name(f"{path.stem}-questions.md")
        handout.write_text(markdown.render([solved], answers=False), encoding="utf-8")
        template = path.with_name(f"{path.stem}-answers.yaml")
        template.write_text(answers_template(v), encoding="utf-8")
        written += [path, handout, md, template]
        manifest["variants"].append(
            {
                "variant": k,
                "problems": path.name,
                "questions": handout.name,
                "solutions": md.name,
                "answers": template.name,
                "unchanged": v.unchanged,
            }
        )
        for pid, numbers in v.stale.items():
            stale.setdefault(pid, set()).update(numbers)
    for pid, numbers in stale.items():
        said = ", ".join(sorted(numbers, key=lambda x: (len(x), x)))
        warnings.append(
            f"{problems_path}: problem '{pid}': its text states {said} literally, "
            "which some variants change; quote the given as {{name}} instead"
        )
    for pid in sorted({pid for entry in manifest["variants"] for pid in entry["unchanged"]}):
        warnings.append(
            f"{problems_path}: problem '{pid}': its kind has no variant generator, "
            "so it is the same in every variant"
        )
    index = folder / "variants.json"
    index.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return [*written, index], warnings
