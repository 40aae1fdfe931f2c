"""Reading a dataset folder into typed pandas tables.

CONTRACT (implementation in progress): ``load_dataset`` reads every table in
:data:`healthlab.tables.TABLES` from ``<folder>/<table>.csv`` or ``.parquet``,
applies an optional column mapping, validates with
:func:`healthlab.validation.validate_frames` and returns a :class:`Dataset` with
these dtypes: ids and free text as ``str`` (object or string dtype, never
numeric), dates and months as ``datetime64[ns]`` (months on the first day),
counts as ``int64``, amounts as ``float64``, categories as ``str``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Dataset:
    """The validated tables of one dataset folder."""

    source: Path
    clients: pd.DataFrame
    usage: pd.DataFrame
    nps: pd.DataFrame
    operations: pd.DataFrame
    economic_impact: pd.DataFrame
    qbr_meetings: pd.DataFrame
    renewals: pd.DataFrame

    def table(self, name: str) -> pd.DataFrame:
        """Return a table by its name in :data:`healthlab.tables.TABLES`."""
        frame: pd.DataFrame = getattr(self, name)
        return frame

    def for_client(self, client_id: str) -> Dataset:
        """Return a dataset that holds only one client's rows."""
        raise NotImplementedError

    @property
    def last_month(self) -> pd.Timestamp:
        """Return the latest month that has usage or operations data."""
        raise NotImplementedError


def load_dataset(path: str | Path, mapping: str | Path | None = None) -> Dataset:
    """Read, map and validate a dataset folder; raise DataValidationError if bad."""
    raise NotImplementedError
