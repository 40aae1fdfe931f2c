"""File helpers shared by the commands: atomic writes and table output."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from healthlab.errors import ConfigError
from healthlab.tables import TABLES


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` and move it into place on success.

    The temporary file sits in the same folder, so the final ``os.replace`` is
    atomic: readers see the old file or the complete new one, never a partial
    one. On any exception the temporary file is removed and ``target`` is left
    as it was.

    Raises
    ------
    ConfigError
        If ``target`` is a folder, or its folder cannot be created or written.
    """
    target = Path(target)
    if target.is_dir():
        raise ConfigError(f"Cannot write {target}: it is a folder; give a file name.")
    ensure_folder(target.parent)
    try:
        handle, name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
    except OSError as error:
        raise ConfigError(
            f"Cannot write {target}: {error.strerror or error}. Choose a folder "
            "you can write to."
        ) from None
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


def ensure_folder(folder: str | Path) -> Path:
    """Create ``folder`` and its parents unless they exist.

    Raises
    ------
    ConfigError
        If part of the path is a file, or the folder cannot be created.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        blocker = next(
            (part for part in (folder, *folder.parents) if part.is_file()), None
        )
        reason = (
            f"{blocker} is a file, not a folder"
            if blocker is not None
            else error.strerror or str(error)
        )
        raise ConfigError(
            f"Cannot create the folder {folder}: {reason}. Choose another path."
        ) from None
    return folder


def check_folder_path(folder: str | Path) -> Path:
    """Check that ``folder`` is or can become a folder, without creating it.

    Raises
    ------
    ConfigError
        If ``folder`` or one of its parents is an existing file.
    """
    folder = Path(folder)
    blocker = next((part for part in (folder, *folder.parents) if part.is_file()), None)
    if blocker is not None:
        raise ConfigError(
            f"Cannot use the folder {folder}: {blocker} is a file, not a folder. "
            "Choose another path."
        )
    return folder


def check_not_input(target: str | Path, dataset: str | Path) -> None:
    """Reject an output path that is one of the table files of ``dataset``.

    Writing results over an input table would destroy the data they came from.

    Raises
    ------
    ConfigError
        If ``target`` is ``<table>.csv`` or ``<table>.parquet`` in ``dataset``.
    """
    target = Path(target)
    same_folder = target.resolve().parent == Path(dataset).resolve()
    is_table = target.stem in TABLES and target.suffix.lower() in (".csv", ".parquet")
    if same_folder and is_table:
        raise ConfigError(
            f"Cannot write {target}: it is the `{target.stem}` table of the dataset "
            f"{dataset}, which would be overwritten. Choose another output file."
        )


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
    suffix = check_table_suffix(target)
    with atomic_path(target) as temporary:
        if suffix == ".csv":
            frame.to_csv(temporary, index=False)
        elif suffix == ".parquet":
            frame.to_parquet(temporary, index=False)
        else:
            frame.to_json(temporary, orient="records", date_format="iso", indent=1)
    return target


def check_table_suffix(target: str | Path) -> str:
    """Return the lower-case suffix of a table file name, checked before any work.

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
    return suffix


def find_notebook(name: str) -> Path:
    """Return the path of a project notebook such as ``qbr-report.ipynb``.

    A copy packaged inside ``healthlab/notebooks/`` wins; otherwise the
    ``notebooks/`` folder of the source checkout, which is where an editable
    install finds it.

    Raises
    ------
    ReportError
        If neither exists, as in a wheel install without the notebooks.
    """
    from importlib import resources

    from healthlab.errors import ReportError

    packaged = Path(str(resources.files("healthlab") / "notebooks" / name))
    source_tree = Path(__file__).resolve().parents[2] / "notebooks" / name
    for candidate in (packaged, source_tree):
        if candidate.is_file():
            return candidate
    raise ReportError(
        f"The notebook {name} was not found next to the package; pass its path "
        "with `notebook=`, or install healthlab from a source checkout with "
        "`pip install -e .`."
    )
