"""Random graphs for property tests: op sequences over small integer tensors."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

LEAVES = {"A": (2, 3), "B": (3, 2), "u": (3,), "v": (2,), "c": ()}

RATIONAL_UNARY = ["relu({})", "-{}", "({})^2", "abs({})", "leaky_relu({}, 0.5)", "{} * 3 - 1"]
TRANSCENDENTAL_UNARY = ["sigmoid({})", "tanh({})", "exp({})", "softmax({})", "sin({})", "cos({})"]


@st.composite
def graphs(draw: Any, transcendental: bool = False) -> tuple[dict[str, Any], list[str]]:
    """Given values (small integers) and compute lines ending in a scalar L."""
    values = {name: draw(_ints(shape)) for name, shape in LEAVES.items()}
    pool: dict[str, tuple[int, ...]] = dict(LEAVES)
    lines: list[str] = []
    steps = draw(st.integers(2, 5))
    used_transcendental = False
    for i in range(steps):
        name = f"n{i}"
        kind = draw(st.sampled_from(["unary", "binary", "matmul", "reduce", "T"]))
        if kind == "unary":
            src = draw(st.sampled_from(sorted(pool)))
            ops = list(RATIONAL_UNARY)
            if transcendental and not used_transcendental:
                ops += TRANSCENDENTAL_UNARY
            op = draw(st.sampled_from(ops))
            if op.startswith("softmax") and not pool[src]:
                op = "relu({})"
            used_transcendental = used_transcendental or op in TRANSCENDENTAL_UNARY
            lines.append(f"{name} = {op.format(src)}")
            pool[name] = pool[src]
        elif kind == "binary":
            a = draw(st.sampled_from(sorted(pool)))
            same = sorted(n for n, s in pool.items() if s == pool[a] or s == ())
            b = draw(st.sampled_from(same))
            op = draw(st.sampled_from(["+", "-", "*"]))
            lines.append(f"{name} = {a} {op} {b}")
            pool[name] = pool[a] if pool[a] else pool[b]
        elif kind == "matmul":
            pairs = [(a, b) for a in pool for b in pool if _chain(pool[a], pool[b]) is not None]
            a, b = draw(st.sampled_from(sorted(pairs)))
            lines.append(f"{name} = {a} @ {b}")
            pool[name] = _chain(pool[a], pool[b])  # type: ignore[assignment]
        elif kind == "reduce":
            src = draw(st.sampled_from(sorted(n for n, s in pool.items() if s)))
            fn = draw(st.sampled_from(["sum", "mean", "max"]))
            if len(pool[src]) == 2 and draw(st.booleans()):
                axis = draw(st.integers(0, 1))
                lines.append(f"{name} = {fn}({src}, axis={axis})")
                pool[name] = tuple(d for k, d in enumerate(pool[src]) if k != axis)
            else:
                lines.append(f"{name} = {fn}({src})")
                pool[name] = ()
        else:
            src = draw(st.sampled_from(sorted(n for n, s in pool.items() if len(s) == 2)))
            lines.append(f"{name} = {src}.T")
            pool[name] = tuple(reversed(pool[src]))
    last = f"n{steps - 1}"
    lines.append(
        f"L = sum({last} * {last}) + sum({last})" if pool[last] else f"L = {last} * {last} + {last}"
    )
    return values, lines


def _chain(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    if not a or not b or len(a) > 2 or len(b) > 2 or a[-1] != b[0]:
        return None
    return a[:-1] + b[1:]


def _ints(shape: tuple[int, ...]) -> Any:
    if not shape:
        return st.integers(-2, 2)
    return st.lists(_ints(shape[1:]), min_size=shape[0], max_size=shape[0])
