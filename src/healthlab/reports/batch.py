"""Render the QBR reports of many clients: parallel, resumable and safe to share.

:func:`render_batch` loads and validates the dataset once, writes each selected
client's slice (see :mod:`.slicing`) into the client's own working folder, and
renders the reports in parallel worker processes, or on a Dask cluster when a
scheduler address is given. Each report runs in a fresh kernel
(:mod:`.worker`).

Layout under ``OUT/<quarter>/``:

``<audience>/<stem>.html`` and ``.pdf``
    The reports, one file per client and format, written atomically. Only these
    folders are meant to be shared, each file with its own client.
``_internal/manifest-<audience>.json`` and ``.csv``
    Status, duration, attempts, input and output hashes and error per client.
``_internal/index.html``
    The batch index; it names every client, so it stays internal.
``_internal/failed/<audience>/<stem>.ipynb`` and ``.txt``
    The executed notebook and the error of a failed report. A failed client
    has no file in ``<audience>/``: an older report of it is removed.
``_internal/work/<audience>/<stem>/``
    The client's slice and kernel log while it renders; removed on success.

A report is skipped when its input key (client slice, notebook, model, template
and parameters) equals the manifest's and its files are unchanged, unless
``force`` is set. The JSON manifest is rewritten after each finished client, so
an interrupted batch resumes where it stopped.

With ``scheduler``, the Dask workers must see the same file system as the
batch, because the slices, the notebook and the model are passed as paths. The
report files themselves are written by the batch process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from healthlab import __version__
from healthlab._io import (
    check_folder_path,
    find_notebook,
    write_bytes_atomic,
    write_text_atomic,
)
from healthlab.errors import ParameterError
from healthlab.model import ScoreModel, default_model_path, load_model
from healthlab.reports.manifest import (
    Entry,
    internal_folder,
    manifest_path,
    read_manifest,
    write_csv,
    write_index,
    write_manifest,
)
from healthlab.reports.naming import report_stems
from healthlab.reports.parameters import AUDIENCES, read_alerts_file
from healthlab.reports.quarters import Quarter
from healthlab.reports.slicing import SliceIndex, tables_hash, write_slice
from healthlab.reports.worker import (
    RenderOutcome,
    RenderTask,
    render_one,
    warm_worker,
)
from healthlab.tables import SEGMENTS

logger = logging.getLogger(__name__)

FORMATS = ("html", "pdf")
NOTEBOOK_NAME = "qbr-report.ipynb"
DEFAULT_TIMEOUT = 300.0
KERNEL_RETRIES = 2
MAX_TASKS_PER_WORKER = 50
CONNECT_TIMEOUT = 10
"""Seconds to wait for a Dask scheduler before giving up."""


@dataclass
class BatchResult:
    """Outcome of a batch: one manifest entry per selected client."""

    quarter: str
    audience: str
    out: Path
    entries: list[Entry] = field(default_factory=list)
    manifest: Path | None = None
    index: Path | None = None
    duration: float = 0.0

    def with_status(self, status: str) -> list[Entry]:
        """Return the entries with one status: rendered, skipped or failed."""
        return [entry for entry in self.entries if entry.status == status]

    @property
    def rendered(self) -> list[str]:
        """Ids of the clients rendered in this run."""
        return [entry.client_id for entry in self.with_status("rendered")]

    @property
    def skipped(self) -> list[str]:
        """Ids of the clients skipped because their inputs were unchanged."""
        return [entry.client_id for entry in self.with_status("skipped")]

    @property
    def failed(self) -> list[str]:
        """Ids of the clients whose report failed."""
        return [entry.client_id for entry in self.with_status("failed")]

    def summary(self) -> str:
        """Return a one-line summary for the command line."""
        return (
            f"{self.quarter} {self.audience} edition: {len(self.rendered)} rendered, "
            f"{len(self.skipped)} skipped, {len(self.failed)} failed in "
            f"{self.duration:.1f} s; index {self.index}"
        )


def default_notebook() -> Path:
    """Return the report notebook, packaged or from the source tree."""
    return find_notebook(NOTEBOOK_NAME)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _template_hash() -> str:
    from healthlab.reports.export import template_files

    digest = hashlib.sha256(__version__.encode())
    for path in template_files():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _check_options(
    audience: str, formats: Sequence[str], jobs: int | None, timeout: float
) -> tuple[str, ...]:
    problems = []
    if audience not in AUDIENCES:
        problems.append(
            f"audience {audience!r} is unknown; use one of {', '.join(AUDIENCES)}"
        )
    chosen = tuple(dict.fromkeys(str(item).strip().lower() for item in formats))
    unknown = [item for item in chosen if item not in FORMATS]
    if unknown or not chosen:
        problems.append(
            f"formats {', '.join(map(repr, unknown)) or '(none)'} not supported; "
            f"use one or more of {', '.join(FORMATS)}"
        )
    if jobs is not None and jobs < 1:
        problems.append(f"jobs must be 1 or more, got {jobs}")
    if not timeout > 0:
        problems.append(f"timeout must be a positive number of seconds, got {timeout}")
    if problems:
        raise ParameterError("Invalid render options: " + "; ".join(problems) + ".")
    return chosen


def _select_clients(
    clients: pd.DataFrame,
    months: pd.DataFrame,
    quarter: Quarter,
    requested: Sequence[str] | None,
    segment: str | None,
) -> pd.DataFrame:
    """Return the clients to render, in clients-table order."""
    if requested is not None and segment is not None:
        raise ParameterError("Choose clients either by id or by segment, not both.")
    if requested is not None:
        wanted = [str(item).strip() for item in requested if str(item).strip()]
        known = set(clients["client_id"])
        unknown = [item for item in wanted if item not in known]
        if unknown:
            raise ParameterError(
                f"Unknown client id(s): {', '.join(map(repr, unknown))}. Ids are "
                "text and must match the clients table exactly (leading zeros "
                "included)."
            )
        return clients[clients["client_id"].isin(wanted)]

    active = set(months.loc[quarter.contains(months["month"]), "client_id"])
    if not active:
        first, last = months["month"].min(), months["month"].max()
        raise ParameterError(
            f"No client has usage or operations data in {quarter}; the dataset "
            f"covers {first:%Y-%m} to {last:%Y-%m}."
        )
    selected = clients[clients["client_id"].isin(active)]
    if segment is not None:
        if segment not in SEGMENTS:
            raise ParameterError(
                f"Segment {segment!r} is unknown; use one of {', '.join(SEGMENTS)}."
            )
        selected = selected[selected["segment"] == segment]
        if selected.empty:
            raise ParameterError(
                f"No {segment} client has data in {quarter}; nothing to render."
            )
    return selected


@dataclass(frozen=True)
class _Plan:
    """One client's prepared inputs before rendering."""

    entry: Entry
    task: RenderTask | None
    tables: dict[str, pd.DataFrame]
    scores: pd.DataFrame | None
    alerts: pd.DataFrame | None


def _outputs_intact(entry: Entry, folder: Path, formats: Sequence[str]) -> bool:
    for fmt in formats:
        recorded = entry.outputs.get(fmt)
        path = folder / f"{entry.file_stem}.{fmt}"
        if recorded is None or not path.is_file():
            return False
        if _file_sha256(path) != recorded.get("sha256"):
            return False
    return True


def _remove_outputs(folder: Path, stem: str) -> None:
    for fmt in FORMATS:
        (folder / f"{stem}.{fmt}").unlink(missing_ok=True)


class _Runner:
    """Runs tasks on a process pool or a Dask cluster, yielding outcomes.

    :meth:`start` spawns the pool's workers at once, so they import the
    export libraries and boot their first kernel while the batch process
    slices the dataset.
    """

    def __init__(self, jobs: int, scheduler: str | None, kernel_name: str) -> None:
        self.jobs = jobs
        self.scheduler = scheduler
        self.kernel_name = kernel_name
        self.pool: Any = None
        self.used = False

    def start(self, reports: int | None = None) -> None:
        if self.scheduler:
            return
        if reports is not None:
            self.jobs = max(1, min(self.jobs, reports))
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # Spawned workers start clean: no threads or open files of the batch
        # process are inherited. Workers are replaced after a number of reports
        # so that memory stays flat over long batches.
        self.pool = ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=warm_worker,
            initargs=(self.kernel_name,),
            max_tasks_per_child=MAX_TASKS_PER_WORKER,
        )
        for _ in range(self.jobs):
            self.pool.submit(os.getpid)

    def close(self) -> None:
        # Without any report submitted there is nothing to wait for: the
        # workers exit after their warm-up and stop their spare kernels.
        if self.pool is not None:
            self.pool.shutdown(wait=self.used, cancel_futures=True)
            self.pool = None

    def run(self, tasks: Sequence[RenderTask]) -> Iterator[RenderOutcome]:
        if not tasks:
            return
        if self.scheduler:
            yield from self._run_dask(tasks)
        else:
            yield from self._run_pool(tasks)

    def _run_pool(self, tasks: Sequence[RenderTask]) -> Iterator[RenderOutcome]:
        from concurrent.futures import as_completed

        if self.pool is None:
            self.start()
        self.used = True
        # The last report of each worker needs no spare kernel after it.
        last_spares = len(tasks) - self.jobs
        futures = {
            self.pool.submit(
                render_one, dataclasses.replace(task, start_spare=index < last_spares)
            ): task
            for index, task in enumerate(tasks)
        }
        try:
            for future in as_completed(futures):
                yield self._outcome(futures[future], future)
        except BaseException:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
            raise

    def _run_dask(self, tasks: Sequence[RenderTask]) -> Iterator[RenderOutcome]:
        from distributed import Client, as_completed

        try:
            client = Client(
                self.scheduler, set_as_default=False, timeout=CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as error:
            raise ParameterError(
                f"Cannot connect to the Dask scheduler at {self.scheduler!r}: {error}"
            ) from None
        try:
            futures = {
                client.submit(
                    render_one,
                    task,
                    key=f"qbr-{task.stem}-{os.urandom(4).hex()}",
                    pure=False,
                ): task
                for task in tasks
            }
            try:
                for future in as_completed(list(futures), loop=client.loop):
                    yield self._outcome(futures[future], future)
            except BaseException:
                client.cancel(list(futures))
                raise
        finally:
            client.close()

    @staticmethod
    def _outcome(task: RenderTask, future: Any) -> RenderOutcome:
        try:
            outcome: RenderOutcome = future.result()
        except Exception as error:  # noqa: BLE001 - a lost worker fails one client
            return RenderOutcome(
                client_id=task.client_id,
                ok=False,
                duration=0.0,
                attempts=1,
                error=f"The worker running this report was lost: "
                f"{type(error).__name__}: {error}",
            )
        return outcome


def render_batch(
    dataset: str | Path,
    quarter: str,
    out: str | Path,
    clients: Sequence[str] | None = None,
    segment: str | None = None,
    audience: str = "client",
    formats: Sequence[str] = FORMATS,
    jobs: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    model: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = True,
    *,
    alerts: str | Path | None = None,
    mapping: str | Path | None = None,
    notebook: str | Path | None = None,
    kernel_name: str = "python3",
    retries: int = KERNEL_RETRIES,
) -> BatchResult:
    """Render one QBR report per selected client.

    Parameters
    ----------
    dataset
        Dataset folder; loaded and validated once.
    quarter
        Report quarter as ``YYYYQn``.
    out
        Output folder; reports go to ``out/<quarter>/<audience>/``.
    clients
        Client ids to render; all clients with data in the quarter when None.
    segment
        Render only the clients of this segment that have data in the quarter.
    audience
        ``client`` (shared with the client) or ``internal``.
    formats
        Any of ``html`` and ``pdf``.
    jobs
        Worker processes; the number of CPUs when None. Ignored with
        ``scheduler``.
    scheduler
        Address of a Dask scheduler (``tcp://host:port``); runs the reports on
        that cluster instead of local worker processes.
    force
        Render every selected report even when its inputs are unchanged.
    model
        Score model YAML; the packaged default when None.
    timeout
        Seconds one report's notebook may execute, counted from the moment its
        kernel is ready, before it is stopped and recorded as failed.
    progress
        Show a progress bar on standard error.
    alerts
        Alerts file from ``healthlab monitor``, shown in the internal edition.
    mapping
        Column-mapping YAML for the dataset.
    notebook
        Report notebook; the project's ``qbr-report.ipynb`` when None.
    kernel_name
        Jupyter kernel that runs the notebook.
    retries
        How often a kernel that fails to start is tried again.

    Returns
    -------
    BatchResult
        One entry per selected client with status rendered, skipped or failed.

    Raises
    ------
    ParameterError
        For invalid options, unknown clients or a quarter without data.
    DataValidationError
        If the dataset is invalid; nothing is written then.
    """
    from healthlab.dataset import load_dataset

    started = time.perf_counter()
    period = Quarter.parse(quarter)
    chosen_formats = _check_options(audience, formats, jobs, timeout)
    # A file in the way of OUT is a user error, not a traceback from a worker.
    out = check_folder_path(Path(out).resolve())
    notebook_path = Path(notebook).resolve() if notebook else default_notebook()
    if not notebook_path.is_file():
        raise ParameterError(f"Notebook {notebook_path} was not found.")
    model_path = Path(model).resolve() if model else default_model_path()
    score_model = load_model(model_path)

    runner = _Runner(jobs or os.cpu_count() or 1, scheduler, kernel_name)
    try:
        data = load_dataset(dataset, mapping=mapping)
        months = pd.concat(
            [
                data.usage[["client_id", "month"]],
                data.operations[["client_id", "month"]],
            ]
        )
        selected = _select_clients(data.clients, months, period, clients, segment)
        # Workers start once the options are known to be valid, so their
        # warm-up overlaps with slicing and scoring.
        runner.start(len(selected))
        stems = report_stems(
            zip(
                selected["client_id"].astype(str),
                selected["client_name"].astype(str),
                strict=True,
            )
        )
        alerts_frame = None if alerts is None else read_alerts_file(alerts)
        scores = _scores(data, score_model) if audience == "internal" else None

        common_inputs = {
            "notebook": _file_sha256(notebook_path),
            "model": _file_sha256(model_path),
            "template": _template_hash(),
        }
        dataset_last = months["month"].max()
        plans = _plan(
            data=SliceIndex.of_dataset(data),
            selected=selected,
            stems=stems,
            period=period,
            audience=audience,
            formats=chosen_formats,
            common_inputs=common_inputs,
            dataset_last=dataset_last,
            scores=scores,
            alerts=alerts_frame,
            kernel_name=kernel_name,
        )

        quarter_text = str(period)
        manifest_file = manifest_path(out, quarter_text, audience)
        entries = read_manifest(manifest_file)
        share_folder = out / quarter_text / audience
        work_root = internal_folder(out, quarter_text) / "work" / audience
        failed_folder = internal_folder(out, quarter_text) / "failed" / audience
        header = {
            "quarter": quarter_text,
            "audience": audience,
            "formats": list(chosen_formats),
            "healthlab_version": __version__,
        }

        result = BatchResult(quarter=quarter_text, audience=audience, out=out)
        tasks: list[RenderTask] = []
        for plan in plans:
            entry = plan.entry
            previous = entries.get(entry.client_id)
            if (
                not force
                and previous is not None
                and previous.status in ("rendered", "skipped")
                and previous.input_key == entry.input_key
                and _outputs_intact(previous, share_folder, chosen_formats)
            ):
                previous.status = "skipped"
                previous.client_name = entry.client_name
                entries[entry.client_id] = previous
                result.entries.append(previous)
                continue
            if previous is not None and previous.file_stem != entry.file_stem:
                # The client was renamed: its report under the old name is stale.
                _remove_outputs(share_folder, previous.file_stem)
            work_dir = work_root / entry.file_stem
            shutil.rmtree(work_dir, ignore_errors=True)
            slice_dir = work_dir / "data"
            write_slice(
                slice_dir,
                entry.client_id,
                plan.tables,
                dataset_last_month=dataset_last,
                scores=plan.scores,
                alerts=plan.alerts,
            )
            tasks.append(
                RenderTask(
                    client_id=entry.client_id,
                    stem=entry.file_stem,
                    quarter=quarter_text,
                    audience=audience,
                    formats=chosen_formats,
                    notebook=str(notebook_path),
                    work_dir=str(work_dir),
                    slice_dir=str(slice_dir),
                    model_file=str(model_path),
                    timeout=float(timeout),
                    title=f"{entry.client_name}: business review {period.label}",
                    footer=f"{entry.client_name} · {period.label}",
                    kernel_name=kernel_name,
                    retries=retries,
                    forbidden=(
                        str(out),
                        str(Path(dataset).resolve()),
                        str(model_path),
                        str(notebook_path.parent),
                    ),
                )
            )
            entries[entry.client_id] = entry
        planned = {plan.entry.client_id: plan.entry for plan in plans}
        write_manifest(manifest_file, entries, header)

        logger.info(
            "Rendering %d of %d reports for %s (%s edition); %d unchanged",
            len(tasks),
            len(plans),
            quarter_text,
            audience,
            len(plans) - len(tasks),
        )
        try:
            for outcome in _progress(runner.run(tasks), len(tasks), progress):
                entry = planned[outcome.client_id]
                _record(outcome, entry, share_folder, failed_folder, work_root)
                entries[entry.client_id] = entry
                result.entries.append(entry)
                write_manifest(manifest_file, entries, header)
        finally:
            write_manifest(manifest_file, entries, header)
            write_csv(manifest_file.with_suffix(".csv"), entries)
            result.index = write_index(out, quarter_text, period.label)
            result.manifest = manifest_file
            result.duration = time.perf_counter() - started
        return result
    finally:
        runner.close()


def _scores(data: Any, model: ScoreModel) -> pd.DataFrame:
    from healthlab.scoring import score_dataset

    return score_dataset(data, model)


def _plan(
    *,
    data: SliceIndex,
    selected: pd.DataFrame,
    stems: dict[str, str],
    period: Quarter,
    audience: str,
    formats: tuple[str, ...],
    common_inputs: dict[str, str],
    dataset_last: pd.Timestamp,
    scores: pd.DataFrame | None,
    alerts: pd.DataFrame | None,
    kernel_name: str,
) -> list[_Plan]:
    score_groups = None if scores is None else scores.groupby("client_id").indices
    alert_groups = None if alerts is None else alerts.groupby("client_id").indices
    plans = []
    for client_id, name in zip(
        selected["client_id"].astype(str),
        selected["client_name"].astype(str),
        strict=True,
    ):
        tables = data.tables_for(client_id)
        client_scores = _rows(scores, score_groups, client_id)
        client_alerts = _rows(alerts, alert_groups, client_id)
        parameters = {
            "client_id": client_id,
            "quarter": str(period),
            "audience": audience,
            "formats": list(formats),
            "kernel": kernel_name,
            "dataset_last_month": dataset_last.isoformat(),
        }
        inputs = {
            "slice": tables_hash(
                {**tables, "scores": client_scores, "alerts": client_alerts}
            ),
            **common_inputs,
            "parameters": _sha256(json.dumps(parameters, sort_keys=True).encode()),
        }
        key = _sha256(json.dumps(inputs, sort_keys=True).encode())
        entry = Entry(
            client_id=client_id,
            client_name=name,
            file_stem=stems[client_id],
            status="pending",
            input_key=key,
            inputs=inputs,
        )
        plans.append(_Plan(entry, None, tables, client_scores, client_alerts))
    return plans


def _rows(
    frame: pd.DataFrame | None, groups: dict[Any, Any] | None, client_id: str
) -> pd.DataFrame | None:
    if frame is None or groups is None:
        return None
    positions = groups.get(client_id, [])
    return frame.iloc[positions].reset_index(drop=True)


def _progress(
    outcomes: Iterable[RenderOutcome], total: int, enabled: bool
) -> Iterator[RenderOutcome]:
    from tqdm import tqdm

    with tqdm(total=total, disable=not enabled, unit="report", desc="Rendering") as bar:
        for outcome in outcomes:
            bar.update(1)
            if not outcome.ok:
                bar.write(f"failed: client {outcome.client_id}: {outcome.error}")
            yield outcome


def _record(
    outcome: RenderOutcome,
    entry: Entry,
    share_folder: Path,
    failed_folder: Path,
    work_root: Path,
) -> None:
    """Write a finished report's files, or its failure record, and update ``entry``."""
    entry.duration_s = outcome.duration
    entry.attempts = outcome.attempts
    entry.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    work_dir = work_root / entry.file_stem
    if outcome.ok:
        entry.status = "rendered"
        entry.error = ""
        entry.outputs = {}
        for fmt, content in outcome.outputs.items():
            write_bytes_atomic(share_folder / f"{entry.file_stem}.{fmt}", content)
            entry.outputs[fmt] = {"sha256": _sha256(content), "bytes": len(content)}
        for stale in (
            failed_folder / f"{entry.file_stem}.ipynb",
            failed_folder / f"{entry.file_stem}.txt",
        ):
            stale.unlink(missing_ok=True)
        shutil.rmtree(work_dir, ignore_errors=True)
        return

    entry.status = "failed"
    entry.error = outcome.error
    entry.outputs = {}
    _remove_outputs(share_folder, entry.file_stem)
    if outcome.executed is not None:
        write_bytes_atomic(failed_folder / f"{entry.file_stem}.ipynb", outcome.executed)
    write_text_atomic(
        failed_folder / f"{entry.file_stem}.txt",
        f"client {entry.client_id}\nattempts {outcome.attempts}\n{outcome.error}\n",
    )
