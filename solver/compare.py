"""A student's value against an exact answer, decided by the answer's type alone.

Two steps, both generic over every kind:

* :func:`read` turns what the student wrote (a YAML number, string, list,
  boolean) into a value of the answer's type, with the safe parser. What cannot
  be read raises :class:`Unreadable` with the position of the fault: that is a
  different verdict from a wrong answer.
* :func:`compare` scores the value against the answer: a :class:`Match` with
  the share that is right (1, 0, or the share of correct entries of a tensor)
  and feedback sentences a TA would write.

The rules (docs: reference/answers): integers and shapes exact; reals exactly, or within
``atol + rtol·|answer|``, or as a decimal that is the answer rounded or
truncated to the places written with at least 2 significant figures;
formulas by equivalence; tensors shape first, then entry by entry; sequences,
choices and booleans after normalising case and spacing; complexities by their
big-O class. ``None`` (undefined, 0/0) is matched by "undefined"/"nan".

Speed comes from deciding in this process whatever is cheap (rationals,
surds, decimals, identical formulas) and sending only what needs real
symbolic work to the time-limited :class:`~solver.sandbox.Sandbox`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Decimal,
    InvalidOperation,
    localcontext,
)
from fractions import Fraction
from functools import lru_cache
from typing import Any

import sympy

from . import exact
from .parse import (
    ParseError,
    WrittenDecimal,
    choice_index,
    normalize_word,
    parse_answer,
    read_bigo,
    read_boolean,
    read_choice,
    read_tokens,
)
from .sandbox import Sandbox
from .solution import Answer
from .vocab import EXACT_TYPES, NUMERIC_TYPES, AnswerType, Job

MAX_RANK = 8  # nesting of a student's list
SHOWN_ENTRIES = 4  # wrong entries named in feedback before "and k more"
JUDGE_MEMO = 20_000  # sandbox results remembered by a judge
SEQUENCE_MARKERS = ({"<bos>", "<s>", "<start>"}, {"<eos>", "</s>", "<end>"})


class Unreadable(Exception):
    """A value that cannot be read as the answer's type; the message says where and why."""


@dataclass(frozen=True)
class Tolerance:
    """How close a real must be: ``|a − b| ≤ atol + rtol·|b|``, or correctly rounded.

    ``decimals``: the fewest decimal places a rounded or truncated answer must
    show (default: any number, with at least 2 significant figures).
    """

    rtol: Fraction = Fraction(1, 100)
    atol: Fraction = Fraction(1, 10**8)
    decimals: int | None = None

    def updated(self, settings: Mapping[str, Any]) -> Tolerance:
        """This tolerance with a problem's ``tolerance:`` settings applied."""
        return Tolerance(
            Fraction(settings.get("rtol", self.rtol)),
            Fraction(settings.get("atol", self.atol)),
            int(settings["decimals"]) if settings.get("decimals") is not None else self.decimals,
        )


@dataclass
class Match:
    """How much of an answer is right (0 to 1) and what to tell the student.

    ``mistake`` names the misconception a decimal was closer to than to the answer (see
    :func:`compare`'s ``rivals``): such a decimal is not a rounding of the right value.
    """

    score: Fraction
    feedback: list[str] = field(default_factory=list)
    mistake: str | None = None
    #: the value is one of the answer's ``alternatives`` (a tie), not the value shown
    tie: bool = False

    @property
    def full(self) -> bool:
        return self.score == 1


# --------------------------------------------------------------------------- reading


def read(answer: Answer, raw: Any, symbols: frozenset[str]) -> Any:
    """The student's ``raw`` YAML value as a value of ``answer``'s type (or Unreadable)."""
    t = answer.type
    try:
        if t in NUMERIC_TYPES:
            value = read_numeric(raw, symbols, t)
            if t == "shape" and value is not None and not isinstance(value, list):
                value = [value]  # 1568 for the shape [1568]
            if (
                isinstance(raw, str)
                and "\\begin" in raw
                and len(answer.shape) == 1
                and isinstance(value, list)
                and len(value) == 1
                and isinstance(value[0], list)
            ):
                value = value[0]  # LaTeX writes a vector as a one-row matrix (so does dlsolve)
            if (
                isinstance(raw, str)
                and "," not in raw
                and len(answer.shape) == 2
                and answer.shape[0] == 1
                and isinstance(value, list)
                and exact.shape(value) == answer.shape[1:]
            ):
                value = [value]  # MATLAB's [1 2 3] is a 1×3 matrix
            if isinstance(value, list):
                try:
                    exact.shape(value)
                except exact.RaggedError as err:
                    raise Unreadable(f"the list at {_where(err.path)} {err}") from None
            return value
        if t == AnswerType.SEQUENCE:
            return read_tokens(raw, nested=_nested_tokens(answer.value))
        if t == AnswerType.CHOICE:
            return read_choice(raw, choice_options(answer.meta))
        if t == AnswerType.BOOLEAN:
            if isinstance(answer.value, list):
                if not isinstance(raw, list):
                    raise Unreadable("expected a list of true/false values")
                return [read_boolean(v) for v in raw]
            return read_boolean(raw)
        if t == AnswerType.COMPLEXITY:
            return read_bigo(_plain(raw), symbols)
        return normalize_word(_plain(raw))
    except ParseError as err:
        raise Unreadable(str(err)) from None


def _plain(raw: Any) -> Any:
    return _decimal_text(raw) if isinstance(raw, WrittenDecimal) else raw


def _nested_tokens(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], (list, tuple))


_THOUSANDS = re.compile(r"\s*-?\d{1,3}(?:,\d{3})+\s*")
#: LaTeX's thousands separators between digits: 9{,}306 and 9\,306
_LATEX_THOUSANDS = re.compile(r"(?<=\d)(?:\{,\}|\\,)(?=\d{3}(?!\d))")
_TUPLE = re.compile(r"\s*(?:torch\.Size\(\s*)?[(\[](.*?)[)\]]\s*\)?\s*")
_TIMES = re.compile(r"\s*(?:×|\\times|\\cdot|·)\s*|\s+x\s+|(?<=\d)x(?=\d)")
#: a shape [] written in words, or as the tool prints it: "[] (a scalar)", "[\,]\ \text{(a scalar)}"
_SCALAR_SHAPE = re.compile(
    r"\s*(?:\[\s*(?:\\,)?\s*\]|\(\s*\))?\s*(?:\\\s)?\s*(?:\\text\{)?\s*\(?(?:a\s+)?"
    r"(?:scalar|none)\)?\s*\}?\s*|\s*\[\s*\\,\s*\]\s*"
)


def shape_text(text: str) -> str:
    """``(4, 128)``, ``4 x 128``, ``4×128``, ``4 \\times 128`` or ``4, 128`` as ``[4, 128]``;
    ``()``, ``scalar`` or ``[] (a scalar)`` as ``[]``."""
    text = text.replace("$", "")
    if _SCALAR_SHAPE.fullmatch(text):
        return "[]"
    mt = _TUPLE.fullmatch(text)
    if mt:
        return f"[{mt.group(1)}]"
    if _TIMES.search(text):
        return "[" + ", ".join(_TIMES.split(text.strip())) + "]"
    if "," in text:
        return f"[{text}]"
    return text


def read_numeric(
    raw: Any, symbols: frozenset[str], typ: AnswerType, path: tuple[int, ...] = ()
) -> Any:
    """Numbers, strings (expressions, LaTeX, matrix strings) and nested lists of them."""
    if isinstance(raw, bool):
        raise Unreadable(f"{_at(path)}true/false is not a number")
    if raw is None:
        return None
    if isinstance(raw, (int, Fraction)):
        return raw
    if isinstance(raw, str):
        text = raw
        if typ == AnswerType.SHAPE and not path:
            text = shape_text(text)
        text = _LATEX_THOUSANDS.sub("", text)
        if typ in (
            AnswerType.INTEGER,
            AnswerType.REAL,
            AnswerType.EXPRESSION,
        ) and _THOUSANDS.fullmatch(text):
            text = text.replace(",", "")
        try:
            return parse_answer(text, symbols)
        except ParseError as err:
            raise Unreadable(f"{_at(path)}{err}") from None
    if isinstance(raw, list):
        if len(path) >= MAX_RANK:
            raise Unreadable(f"{_at(path)}the list is nested more than {MAX_RANK} levels deep")
        if len(raw) == 1 and isinstance(raw[0], str) and not path:
            whole = _one_string_list(raw[0], symbols)
            if whole is not None:
                return whole
        return [read_numeric(v, symbols, typ, (*path, i)) for i, v in enumerate(raw)]
    raise Unreadable(f"{_at(path)}a {type(raw).__name__} is not a value")


def _one_string_list(text: str, symbols: frozenset[str]) -> list[Any] | None:
    """YAML reads ``[1 2; 3 4]`` as a list holding one string: read it as MATLAB would."""
    try:
        return [parse_answer(text, symbols)]
    except ParseError:
        pass
    try:
        whole = parse_answer(f"[{text}]", symbols)
    except ParseError:
        return None
    return whole if isinstance(whole, list) and len(whole) > 1 else None


def _at(path: Sequence[int]) -> str:
    return f"{_where(path)}: " if path else ""


def _where(path: Sequence[int], rank: int | None = None) -> str:
    """A 0-based index as a TA says it: "entry 3", "row 2, column 3", "entry (1, 2, 3)"."""
    one = [i + 1 for i in path]
    if len(one) == 1:
        return f"entry {one[0]}"
    if len(one) == 2 and rank in (None, 2):
        return f"row {one[0]}, column {one[1]}"
    return "entry (" + ", ".join(map(str, one)) + ")"


def choice_options(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A choice answer's options as ``(label, text)``.

    ``meta["options"]`` is a list of option texts (labelled a, b, c, ... in
    order; a text written ``"(b) θ = 0"`` keeps its own label), a list of
    ``{label, text}`` mappings or ``(label, text)`` pairs, or a mapping label -> text.
    """
    opts = meta.get("options", meta.get("choices"))
    if isinstance(opts, Mapping):
        return [(str(k), str(v)) for k, v in opts.items()]
    if not isinstance(opts, (list, tuple)):
        return []
    out = []
    for i, o in enumerate(opts):
        letter = chr(ord("a") + i) if i < 26 else str(i + 1)
        if isinstance(o, Mapping):
            out.append((str(o.get("label", letter)), str(o.get("text", ""))))
        elif isinstance(o, (list, tuple)) and len(o) == 2:
            out.append((str(o[0]), str(o[1])))
        else:
            mt = re.match(r"^\s*\(?([A-Za-z0-9]{1,2})[).:]\s+(.+)$", str(o))
            out.append((mt.group(1), mt.group(2)) if mt else (letter, str(o)))
    return out


def expected_choice(answer: Answer) -> frozenset[Any]:
    """The options a choice answer's value names (an int value is a 0-based option index)."""
    options = choice_options(answer.meta)
    v = answer.value
    items = v if isinstance(v, (list, tuple, set, frozenset)) else [v]
    if options and all(isinstance(x, int) and not isinstance(x, bool) for x in items):
        return frozenset(items)
    return read_choice(list(items), options)


# --------------------------------------------------------------------------- numbers


def decimal_of(x: Any) -> Decimal | None:
    """``x`` to about 50 significant digits: exact for rationals and surds; sympy numbers
    are evaluated here, so pass only trusted values (answers), never a student's formula."""
    return _decimal_cached(type(x).__name__, x)


@lru_cache(maxsize=65536)
def _decimal_cached(_type: str, x: Any) -> Decimal | None:
    with localcontext() as ctx:
        ctx.prec = 60
        if exact.is_rational(x):
            q = Fraction(x)
            return Decimal(q.numerator) / Decimal(q.denominator)
        if isinstance(x, exact.Surd):
            a, b = Fraction(x.a), Fraction(x.b)
            return (
                Decimal(a.numerator) / Decimal(a.denominator)
                + Decimal(b.numerator) / Decimal(b.denominator) * Decimal(x.r).sqrt()
            )
        if isinstance(x, float):
            return Decimal(x) if x == x and abs(x) != float("inf") else None
        e = exact.to_sympy(x)
        if e.free_symbols:
            return None
        v = sympy.N(e, 55)
        if not v.is_real or not v.is_finite:
            return None
        try:
            return Decimal(str(sympy.Float(v, 55)))
        except InvalidOperation:
            return None


def _decimal_text(w: WrittenDecimal) -> str:
    """A written decimal shown as written (``0.580``, ``5.8e-5``)."""
    q = Fraction(w)
    with localcontext() as ctx:
        ctx.prec = 120
        d = Decimal(q.numerator) / Decimal(q.denominator)
        if 0 <= w.places <= 30:
            return f"{d:.{w.places}f}"
        return f"{d:.{max(w.sig - 1, 0)}e}"


def rounded_to_places(value: Decimal, w: WrittenDecimal, tol: Tolerance) -> bool:
    """Whether ``w`` is ``value`` rounded (half up or half even) or truncated to w's places."""
    if tol.decimals is not None:
        if w.places < tol.decimals:
            return False
    elif w.sig < 2:
        return False
    if abs(w.places) > 50:
        return False
    q = Fraction(w)
    with localcontext() as ctx:
        ctx.prec = 120
        written = Decimal(q.numerator) / Decimal(q.denominator)
        step = Decimal(1).scaleb(-w.places)
        try:
            return any(
                value.quantize(step, rounding=mode) == written
                for mode in (ROUND_HALF_UP, ROUND_HALF_EVEN, ROUND_DOWN)
            )
        except InvalidOperation:
            return False


def within(value: Decimal, given: Any, tol: Tolerance) -> bool:
    """Whether a student's rational or surd ``given`` is close enough to ``value``."""
    g = decimal_of(given)
    if g is None:
        return False
    with localcontext() as ctx:
        ctx.prec = 60
        bound = _dec(tol.atol) + _dec(tol.rtol) * abs(value)
        if abs(g - value) <= bound:
            return True
    return isinstance(given, WrittenDecimal) and rounded_to_places(value, given, tol)


def _dec(q: Fraction) -> Decimal:
    return Decimal(q.numerator) / Decimal(q.denominator)


class Judge:
    """Decides entries: fast paths here, sympy work in the time-limited sandbox."""

    def __init__(self, sandbox: Sandbox | None = None) -> None:
        self.sandbox = sandbox if sandbox is not None else Sandbox()
        #: sandbox results by (job, item), undecided ones too: a student's value is compared
        #: with the answer, each misconception and each re-solve, and a class repeats values
        self._memo: dict[tuple[Job, Any], Any] = {}

    def close(self) -> None:
        self.sandbox.close()

    def run(self, job: Job, items: Sequence[Any]) -> list[Any]:
        """The sandbox's results for ``items``, each item computed at most once."""
        todo = list(dict.fromkeys(i for i in items if (job, i) not in self._memo))
        if todo:
            if len(self._memo) > JUDGE_MEMO:
                self._memo.clear()
            for item, result in zip(todo, self.sandbox.run(job, todo), strict=True):
                self._memo[job, item] = result
        return [self._memo[job, i] for i in items]

    def fast(self, e: Any, g: Any, exact_only: bool, tol: Tolerance) -> bool | Job:
        """Whether answer ``e`` and the student's ``g`` are equal, when that is cheap to
        decide here; else the sandbox :class:`~solver.vocab.Job` that decides it."""
        if e is None or g is None:
            return e is None and g is None
        if exact.is_rational(e) and exact.is_rational(g):
            if e == g:
                return True
            if exact_only:
                return False
            q, p = Fraction(e), Fraction(g)
            if abs(p - q) <= tol.atol + tol.rtol * abs(q):
                return True
            return isinstance(g, WrittenDecimal) and rounded_to_places(decimal_of(e), g, tol)
        if isinstance(e, float):  # an answer from a numeric path
            if isinstance(g, sympy.Basic):
                return False if g.free_symbols else Job.NUMBER
        elif isinstance(e, sympy.Basic) or isinstance(g, sympy.Basic):
            if exact.to_sympy(e) == exact.to_sympy(g):  # structural: cheap and safe
                return True
            e_free = isinstance(e, sympy.Basic) and bool(e.free_symbols)
            g_free = isinstance(g, sympy.Basic) and bool(g.free_symbols)
            if e_free and g_free:
                return Job.EQUAL
            if e_free or g_free:
                return False
            if isinstance(g, sympy.Basic):
                return Job.NUMBER
        elif (
            isinstance(e, exact.Surd)
            and isinstance(g, exact.Surd)
            and ((e.a, e.b, e.r) == (g.a, g.b, g.r))
        ):
            return True
        if exact_only:
            return False
        value = decimal_of(e)
        return value is not None and within(value, g, tol)

    def entries(
        self, expected: Sequence[Any], given: Sequence[Any], *, exact_only: bool, tol: Tolerance
    ) -> tuple[list[bool], list[str]]:
        """Which entries match, and notes (entries that could not be decided in time)."""
        oks: list[bool] = []
        deferred: dict[Job, list[int]] = {Job.NUMBER: [], Job.EQUAL: []}
        for i, (e, g) in enumerate(zip(expected, given, strict=True)):
            r = self.fast(e, g, exact_only, tol)
            if isinstance(r, Job):
                deferred[r].append(i)
                oks.append(False)
            else:
                oks.append(r)
        undecided = 0
        if deferred[Job.NUMBER]:
            idx = deferred[Job.NUMBER]
            values = self.run(Job.NUMBER, [exact.to_sympy(given[i]) for i in idx])
            for i, v in zip(idx, values, strict=True):
                if v is None:
                    undecided += 1
                    continue
                e = decimal_of(expected[i])
                g = Decimal(v)
                oks[i] = e is not None and (
                    abs(g - e) <= Decimal("1e-40") * max(1, abs(e))
                    or (not exact_only and abs(g - e) <= _dec(tol.atol) + _dec(tol.rtol) * abs(e))
                )
        if deferred[Job.EQUAL]:
            idx = deferred[Job.EQUAL]
            pairs = [(exact.to_sympy(expected[i]), exact.to_sympy(given[i])) for i in idx]
            for i, v in zip(idx, self.run(Job.EQUAL, pairs), strict=True):
                undecided += v is None
                oks[i] = bool(v)
        notes = []
        if undecided:
            notes.append(
                f"{_count(undecided, 'value')} could not be compared within the time "
                "limit and counted as wrong."
            )
        return oks, notes

    def same_order(self, expected: Any, given: Any) -> bool | None:
        """Whether two complexities are the same big-O class (None: not decided in time)."""
        e, g = exact.to_sympy(expected), exact.to_sympy(given)
        if e == g:
            return True
        return self.run(Job.ORDER, [(e, g)])[0]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# --------------------------------------------------------------------------- showing values


def show(x: Any, *, approx: bool = False, limit: int = 80) -> str:
    """A value for feedback, exact and in Unicode; ``approx`` adds ≈ decimals (only for
    answers: evaluating a student's formula here would bypass the sandbox)."""
    if x is None:
        return "undefined"
    if isinstance(x, list):
        s = "[" + ", ".join(show(v, approx=False, limit=limit) for v in x) + "]"
        return s if len(s) <= limit else s[: limit - 1] + "…"
    if isinstance(x, WrittenDecimal):
        return _decimal_text(x)
    if isinstance(x, (bool, str)):
        return exact.unicode(x)
    if isinstance(x, float):
        return f"{x:.6g}"
    text = exact.unicode(x)
    if len(text) > limit:
        return text[: limit - 1] + "…"
    if approx and not exact.is_rational(x) and not (isinstance(x, sympy.Basic) and x.free_symbols):
        d = decimal_of(x)
        if d is not None:
            text += f" ≈ {float(d):.4g}"
    elif approx and exact.is_rational(x) and Fraction(x).denominator != 1:
        text += f" ≈ {float(x):.4g}"
    return text


def _shape_text(s: Sequence[int]) -> str:
    return "[" + ", ".join(map(str, s)) + "]"


# --------------------------------------------------------------------------- comparing


#: a tensor's rivals, flattened: (misconception, its value entry by entry)
Rivals = Sequence[tuple[str, Any]]


def compare(answer: Answer, given: Any, judge: Judge, tol: Tolerance, rivals: Rivals = ()) -> Match:
    """Score a value read by :func:`read` against ``answer``.

    Ties: ``answer.meta["alternatives"]`` lists other, equally valid values (another
    optimal sequence); a value equal to any of them is correct, and partial credit is
    the best over them. ``rivals`` are ``(misconception, value)`` pairs: a decimal that
    equals a rival's value, or is at least as close to it as to the answer, is not
    accepted as a rounding of the answer (−1.9 is Adam-L2's value, not AdamW's −1.88
    rounded).
    """
    match = _compare_one(answer, given, judge, tol, rivals)
    alternatives = list(answer.meta.get("alternatives") or ())
    entrywise = _entrywise(answer.value, given, answer.meta.get("entry_alternatives"))
    if entrywise is not None:
        alternatives.append(entrywise)
    if match.full or not alternatives:
        return match
    meta = {k: v for k, v in answer.meta.items() if k not in ("alternatives", "entry_alternatives")}
    best = match
    for alt in alternatives:
        other = replace(answer, value=alt, meta=meta)
        m = _compare_one(other, given, judge, tol, ())
        if m.full:
            why = answer.meta.get("tie") or "it ties with the answer shown"
            return Match(Fraction(1), [f"Accepted: {_sentence_tail(why)}", *m.feedback], tie=True)
        if m.score > best.score:
            best = m
    return best


def _entrywise(value: Any, given: Any, choices: Any) -> Any:
    """With ``entry_alternatives`` (per entry of a flat answer, the other values that entry
    may equally take: tied backpointers, chosen independently), the answer with each entry
    the student changed to one of its alternatives taken as the student wrote it; None
    when nothing applies."""
    if not choices or not isinstance(value, list) or not isinstance(given, list):
        return None
    if len(value) != len(choices) or len(given) != len(value):
        return None

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, str) or isinstance(b, str):
            return normalize_word(str(a)) == normalize_word(str(b))
        return exact.fmt(a) == exact.fmt(b) if exact.is_numeric(a) else a == b

    out = [
        g if any(same(g, c) for c in (cs or ())) else v
        for v, g, cs in zip(value, given, choices, strict=True)
    ]
    return out if out != value else None


def _sentence_tail(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _compare_one(answer: Answer, given: Any, judge: Judge, tol: Tolerance, rivals: Rivals) -> Match:
    t = answer.type
    if t in NUMERIC_TYPES:
        return compare_numeric(answer, given, judge, tol, rivals)
    if t == AnswerType.SEQUENCE:
        return compare_sequence(answer.value, given)
    if t == AnswerType.CHOICE:
        return compare_choice(answer, given)
    if t == AnswerType.BOOLEAN:
        return compare_boolean(answer.value, given)
    if t == AnswerType.COMPLEXITY:
        same = judge.same_order(answer.value, given)
        if same:
            return Match(Fraction(1))
        if same is None:
            return Match(Fraction(0), ["This could not be compared within the time limit."])
        return Match(
            Fraction(0),
            [f"O({show(given)}) is not the same class as the answer O({show(answer.value)})."],
        )
    ok = normalize_word(str(answer.value)) == given
    return Match(Fraction(int(ok)), [] if ok else [f"Expected “{answer.value}”."])


def squeezed(shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(n for n in shape if n != 1)


def reshape(flat: Sequence[Any], shape: Sequence[int]) -> Any:
    if not shape:
        return flat[0]
    step = len(flat) // shape[0] if shape[0] else 0
    return [reshape(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def conform(given: Any, shape: tuple[int, ...], lenient: str | bool = "") -> Any:
    """``given`` as the answer's ``shape``, else None. A different shape is a different
    answer, unless the kind declares the answer ``lenient`` (see ``Key.lenient_shape``):
    ``"column"`` accepts axes of size 1 added at the end (a column for a vector, what
    keepdim=True gives), ``"squeeze"`` (or True) axes of size 1 added or dropped anywhere."""
    gs = exact.shape(given) if isinstance(given, list) else ()
    if gs == shape:
        return given
    if not lenient or squeezed(gs) != squeezed(shape):
        return None
    if lenient == "column" and (gs[: len(shape)] != shape or squeezed(gs[len(shape) :])):
        return None
    return reshape(exact.flatten(given) if isinstance(given, list) else [given], shape)


def lenient_shape(answer: Answer) -> str | bool:
    """Which other shapes the kind accepts for this answer (``Key.lenient_shape``)."""
    return answer.meta.get("lenient_shape") or ""


def compare_numeric(
    answer: Answer, given: Any, judge: Judge, tol: Tolerance, rivals: Rivals = ()
) -> Match:
    e = answer.value
    exact_only = answer.type in EXACT_TYPES
    lenient = lenient_shape(answer)
    if not isinstance(e, list):
        g = conform(given, (), lenient) if isinstance(given, list) else given
        if isinstance(given, list) and g is None:
            return Match(
                Fraction(0),
                [
                    f"Expected a single value, got a list of shape "
                    f"{_shape_text(exact.shape(given))}."
                ],
            )
        oks, notes = judge.entries([e], [g], exact_only=exact_only, tol=tol)
        flat_rivals = [(name, [r]) for name, r in rivals if not isinstance(r, list)]
        near = _near_rivals([e], [g], oks, flat_rivals, exact_only, tol=tol)
        if oks[0]:
            note = []
            if not exact_only and exact.is_rational(g) and g != e and e is not None:
                note = [f"Accepted; the exact value is {show(e, approx=True)}."]
            if isinstance(given, list):
                note.append(f"Your list {show(given)} was read as the single value {show(g)}.")
            return Match(Fraction(1), note)
        lines = [f"Expected {show(e, approx=True)}, got {show(g)}.", *notes]
        lines += [line for _, line, _ in near]
        return Match(Fraction(0), lines, near[0][2] if near else None)
    shape = exact.shape(e)
    if not isinstance(given, list):
        return Match(
            Fraction(0),
            [f"Expected {_kind_of(answer)} of shape {_shape_text(shape)}, got a single value."],
        )
    g = conform(given, shape, lenient)
    if g is None:
        return _wrong_shape(answer, given, shape, judge, tol)
    assumed = []
    if exact.shape(given) != shape:
        assumed = [
            f"Your {_shape_text(exact.shape(given))} {_layout(exact.shape(given))} was read "
            f"as {_kind_of(answer)} of shape {_shape_text(shape)}."
        ]
    flat_e, flat_g = exact.flatten(e), exact.flatten(g)
    oks, notes = judge.entries(flat_e, flat_g, exact_only=exact_only, tol=tol)
    flat_rivals = [
        (name, exact.flatten(r))
        for name, r in rivals
        if isinstance(r, list) and exact.shape(r) == shape
    ]
    near = _near_rivals(flat_e, flat_g, oks, flat_rivals, exact_only, shape, tol=tol)
    if all(oks):
        return Match(Fraction(1), assumed)
    if answer.type == AnswerType.SHAPE:
        return Match(Fraction(0), [f"Expected {show(e)}, got {show(g)}.", *notes])
    return Match(
        Fraction(sum(oks), len(oks)),
        [
            _wrong_entries(shape, flat_e, flat_g, oks),
            *[line for _, line, _ in near],
            *notes,
            *assumed,
        ],
        near[0][2] if near else None,
    )


def _layout(shape: Sequence[int]) -> str:
    if len(shape) == 2 and shape[1] == 1:
        return "column"
    if len(shape) == 2 and shape[0] == 1:
        return "row"
    return "list"


def _near_rivals(
    flat_e: Sequence[Any],
    flat_g: Sequence[Any],
    oks: list[bool],
    rivals: Sequence[tuple[str, Sequence[Any]]],
    exact_only: bool,
    shape: Sequence[int] = (),
    tol: Tolerance | None = None,
) -> list[tuple[int, str, str]]:
    """Entries accepted only as roundings that equal a misconception's value, or are at
    least as close to it as to the answer: marked wrong in ``oks``; returns
    ``(index, feedback, misconception)`` for each. A mistake whose value is itself within
    ``tol`` of the answer (cos(π/18000) beside cos(1/100), both ≈ 1) cannot be told apart
    from it at that tolerance, and takes nothing from a student who wrote 1."""
    out: list[tuple[int, str, str]] = []
    if exact_only or not rivals:
        return out
    for i, ok in enumerate(oks):
        g, e = flat_g[i], flat_e[i]
        if not ok or not exact.is_rational(g) or e is None:
            continue
        if exact.is_rational(e) and Fraction(e) == Fraction(g):
            continue
        de = decimal_of(e)
        if de is None:
            continue
        with localcontext() as ctx:
            ctx.prec = 60
            gd = _dec(Fraction(g))
            for name, values in rivals:
                r = values[i] if i < len(values) else None
                dr = decimal_of(r) if r is not None else None
                if dr is None or dr == de or abs(gd - dr) > abs(gd - de):
                    continue
                if tol is not None and abs(dr - de) <= _dec(tol.atol) + _dec(tol.rtol) * abs(de):
                    continue
                oks[i] = False
                how = "exactly" if gd == dr else "closer to"
                where = f"{_where(_unravel(i, shape), len(shape)).capitalize()}: " if shape else ""
                out.append(
                    (
                        i,
                        f"{where}{show(g)} is not taken as a rounding of {show(e, approx=True)}: "
                        f"it is {how} the value of a well-known mistake ({name}).",
                        name,
                    )
                )
                break
    return out


def _kind_of(answer: Answer) -> str:
    return {
        AnswerType.VECTOR: "a vector",
        AnswerType.MATRIX: "a matrix",
        AnswerType.SHAPE: "a shape",
    }.get(answer.type, "a tensor")


def _wrong_shape(
    answer: Answer, given: list[Any], shape: tuple[int, ...], judge: Judge, tol: Tolerance
) -> Match:
    gs = exact.shape(given)
    if answer.type == AnswerType.SHAPE:
        return Match(
            Fraction(0),
            [
                f"Expected {show(answer.value)}, got {show(given)} "
                f"({_count(len(exact.flatten(given)), 'size')} instead of "
                f"{len(exact.flatten(answer.value))})."
            ],
        )
    lines = [f"Expected shape {_shape_text(shape)}, got {_shape_text(gs)}."]
    if squeezed(gs) == squeezed(shape):
        lines.append(
            "The shapes differ by axes of size 1, and a shape is part of the answer: "
            f"{_kind_of(answer)} of shape {_shape_text(shape)} is written "
            + ("as one flat list." if len(shape) == 1 else "with exactly that nesting.")
        )
    if len(shape) == 2 and gs == (shape[1], shape[0]):
        oks, _ = judge.entries(
            exact.flatten(answer.value),
            exact.flatten(exact.transpose(given)),
            exact_only=answer.type in EXACT_TYPES,
            tol=tol,
        )
        if all(oks):
            lines.append("Your matrix is the transpose of the answer.")
    return Match(Fraction(0), lines)


def _wrong_entries(
    shape: tuple[int, ...], flat_e: list[Any], flat_g: list[Any], oks: list[bool]
) -> str:
    wrong = [i for i, ok in enumerate(oks) if not ok]
    index = [_unravel(i, shape) for i in wrong]
    parts = [
        f"{_where(ix, len(shape))} is {show(flat_g[i])}, should be {show(flat_e[i], approx=True)}"
        for i, ix in zip(wrong[:SHOWN_ENTRIES], index, strict=False)
    ]
    more = len(wrong) - SHOWN_ENTRIES
    tail = f"; and {more} more" if more > 0 else ""
    head = (
        f"{len(wrong)} of {len(oks)} entries are wrong"
        if len(wrong) > 1
        else f"1 of {len(oks)} entries is wrong"
    )
    return f"{head}: " + "; ".join(parts) + tail + "."


def _unravel(i: int, shape: Sequence[int]) -> tuple[int, ...]:
    out = []
    for n in reversed(shape):
        out.append(i % n)
        i //= n
    return tuple(reversed(out))


def _tokens(seq: Sequence[Any]) -> list[str]:
    toks = [normalize_word(str(t)) for t in seq]
    if toks and toks[0] in SEQUENCE_MARKERS[0]:
        toks = toks[1:]
    if toks and toks[-1] in SEQUENCE_MARKERS[1]:
        toks = toks[:-1]
    return toks


def _says(seq: Sequence[Any]) -> str:
    return "“" + " ".join(str(t) for t in seq) + "”"


def compare_sequence(expected: Any, given: Any) -> Match:
    """Token sequences exactly (case, spacing, <BOS>/<EOS> ignored); a list of sequences
    item by item, in order."""
    if not _nested_tokens(expected):
        if _tokens(expected) == _tokens(given):
            return Match(Fraction(1))
        return Match(Fraction(0), [f"Expected {_says(expected)}, got {_says(given)}."])
    exp = [_tokens(s) for s in expected]
    got = [_tokens(s) for s in given]
    oks = [i < len(got) and got[i] == s for i, s in enumerate(exp)]
    score = Fraction(sum(oks), max(len(exp), len(got)))
    if score == 1:
        return Match(Fraction(1))
    lines = []
    if len(got) != len(exp):
        lines.append(f"Expected {len(exp)} sequences, got {len(got)}.")
    if sorted(map(tuple, got)) == sorted(map(tuple, exp)):
        lines.append("These are the right sequences in the wrong order (best first).")
    else:
        lines += [
            f"Sequence {i + 1} should be {_says(expected[i])}"
            + (f", not {_says(given[i])}." if i < len(given) else ".")
            for i, ok in enumerate(oks)
            if not ok
        ][:SHOWN_ENTRIES]
    return Match(score, lines)


def compare_choice(answer: Answer, given: frozenset[Any]) -> Match:
    want = expected_choice(answer)
    if want == given:
        return Match(Fraction(1))
    options = choice_options(answer.meta)

    def name(x: Any) -> str:
        if isinstance(x, int) and options:
            label, text = options[x]
            return f"({label}) {text}"
        return f"“{x}”"

    lines = [f"{', '.join(sorted(map(name, given)))} is not the answer."]
    strays = [x for x in given if not isinstance(x, int)]
    if strays and options:
        labels = ", ".join(label for label, _ in options)
        lines = [f"{', '.join(map(name, strays))} is not one of the options ({labels})."]
    if len(want) > 1 and not strays:
        lines.append(f"The answer has {len(want)} options.")
    return Match(Fraction(0), lines)


def compare_boolean(expected: Any, given: Any) -> Match:
    if isinstance(expected, list):
        oks = [i < len(given) and given[i] == v for i, v in enumerate(expected)]
        return Match(
            Fraction(sum(oks), max(len(expected), 1)),
            [] if all(oks) else [f"Expected {show(expected)}."],
        )
    ok = expected == given
    return Match(Fraction(int(ok)), [] if ok else [f"Expected {show(expected)}."])


def choice_native(answer: Answer, chosen: frozenset[Any]) -> Any:
    """The student's choice in the form the kind's value uses (label, text or index)."""
    options = choice_options(answer.meta)
    if not options or any(not isinstance(x, int) for x in chosen):
        return None
    v = answer.value
    many = isinstance(v, (list, tuple, set, frozenset))
    sample = next(iter(v)) if many and v else v
    if isinstance(sample, int):
        form = [i for i, _ in enumerate(options)]
    elif choice_index(str(sample), options) is not None and normalize_word(str(sample)) in [
        normalize_word(label) for label, _ in options
    ]:
        form = [label for label, _ in options]
    else:
        form = [text for _, text in options]
    picked = sorted(form[i] for i in chosen) if many else None
    return picked if many else (form[next(iter(chosen))] if len(chosen) == 1 else None)
