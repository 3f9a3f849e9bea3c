"""The types a kind's ``given`` is made of, and the pydantic base its Given model extends.

Each type is an ``Annotated`` pydantic type with two jobs: turn what YAML
gives (ints, exact decimals, strings such as ``"1/3"`` or ``"sqrt(2)"``, nested
lists) into exact values, and describe itself for ``dlsolve kinds`` and
``dlsolve new``. Errors are :class:`~solver.errors.FieldError` with a path
into the value, so that the loader can point at the YAML line of a ragged row.

Rationals arrive as ``Fraction`` (never ``int``) so that a kind can divide
them without ever producing a float.
"""

from __future__ import annotations

import ast
import functools
import inspect
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict

from . import exact
from .errors import FieldError
from .parse import ParseError, parse_value


class GivenModel(BaseModel):
    """Base of every kind's Given: unknown fields are errors, values are exact and frozen.

    A field is documented by the string under it (an attribute docstring); see
    :func:`field_docs`. They are read only when ``dlsolve kinds`` or ``new`` asks:
    pydantic's own reading of them compiles every class's source at import.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)


def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """The attribute docstrings of a Given model's fields, inherited ones included."""
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        node = _class_node(cls)
        if node is None:
            continue
        for stmt, after in itertools.pairwise(node.body):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[stmt.target.id] = " ".join(after.value.value.split())
    return docs


def _class_node(cls: type) -> ast.ClassDef | None:
    """The class statement of ``cls`` in its module's syntax tree (None without a source)."""
    try:
        file = inspect.getsourcefile(cls)
        line = inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return None
    if file is None:
        return None
    for node in ast.walk(_module_tree(file)):
        if (
            isinstance(node, ast.ClassDef)
            and node.name == cls.__name__
            and (node.lineno == line or any(d.lineno == line for d in node.decorator_list))
        ):
            return node
    return None


@functools.lru_cache(maxsize=32)
def _module_tree(file: str) -> ast.Module:
    return ast.parse(Path(file).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class TypeDoc:
    """How a field type is named and explained in ``dlsolve kinds``."""

    name: str
    doc: str


def type_doc(annotation: Any, metadata: Sequence[Any] = ()) -> TypeDoc:
    """The TypeDoc of a field: in pydantic's ``metadata`` or the annotation (through Optional)."""
    for meta in metadata:
        if isinstance(meta, TypeDoc):
            return meta
    for arg in (annotation, *get_args(annotation)):
        for meta in getattr(arg, "__metadata__", ()):
            if isinstance(meta, TypeDoc):
                return meta
    if get_origin(annotation) is list:
        inner = type_doc(get_args(annotation)[0]) if get_args(annotation) else TypeDoc("value", "")
        return TypeDoc(f"list of {inner.name}", inner.doc)
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            doc = type_doc(arg)
            if doc.name != "value":
                return doc
    if annotation is bool:
        return TypeDoc("boolean", "true or false")
    if annotation is str:
        return TypeDoc("string", "text")
    if annotation is int:
        return TypeDoc("integer", "a whole number")
    return TypeDoc("value", "")


def _exact(value: Any, *, symbolic: bool) -> Any:
    try:
        x = parse_value(value)
    except ParseError as err:
        raise FieldError(str(err)) from None
    if isinstance(x, list):
        raise FieldError("expected a single number, got a list")
    if not symbolic and not (exact.is_rational(x) or isinstance(x, exact.Surd)):
        e = exact.to_sympy(x)
        if e.free_symbols:
            names = ", ".join(sorted(s.name for s in e.free_symbols))
            raise FieldError(f"expected a number, got an expression in {names}")
    return Fraction(x) if exact.is_rational(x) else x


def _scalar_validator(
    *, symbolic: bool, check: Callable[[Any], str | None] | None = None
) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        x = _exact(value, symbolic=symbolic)
        if check is not None:
            problem = check(x)
            if problem:
                raise FieldError(problem)
        return x

    return validate


def _sign_check(minimum: int, strict: bool, what: str) -> Callable[[Any], str | None]:
    def check(x: Any) -> str | None:
        try:
            s = exact.sign(x - minimum)
        except ValueError:
            return None  # a symbol: assumed to satisfy the condition
        if s < 0 or (strict and s == 0):
            return f"must be {what}, got {exact.unicode(x)}"
        return None

    return check


def _probability_check(x: Any) -> str | None:
    try:
        if exact.sign(x) < 0 or exact.sign(x - 1) >= 0:
            return f"must be a probability in [0, 1), got {exact.unicode(x)}"
    except ValueError:
        return None
    return None


#: numbers one given tensor may hold (256 × 256): each is solved exactly and shown in the
#: worked steps; a 128 × 128 LayerNorm takes about a second, a 1000 × 1000 one took 26 s,
#: 845 MB and 180 MB of JSON
MAX_ELEMENTS = 65_536


def _count_leaves(value: list[Any]) -> int:
    """How many numbers a nested list holds, counted without converting any (iteratively:
    a deep list must not exhaust the stack)."""
    count, todo = 0, [value]
    while todo:
        for v in todo.pop():
            if isinstance(v, list):
                todo.append(v)
            else:
                count += 1
        if count > MAX_ELEMENTS:
            break
    return count


def _tensor_validator(rank: int | None, *, symbolic: bool) -> Callable[[Any], Any]:
    def convert(value: Any, path: tuple[int, ...]) -> Any:
        if isinstance(value, list):
            return [convert(v, (*path, i)) for i, v in enumerate(value)]
        try:
            return _exact(value, symbolic=symbolic)
        except FieldError as err:
            raise FieldError(err.message, path=path) from None

    def validate(value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = parse_value(value)
            except ParseError as err:
                raise FieldError(str(err)) from None
        if not isinstance(value, list):
            want = "a list" if rank in (None, 1) else f"a nested list of rank {rank}"
            raise FieldError(f"expected {want}, got a single value")
        if _count_leaves(value) > MAX_ELEMENTS:
            raise FieldError(
                f"holds more than {MAX_ELEMENTS:,} numbers, the most a given tensor may hold: "
                "every number is solved exactly and shown in the steps, so a larger one "
                "would take minutes and gigabytes"
            )
        t = convert(value, ())
        try:
            shape = exact.shape(t)
        except exact.RaggedError as err:
            raise FieldError(str(err), path=err.path) from None
        if 0 in shape:
            raise FieldError("must not be empty")
        if rank is not None and len(shape) != rank:
            raise FieldError(
                f"expected a {_RANK_NAMES.get(rank, f'rank-{rank} tensor')}, "
                f"got shape {list(shape)}"
            )
        return t

    return validate


_RANK_NAMES = {1: "vector (a list of numbers)", 2: "matrix (a list of rows)"}


def _count_validator(minimum: int) -> Callable[[Any], int]:
    def validate(value: Any) -> int:
        if isinstance(value, str):
            try:
                value = parse_value(value)
            except ParseError as err:
                raise FieldError(str(err)) from None
        if (
            isinstance(value, bool)
            or not exact.is_rational(value)
            or Fraction(value).denominator != 1
        ):
            raise FieldError(f"expected a whole number, got {value!r}")
        n = int(value)
        if n < minimum:
            raise FieldError(f"must be at least {minimum}, got {n}")
        return n

    return validate


def pair_validator(minimum: int) -> Callable[[Any], tuple[int, int]]:
    """One whole number for both axes, or ``[height, width]`` (a kernel, stride or padding)."""
    count = _count_validator(minimum)

    def validate(value: Any) -> tuple[int, int]:
        if isinstance(value, (list, tuple)):
            if len(value) != 2:
                raise FieldError(f"expected one number or two [height, width], got {len(value)}")
            out = []
            for i, v in enumerate(value):
                try:
                    out.append(count(v))
                except FieldError as err:
                    raise FieldError(err.message, path=(i,)) from None
            return out[0], out[1]
        n = count(value)
        return n, n

    return validate


def _symbol_validator(value: Any) -> Any:
    """A dimension that may be a number or a symbol (``n`` for the batch size)."""
    if isinstance(value, str) and value.isidentifier():
        return exact.symbol(value)
    x = _exact(value, symbolic=True)
    return int(x) if exact.is_rational(x) and Fraction(x).denominator == 1 else x


Number = Annotated[
    Any,
    BeforeValidator(_scalar_validator(symbolic=False)),
    TypeDoc("number", 'exact number: 3, 0.1 (= 1/10), "1/3", "sqrt(2)/2"'),
]
Symbolic = Annotated[
    Any,
    BeforeValidator(_scalar_validator(symbolic=True)),
    TypeDoc("expression", 'exact number or formula in symbols: "eta", "1/2", "2*gamma"'),
]
NonNegative = Annotated[
    Any,
    BeforeValidator(_scalar_validator(symbolic=False, check=_sign_check(0, False, "≥ 0"))),
    TypeDoc("number ≥ 0", "exact number, not negative"),
]
Positive = Annotated[
    Any,
    BeforeValidator(_scalar_validator(symbolic=False, check=_sign_check(0, True, "> 0"))),
    TypeDoc("number > 0", "exact positive number"),
]
Probability = Annotated[
    Any,
    BeforeValidator(_scalar_validator(symbolic=False, check=_probability_check)),
    TypeDoc("probability", "exact number in [0, 1)"),
]
Vector = Annotated[
    Any,
    BeforeValidator(_tensor_validator(1, symbolic=False)),
    TypeDoc("vector", "list of exact numbers"),
]
Matrix = Annotated[
    Any,
    BeforeValidator(_tensor_validator(2, symbolic=False)),
    TypeDoc("matrix", "list of rows of exact numbers"),
]
Tensor = Annotated[
    Any,
    BeforeValidator(_tensor_validator(None, symbolic=False)),
    TypeDoc("tensor", "nested list of exact numbers, batch first"),
]
SymbolicTensor = Annotated[
    Any,
    BeforeValidator(_tensor_validator(None, symbolic=True)),
    TypeDoc("tensor", "nested list of numbers or symbols (w1, eta)"),
]


def _scalar_or_tensor(value: Any) -> Any:
    """A single number or formula, or a nested list of them (``theta: eta`` or a matrix)."""
    if isinstance(value, list) or (isinstance(value, str) and value.lstrip().startswith("[")):
        return _tensor_validator(None, symbolic=True)(value)
    return _scalar_validator(symbolic=True)(value)


SymbolicValue = Annotated[
    Any,
    BeforeValidator(_scalar_or_tensor),
    TypeDoc("value", "a number or formula, or a nested list of them"),
]
Count = Annotated[int, BeforeValidator(_count_validator(1)), TypeDoc("count", "whole number ≥ 1")]
Index = Annotated[
    int, BeforeValidator(_count_validator(0)), TypeDoc("integer ≥ 0", "whole number ≥ 0")
]
Pair = Annotated[
    Any, BeforeValidator(pair_validator(1)), TypeDoc("pair", "whole number ≥ 1, or [height, width]")
]
Dim = Annotated[
    Any, BeforeValidator(_symbol_validator), TypeDoc("size", "whole number, or a symbol such as n")
]
