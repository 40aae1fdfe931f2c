"""Render one client's report in a worker process: execute, then export.

:func:`render_one` is what the batch sends to a worker (a process of a
:class:`~concurrent.futures.ProcessPoolExecutor` or a Dask worker). It runs the
report notebook with papermill in a fresh kernel started in the client's own
working folder, then exports HTML and PDF in the worker itself, so the export
libraries are imported once per worker and not once per report. It never
raises for a report that fails: the failure comes back as a
:class:`RenderOutcome` with its error, and the batch goes on.

Time limits: papermill's ``execution_timeout`` stops a cell that runs too long,
and a wall-clock guard kills the kernel when the whole execution exceeds the
timeout (a kernel stuck outside a cell, or many slow cells). A kernel that dies
or does not answer while starting is retried, in a new kernel, up to
``RenderTask.retries`` times.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

EXECUTED_NOTEBOOK = "executed.ipynb"
KERNEL_LOG = "kernel.log"


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


def _manager_class(registry: list[Any], work_dir: Path) -> type:
    """Return a kernel manager class that starts kernels in ``work_dir``.

    Each manager adds itself to ``registry``, so the wall-clock guard can kill
    its kernel. The kernel's own log goes to ``kernel.log`` in the working
    folder instead of the batch's terminal.
    """
    from jupyter_client.manager import AsyncKernelManager

    class WorkFolderKernelManager(AsyncKernelManager):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            registry.append(self)

        async def start_kernel(self, **kwargs: Any) -> None:  # type: ignore[override]
            log = open(work_dir / KERNEL_LOG, "ab")  # noqa: SIM115
            kwargs.setdefault("cwd", str(work_dir))
            kwargs.setdefault("stdout", subprocess.DEVNULL)
            kwargs.setdefault("stderr", log)
            try:
                await super().start_kernel(**kwargs)
            finally:
                log.close()

    return WorkFolderKernelManager


def _kill_kernels(registry: list[Any]) -> None:
    for manager in registry:
        process = getattr(getattr(manager, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            process.kill()


def _execute(task: RenderTask, output: Path) -> Any:
    """Run the notebook once; raise _KernelStartError if the kernel never ran."""
    import papermill

    registry: list[Any] = []
    started = threading.Event()
    timed_out = threading.Event()

    def on_start(**_: Any) -> None:
        started.set()

    def expire() -> None:
        timed_out.set()
        _kill_kernels(registry)

    guard = threading.Timer(task.timeout, expire)
    guard.daemon = True
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
            kernel_name=task.kernel_name,
            progress_bar=False,
            start_timeout=task.start_timeout,
            execution_timeout=task.timeout,
            kernel_manager_class=_manager_class(registry, Path(task.work_dir)),
            on_notebook_start=on_start,
        )
    except Exception as error:
        if timed_out.is_set():
            raise TimeoutError(
                f"Rendering timed out after {task.timeout:.0f} s; the kernel was "
                "stopped."
            ) from error
        if not started.is_set():
            raise _KernelStartError(f"{type(error).__name__}: {error}") from error
        raise
    finally:
        guard.cancel()
        _kill_kernels(registry)


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
