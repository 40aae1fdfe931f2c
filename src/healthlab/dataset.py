"""Reading a dataset folder into typed pandas tables.

:func:`load_dataset` reads every table in :data:`healthlab.tables.TABLES` from
``<folder>/<table>.csv`` or ``.parquet``, applies an optional column mapping,
validates everything with :mod:`healthlab.validation` and returns a
:class:`Dataset` with these dtypes: ids, free text and categories as ``str``
(never numeric, so ``0042`` keeps its zeros), dates and months as
``datetime64[ns]`` (months on the first day), counts as ``int64`` and amounts
as ``float64``. Blank optional cells are ``NaN``. Each table is sorted by its
key and has a fresh ``RangeIndex``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from healthlab.errors import DataValidationError, HealthlabError, ParameterError
from healthlab.mapping import ColumnMapping
from healthlab.tables import TABLES, Table

logger = logging.getLogger(__name__)


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
        """Return a dataset that holds only one client's rows.

        The row positions of every client are computed once per dataset and
        cached, so calling this for each client of a portfolio stays cheap.

        Raises
        ------
        ParameterError
            If ``client_id`` is not in the clients table.
        """
        if client_id not in self._client_rows["clients"]:
            raise ParameterError(
                f"Client {client_id!r} is not in the clients table of "
                f"{self.source}; client ids are text, such as '0042'."
            )
        tables = {
            name: _take_rows(self.table(name), self._client_rows[name].get(client_id))
            for name in TABLES
        }
        return Dataset(source=self.source, **tables)

    @cached_property
    def _client_rows(self) -> dict[str, dict[str, np.ndarray]]:
        """Row positions of each client in each table."""
        return {
            name: {
                str(client_id): np.asarray(rows)
                for client_id, rows in self.table(name)
                .groupby("client_id", sort=False)
                .indices.items()
            }
            for name in TABLES
        }

    @property
    def last_month(self) -> pd.Timestamp:
        """Return the latest month that has usage or operations data.

        For a dataset from :meth:`for_client` this is that client's last month,
        which is earlier than the portfolio's for a client that left.

        Raises
        ------
        HealthlabError
            If both the usage and the operations tables are empty.
        """
        months = pd.concat([self.usage["month"], self.operations["month"]])
        if months.dropna().empty:
            raise HealthlabError(
                f"{self.source} has no usage or operations rows, so it has no "
                "last month; add rows to usage or operations."
            )
        latest: pd.Timestamp = months.max()
        return latest


def _take_rows(frame: pd.DataFrame, rows: np.ndarray | None) -> pd.DataFrame:
    if rows is None:
        return frame.iloc[0:0]
    return frame.take(rows).reset_index(drop=True)


def load_dataset(
    path: str | Path, mapping: str | Path | ColumnMapping | None = None
) -> Dataset:
    """Read, map and validate a dataset folder.

    Parameters
    ----------
    path
        Dataset folder with one ``<table>.csv`` or ``<table>.parquet`` per table.
        Sub-folders (such as ``_ground_truth``) and other files are skipped.
    mapping
        Column-mapping YAML file, or a loaded :class:`ColumnMapping`, for files
        exported by other tools; see ``data/README.md``.

    Returns
    -------
    Dataset
        The typed tables, each sorted by its key.

    Raises
    ------
    DataValidationError
        If any table breaks a rule; ``problems`` lists every problem found.
    ConfigError
        If the column-mapping file is invalid.
    """
    from healthlab.validation import read_and_validate

    frames, problems = read_and_validate(path, mapping)
    if problems:
        raise DataValidationError(str(path), problems)

    tables = {name: _finish(TABLES[name], frames[name]) for name in TABLES}
    logger.info(
        "Loaded %s: %s.",
        path,
        ", ".join(f"{len(frame)} {name} rows" for name, frame in tables.items()),
    )
    return Dataset(source=Path(path), **tables)


def _finish(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """Give a parsed table its final dtypes and order, and sort it by key."""
    result = frame.loc[:, list(table.column_names)].copy()
    for column in table.columns:
        if column.kind == "int" and not column.nullable:
            result[column.name] = result[column.name].astype("int64")
    return result.sort_values(list(table.key), kind="stable").reset_index(drop=True)
