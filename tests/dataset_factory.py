"""Shared test helpers: a tiny valid dataset that tests can break one cell at a time.

``make_dataset(tmp_path, **overrides)`` writes two clients (``0001`` and
``0002``) with three months of data, January to March 2026, in every table.
Import it with ``from dataset_factory import make_dataset``, or use the
``dataset_dir`` fixture of ``conftest.py`` for the unchanged dataset. The module
has its own name because every test folder has a ``conftest`` module.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

BASE_TABLES: dict[str, str] = {
    "clients": (
        "client_id,client_name,segment,tier,arr_usd,contract_start,renewal_date,"
        "licensed_seats,csm\n"
        "0001,Acme & Co,enterprise,premium,120000,2024-01-01,2027-01-01,50,Dana Reyes\n"
        "0002,Blue Owl,smb,essentials,15000,2025-06-01,2027-06-01,10,Sam Patel\n"
    ),
    "usage": (
        "client_id,month,active_users,logins\n"
        "0001,2026-01-01,40,900\n"
        "0001,2026-02-01,42,950\n"
        "0001,2026-03-01,38,870\n"
        "0002,2026-01-01,6,80\n"
        "0002,2026-02-01,5,70\n"
        "0002,2026-03-01,4,52\n"
    ),
    "nps": (
        "client_id,response_date,respondent_id,score\n"
        "0001,2026-01-15,r1,9\n"
        "0001,2026-02-20,r2,7\n"
        "0002,2026-03-03,r3,4\n"
    ),
    "operations": (
        "client_id,month,channel,infringement_type,detections,enforcement_requested,"
        "removals_confirmed,median_days_to_removal\n"
        "0001,2026-01-01,marketplace,counterfeit,120,100,90,3.5\n"
        "0001,2026-01-01,social_media,impersonation,30,20,15,6\n"
        "0001,2026-02-01,marketplace,counterfeit,110,95,88,3.2\n"
        "0001,2026-02-01,social_media,impersonation,25,18,14,5.5\n"
        "0001,2026-03-01,marketplace,counterfeit,130,104,97,3.1\n"
        "0001,2026-03-01,social_media,impersonation,28,21,16,5\n"
        "0002,2026-01-01,marketplace,counterfeit,12,10,7,4\n"
        "0002,2026-01-01,website,copyright,3,0,0,\n"
        "0002,2026-02-01,marketplace,counterfeit,10,8,5,4.5\n"
        "0002,2026-02-01,website,copyright,2,2,1,9\n"
        "0002,2026-03-01,marketplace,counterfeit,9,7,4,5\n"
        "0002,2026-03-01,website,copyright,4,1,0,\n"
    ),
    "economic_impact": (
        "client_id,month,avg_listing_price_usd,est_units_per_listing\n"
        "0001,2026-01-01,85.5,12\n"
        "0001,2026-02-01,82,11.5\n"
        "0001,2026-03-01,90,12.5\n"
        "0002,2026-01-01,30,4\n"
        "0002,2026-02-01,28.75,4\n"
        "0002,2026-03-01,31,3.5\n"
    ),
    "qbr_meetings": (
        "client_id,meeting_date,sentiment,objectives_met,objectives_total,"
        "internal_notes\n"
        '0001,2026-01-20,positive,3,4,"Wants marketplace coverage in Japan, too"\n'
        "0002,2026-02-11,negative,1,3,\n"
    ),
    "renewals": (
        "client_id,renewal_date,outcome,arr_usd\n0001,2026-01-01,renewed,110000\n"
    ),
}
"""The CSV text of every table of the minimal valid dataset."""


def make_dataset(
    tmp_path: Path, **overrides: str | bytes | pd.DataFrame | None
) -> Path:
    """Write the minimal valid dataset to ``tmp_path/dataset`` and return the folder.

    Each keyword is a table name. Its value replaces that table: ``str`` is
    written as the CSV text, ``bytes`` as the raw file content (for encoding
    tests), a DataFrame as CSV without its index, and ``None`` leaves the file
    out. Tables not named are written from :data:`BASE_TABLES`.
    """
    unknown = set(overrides) - set(BASE_TABLES)
    if unknown:
        raise ValueError(f"unknown tables {sorted(unknown)}; use {list(BASE_TABLES)}")
    folder = tmp_path / "dataset"
    folder.mkdir(parents=True, exist_ok=True)
    for name, base in BASE_TABLES.items():
        content = overrides.get(name, base)
        target = folder / f"{name}.csv"
        if content is None:
            continue
        if isinstance(content, pd.DataFrame):
            content.to_csv(target, index=False)
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return folder
