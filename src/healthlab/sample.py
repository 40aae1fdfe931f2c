"""The built-in sample portfolio: a synthetic book of brand-protection clients.

:func:`generate_portfolio` writes a dataset folder with the seven tables of
:mod:`healthlab.tables` as CSV, plus the hidden ground truth in
``_ground_truth/``: ``latent_health.csv`` (client_id, month, latent_health 0-100)
and ``clients.csv`` (level, deterioration episodes, dips, emerging channel and
churn of each client). Only tests and calibration checks read the ground truth;
the dataset loader ignores that folder.

One latent health per client and month drives churn at renewal and every
observable table with noise, so a score built from the observables can recover
most of the latent health's power to predict churn. The simulation lives in
:mod:`healthlab._sample`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from healthlab._sample.build import SampleData, simulate
from healthlab.errors import ConfigError
from healthlab.tables import TABLE_NAMES

logger = logging.getLogger(__name__)

GROUND_TRUTH_FOLDER = "_ground_truth"
DEFAULT_END_MONTH = "2026-09"

_END_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class PortfolioSummary:
    """Summary of a generated portfolio: folder, size and headline churn figures.

    ``annual_churn_rate`` is the share of decided renewals that ended in churn.
    Contracts are annual, so this is the yearly logo churn rate.
    """

    folder: Path
    clients: int
    months: int
    first_month: date
    last_month: date
    seed: int
    renewals: int
    churned_clients: int
    annual_churn_rate: float
    rows: int

    def __str__(self) -> str:
        span = f"{self.first_month:%Y-%m} to {self.last_month:%Y-%m}"
        return (
            f"Wrote the sample portfolio to {self.folder}: {self.clients} clients, "
            f"{self.months} months ({span}), seed {self.seed}, {self.rows} rows.\n"
            f"{self.renewals} renewals decided, {self.churned_clients} clients "
            f"churned: annual churn {self.annual_churn_rate:.1%}.\n"
            f"Hidden latent health in {self.folder / GROUND_TRUTH_FOLDER} "
            "(for tests and calibration checks only)."
        )


def generate_portfolio(
    out: str | Path,
    n_clients: int = 300,
    n_months: int = 36,
    seed: int = 0,
    overwrite: bool = False,
    end_month: str = DEFAULT_END_MONTH,
) -> PortfolioSummary:
    """Write a synthetic portfolio dataset, deterministic for a seed.

    Parameters
    ----------
    out
        Folder to create. It must not exist or be empty unless ``overwrite``.
    n_clients
        Number of client brands (at least 1).
    n_months
        Months of history ending at ``end_month`` (at least 1).
    seed
        Seed of :func:`numpy.random.default_rng`; the same seed and arguments
        give byte-identical files.
    overwrite
        Replace an existing dataset in ``out``. Only a folder that contains
        nothing but dataset tables, ``_ground_truth`` and hidden files is
        replaced, so a mistyped path cannot delete unrelated work.
    end_month
        Last month of history as ``YYYY-MM``. Fixed by default so the output
        does not depend on the day it is generated.

    Returns
    -------
    PortfolioSummary
        Folder, size and churn figures; ``str()`` gives a short summary.

    Raises
    ------
    ConfigError
        If an argument is invalid, or ``out`` is a file, is not empty (without
        ``overwrite``) or contains files that are not part of a dataset.
    """
    folder = Path(out)
    end = _parse_end_month(end_month)
    _check_sizes(n_clients, n_months, seed)
    _check_target(folder, overwrite)

    started = time.perf_counter()
    data = simulate(n_clients, n_months, seed, end)
    rows = _write_atomically(data, folder)
    logger.info(
        "Generated %d clients x %d months in %.1f s",
        n_clients,
        n_months,
        time.perf_counter() - started,
    )

    months = data.calendar.months
    rate = data.churned_clients / data.renewals_decided if data.renewals_decided else 0
    return PortfolioSummary(
        folder=folder,
        clients=n_clients,
        months=n_months,
        first_month=months[0].astype("M8[D]").astype(date),
        last_month=months[-1].astype("M8[D]").astype(date),
        seed=seed,
        renewals=data.renewals_decided,
        churned_clients=data.churned_clients,
        annual_churn_rate=rate,
        rows=rows,
    )


def _parse_end_month(end_month: str) -> np.datetime64:
    match = _END_MONTH.match(end_month)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ConfigError(
            f"Invalid `end_month` {end_month!r}: write the last month of history "
            "as YYYY-MM, for example 2026-09."
        )
    return np.datetime64(end_month, "M")


def _check_sizes(n_clients: int, n_months: int, seed: int) -> None:
    if n_clients < 1:
        raise ConfigError(f"Invalid number of clients {n_clients}: use 1 or more.")
    if n_months < 1:
        raise ConfigError(f"Invalid number of months {n_months}: use 1 or more.")
    if seed < 0:
        raise ConfigError(f"Invalid seed {seed}: use an integer of 0 or more.")


def _is_dataset_entry(path: Path) -> bool:
    """Tell whether ``path`` is something a generated dataset folder contains.

    Hidden files such as ``.DS_Store`` count, but hidden folders such as
    ``.git`` do not, so ``--force`` never deletes one.
    """
    if path.name == GROUND_TRUTH_FOLDER:
        return path.is_dir()
    if path.name.startswith("."):
        return path.is_file()
    is_table = path.suffix in (".csv", ".parquet") and path.stem in TABLE_NAMES
    return is_table and path.is_file()


def _check_target(folder: Path, overwrite: bool) -> None:
    """Reject a target that is a file, or a non-empty folder without ``overwrite``."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"Cannot write the sample portfolio to {folder}: it is a file. "
            "Choose a folder path."
        )
    blocker = next((part for part in folder.parents if part.is_file()), None)
    if blocker is not None:
        raise ConfigError(
            f"Cannot write the sample portfolio to {folder}: {blocker} is a file, "
            "not a folder. Choose another path."
        )
    if not folder.is_dir():
        return
    entries = sorted(folder.iterdir())
    if not entries:
        return
    # Foreign files block the command even with --force, so report them before
    # suggesting --force.
    foreign = [entry.name for entry in entries if not _is_dataset_entry(entry)]
    if foreign:
        listed = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise ConfigError(
            f"Folder {folder} contains files that are not part of a dataset "
            f"({listed}), so it is not replaced even with --force. Choose another "
            "folder or remove those files."
        )
    if not overwrite:
        raise ConfigError(
            f"Folder {folder} already contains a dataset. Choose a new or empty "
            "folder, or pass --force (overwrite=True) to replace the dataset."
        )


def _write_atomically(data: SampleData, folder: Path) -> int:
    """Write every file into a sibling temporary folder, then move it into place.

    A failure before the final rename leaves ``folder`` as it was. An existing
    dataset is first renamed aside, so ``folder`` is missing only between two
    renames, and is restored if the second rename fails.

    Returns the number of table rows written, ground truth excluded.
    """
    # Resolved so that "." or "data/.." still name the folder being replaced.
    target = folder.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _new_sibling(target.parent, f".{target.name}.new-")
    staging.mkdir()
    try:
        rows = 0
        for name in TABLE_NAMES:
            frame = data.tables[name]
            frame.to_csv(staging / f"{name}.csv", index=False, lineterminator="\n")
            rows += len(frame)
        truth = staging / GROUND_TRUTH_FOLDER
        truth.mkdir()
        data.latent_health.to_csv(
            truth / "latent_health.csv", index=False, lineterminator="\n"
        )
        data.truth.to_csv(truth / "clients.csv", index=False, lineterminator="\n")
        _replace_folder(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return rows


def _new_sibling(parent: Path, prefix: str) -> Path:
    """Return an unused path in ``parent``; the caller creates it.

    ``tempfile.mkdtemp`` would create the folder with mode 0700, which the
    dataset would keep after the rename, so its name is reserved and released.
    """
    reserved = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
    reserved.rmdir()
    return reserved


def _replace_folder(staging: Path, folder: Path) -> None:
    if not folder.exists():
        os.rename(staging, folder)
        return
    if not any(folder.iterdir()):
        # Renaming onto an empty directory is atomic on POSIX.
        os.replace(staging, folder)
        return
    backup = _new_sibling(folder.parent, f".{folder.name}.old-")
    os.rename(folder, backup)
    try:
        os.rename(staging, folder)
    except OSError:
        os.rename(backup, folder)
        raise
    shutil.rmtree(backup)
