"""HTML building blocks of the report: escaping, numbers, tables, the page.

Every piece of text goes through :func:`h`, which escapes it unless it is
:class:`Markup` (HTML built here from escaped parts). So a feature called
``<b>x&y</b>`` shows as written and cannot change the page.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["CSS", "Markup", "fixed", "h", "integer", "num", "page", "table"]

# Typographic characters, named: ruff (rightly) flags look-alikes written as they are.
MINUS = "\N{MINUS SIGN}"
NDASH = "\N{EN DASH}"
SIGMA = "\N{GREEK SMALL LETTER SIGMA}"
TIMES = "\N{MULTIPLICATION SIGN}"


class Markup(str):
    """A string of HTML that is safe to insert as it is."""

    __slots__ = ()


def h(value: Any) -> Markup:
    """``value`` as HTML: escaped text, or itself if it is already :class:`Markup`."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def join(parts: Iterable[Any], sep: str = "") -> Markup:
    """Concatenate pieces of HTML (text pieces are escaped)."""
    return Markup(h(sep).join(h(p) for p in parts))


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def num(value: float | None, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits, in fixed notation where readable."""
    if missing(value):
        return "—"
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    magnitude = math.floor(math.log10(abs(value)))
    if -3 <= magnitude < 6:
        return f"{value:,.{max(digits - 1 - magnitude, 0)}f}"
    return f"{value:.{digits - 1}e}"


def fixed(value: float | None, decimals: int = 2) -> str:
    """``value`` with ``decimals`` decimals and thousands separators (criteria, likelihoods)."""
    return "—" if missing(value) else f"{float(value):,.{decimals}f}"


def integer(value: int) -> str:
    """An integer with thousands separators."""
    return f"{int(value):,}"


def cell(content: Any, cls: str | None = None, header: bool = False, **attrs: Any) -> Markup:
    """One ``<td>`` (or ``<th>``) with an optional class and attributes."""
    name = "th" if header else "td"
    if cls:
        attrs = {"class": cls, **attrs}
    rendered = "".join(f' {key}="{h(value)}"' for key, value in attrs.items())
    return Markup(f"<{name}{rendered}>{h(content)}</{name}>")


def table(
    header: Sequence[Any],
    rows: Sequence[Sequence[Any]],
    *,
    numeric: Iterable[int] = (),
    row_classes: Sequence[str | None] | None = None,
    id: str | None = None,
) -> Markup:
    """A ``<table>`` whose ``numeric`` columns are right-aligned.

    A cell may itself be a ``<td>`` from :func:`cell`, to give it a class of its own.
    """
    numeric = set(numeric)

    def render(i: int, value: Any) -> Markup:
        if isinstance(value, Markup) and value.startswith("<td"):
            return value
        return cell(value, "num" if i in numeric else None)

    head = join(
        cell(v, "num" if i in numeric else None, header=True, scope="col")
        for i, v in enumerate(header)
    )
    body = []
    for r, row in enumerate(rows):
        row_cls = row_classes[r] if row_classes is not None else None
        opening = f'<tr class="{h(row_cls)}">' if row_cls else "<tr>"
        body.append(f"{opening}{join(render(i, v) for i, v in enumerate(row))}</tr>")
    attrs = f' id="{h(id)}"' if id else ""
    return Markup(
        f'<div class="scroll"><table{attrs}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(body)
        + "\n</tbody></table></div>"
    )


def key_values(rows: Sequence[tuple[Any, Any]], id: str | None = None) -> Markup:
    """A two-column table of labelled values."""
    body = "\n".join(
        f'<tr><th scope="row">{h(key)}</th><td>{h(value)}</td></tr>' for key, value in rows
    )
    attrs = f' id="{h(id)}"' if id else ""
    return Markup(f'<table class="kv"{attrs}>\n<tbody>\n{body}\n</tbody></table>')


def image(png: bytes, alt: str, width: int, height: int, id: str | None = None) -> Markup:
    """An ``<img>`` holding ``png`` as a data URL, so the file needs nothing beside it."""
    data = base64.b64encode(png).decode("ascii")
    attrs = f' id="{h(id)}"' if id else ""
    return Markup(
        f'<img{attrs} src="data:image/png;base64,{data}" alt="{h(alt)}" '
        f'width="{int(width)}" height="{int(height)}">'
    )


# Inline, so the file is self-contained; no web fonts, the reader's system font.
CSS = """
:root {
  --fg: #1d2330; --muted: #5b6475; --line: #dde1e8; --head: #f1f3f6;
  --accent: #2b6cb0; --best: #cdebd3; --top: #eaf6ec; --fail: #fbe7e7; --failfg: #8a1c1c;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: #f5f6f8; color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Liberation Sans", sans-serif;
}
main { max-width: 1160px; margin: 0 auto; padding: 20px 32px 40px; background: #fff; }
h1 { font-size: 1.55em; margin: 0.2em 0 0.1em; }
h2 { font-size: 1.2em; margin: 1.8em 0 0.6em; padding-bottom: 0.25em;
     border-bottom: 2px solid var(--line); }
h3 { font-size: 1em; margin: 1.2em 0 0.4em; }
p { margin: 0.5em 0; }
.meta, .note, figcaption { color: var(--muted); font-size: 0.9em; }
.callout { background: #f2f6fb; border-left: 4px solid var(--accent); padding: 8px 14px;
           margin: 12px 0; }
nav { margin: 10px 0 0; font-size: 0.92em; }
nav a { color: var(--accent); text-decoration: none; margin-right: 1.1em; }
nav a:hover { text-decoration: underline; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 0.92em; }
th, td { padding: 3px 10px; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; }
thead th { background: var(--head); font-weight: 600; border-bottom: 2px solid var(--line); }
tbody th { font-weight: normal; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv th { color: var(--muted); padding-right: 24px; }
tr.best > *, td.best { background: var(--best); font-weight: 600; }
tr.top > *, td.top { background: var(--top); }
tr.failed > *, td.failed { background: var(--fail); color: var(--failfg); }
td.error { white-space: normal; max-width: 28em; }
.swatch { display: inline-block; width: 0.85em; height: 0.85em; border-radius: 2px;
          margin-right: 6px; vertical-align: -1px; border: 1px solid rgba(0, 0, 0, 0.25); }
details { margin: 8px 0 14px; }
details > summary { cursor: pointer; color: var(--accent); }
ul.failures { margin: 4px 0 12px; color: var(--failfg); }
figure { margin: 14px 0 26px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { margin-top: 4px; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr));
           gap: 0 24px; align-items: start; }
.figures figure.wide { grid-column: 1 / -1; }
.matrices { display: flex; flex-wrap: wrap; gap: 6px 28px; }
footer { margin-top: 36px; color: var(--muted); font-size: 0.85em; }
"""

# Nothing may be fetched: only inline styles and data: images are allowed, so a
# stray external reference would be blocked (and reported) rather than loaded.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def page(title: str, body: Markup, generator: str) -> str:
    """The whole HTML5 document around ``body``."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{h(CSP)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="{h(generator)}">\n'
        # An empty icon: without one a browser asks the server for /favicon.ico.
        '<link rel="icon" href="data:,">\n'
        f"<title>{h(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
