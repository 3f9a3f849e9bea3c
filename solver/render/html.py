"""One self-contained HTML page of worked solutions (or a handout), to print to PDF.

The page is the Markdown renderer's output laid out as HTML, with the package's
vendored KaTeX (``solver.web.KATEX_DIR``, the copy the student page uses) inlined:
its script, its stylesheet and its fonts as data URIs, so that the file opens
offline, can be mailed as it is, and a browser's "Print to PDF" gives a clean
handout (print styles: A4 margins, tables and equations kept whole, wide maths
shrunk to the page rather than clipped).

Only the Markdown this package writes is read here (headings, paragraphs, ``$$``
displays, pipe tables, bullet lists, ``**bold**``, ``*italics*``, `` `code` `` and
``$...$``); prose arrives escaped from the Markdown renderer, maths and code are
escaped here.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from functools import cache

from ..web import KATEX_DIR
from . import markdown

_INLINE = re.compile(r"(\$[^$\n]+\$|`[^`\n]+`)")
_FONT_SRC = re.compile(r"src:url\(fonts/([\w-]+)\.woff2\) format\(\"woff2\"\)[^;}]*")

PAGE_CSS = """
body { font: 16px/1.5 "DejaVu Serif", Georgia, serif; margin: 0; color: #111; }
main { max-width: 46rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
code { font: 0.9em "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; max-width: 100%; }
th, td { border: 1px solid #bbb; padding: 0.15rem 0.4rem; text-align: left; }
table { font-size: 0.9em; } th { font-weight: 600; }
th { overflow-wrap: anywhere; }  /* a table of many columns shrinks to the page */
table.many { font-size: 0.75em; }
td.r { text-align: right; }
.display { margin: 0.6rem 0; max-width: 100%; overflow-x: auto; overflow-y: hidden; }
.katex-display { margin: 0; }
ul { padding-left: 1.4rem; }
@page { size: A4; margin: 16mm 14mm; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  .display { overflow: visible; }
  h1, h2 { break-after: avoid; }
  table, .display, li { break-inside: avoid; }
}
"""

#: renders every formula once KaTeX is loaded; a display too wide for the page is scaled
#: down to fit (on screen and in print) instead of running off the paper
RENDER_JS = """
document.querySelectorAll(".math").forEach(function (el) {
  katex.render(el.textContent, el, {
    displayMode: el.classList.contains("display"), throwOnError: false
  });
});
function fit() {
  document.querySelectorAll(".display").forEach(function (el) {
    var inner = el.firstElementChild;
    if (inner) inner.style.fontSize = "";
    var room = el.clientWidth, need = el.scrollWidth;
    if (inner && need > room) {
      inner.style.fontSize = (Math.floor(1000 * room / need) / 10) + "%";
    }
  });
  document.body.setAttribute("data-rendered", "1");
}
document.fonts.ready.then(fit);
window.addEventListener("beforeprint", fit);
"""


@cache
def katex_css() -> str:
    """KaTeX's stylesheet with its WOFF2 fonts inlined as data URIs (every browser that
    runs KaTeX reads WOFF2, so the WOFF and TTF fallbacks are dropped)."""
    css = (KATEX_DIR / "katex.min.css").read_text(encoding="utf-8")

    def inline(m: re.Match[str]) -> str:
        data = (KATEX_DIR / "fonts" / f"{m.group(1)}.woff2").read_bytes()
        uri = "data:font/woff2;base64," + base64.b64encode(data).decode("ascii")
        return f'src:url({uri}) format("woff2")'

    return _FONT_SRC.sub(inline, css)


def _inline(text: str) -> str:
    """One line of Markdown prose as HTML: maths and code escaped, emphasis marked."""
    kept: list[str] = []

    def keep(m: re.Match[str]) -> str:
        part = m.group(0)
        if part.startswith("$"):
            kept.append(f'<span class="math">{html.escape(part[1:-1])}</span>')
        else:
            kept.append(f"<code>{html.escape(part[1:-1])}</code>")
        return f"\x00{len(kept) - 1}\x00"

    prose = _INLINE.sub(keep, text)  # the rest was escaped by the Markdown renderer
    prose = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", prose)
    prose = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", prose)
    prose = prose.replace(r"\_", "_").replace(r"\|", "|")
    return re.sub("\x00(\\d+)\x00", lambda m: kept[int(m.group(1))], prose)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def from_markdown(md: str) -> str:
    """The body HTML of this package's Markdown."""
    lines = md.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.strip() == "$$":
            j = lines.index("$$", i + 1) if "$$" in lines[i + 1 :] else len(lines)
            latex = "\n".join(lines[i + 1 : j])
            out.append(f'<div class="display math">{html.escape(latex)}</div>')
            i = j + 1
        elif m := re.match(r"(#{1,6}) (.*)", line):
            n = len(m.group(1))
            out.append(f"<h{n}>{_inline(m.group(2))}</h{n}>")
            i += 1
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            align = ["r" if c.endswith(":") and not c.startswith(":") else "" for c in rows[1]]
            # a long field name (num_embeddings) may break after its underscores
            head = "".join(f"<th>{_inline(c).replace('_', '_<wbr>')}</th>" for c in rows[0])
            body = "".join(
                "<tr>"
                + "".join(
                    f'<td class="{a}">{_inline(c)}</td>' if a else f"<td>{_inline(c)}</td>"
                    for c, a in zip(row, align, strict=False)
                )
                + "</tr>"
                for row in rows[2:]
            )
            many = ' class="many"' if len(rows[0]) > 7 else ""
            out.append(f"<table{many}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
        else:
            para = []
            while (
                i < len(lines)
                and lines[i].strip()
                and not lines[i].startswith(("|", "- ", "#"))
                and lines[i].strip() != "$$"
            ):
                para.append(_inline(lines[i]))
                i += 1
            out.append("<p>" + "\n".join(para) + "</p>")
    return "\n".join(out)


def page(body: str, title: str) -> str:
    """A whole page: the body with KaTeX's script, styles and fonts inlined."""
    js = (KATEX_DIR / "katex.min.js").read_text(encoding="utf-8").replace("</script", "<\\/script")
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>{katex_css()}</style>\n<style>{PAGE_CSS}</style>\n</head>\n<body>\n"
        f"<main>\n{body}\n</main>\n<script>{js}</script>\n<script>{RENDER_JS}</script>\n"
        "</body>\n</html>\n"
    )


def render(solved: Sequence[object], *, steps: bool = True, answers: bool = True) -> str:
    """Every solved file as one self-contained HTML page (``answers=False``: a handout)."""
    md = markdown.render(solved, steps=steps, answers=answers)
    titles = [getattr(ss, "title", None) or str(getattr(ss, "path", "")) for ss in solved]
    title = "; ".join(t for t in titles if t) or "dlsolve"
    return page(from_markdown(md), title + ("" if answers else " (questions)"))
