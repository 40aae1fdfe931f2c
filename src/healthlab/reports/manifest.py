"""The batch manifest and index: what was rendered, from which inputs, and how.

One manifest per quarter and audience, in ``OUT/<quarter>/_internal/``, as
``manifest-<audience>.json`` (read back to skip unchanged reports and to resume
an interrupted batch) and ``manifest-<audience>.csv`` (for people). The JSON is
rewritten atomically after every finished client. ``index.html`` in the same
folder lists every client of the quarter for both editions; it lists clients,
so it is internal and never placed beside the client files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from healthlab._io import write_table, write_text_atomic
from healthlab.errors import ReportError
from healthlab.reports.markup import escape

INTERNAL_FOLDER = "_internal"
STATUSES = ("rendered", "skipped", "failed")
MANIFEST_VERSION = 1


@dataclass
class Entry:
    """One client's line in the manifest."""

    client_id: str
    client_name: str
    file_stem: str
    status: str
    duration_s: float = 0.0
    attempts: int = 0
    finished_at: str = ""
    input_key: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str = ""


def internal_folder(out: Path, quarter: str) -> Path:
    """Return ``OUT/<quarter>/_internal``."""
    return out / quarter / INTERNAL_FOLDER


def manifest_path(out: Path, quarter: str, audience: str) -> Path:
    """Return the JSON manifest path of a quarter and audience."""
    return internal_folder(out, quarter) / f"manifest-{audience}.json"


def read_manifest(path: Path) -> dict[str, Entry]:
    """Read a JSON manifest into ``{client_id: Entry}``; empty when missing.

    Raises
    ------
    ReportError
        If the file exists but is not a manifest written by healthlab.
    """
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        entries = {item["client_id"]: Entry(**item) for item in raw["clients"]}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ReportError(
            f"Cannot read the batch manifest {path}: {error}. Delete it and run "
            "again with --force to render every report anew."
        ) from None
    return entries


def write_manifest(
    path: Path, entries: Mapping[str, Entry], header: Mapping[str, Any]
) -> None:
    """Write the JSON manifest atomically, clients sorted by id."""
    body = {
        "format": MANIFEST_VERSION,
        **header,
        "clients": [asdict(entries[key]) for key in sorted(entries)],
    }
    write_text_atomic(path, json.dumps(body, indent=1, ensure_ascii=False))


def manifest_table(entries: Mapping[str, Entry]) -> pd.DataFrame:
    """Flatten entries to one row per client for the CSV manifest."""
    rows = []
    for key in sorted(entries):
        entry = entries[key]
        row: dict[str, Any] = {
            "client_id": entry.client_id,
            "client_name": entry.client_name,
            "file_stem": entry.file_stem,
            "status": entry.status,
            "duration_s": round(entry.duration_s, 3),
            "attempts": entry.attempts,
            "finished_at": entry.finished_at,
            "input_key": entry.input_key,
        }
        for name, value in sorted(entry.inputs.items()):
            row[f"{name}_sha256"] = value
        for fmt in ("html", "pdf"):
            row[f"{fmt}_sha256"] = entry.outputs.get(fmt, {}).get("sha256", "")
        row["error"] = entry.error
        rows.append(row)
    return pd.DataFrame(rows)


def write_csv(path: Path, entries: Mapping[str, Entry]) -> None:
    """Write the CSV manifest atomically."""
    write_table(manifest_table(entries), path)


def write_index(out: Path, quarter: str, label: str) -> Path:
    """Write ``index.html`` listing both editions of the quarter; return its path."""
    folder = internal_folder(out, quarter)
    sections = []
    for audience in ("client", "internal"):
        entries = read_manifest(manifest_path(out, quarter, audience))
        if not entries:
            continue
        counts = {
            status: sum(entry.status == status for entry in entries.values())
            for status in STATUSES
        }
        rows = []
        for key in sorted(entries, key=lambda item: entries[item].client_name.lower()):
            entry = entries[key]
            links = " ".join(
                f'<a href="../{escape(audience)}/{escape(entry.file_stem)}.{fmt}">'
                f"{fmt.upper()}</a>"
                for fmt in ("html", "pdf")
                if fmt in entry.outputs and entry.status != "failed"
            )
            rows.append(
                f'<tr class="{escape(entry.status)}"><td>{escape(entry.client_name)}'
                f"</td><td>{escape(entry.client_id)}</td>"
                f"<td>{escape(entry.status)}</td>"
                f'<td class="num">{entry.duration_s:.1f}</td>'
                f"<td>{links}</td><td>{escape(entry.error)}</td></tr>"
            )
        summary = ", ".join(f"{counts[status]} {status}" for status in STATUSES)
        sections.append(
            f"<h2>{escape(audience.capitalize())} edition</h2>"
            f"<p>{escape(summary)}</p>"
            "<table><thead><tr><th>Client</th><th>Id</th><th>Status</th>"
            "<th>Seconds</th><th>Files</th><th>Error</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>QBR reports {escape(label)} (internal)</title><style>"
        "body{font-family:'DejaVu Sans',sans-serif;margin:2rem;color:#1d2733}"
        "table{border-collapse:collapse;width:100%}"
        "td,th{border-bottom:1px solid #d5dbe1;padding:.25rem .5rem;text-align:left}"
        ".num{text-align:right}.failed td{background:#fbeeed}"
        "</style></head><body>"
        f"<h1>QBR reports, {escape(label)}</h1>"
        "<p>Internal batch index: it lists every client, so do not share it.</p>"
        f"{''.join(sections)}</body></html>"
    )
    path = folder / "index.html"
    write_text_atomic(path, page)
    return path
