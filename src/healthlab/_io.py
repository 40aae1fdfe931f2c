"""File helpers shared by the commands: atomic writes and table output."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from healthlab.errors import ConfigError


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` and move it into place on success.

    The temporary file sits in the same folder, so the final ``os.replace`` is
    atomic: readers see the old file or the complete new one, never a partial
    one. On any exception the temporary file is removed and ``target`` is left
    as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    os.close(handle)
    temporary = Path(name)
    # mkstemp creates the file private (0600); give the result the permissions
    # an ordinary open() would, so shared report folders stay readable.
    temporary.chmod(0o666 & ~_current_umask())
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(target: str | Path, text: str) -> None:
    """Write UTF-8 text to ``target`` atomically."""
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_bytes_atomic(target: str | Path, data: bytes) -> None:
    """Write bytes to ``target`` atomically."""
    with atomic_path(target) as temporary:
        temporary.write_bytes(data)


TABLE_SUFFIXES = (".csv", ".parquet", ".json")


def write_table(frame: pd.DataFrame, target: str | Path) -> Path:
    """Write a table as CSV, Parquet or JSON records, chosen by the file suffix.

    Raises
    ------
    ConfigError
        If the suffix is not one of ``.csv``, ``.parquet`` or ``.json``.
    """
    target = Path(target)
    suffix = target.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ConfigError(
            f"Cannot write {target}: the file name must end in "
            f"{', '.join(TABLE_SUFFIXES)}."
        )
    with atomic_path(target) as temporary:
        if suffix == ".csv":
            frame.to_csv(temporary, index=False)
        elif suffix == ".parquet":
            frame.to_parquet(temporary, index=False)
        else:
            frame.to_json(temporary, orient="records", date_format="iso", indent=1)
    return target
