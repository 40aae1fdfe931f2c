"""Test data for the report tests: a sample portfolio with distinctive clients.

The sample generator's client ids (``0001``) are short digit strings that can
occur inside unrelated numbers, so :func:`make_portfolio` renames every id to
``K<digits>Q`` in all tables, and gives four clients names with markup, quotes,
path separators, Greek, Japanese and emoji. Scans for other clients' ids and
names in a report can then assert zero hits without false alarms.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd

from healthlab.sample import generate_portfolio
from healthlab.tables import TABLE_NAMES

QUARTER = "2026Q3"

SPECIAL_NAMES = (
    '<b>Zanzibar</b> "Quoted" & <i>Sons</i>',
    "Ωμέγα Κοσμήματα Zeta",
    "東京ヴァルキリー商事",
    "Rocket 🚀 Gear/Outlet\\Depot",
)


def new_id(old: str) -> str:
    """Return the distinctive test id of a sample id: ``0042`` -> ``K0042Q``."""
    return f"K{old}Q"


def make_portfolio(folder: Path, n_clients: int = 24, seed: int = 11) -> Path:
    """Write a sample portfolio with distinctive ids and four special names.

    The special names go to the first four clients that have data in
    :data:`QUARTER`.
    """
    generate_portfolio(folder, n_clients=n_clients, n_months=24, seed=seed)
    tables = {
        name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in TABLE_NAMES
    }
    for frame in tables.values():
        frame["client_id"] = frame["client_id"].map(new_id)

    usage = tables["usage"]
    active = list(dict.fromkeys(usage.loc[usage["month"] >= "2026-07-01", "client_id"]))
    clients = tables["clients"]
    for client_id, name in zip(active, SPECIAL_NAMES, strict=False):
        clients.loc[clients["client_id"] == client_id, "client_name"] = name
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def active_clients(folder: Path) -> list[str]:
    """Return the ids with usage in the last quarter, in table order."""
    usage = pd.read_csv(folder / "usage.csv", dtype=str)
    return list(dict.fromkeys(usage.loc[usage["month"] >= "2026-07-01", "client_id"]))


def inactive_clients(folder: Path) -> list[str]:
    """Return the ids without any usage or operations in the last quarter."""
    clients = pd.read_csv(folder / "clients.csv", dtype=str)["client_id"]
    return [item for item in clients if item not in set(active_clients(folder))]


_DATA_URL = re.compile(r"data:[a-z/+.-]+;base64,[A-Za-z0-9+/=\s]+")


def visible_text(page: str) -> str:
    """Return an HTML page with data URLs removed, plus its unescaped form."""
    stripped = _DATA_URL.sub("data:", page)
    return stripped + "\n" + html.unescape(stripped)


def pdf_text(path: Path) -> str:
    """Return the text of a PDF via pdftotext."""
    import subprocess

    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
