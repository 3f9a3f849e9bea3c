"""Problem files: YAML in, validated problems with exact givens out.

YAML is read with the safe loader's composer only and turned into Python
values here, so that

* every decimal is exact (``0.1`` is 1/10, never the float 0.1000000000000000055),
* every value knows its line (an error says ``file.yaml:12``),
* duplicate keys and alias bombs are errors rather than surprises.

A broken problem does not take its file down: :func:`load` returns the
problems that validate and a list of errors, one sentence each, for the rest.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from . import exact, kinds
from .errors import DlsolveError, FieldError
from .given import MAX_ELEMENTS, GivenModel

Path_ = tuple[Any, ...]
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
MAX_NODES = 2_000_000  # YAML values in one file
MAX_ALIASED = 100_000  # values reached again through aliases (a billion-laughs guard)
#: characters of one YAML number, and the largest power of ten a decimal may carry: a
#: number beyond them is kept as its text (the field or the answer parser refuses it with
#: a reason), because turning ``1.0e+10000000`` into an exact value takes minutes and
#: gigabytes, and Python refuses ints of over 4,300 digits with a traceback
MAX_NUMBER_CHARS = 1000
MAX_EXPONENT = 1000
#: values a problem file may hold, counted as commas and lines before YAML reads it
MAX_FILE_VALUES = 500_000
_EXPONENT = re.compile(r"[eE]([-+]?[0-9_]+)$")
TOP_FIELDS = ("title", "text", "problems")
PROBLEM_FIELDS = (
    "id",
    "kind",
    "title",
    "text",
    "given",
    "ask",
    "points",
    "tolerance",
    "carry_forward",
    "fixed",
)
TOLERANCE_FIELDS = ("rtol", "atol", "decimals")


# --------------------------------------------------------------------------- YAML with lines


@dataclass
class Document:
    """A YAML document as plain Python values plus the line of every path in it."""

    data: Any
    lines: dict[Path_, int]
    file: str
    #: the text of every YAML decimal, by path: ``0.580`` shows three places, ``0.58`` two
    texts: dict[Path_, str] = field(default_factory=dict)
    #: entries left out of a leniently read document, one sentence each with its line
    warnings: list[str] = field(default_factory=list)

    def line(self, path: Path_) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def error(
        self,
        message: str,
        path: Path_ = (),
        *,
        problem: str | None = None,
        field: str | None = None,
    ) -> DlsolveError:
        return DlsolveError(
            message, file=self.file, line=self.line(path), problem=problem, field=field
        )


def _exact_float(text: str) -> Fraction | str:
    """A YAML decimal as an exact Fraction, or its text when it is too large to convert."""
    text = text.replace("_", "")
    exponent = _EXPONENT.search(text)
    if len(text) > MAX_NUMBER_CHARS or (
        exponent is not None and abs(int(exponent.group(1))) > MAX_EXPONENT
    ):
        return text
    return Fraction(text)


class _EntryError(DlsolveError):
    """A fault of one mapping entry (its key, tag or depth): fatal in a problem file, only
    that entry's loss in a leniently read answers file."""


class _Builder:
    """Turns composed YAML nodes into Python values, recording lines.

    ``lenient`` (answers files): an entry whose key, tag or depth is wrong is
    left out with a warning naming its line, and the rest of the file is read;
    ``max_depth`` bounds the nesting of the values, measured on the parsed
    structure (quotes, comments and indentation of block text do not count), and
    ``max_items`` the length of one list or mapping (an entry beyond it is not built).
    """

    def __init__(
        self,
        file: str,
        *,
        lenient: bool = False,
        max_depth: int | None = None,
        max_items: int | None = None,
    ) -> None:
        self.file = file
        self.lenient, self.max_depth, self.max_items = lenient, max_depth, max_items
        self.warnings: list[str] = []
        self.lines: dict[Path_, int] = {}
        self.texts: dict[Path_, str] = {}
        self.count = 0
        self.seen: set[int] = set()
        self.aliased = 0
        self.constructor = yaml.SafeLoader.__new__(yaml.SafeLoader)
        yaml.constructor.SafeConstructor.__init__(self.constructor)

    def fail(self, message: str, node: yaml.Node) -> DlsolveError:
        return DlsolveError(message, file=self.file, line=node.start_mark.line + 1)

    def entry_error(self, message: str, node: yaml.Node) -> _EntryError:
        return _EntryError(message, file=self.file, line=node.start_mark.line + 1)

    def build(self, node: yaml.Node, path: Path_ = ()) -> Any:
        self.count += 1
        if id(node) in self.seen:
            self.aliased += 1
            if self.aliased > MAX_ALIASED:
                raise self.fail(
                    f"aliases expand to more than {MAX_ALIASED} values (an alias bomb?)", node
                )
        self.seen.add(id(node))
        if self.count > MAX_NODES:
            raise self.fail(f"the file has more than {MAX_NODES} values", node)
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if node.tag not in ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
                raise self.entry_error(f"the YAML tag {node.tag!r} is not allowed here", node)
            if self.max_depth is not None and len(path) >= self.max_depth:
                raise self.entry_error(f"it is nested more than {self.max_depth} levels deep", node)
            if self.max_items is not None and len(node.value) > self.max_items:
                raise self.entry_error(
                    f"it has {len(node.value)} items, more than the {self.max_items} allowed",
                    node,
                )
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                try:
                    key = self._key(key_node, path, out)
                    out[key] = self.build(value_node, (*path, key))
                except _EntryError as err:
                    if not self.lenient:
                        raise
                    left_out = f"{err.message.rstrip('.')}; this entry is left out"
                    self.warnings.append(str(DlsolveError(left_out, file=err.file, line=err.line)))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, (*path, i)) for i, v in enumerate(node.value)]
        tag = node.tag
        if tag == "tag:yaml.org,2002:int" and len(node.value) > MAX_NUMBER_CHARS:
            return node.value  # see MAX_NUMBER_CHARS: sexagesimal 1:30:30:… too
        if tag == "tag:yaml.org,2002:float":
            self.texts[path] = node.value
            try:
                return _exact_float(node.value)
            except ValueError:  # .inf, .nan: left as text for the field to refuse in context
                return node.value
        if tag in (
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:bool",
            "tag:yaml.org,2002:null",
            "tag:yaml.org,2002:str",
        ):
            return self.constructor.construct_object(node)
        if tag == "tag:yaml.org,2002:timestamp":
            raise self.entry_error("a date is not allowed here (quote it to mean text)", node)
        raise self.entry_error(f"the YAML tag {tag!r} is not allowed here", node)

    def _key(self, key_node: yaml.Node, path: Path_, out: Mapping[str, Any]) -> str:
        """A mapping key as a name (an _EntryError for a merge key, a non-name, a duplicate)."""
        if key_node.tag == "tag:yaml.org,2002:merge":
            raise self.entry_error("YAML merge keys ('<<') are not supported", key_node)
        key = self.build(key_node, (*path, "<key>"))
        if not isinstance(key, (str, int)):
            raise self.entry_error(f"a key must be a name, got {key!r}", key_node)
        key = str(key) if not isinstance(key, str) else key
        if key in out:
            raise self.entry_error(f"duplicate key {key!r}", key_node)
        return key


def nesting_bound(text: str) -> int:
    """An upper bound on how deeply the YAML in ``text`` nests: the deepest indentation,
    plus the most block indicators (``- ``, ``: ``, ``? ``) on one line, plus the deepest
    flow brackets (quotes ignored, so it may overestimate, never underestimate)."""
    indent = indicators = flow = deepest = 0
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        indent = max(indent, len(line) - len(stripped))
        indicators = max(
            indicators, stripped.count("- ") + stripped.count(": ") + stripped.count("? ") + 1
        )
        for ch in stripped:
            if ch in "[{":
                flow += 1
                deepest = max(deepest, flow)
            elif ch in "]}":
                flow -= 1
    return indent + indicators + deepest


def flow_depth(text: str) -> int:
    """The deepest nesting of flow brackets (``[``, ``{``) in ``text``, outside quoted
    scalars and comments: what makes PyYAML's scanner slow (seconds at 1,000 levels) before
    its composer gives up. A cheap guard for untrusted text, not a bound for libyaml."""
    depth = deepest = 0
    i, n = 0, len(text)
    previous = "\n"
    while i < n:
        ch = text[i]
        if ch in "'\"" and previous in " \t\n[{,:":
            i = _after_quoted(text, i)
        elif ch == "#" and previous in " \t\n":
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(0, depth - 1)
        previous = text[i] if i < n else ""
        i += 1
    return deepest


def _after_quoted(text: str, start: int) -> int:
    """The index of the quote that closes the quoted scalar opening at ``start``."""
    quote, i = text[start], start + 1
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            if quote == "'" and text[i + 1 : i + 2] == "'":
                i += 2
                continue
            return i
        i += 1
    return len(text)


#: libyaml's composer is fast but recursive in C: only shallow documents may go to it
FAST_NESTING = 200


def read_yaml(
    text: str,
    file: str,
    *,
    lenient: bool = False,
    max_depth: int | None = None,
    max_items: int | None = None,
) -> Document:
    """Parse YAML text safely; a syntax error is a DlsolveError with its line.

    ``lenient``, ``max_depth`` and ``max_items``: see :class:`_Builder` (answers files).

    Documents that provably nest less than FAST_NESTING levels are composed by
    libyaml when it is installed (15 times faster: it matters when a class of
    answers files is graded); the rest by PyYAML's Python composer, which fails
    cleanly on deep nesting where libyaml would crash.
    """
    loader = yaml.SafeLoader
    if getattr(yaml, "__with_libyaml__", False) and nesting_bound(text) < FAST_NESTING:
        loader = yaml.CSafeLoader
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        reason = (err.problem or err.context or "invalid YAML").strip()
        raise DlsolveError(f"this is not valid YAML: {reason}", file=file, line=line) from None
    except yaml.YAMLError as err:
        raise DlsolveError(f"this is not valid YAML: {err}", file=file) from None
    except RecursionError:
        raise DlsolveError("the YAML is nested too deeply", file=file) from None
    if root is None:
        return Document(None, {}, file)
    builder = _Builder(file, lenient=lenient, max_depth=max_depth, max_items=max_items)
    try:
        data = builder.build(root)
    except RecursionError:
        raise DlsolveError("the YAML is nested too deeply", file=file) from None
    return Document(data, builder.lines, file, builder.texts, builder.warnings)


def read_file(path: str | Path) -> Document:
    """Read a YAML file; an unreadable file is a DlsolveError. A file of more than
    MAX_FILE_VALUES values is refused before YAML reads it (see there)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DlsolveError("no such file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise DlsolveError(f"cannot read this file ({err})", file=str(path)) from None
    if text.count(",") + text.count("\n") > MAX_FILE_VALUES:
        raise DlsolveError(
            f"the file holds more than {MAX_FILE_VALUES:,} values; a given tensor holds at "
            f"most {MAX_ELEMENTS:,} numbers (reading 4 million took 1.9 GB before they "
            "could be refused)",
            file=str(path),
        )
    return read_yaml(text, str(path))


# --------------------------------------------------------------------------- problems


@dataclass
class Problem:
    """One validated problem: its kind, exact givens and grading settings."""

    id: str
    kind: str
    given: GivenModel
    title: str | None = None
    text: str | None = None
    ask: list[str] | None = None
    points: dict[str, Fraction] = field(default_factory=dict)
    tolerance: dict[str, Any] = field(default_factory=dict)
    #: the share of a key's points for an answer right given the student's earlier errors
    carry_forward: Fraction | None = None
    #: givens (names or dotted paths) every variant keeps as they are
    fixed: list[str] = field(default_factory=list)
    file: str = "<string>"
    line: int | None = None
    #: the given as written in the file, for variants and error lines
    raw_given: dict[str, Any] = field(default_factory=dict)
    doc: Document | None = field(default=None, repr=False)
    index: int = 0

    def field_line(self, dotted: str | None) -> int | None:
        """The YAML line of ``given.<dotted>`` (or of the problem)."""
        if self.doc is None:
            return self.line
        path: list[Any] = ["problems", self.index, "given"]
        for part in (dotted or "").split(".") if dotted else []:
            path.append(int(part) if part.isdigit() else part)
        return self.doc.line(tuple(path))

    def error(self, message: str, field: str | None = None) -> DlsolveError:
        return DlsolveError(
            message,
            file=self.file,
            line=self.field_line(field),
            problem=self.id,
            field=f"given.{field}" if field else None,
        )


@dataclass
class ProblemSet:
    """A problem file: its title, the problems that validated, and errors for the rest."""

    path: str
    title: str | None
    problems: list[Problem]
    errors: list[DlsolveError]
    text: str | None = None

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems)

    def get(self, problem_id: str) -> Problem | None:
        return next((p for p in self.problems if p.id == problem_id), None)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load(path: str | Path) -> ProblemSet:
    """Load and validate a problem file. Raises DlsolveError only if the file as a whole is
    unusable; a bad problem is reported in ``errors`` and the others still load."""
    return load_document(read_file(path))


def load_text(text: str, file: str = "<string>") -> ProblemSet:
    """As :func:`load`, from a string."""
    return load_document(read_yaml(text, file))


def load_document(doc: Document) -> ProblemSet:
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error("a problem file is a mapping with 'title' and 'problems'")
    for key in data:
        if key not in TOP_FIELDS:
            raise doc.error(
                f"unknown top-level field {key!r}{_suggest(key, list(TOP_FIELDS))}", (key,)
            )
    raw_problems = data.get("problems")
    if not isinstance(raw_problems, list) or not raw_problems:
        raise doc.error("'problems' must be a non-empty list of problems", ("problems",))
    title = data.get("title")
    text = data.get("text")
    problems: list[Problem] = []
    errors: list[DlsolveError] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_problems):
        try:
            problem = _load_problem(doc, i, raw, seen)
        except DlsolveError as err:
            errors.append(err)
            continue
        problems.append(problem)
    return ProblemSet(
        doc.file,
        str(title) if title is not None else None,
        problems,
        errors,
        text=str(text) if text is not None else None,
    )


class Invalid(ValueError):
    """A problem envelope's field is wrong: the message, and where (a path inside the problem,
    and the field named in the error)."""

    def __init__(self, message: str, path: Path_, field: str) -> None:
        super().__init__(message)
        self.message, self.path, self.field = message, path, field


#: the message for a field that is missing or not even of the right sort
_SHAPE_MESSAGES = {
    "id": (
        "the id must be lower-case letters, digits, '.', '_' or '-' "
        "(starting with a letter or digit)"
    ),
    "kind": "every problem needs a kind",
    "given": "'given' must be a mapping of the kind's fields",
}


class Envelope(BaseModel):
    """A problem as the file writes it, around its given: what each field may hold.

    Validated with the file's context (``seen`` ids, the raw problem); the kind's
    own ``Given`` model validates ``given``. When several fields are wrong the
    error reported is the first in the order of the fields below (unknown
    fields first), so that a file is fixed from the top of a problem down.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    id: str
    kind: str
    #: the kind's validated given (the file's mapping is the problem's ``raw_given``)
    given: Any
    ask: list[str] | None = None
    points: dict[str, Fraction] = {}
    tolerance: dict[str, Any] = {}
    title: str | None = None
    text: str | None = None
    carry_forward: Fraction | None = None
    #: givens (names or dotted paths) every variant keeps as they are
    fixed: list[str] = []

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any, info: ValidationInfo) -> str:
        if not isinstance(v, str) or not ID_PATTERN.fullmatch(v):
            raise Invalid(_SHAPE_MESSAGES["id"], ("id",), "id")
        seen: set[str] = info.context["seen"]
        if v in seen:
            raise Invalid("this id is used twice in the file", ("id",), "id")
        seen.add(v)
        return v

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, v: Any) -> str:
        if not isinstance(v, str):
            raise Invalid(_SHAPE_MESSAGES["kind"], ("kind",), "kind")
        try:
            kinds.get(v)
        except KeyError:
            raise Invalid(
                f"unknown kind {v!r}{_suggest(v, kinds.names())}; 'dlsolve kinds' lists them",
                ("kind",),
                "kind",
            ) from None
        return v

    @field_validator("given", mode="before")
    @classmethod
    def _given(cls, v: Any, info: ValidationInfo) -> GivenModel | None:
        if not isinstance(v, dict):
            raise Invalid(_SHAPE_MESSAGES["given"], ("given",), "given")
        if "kind" not in info.data:  # the kind is wrong: that is the error to report
            return None
        return validate_given(
            kinds.get(info.data["kind"]),
            v,
            lambda msg, path, f: Invalid(msg, ("given", *path), f),
        )

    @field_validator("ask", mode="before")
    @classmethod
    def _ask(cls, v: Any, info: ValidationInfo) -> list[str] | None:
        if v is None:
            return None
        ask = [v] if isinstance(v, str) else v
        if not isinstance(ask, list) or not all(isinstance(a, str) for a in ask):
            raise Invalid("'ask' must be a list of answer keys", ("ask",), "ask")
        k = _kind_of(info)
        for j, a in enumerate(ask if k is not None else []):
            if not any(
                key.matches(a)
                or key.pattern == a
                or ("*" in a and fnmatch.fnmatchcase(key.pattern, a))  # grad.* in ask
                for key in k.keys
            ):
                patterns = [key.pattern for key in k.keys]
                raise Invalid(
                    f"{k.name} has no answer key {a!r}{_suggest(a, patterns)}", ("ask", j), "ask"
                )
        return ask

    @field_validator("points", mode="before")
    @classmethod
    def _points(cls, v: Any, info: ValidationInfo) -> dict[str, Fraction]:
        k = _kind_of(info)
        return _points(v, k, lambda msg, path: Invalid(msg, ("points", *path), "points"))

    @field_validator("tolerance", mode="before")
    @classmethod
    def _tolerance(cls, v: Any) -> dict[str, Any]:
        return _tolerance(v, lambda msg, path: Invalid(msg, ("tolerance", *path), "tolerance"))

    @field_validator("title", "text", mode="before")
    @classmethod
    def _words(cls, v: Any, info: ValidationInfo) -> str:
        name = str(info.field_name)
        if not isinstance(v, str):
            raise Invalid("must be text", (name,), name)
        given = info.context["raw"].get("given")
        if name == "text" and isinstance(given, dict):
            for quoted in placeholders(v):
                if given_at(given, quoted) is _MISSING:
                    raise Invalid(
                        f"the text quotes {{{{{quoted}}}}}, which is not in the given",
                        ("text",),
                        "text",
                    )
        return v

    @field_validator("carry_forward", mode="before")
    @classmethod
    def _share(cls, v: Any) -> Fraction | None:
        if v is None:
            return None
        share = v
        if isinstance(share, str):
            try:
                share = Fraction(share)
            except ValueError:
                share = None
        if isinstance(share, bool) or not isinstance(share, (int, Fraction)) or not 0 <= share <= 1:
            raise Invalid(
                "carry_forward must be a share of the points between 0 and 1, such as 1/2",
                ("carry_forward",),
                "carry_forward",
            )
        return Fraction(share)

    @field_validator("fixed", mode="before")
    @classmethod
    def _fixed(cls, v: Any, info: ValidationInfo) -> list[str]:
        fixed = [v] if isinstance(v, str) else v if v is not None else []
        if not isinstance(fixed, list) or not all(isinstance(f, str) for f in fixed):
            raise Invalid(
                "'fixed' must be a list of given names, such as [input_shape]", ("fixed",), "fixed"
            )
        given = info.context["raw"].get("given")
        for j, name in enumerate(fixed):
            if isinstance(given, dict) and given_at(given, name) is _MISSING:
                raise Invalid(
                    f"'fixed' names {name!r}, which is not in the given", ("fixed", j), "fixed"
                )
        return fixed


def _kind_of(info: ValidationInfo) -> kinds.Kind | None:
    """The problem's kind, when its ``kind`` field validated."""
    return kinds.get(info.data["kind"]) if "kind" in info.data else None


#: the order in which a problem's fields are checked: the first wrong one is reported
_FIELD_ORDER = {name: n for n, name in enumerate(Envelope.model_fields)}


def _first_error(err: ValidationError) -> Invalid:
    """The error to report: an unknown field first, then the first wrong field in order."""

    def rank(e: Any) -> tuple[int, int]:
        loc = e.get("loc") or ("",)
        return (0, 0) if e["type"] == "extra_forbidden" else (1, _FIELD_ORDER.get(loc[0], 99))

    e = min(err.errors(), key=rank)
    name = str((e.get("loc") or ("",))[0])
    cause = (e.get("ctx") or {}).get("error")
    if isinstance(cause, Invalid):
        return cause
    if e["type"] == "extra_forbidden":
        return Invalid(f"unknown field{_suggest(name, list(PROBLEM_FIELDS))}", (name,), name)
    return Invalid(_SHAPE_MESSAGES.get(name, e.get("msg", "invalid value")), (name,), name)


def _load_problem(doc: Document, i: int, raw: Any, seen: set[str]) -> Problem:
    here: Path_ = ("problems", i)
    if not isinstance(raw, dict):
        raise doc.error(f"problem {i + 1} must be a mapping with 'id', 'kind' and 'given'", here)
    pid = raw.get("id")
    try:
        env = Envelope.model_validate(raw, context={"seen": seen, "raw": raw})
    except ValidationError as err:
        bad = _first_error(err)
        label = pid if isinstance(pid, str) else f"#{i + 1}"
        raise doc.error(bad.message, (*here, *bad.path), problem=label, field=bad.field) from None
    return Problem(
        id=env.id,
        kind=env.kind,
        given=env.given,
        title=env.title,
        text=env.text,
        ask=env.ask,
        points=env.points,
        tolerance=env.tolerance,
        carry_forward=env.carry_forward,
        fixed=env.fixed,
        file=doc.file,
        line=doc.line(here),
        raw_given=raw["given"],
        doc=doc,
        index=i,
    )


def validate_given(k: kinds.Kind, given_raw: dict[str, Any], fail: Any) -> GivenModel:
    """Validate a given against the kind's model; the first error becomes one sentence."""
    try:
        return k.Given.model_validate(given_raw)
    except ValidationError as err:
        e = err.errors()[0]
        loc = tuple(e.get("loc", ()))
        cause = (e.get("ctx") or {}).get("error")
        fieldname = ".".join(str(x) for x in loc) or None
        path: Path_ = loc
        if isinstance(cause, FieldError):
            if cause.field:
                fieldname = cause.field
                path = tuple(int(p) if p.isdigit() else p for p in cause.field.split("."))
            path = (*path, *cause.path)
            if cause.path:
                fieldname = (fieldname or "") + "".join(f"[{p}]" for p in cause.path)
            message = cause.message
        elif e["type"] == "missing":
            message = f"{k.name} needs this field ('dlsolve kinds {k.name}' describes it)"
        elif e["type"] == "extra_forbidden":
            fields = list(k.Given.model_fields)
            message = f"{k.name} has no such field{_suggest(str(loc[-1]), fields)}"
        else:
            message = e.get("msg", "invalid value")
        raise fail(message, path, f"given.{fieldname}" if fieldname else "given") from None
    except FieldError as err:  # raised outside pydantic's wrapping, e.g. by a property
        raise fail(err.message, (), f"given.{err.field}" if err.field else "given") from None


# --------------------------------------------------------------------------- quoted givens

#: ``{{X}}`` or ``{{layers.3.in}}`` in a problem's text quotes a given, so that a
#: variant with new numbers states them (see solver.variants)
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w]*(?:\.\w+)*)\s*\}\}")
_MISSING = object()


def placeholders(text: str) -> list[str]:
    """The given paths a text quotes."""
    return PLACEHOLDER.findall(text)


def given_at(given: Any, dotted: str) -> Any:
    """The raw given value at ``a.b.3`` (list positions are numbers), or _MISSING."""
    value = given
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def quote(value: Any) -> str:
    """A given as a problem statement writes it: ``[[4, 4, 8, 8], [0, 2, 2, 8]]``, ``0.1``."""
    if isinstance(value, list):
        return "[" + ", ".join(quote(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {quote(v)}" for k, v in value.items()) + "}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Fraction):
        return exact.decimal(value) or str(value)
    return str(value)


def fill_text(text: str | None, given: Any) -> str | None:
    """A problem's text with every ``{{name}}`` replaced by the given it names."""
    if not text:
        return text
    return PLACEHOLDER.sub(lambda m: quote(given_at(given, m.group(1))), text)


def text_parts(text: str | None, given: Any, tables: Mapping[str, Any]) -> list[Any]:
    """A problem's text as words and tables: a ``{{name}}`` quote of a given in ``tables``
    (a network's layers) is that table, any other quote the given as :func:`fill_text`
    writes it. Renderers that can lay out a table show it where the text quotes it."""
    if not text:
        return []
    parts: list[Any] = []
    last = 0
    for match in PLACEHOLDER.finditer(text):
        if match.group(1) in tables:
            parts += [fill_text(text[last : match.start()], given), tables[match.group(1)]]
            last = match.end()
    return [*parts, fill_text(text[last:], given)]


def restate(text: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """``text`` with each given it quotes as written in the file (``z = [2, 4, 6, 8]``,
    ``p = 1/4``) replaced by the variant's value; ``{{name}}`` quotes need nothing."""
    for name, before in old.items():
        after = new.get(name)
        if after is None or after == before:
            continue
        if isinstance(before, list):
            text = text.replace(quote(before), quote(after))
        elif isinstance(before, (int, str, Fraction)) and not isinstance(before, bool):
            pattern = rf"(\b{re.escape(name)}\s*=\s*){re.escape(str(before))}(?![\w/.])"
            text = re.sub(pattern, lambda m, new=str(after): m.group(1) + new, text)
    return text


def _option_number(value: Any) -> Any:
    """A number an option may also write as a fraction in quotes ("1/1000"), as variants do."""
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*/\s*\d+\s*|\s*\d+(\.\d+)?\s*", value):
        try:
            return Fraction(value.replace(" ", ""))
        except (ValueError, ZeroDivisionError):
            return value
    return value


def _points(raw: Any, k: kinds.Kind | None, fail: Any) -> dict[str, Fraction]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise fail("'points' must map answer keys to numbers", ())
    out = {}
    for key, value in raw.items():
        value = _option_number(value)
        if k is not None and not any(d.matches(key) or d.pattern == key for d in k.keys):
            raise fail(f"{k.name} has no answer key {key!r}", (key,))
        if isinstance(value, bool) or not isinstance(value, (int, Fraction)) or value < 0:
            raise fail(f"points for {key!r} must be a number ≥ 0", (key,))
        out[key] = Fraction(value)
    return out


def _tolerance(raw: Any, fail: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise fail("'tolerance' must be a mapping such as {rtol: 0.01}", ())
    raw = {key: _option_number(value) for key, value in raw.items()}
    for key, value in raw.items():
        if key not in TOLERANCE_FIELDS:
            raise fail(
                f"unknown tolerance setting {key!r}{_suggest(key, list(TOLERANCE_FIELDS))}", (key,)
            )
        if isinstance(value, bool) or not isinstance(value, (int, Fraction)) or value < 0:
            raise fail(f"{key} must be a number ≥ 0", (key,))
    return dict(raw)
