"""Per-client slices of a dataset: the only data a report notebook reads.

The batch loads and validates the whole dataset once, then writes each client's
rows to a slice folder: one Parquet file per table of
:data:`healthlab.tables.TABLES`, the client's monthly health scores
(``scores.parquet``, internal edition only), the client's open alerts
(``alerts.parquet``, when an alerts file was given) and ``slice.json``. The
notebook reads that folder without validating again, so the cost of one report
does not grow with the size of the portfolio, and the kernel never loads
another client's rows.

``slice.json`` records the client id, the last month of data in the whole
dataset (so a report can say whether its quarter is complete) and the content
hash of the slice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from healthlab._io import write_text_atomic
from healthlab.dataset import Dataset
from healthlab.errors import ParameterError
from healthlab.tables import TABLE_NAMES

MARKER = "slice.json"
SCORES_FILE = "scores.parquet"
ALERTS_FILE = "alerts.parquet"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ClientSlice:
    """One client's rows, as read back from a slice folder."""

    client_id: str
    data: Dataset
    dataset_last_month: pd.Timestamp | None
    scores: pd.DataFrame | None
    alerts: pd.DataFrame | None


class SliceIndex:
    """Row positions of each client in each table, built once per dataset.

    Selecting a client by a boolean mask scans every row of every table, so
    slicing a whole portfolio that way costs clients times rows. The index
    groups the rows once; each slice then costs only its own rows.
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame]) -> None:
        self._tables = dict(tables)
        self._positions = {
            name: frame.groupby("client_id", sort=False).indices
            for name, frame in self._tables.items()
        }

    @classmethod
    def of_dataset(cls, data: Dataset) -> SliceIndex:
        """Index the seven tables of a dataset."""
        return cls({name: data.table(name) for name in TABLE_NAMES})

    def client_ids(self) -> list[str]:
        """Return the ids in the clients table, in table order."""
        return [str(value) for value in self._tables["clients"]["client_id"]]

    def tables_for(self, client_id: str) -> dict[str, pd.DataFrame]:
        """Return one client's rows of every indexed table (possibly empty)."""
        empty = np.array([], dtype=np.intp)
        return {
            name: frame.iloc[self._positions[name].get(client_id, empty)].reset_index(
                drop=True
            )
            for name, frame in self._tables.items()
        }


def frame_hash(frame: pd.DataFrame) -> str:
    """Return a SHA-256 of a frame's column names, dtypes and values."""
    digest = hashlib.sha256()
    digest.update(json.dumps([list(map(str, frame.columns))]).encode())
    digest.update(json.dumps([str(dtype) for dtype in frame.dtypes]).encode())
    values = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest.update(values.tobytes())
    return digest.hexdigest()


def tables_hash(tables: Mapping[str, pd.DataFrame | None]) -> str:
    """Return one SHA-256 over several named frames, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tables):
        frame = tables[name]
        digest.update(name.encode())
        digest.update(b"none" if frame is None else frame_hash(frame).encode())
    return digest.hexdigest()


def write_slice(
    folder: str | Path,
    client_id: str,
    tables: Mapping[str, pd.DataFrame],
    *,
    dataset_last_month: pd.Timestamp | None,
    scores: pd.DataFrame | None = None,
    alerts: pd.DataFrame | None = None,
) -> str:
    """Write one client's slice folder and return its content hash.

    ``tables`` maps every name in :data:`healthlab.tables.TABLE_NAMES` to that
    client's rows. ``slice.json`` is written last, so a folder without it is
    an incomplete slice.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).unlink(missing_ok=True)
    for name in TABLE_NAMES:
        tables[name].to_parquet(folder / f"{name}.parquet", index=False)
    for file, frame in ((SCORES_FILE, scores), (ALERTS_FILE, alerts)):
        if frame is None:
            (folder / file).unlink(missing_ok=True)
        else:
            frame.to_parquet(folder / file, index=False)
    content = tables_hash({**tables, "scores": scores, "alerts": alerts})
    meta: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "client_id": client_id,
        "dataset_last_month": (
            None if dataset_last_month is None else dataset_last_month.isoformat()
        ),
        "content_hash": content,
    }
    write_text_atomic(folder / MARKER, json.dumps(meta, indent=1))
    return content


def is_slice(folder: str | Path) -> bool:
    """Return True if ``folder`` is a slice folder written by :func:`write_slice`."""
    return (Path(folder) / MARKER).is_file()


def read_slice(folder: str | Path) -> ClientSlice:
    """Read a slice folder back into a one-client dataset.

    Raises
    ------
    ParameterError
        If the folder is not a complete slice written by this version.
    """
    folder = Path(folder)
    try:
        meta = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ParameterError(
            f"Cannot read the client slice in {folder}: {error}. "
            "Render the report again with `healthlab render`."
        ) from None
    if meta.get("format") != FORMAT_VERSION:
        raise ParameterError(
            f"The client slice in {folder} has format {meta.get('format')!r}, "
            f"but this healthlab reads format {FORMAT_VERSION}; render again."
        )
    tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLE_NAMES}
    optional = {
        file: pd.read_parquet(folder / file) if (folder / file).is_file() else None
        for file in (SCORES_FILE, ALERTS_FILE)
    }
    last = meta.get("dataset_last_month")
    return ClientSlice(
        client_id=str(meta["client_id"]),
        data=Dataset(source=folder, **tables),
        dataset_last_month=None if last is None else pd.Timestamp(last),
        scores=optional[SCORES_FILE],
        alerts=optional[ALERTS_FILE],
    )
