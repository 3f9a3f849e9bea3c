"""The reference pages of the documentation, generated from the code when the site is built.

Nothing here is written by hand: a kind's page is read off the declaration that
validates its problem files (the same one ``dlsolve kinds`` and ``dlsolve new``
print), its example is the template ``dlsolve new`` prints and its output is
what ``dlsolve solve`` prints for it; the command-line pages are click's own
``--help``; the output formats are the JSON Schema files shipped in
``solver/schemas/``. :func:`pages` returns them all for the site's build hook
(``solver/docs/hooks.py``), and the tests call it directly.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import describe, kinds, schemas
from ..given import type_doc
from . import examples

KINDS_DIR = "reference/kinds"


def _cell(text: Any) -> str:
    """A table cell: pipes escaped, so a meaning such as ‖W‖ or |x| cannot split the row, and
    braces as entities, so attr_list does not take a cell ending in ``{W1: [2, 2]}`` for
    attributes and drop it."""
    out = str(text).replace("|", "\\|").replace("\n", " ")
    return out.replace("{", "&#123;").replace("}", "&#125;")


def _table(headers: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _console(*lines: str) -> str:
    """A console block: each command after ``$`` and what it printed, run now."""
    body = []
    for line in lines:
        body += [f"$ {line}", examples.run(line).rstrip("\n")]
    return "```console\n" + "\n".join(body) + "\n```"


def _description(k: type[kinds.Kind]) -> str:
    """A kind's docstring after its summary line: what the page says before the tables."""
    paragraphs = (k.__doc__ or "").strip().split("\n\n")[1:]
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def kind_page(name: str) -> str:
    """One kind: what it computes, its given fields, answer keys, named mistakes, variants'
    promises, and an example with the output it really gives."""
    k = kinds.get(name)
    out = [f"# `{name}`", "", k.summary(), ""]
    if more := _description(k):
        out += [more, ""]
    out += [
        "## Given fields",
        "",
        f"The fields of a problem's `given:` (`dlsolve kinds {name}` prints the same).",
        "",
        _table(("field", "type", "default", "meaning"), describe.given_rows(name)),
        "",
        "## Answer keys",
        "",
    ]
    if k.keys:
        out += [
            "What `ask:`, `points:` and an answers file name. The type decides how a student's "
            "value is read and compared ([answers files](../answers.md)).",
            "",
            _table(("key", "type", "meaning"), [(f"`{x.pattern}`", x.type, x.doc) for x in k.keys]),
        ]
    else:
        out += ["None: the question is answered in prose, shown in solutions and not graded."]
    if k.misconceptions:
        out += ["", "## Mistakes the checker names", ""]
        out += [
            "A wrong answer equal to what one of these mistakes gives is marked wrong with the "
            "mistake named in its feedback.",
            "",
        ]
        out += [f"- {m}" for m in k.misconceptions]
    if k.nice:
        out += [
            "",
            "## What a variant keeps",
            "",
            "`dlsolve variants` draws new numbers so that:",
            "",
        ]
        out += [f"- {promise}" for promise in k.nice]
    file = f"{name}.yaml"
    template = examples.run(f"dlsolve new {name}")
    out += [
        "",
        "## Example",
        "",
        f"The template `dlsolve new {name}` prints, saved as `{file}`, solves as it is:",
        "",
        f'```yaml title="{file}"\n{template.rstrip()}\n```',
        "",
    ]
    with examples.workspace({file: template}):
        out += [_console(f"dlsolve solve {file}")]
        exported = examples.run(f"dlsolve export {file} -o -")
    out += [
        "",
        "### As `dlsolve export` writes it",
        "",
        "The same solution in Markdown with LaTeX maths, as handouts and solution sheets show it:",
        "",
        _worked(exported),
    ]
    return "\n".join(out) + "\n"


def _worked(markdown: str) -> str:
    """An exported solution from its givens on: the file's and problem's headings, and the
    template's placeholder question, are the page's business."""
    start = markdown.find("**Given")
    return (markdown[start:] if start >= 0 else markdown).strip()


def kinds_index() -> str:
    """The list of kinds with their summaries, and the field types they use."""
    rows = [(f"[`{n}`]({n}.md)", kinds.get(n).summary()) for n in kinds.names()]
    types: dict[str, str] = {}
    for n in kinds.names():
        for f in kinds.get(n).Given.model_fields.values():
            td = type_doc(f.annotation, f.metadata)
            types[td.name] = types.get(td.name) or td.doc
    out = [
        "# Problem kinds",
        "",
        "A problem's `kind:` says what it computes. Each kind's page lists the fields of its "
        "`given:`, the answer keys it produces, the mistakes the checker names and an example "
        "with the output dlsolve gives for it. The pages are generated from the same "
        "declarations that validate a problem file, so they cannot drift from what dlsolve "
        "accepts.",
        "",
        _table(("kind", "what it computes"), rows),
        "",
        "## Field types",
        "",
        "How a given field's type is written in a problem file. Numbers are exact: `0.1` "
        'means 1/10, and strings such as `"1/3"` or `"sqrt(2)/2"` are read exactly.',
        "",
        _table(("type", "written as"), sorted(types.items())),
    ]
    return "\n".join(out) + "\n"


def cli_page() -> str:
    """Every command's ``--help``, as click prints it."""
    import cli

    out = [
        "# Command line",
        "",
        "Every command and option, as `dlsolve COMMAND --help` prints it. Exit codes: 0 when "
        "all went well, 1 when an answer is wrong or missing (`check`), a cross-check disagrees "
        "(`verify`) or a reproduced claim does not hold (`reproduce`), 2 for unusable input, "
        "with one sentence naming the file, problem and field.",
        "",
        _console("dlsolve --help"),
    ]
    for name in cli.main.list_commands(None):  # type: ignore[arg-type]
        out += ["", f"## `{name}`", "", _console(f"dlsolve {name} --help")]
    return "\n".join(out) + "\n"


def _schema_rows(schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(property, type, meaning) for an object schema's properties, one level deep."""
    required = set(schema.get("required", ()))
    rows = []
    for prop, sub in schema.get("properties", {}).items():
        mark = "" if prop in required else " (optional)"
        rows.append((f"`{prop}`{mark}", _type(sub), sub.get("description", "")))
    return rows


def _type(sub: dict[str, Any]) -> str:
    """How a property's schema is named in the tables: its type, the definition it refers
    to, the values it may take."""
    if "$ref" in sub:
        return f"`{sub['$ref'].rsplit('/', 1)[-1]}`"
    if "enum" in sub:
        return "one of " + ", ".join(f"`{v}`" for v in sub["enum"])
    kind = sub.get("type", "any")
    if kind == "array" and "items" in sub:
        return f"array of {_type(sub['items'])}"
    if kind == "object" and isinstance(sub.get("additionalProperties"), dict):
        return f"object of {_type(sub['additionalProperties'])}"
    return " or ".join(kind) if isinstance(kind, list) else kind


def schemas_page() -> str:
    """The output formats: each shipped JSON Schema, described and in full."""
    out = [
        "# Output formats",
        "",
        "The JSON that dlsolve writes is described by JSON Schema files shipped in the package "
        "(`solver/schemas/`, also downloadable here); the test suite validates real output "
        "against them. Exact values are strings that sympy's parser reads back "
        '(`"-1 - 2*sqrt(3)/3"`), with their `float` beside them.',
    ]
    for name in schemas.NAMES:
        schema = schemas.load(name)
        out += ["", f"## {schema['title']}", "", schema["description"], ""]
        out += [f"Schema: [`{name}.schema.json`](../schemas/{name}.schema.json)"]
        if rows := _schema_rows(schema):
            out += ["", _table(("property", "type", "meaning"), rows)]
        for sub_name, sub in schema.get("$defs", {}).items():
            if sub.get("type") == "object" and sub.get("properties"):
                out += ["", f"**`{sub_name}`**: {sub.get('description', '')}", ""]
                out += [_table(("property", "type", "meaning"), _schema_rows(sub))]
        text = json.dumps(schema, indent=2, ensure_ascii=False)
        out += ["", f'??? note "The schema in full"\n\n    ```json\n{_indent(text)}\n    ```']
    return "\n".join(out) + "\n"


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else "" for line in text.splitlines())


def kind_names() -> list[str]:
    return kinds.names()


def assets() -> Iterator[tuple[str, Path]]:
    """Files the guides show that live elsewhere in the repository: (path in the site, file)."""
    yield "images/student-page.png", examples.ROOT / "tests" / "web" / "student-page.png"
    katex = examples.ROOT / "solver" / "web" / "static" / "katex"  # the student page's copy
    for path in sorted(katex.rglob("*")):
        if path.is_file():
            yield f"katex/{path.relative_to(katex).as_posix()}", path


def pages() -> tuple[tuple[str, str], ...]:
    """Every generated file of the site: (path under the docs folder, contents).

    Made once per process: the solver's code does not change under a running build (nor
    under ``mkdocs serve``, which does not reload it), and the tests and the site build of
    one test run then share the work."""
    return _pages()


@functools.cache
def _pages() -> tuple[tuple[str, str], ...]:
    return tuple(_generate())


def _generate() -> Iterator[tuple[str, str]]:
    yield f"{KINDS_DIR}/index.md", kinds_index()
    for name in kinds.names():
        yield f"{KINDS_DIR}/{name}.md", kind_page(name)
    yield "reference/cli.md", cli_page()
    yield "reference/formats.md", schemas_page()
    for name in schemas.NAMES:
        yield f"schemas/{name}.schema.json", schemas.text(name)
