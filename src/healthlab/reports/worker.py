"""Render one client's report in a worker process: execute, then export.

:func:`render_one` is what the batch sends to a worker (a process of a
:class:`~concurrent.futures.ProcessPoolExecutor` or a Dask worker). It runs the
report notebook with papermill, then exports HTML and PDF in the worker itself,
so the export libraries are imported once per worker and not once per report.
It never raises for a report that fails. The failure comes back as a
:class:`RenderOutcome` with its error, and the batch goes on.

Kernels: every report runs in a fresh kernel of its own, started in a new empty
folder and shut down after that one report. Each worker thread keeps one spare
kernel booting (and importing the report's libraries) while the current report
executes and exports, so kernel start-up mostly overlaps with other work.

Time limits: papermill's ``execution_timeout`` stops a cell that runs too long,
and a wall-clock guard kills the kernel when the whole execution, counted from
the moment the kernel is ready, exceeds the timeout (a kernel stuck outside a
cell, or many slow cells). Kernel start-up has its own limit,
``RenderTask.start_timeout``. A kernel that dies
or does not reply while starting is retried, in a new kernel, up to
``RenderTask.retries`` times.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import shutil
import subprocess
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

EXECUTED_NOTEBOOK = "executed.ipynb"
KERNEL_LOG = "kernel.log"
ENGINE_NAME = "healthlab_started_kernel"
PRELOADED_MODULES = (
    "pandas",
    "pyarrow.parquet",
    "seaborn",
    "healthlab.reports.content",
    "healthlab.reports.sections",
)


@dataclass(frozen=True)
class RenderTask:
    """Everything a worker needs to render one report; picklable."""

    client_id: str
    stem: str
    quarter: str
    audience: str
    formats: tuple[str, ...]
    notebook: str
    work_dir: str
    slice_dir: str
    model_file: str
    timeout: float
    title: str
    footer: str
    kernel_name: str = "python3"
    start_timeout: float = 60.0
    retries: int = 2
    forbidden: tuple[str, ...] = ()
    start_spare: bool = True
    """Start this worker's next kernel now; False for the batch's last reports."""


@dataclass(frozen=True)
class RenderOutcome:
    """Result of one render: the files on success, the error otherwise."""

    client_id: str
    ok: bool
    duration: float
    attempts: int
    outputs: dict[str, bytes] = field(default_factory=dict)
    error: str = ""
    executed: bytes | None = None


class _KernelStartError(Exception):
    """The kernel died or did not reply before the first cell ran."""


@dataclass
class _Kernel:
    """A started kernel, its own empty working folder and its kernel name."""

    manager: Any
    folder: Path
    name: str


def _launch(kernel_name: str) -> _Kernel:
    """Start a kernel in a new empty folder without waiting for it to be ready.

    An ipykernel kernel imports :data:`PRELOADED_MODULES` while it starts, so
    that work overlaps with the previous report's export; the kernel is still
    fresh, with no variable of any report in it.
    """
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    folder = Path(tempfile.mkdtemp(prefix="healthlab-kernel-"))
    manager = AsyncKernelManager(kernel_name=kernel_name)
    extra = (
        [f"--IPKernelApp.exec_lines=import {name}" for name in PRELOADED_MODULES]
        if manager.ipykernel
        else []
    )
    with open(folder / KERNEL_LOG, "ab") as log:
        try:
            run_sync(manager.start_kernel)(
                extra_arguments=extra,
                cwd=str(folder),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    return _Kernel(manager, folder, kernel_name)


def _discard(kernel: _Kernel) -> None:
    """Stop a kernel if it still runs and remove its folder."""
    process = getattr(getattr(kernel.manager, "provisioner", None), "process", None)
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()
    with contextlib.suppress(Exception):
        kernel.manager.cleanup_connection_file()
    shutil.rmtree(kernel.folder, ignore_errors=True)


class _KernelSupply(threading.local):
    """One started spare kernel per thread, ready for the thread's next report.

    :meth:`take` hands out the spare and starts the next one at once, so a
    kernel boots while the current report executes and exports. Every kernel
    runs exactly one report.
    """

    spare: _Kernel | None = None

    def take(self, kernel_name: str, start_spare: bool = True) -> _Kernel:
        kernel, self.spare = self.spare, None
        if kernel is not None and kernel.name != kernel_name:
            _forget(kernel)
            kernel = None
        if kernel is None:
            kernel = _remember(_launch(kernel_name))
        if start_spare:
            with contextlib.suppress(Exception):
                self.spare = _remember(_launch(kernel_name))
        return kernel


_SUPPLY = _KernelSupply()
_STARTED_KERNELS: dict[int, _Kernel] = {}
_STARTED_LOCK = threading.Lock()


def _remember(kernel: _Kernel) -> _Kernel:
    with _STARTED_LOCK:
        _STARTED_KERNELS[id(kernel)] = kernel
    return kernel


def _forget(kernel: _Kernel) -> None:
    with _STARTED_LOCK:
        _STARTED_KERNELS.pop(id(kernel), None)
    _discard(kernel)


@atexit.register
def _discard_all() -> None:
    # Spare kernels left when the worker process exits.
    with _STARTED_LOCK:
        kernels = list(_STARTED_KERNELS.values())
        _STARTED_KERNELS.clear()
    for kernel in kernels:
        _discard(kernel)


def warm_worker(kernel_name: str = "python3") -> None:
    """Import the export libraries and start a spare kernel in this process.

    Used as the process-pool initializer, so this work overlaps with the
    batch loading and slicing the dataset.
    """
    import papermill  # noqa: F401
    import weasyprint  # noqa: F401

    from healthlab.reports.export import _exporter, html_to_pdf
    from healthlab.reports.markup import cover

    _exporter()
    _engine_name()
    # The first PDF of a process also loads the fonts: do it now, with Greek
    # and Japanese text so the fallback fonts load too.
    html_to_pdf(f"<html><body>{cover('Ωμέγα 東京', 'Q1 2000', '-', '-')}</body></html>")
    with contextlib.suppress(Exception):
        if _SUPPLY.spare is None:
            _SUPPLY.spare = _remember(_launch(kernel_name))


@functools.cache
def _engine_name() -> str:
    """Register the papermill engine that runs a notebook on a started kernel."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class StartedKernelEngine(NBClientEngine):  # type: ignore[misc]
        # papermill's nbclient engine, except that the client owns the kernel
        # it is given: it shuts the kernel down and closes its channels at the
        # end, which nbclient does only for kernels it started itself.
        @classmethod
        def execute_managed_notebook(  # type: ignore[override]
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: float = 60,
            execution_timeout: float | None = None,
            **kwargs: Any,
        ) -> Any:
            for name in ("input_path", "timeout", "startup_timeout"):
                kwargs.pop(name, None)
            client = PapermillNotebookClient(
                nb_man,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
                **kwargs,
            )
            client.owns_km = True
            return client.execute()

    papermill_engines.register(ENGINE_NAME, StartedKernelEngine)
    return ENGINE_NAME


def _execute(task: RenderTask, output: Path) -> Any:
    """Run the notebook once; raise _KernelStartError if the kernel never ran."""
    import papermill

    started = threading.Event()
    timed_out = threading.Event()
    kernel = _SUPPLY.take(task.kernel_name, task.start_spare)

    def expire() -> None:
        timed_out.set()
        _discard(kernel)

    # The guard counts from the moment the kernel is ready; start-up has its
    # own limit, ``start_timeout``.
    guard = threading.Timer(task.timeout, expire)
    guard.daemon = True

    def on_start(**_: Any) -> None:
        started.set()
        guard.start()

    parameters = {
        "client_id": task.client_id,
        "quarter": task.quarter,
        "dataset": task.slice_dir,
        "model_file": task.model_file,
        "audience": task.audience,
        "alerts_file": "",
    }
    try:
        return papermill.execute_notebook(
            task.notebook,
            str(output),
            parameters=parameters,
            engine_name=_engine_name(),
            kernel_name=task.kernel_name,
            progress_bar=False,
            start_timeout=task.start_timeout,
            execution_timeout=task.timeout,
            km=kernel.manager,
            on_notebook_start=on_start,
            # The kernel has nothing to save: stop it at once, and write the
            # executed notebook once at the end (papermill also writes it when
            # a cell fails) instead of after every cell.
            shutdown_kernel="immediate",
            request_save_on_cell_execute=False,
        )
    except Exception as error:
        if timed_out.is_set():
            raise TimeoutError(
                f"Rendering timed out after {task.timeout:.0f} s; the kernel was "
                "stopped."
            ) from error
        if not started.is_set():
            raise _KernelStartError(
                f"{type(error).__name__}: {error}{_log_tail(kernel)}"
            ) from error
        raise
    finally:
        guard.cancel()
        _forget(kernel)


def _log_tail(kernel: _Kernel, lines: int = 3) -> str:
    try:
        text = (kernel.folder / KERNEL_LOG).read_text(errors="replace")
    except OSError:
        return ""
    tail = [line for line in text.splitlines() if line.strip()][-lines:]
    return f" (kernel log: {' | '.join(tail)})" if tail else ""


def _describe(error: BaseException) -> str:
    """Return a one-paragraph description of a failed render."""
    ename = getattr(error, "ename", None)
    if ename is not None:
        # papermill's PapermillExecutionError: the exception raised in the cell.
        return f"{ename}: {getattr(error, 'evalue', '')}"
    return f"{type(error).__name__}: {error}"


def _export(task: RenderTask, notebook: Any) -> dict[str, bytes]:
    from healthlab.reports.export import export_html, html_to_pdf, machine_paths

    forbidden = machine_paths(task.work_dir, task.slice_dir, *task.forbidden)
    page = export_html(
        notebook,
        title=task.title,
        audience=task.audience,
        footer=task.footer,
        forbidden=forbidden,
    )
    outputs = {}
    if "html" in task.formats:
        outputs["html"] = page.encode("utf-8")
    if "pdf" in task.formats:
        outputs["pdf"] = html_to_pdf(page)
    return outputs


def render_one(task: RenderTask) -> RenderOutcome:
    """Execute and export one client's report and return the outcome.

    Every exception of the render is caught and returned as a failed outcome,
    so one client cannot stop the batch.
    """
    started = time.perf_counter()
    work_dir = Path(task.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    output = work_dir / EXECUTED_NOTEBOOK
    attempts = 0
    try:
        while True:
            attempts += 1
            try:
                notebook = _execute(task, output)
                break
            except _KernelStartError as error:
                if attempts > task.retries:
                    raise
                logger.warning(
                    "Kernel for client %s failed to start (attempt %d): %s; retrying",
                    task.client_id,
                    attempts,
                    error,
                )
        outputs = _export(task, notebook)
    except Exception as error:  # noqa: BLE001 - every failure is reported, not raised
        logger.debug("Report of client %s failed", task.client_id, exc_info=True)
        message = _describe(error)
        if isinstance(error, _KernelStartError):
            message = f"The kernel failed to start {attempts} times: {error}"
        executed = output.read_bytes() if output.is_file() else None
        return RenderOutcome(
            client_id=task.client_id,
            ok=False,
            duration=time.perf_counter() - started,
            attempts=attempts,
            error=message or traceback.format_exc(limit=1),
            executed=executed,
        )
    return RenderOutcome(
        client_id=task.client_id,
        ok=True,
        duration=time.perf_counter() - started,
        attempts=attempts,
        outputs=outputs,
    )
