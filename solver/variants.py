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
written in the file (``z = [2, 4, 6, 8]``, ``p = 1/4``) or as ``{{name}}``,
the variant quotes the new value. A problem's ``fixed: [input_shape]`` keeps
those givens in every variant. Any other number the text states literally
that a variant changes (``28×28`` when the variant draws 112) would make the
handout contradict its own given, so it is an error naming the problem and
the number, and nothing is written. So is a variant file that would not load
back: every problem of the source is in every variant, with its points,
tolerance and other options as the source wrote them.
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
from .spec import _MISSING, PLACEHOLDER, Problem, ProblemSet, given_at, load, load_text, quote

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


def _option(v: Any) -> Any:
    """A problem-level option (points, tolerance, carry_forward) as YAML that loads back to
    the same exact value: 1/1000 as the decimal 0.001, 1/3 as "1/3"."""
    if isinstance(v, Mapping):
        return {str(k): _option(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_option(x) for x in v]
    if isinstance(v, Fraction):
        if v.denominator == 1:
            return int(v)
        return float(exact.decimal(v)) if exact.decimal(v) else f"{v.numerator}/{v.denominator}"
    return v


def _set_at(given: dict[str, Any], dotted: str, value: Any) -> None:
    """Put ``value`` at ``a.b.3`` in a raw given (the path exists: spec checked ``fixed``)."""
    parts = dotted.split(".")
    holder: Any = given
    for part in parts[:-1]:
        holder = holder[int(part)] if isinstance(holder, list) else holder[part]
    last = parts[-1]
    if isinstance(holder, list):
        holder[int(last)] = value
    else:
        holder[last] = value


def hold_fixed(problem: Problem, raw: dict[str, Any]) -> dict[str, Any]:
    """A drawn given with the problem's ``fixed`` givens put back as the source has them."""
    for name in problem.fixed:
        if given_at(raw, name) is not _MISSING or "." not in name:
            _set_at(raw, name, _yamlable(given_at(problem.raw_given, name)))
    return raw


def draw(problem: Problem, rng: random.Random) -> tuple[dict[str, Any], Solution]:
    """A new given for ``problem`` (as YAML values) whose problem, with its text restated,
    validates, solves, keeps its kind's promises and differs from the source; with the
    variant's solution. NotImplementedError when the kind has no generator."""
    from . import solve

    k = kinds.get(problem.kind)
    source = problem.given.model_dump()
    broken: list[str] = []
    # with givens held fixed, a promise the source itself breaks (a window that does not fit
    # its fixed input) cannot be kept; the variant need only keep the source's
    excused = set(k.broken_promises(problem.given, solve(problem))) if problem.fixed else set()
    for _ in range(MAX_DRAWS):
        raw = hold_fixed(problem, _yamlable(k.generate(problem.raw_given, rng)))
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
        broken = [b for b in k.broken_promises(g, s) if b not in excused]
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
#: sizes written as a product, ``28×28``, ``3x32x32``, ``3 \times 32``: every factor is a given
_PRODUCT = re.compile(r"(?<![\w./])\d+(?:\s*(?:[×x*]|\\times)\s*\d+)+(?![\w/]|\.\d)", re.IGNORECASE)
_FACTOR = re.compile(r"\d+")


def literal_numbers(text: str) -> set[str]:
    """The numbers a statement states outright: those of several digits, and every factor of
    a size written as a product (the 3 of ``3×32×32``); ``{{name}}`` quotes are not literal."""
    plain = PLACEHOLDER.sub(" ", text)
    said = {f for m in _PRODUCT.finditer(plain) for f in _FACTOR.findall(m.group(0))}
    plain = _PRODUCT.sub(" ", plain)
    return said | {m for m in _NUMBER.findall(plain) if len(m.lstrip("-")) > 1}


def _sizes(v: Any) -> set[str]:
    """The lengths of a given's lists: "2 × 2 positions" states a size, not a value."""
    if isinstance(v, Mapping):
        return {x for item in v.values() for x in _sizes(item)}
    if isinstance(v, list):
        return {str(len(v))} | {x for item in v for x in _sizes(item)}
    return set()


def stale_mentions(text: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Numbers the text states literally that belong to the source's given and not to the
    variant's: a statement that states them is wrong for the variant (quoting them as
    ``{{name}}`` or holding the given with ``fixed:`` fixes that)."""
    before = {_canonical(x) for x in _leaves(dict(old))} | _sizes(old)
    after = {_canonical(x) for x in _leaves(dict(new))} | _sizes(new)
    return sorted(literal_numbers(text) & (before - after), key=lambda x: (len(x), x))


def _holders(given: Mapping[str, Any], number: str) -> list[str]:
    """The givens whose values hold ``number``: what to quote or hold fixed."""
    return [k for k, v in given.items() if number in {_canonical(x) for x in _leaves([v])}]


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
                out_problems.append(_entry_yaml(entry))
                solutions.append(solve(p))
                continue
            raw, sol = draw(p, rng)
        except NotImplementedError:
            unchanged.append(p.id)
            out_problems.append(_entry_yaml(entry))
            solutions.append(solve(p))
            continue
        entry["given"] = raw
        if isinstance(entry.get("text"), str):
            entry["text"] = kinds.get(p.kind).restate(entry["text"], p.raw_given, raw)
            stale = stale_mentions(entry["text"], p.raw_given, raw)
            if stale:
                stale_by_id[p.id] = stale
        out_problems.append(_entry_yaml(entry))
        solutions.append(sol)
    head = (
        f"Variant {k} of {n} of {Path(problems.path).name}, drawn by dlsolve variants "
        f"(seed {seed}): the questions are the original's, the numbers are new."
    )
    text = head + ("\n\n" + problems.text.strip() if problems.text else "")
    title = f"{problems.title or Path(problems.path).stem} (variant {k})"
    out = {"title": title, "text": text + "\n", "problems": out_problems}
    _loads_back(problems, k, out)
    return Variant(k, out, solutions, unchanged, stale_by_id)


def _entry_yaml(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A problem of a variant as YAML: the given as generators write it, options exactly."""
    return {
        key: _yamlable(value) if key == "given" else _option(value) for key, value in entry.items()
    }


def _loads_back(problems: ProblemSet, k: int, doc: Mapping[str, Any]) -> None:
    """Every problem of the source must load back from variant ``k``'s file, options and all:
    one that does not is an error naming it, never a problem silently missing from a variant
    (and from its maximum score)."""
    name = f"{Path(problems.path).stem}-{k}.yaml"
    again = load_text(dump(doc), file=name)
    for err in again.errors:
        raise DlsolveError(
            f"variant {k} of this problem does not load back ({err.message}); "
            "please report this with the problem file",
            file=problems.path,
            problem=err.problem,
            field=err.field,
        )
    missing = [p.id for p in problems if again.get(p.id) is None]
    if missing:
        raise DlsolveError(f"variant {k} lost this problem", file=problems.path, problem=missing[0])


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


def _no_stale_numbers(problems: ProblemSet, drawn: list[Variant]) -> None:
    """A text that states a number some variant changes is an error: the handout would say
    "3×32×32 image" beside a given of [1, 112, 112]."""
    for p in problems:
        numbers = sorted(
            {x for v in drawn for x in v.stale.get(p.id, [])}, key=lambda x: (len(x), x)
        )
        if not numbers:
            continue
        holders = sorted({h for x in numbers for h in _holders(p.raw_given, x)})
        which = ", ".join(holders) or "the given"
        raise DlsolveError(
            f"its text states {', '.join(numbers)} literally, which variants change; "
            f"quote {which} as {{{{name}}}} in the text, or keep it with 'fixed: [{which}]'",
            file=problems.path,
            line=p.line,
            problem=p.id,
            field="text",
        )


def write(
    problems_path: str | Path, n: int, seed: int, out: str | Path
) -> tuple[list[Path], list[str]]:
    """Write ``n`` variants of a problem file into ``out``; returns the files written and
    warnings (kinds without a generator). A text that states a number some variant changes
    is an error, raised before anything is written."""
    from . import SolvedSet

    problems = load(problems_path)
    drawn = [make(problems, k, n, seed) for k in range(1, n + 1)]
    _no_stale_numbers(problems, drawn)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    warnings: list[str] = []
    manifest: dict[str, Any] = {
        "source": str(problems_path),
        "seed": seed,
        "count": n,
        "variants": [],
    }
    for v in drawn:
        k = v.k
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
    for pid in sorted({pid for entry in manifest["variants"] for pid in entry["unchanged"]}):
        warnings.append(
            f"{problems_path}: problem '{pid}': its kind has no variant generator, "
            "so it is the same in every variant"
        )
    index = folder / "variants.json"
    index.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return [*written, index], warnings
