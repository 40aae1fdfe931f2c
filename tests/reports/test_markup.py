"""HTML fragments escape every piece of data."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from healthlab.reports import markup

HOSTILE = "<b>Bold</b> \"Q\" & 'A' 🚀"


def test_escape_quotes_and_markup() -> None:
    assert markup.escape(HOSTILE) == (
        "&lt;b&gt;Bold&lt;/b&gt; &quot;Q&quot; &amp; &#x27;A&#x27; 🚀"
    )


@pytest.mark.parametrize(
    "builder",
    [
        lambda text: markup.heading(text),
        lambda text: markup.paragraph(text),
        lambda text: markup.bullets([text]),
        lambda text: markup.key_figures([(text, text, text)]),
        lambda text: markup.cover(text, text, text, text),
        lambda text: markup.notice(text),
        lambda text: markup.image(b"png", text, text),
        lambda text: markup.table(pd.DataFrame({"a": [text]}), {"a": text}),
    ],
)
def test_builders_never_emit_raw_markup(builder) -> None:
    fragment = builder(HOSTILE)
    assert "<b>Bold" not in fragment
    assert '"Q"' not in fragment
    assert "&lt;b&gt;Bold" in fragment


@pytest.mark.parametrize(
    ("formatter", "value", "expected"),
    [
        (markup.count, 12345.4, "12,345"),
        (markup.money, 1_234_567, "$1.2M"),
        (markup.money, 35_000, "$35k"),
        (markup.money, 980, "$980"),
        (markup.money, -2_000_000, "-$2.0M"),
        (markup.percent, 0.874, "87%"),
        (markup.change, -0.25, "-25%"),
        (markup.signed, 2.46, "+2.5"),
        (markup.number, math.nan, "n/a"),
        (markup.percent, None, "n/a"),
    ],
)
def test_formatters(formatter, value, expected: str) -> None:
    assert formatter(value) == expected


def test_table_aligns_numbers_and_shows_missing() -> None:
    frame = pd.DataFrame({"name": ["x", None], "n": [1.0, math.nan]})
    html = markup.table(frame, {"name": "Name", "n": "N"}, {"n": markup.count})
    assert html.count('class="num"') == 3  # header and two cells
    assert html.count("n/a") == 2
