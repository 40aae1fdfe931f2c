"""HTML fragments for report cells, with every piece of data escaped.

The report notebook shows its text and tables through these builders only, so a
client name such as ``<b>Acme</b> "Ltd"`` appears as text and never as markup.
Numbers are formatted here too, so the HTML and the PDF read the same.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

MISSING = "n/a"


def escape(value: object) -> str:
    """Return ``value`` as text with ``&``, ``<``, ``>`` and quotes escaped."""
    return html.escape(str(value), quote=True)


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def count(value: object) -> str:
    """Format a count with thousands separators: ``12,345``."""
    if _is_missing(value):
        return MISSING
    return f"{round(float(value)):,}"  # type: ignore[arg-type]


def money(value: object) -> str:
    """Format US dollars compactly: ``$1.2M``, ``$350k``, ``$980``."""
    if _is_missing(value):
        return MISSING
    amount = float(value)  # type: ignore[arg-type]
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount >= 1e6:
        return f"{sign}${amount / 1e6:,.1f}M"
    if amount >= 1e4:
        return f"{sign}${amount / 1e3:,.0f}k"
    return f"{sign}${amount:,.0f}"


def percent(value: object, digits: int = 0) -> str:
    """Format a share in [0, 1] as a percentage: ``0.874`` -> ``87%``."""
    if _is_missing(value):
        return MISSING
    return f"{100 * float(value):.{digits}f}%"  # type: ignore[arg-type]


def change(value: object) -> str:
    """Format a relative change with its sign: ``0.12`` -> ``+12%``."""
    if _is_missing(value):
        return MISSING
    return f"{100 * float(value):+.0f}%"  # type: ignore[arg-type]


def number(value: object, digits: int = 1) -> str:
    """Format a plain number with ``digits`` decimals."""
    if _is_missing(value):
        return MISSING
    return f"{float(value):,.{digits}f}"  # type: ignore[arg-type]


def signed(value: object, digits: int = 1) -> str:
    """Format a number with an explicit sign: ``+2.5``, ``-0.3``."""
    if _is_missing(value):
        return MISSING
    return f"{float(value):+,.{digits}f}"  # type: ignore[arg-type]


def heading(text: str, level: int = 2) -> str:
    """Return an escaped heading element ``<h2>`` (or the given level)."""
    return f"<h{level}>{escape(text)}</h{level}>"


def paragraph(text: str, css_class: str = "") -> str:
    """Return an escaped paragraph."""
    attribute = f' class="{escape(css_class)}"' if css_class else ""
    return f"<p{attribute}>{escape(text)}</p>"


def bullets(items: Iterable[str]) -> str:
    """Return an escaped bulleted list; an empty input gives an empty string."""
    entries = "".join(f"<li>{escape(item)}</li>" for item in items)
    return f"<ul>{entries}</ul>" if entries else ""


def key_figures(figures: Sequence[tuple[str, str, str]]) -> str:
    """Return a row of headline figures, each ``(label, value, note)``."""
    cells = "".join(
        '<div class="figure-card">'
        f'<div class="figure-value">{escape(value)}</div>'
        f'<div class="figure-label">{escape(label)}</div>'
        f'<div class="figure-note">{escape(note)}</div>'
        "</div>"
        for label, value, note in figures
    )
    return f'<div class="key-figures">{cells}</div>'


Formatter = Callable[[Any], str]


def table(
    frame: pd.DataFrame,
    columns: Mapping[str, str],
    formats: Mapping[str, Formatter] | None = None,
    caption: str = "",
) -> str:
    """Return an escaped HTML table of selected columns.

    Parameters
    ----------
    frame
        Rows to show, in order.
    columns
        ``{column: header}`` for the columns to show, in order.
    formats
        ``{column: formatter}``; columns with a formatter are right-aligned
        as numbers, the others are shown as text.
    caption
        Optional caption above the table.
    """
    formats = formats or {}
    header = "".join(
        f'<th class="{"num" if name in formats else "text"}">{escape(title)}</th>'
        for name, title in columns.items()
    )
    rows = []
    for record in frame.to_dict("records"):
        cells = []
        for name in columns:
            value = record.get(name)
            if name in formats:
                cells.append(f'<td class="num">{escape(formats[name](value))}</td>')
            else:
                shown = MISSING if _is_missing(value) else value
                cells.append(f'<td class="text">{escape(shown)}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    caption_html = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (
        f'<table class="data">{caption_html}<thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def image(png: bytes, alt: str, caption: str = "") -> str:
    """Return a figure element with the PNG inlined as a base64 data URL."""
    encoded = base64.b64encode(png).decode("ascii")
    caption_html = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return (
        f'<figure><img src="data:image/png;base64,{encoded}" alt="{escape(alt)}">'
        f"{caption_html}</figure>"
    )


def cover(client_name: str, period: str, prepared: str, edition: str) -> str:
    """Return the cover block; its running title feeds the PDF page header."""
    return (
        '<section class="cover">'
        f'<div class="running-title">{escape(client_name)} · {escape(period)}</div>'
        f'<div class="edition-label">{escape(edition)}</div>'
        '<p class="cover-kicker">Quarterly business review</p>'
        f'<h1 class="cover-title">{escape(client_name)}</h1>'
        f'<p class="cover-period">{escape(period)}</p>'
        f'<p class="cover-meta">Prepared {escape(prepared)} · {escape(edition)}</p>'
        "</section>"
    )


def notice(text: str) -> str:
    """Return an escaped, highlighted note (for example 'internal only')."""
    return f'<div class="notice">{escape(text)}</div>'


def show(fragment: str) -> None:
    """Display an HTML fragment as a cell output in the running notebook."""
    from IPython.display import HTML, display

    display(HTML(fragment))
