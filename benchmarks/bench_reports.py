"""QBR report rendering: cost per report, batch speed-up, scaling and memory.

Measured side by side in one run, on sample portfolios generated here. The
machines are shared, so the floor and the sequential batches are measured in
alternation, three rounds, and compared by their medians.

floor
    papermill executing an empty parameterised notebook plus nbconvert's HTML
    export, in this process (median of 2 runs after a warm-up run, per round).
per report
    One HTML+PDF report rendered by ``render_batch`` with ``jobs=1``: the
    median of the worker-measured durations (execution and export) of every
    report but the first of each batch, as a ratio to the floor. Goal: <= 3x.
    The first report, which may wait for the worker's first kernel, and the
    batch wall time per report at the default ``jobs`` are reported too.
batch versus naive loop
    The same 8 clients rendered by a loop of the ``papermill`` CLI on the full
    dataset plus the ``jupyter nbconvert --to html --no-input`` CLI (HTML
    only), then by one ``render_batch`` (HTML and PDF, default ``jobs``).
    Goal: batch >= 3x faster.
300 versus 3,000 clients
    The same four clients per round rendered from a 300-client portfolio and
    from that portfolio grown to 3,000 clients, with ``jobs=1``: the ratio of
    the median per-report durations.
    Goal: <= 1.1x. The one-time cost per batch (load, validate and slice the
    dataset, start the worker) is reported apart.
memory
    RSS of the batch process and all its children, sampled every 0.2 s while a
    batch of 12 reports runs: the peak, and the peak in the first and second
    half of the run. Goal: flat (second half <= 1.1x the first).

Run with ``python -m benchmarks reports`` (about 6 to 10 minutes on 2 cores).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pandas as pd
from nbformat.v4 import new_code_cell, new_notebook

from healthlab.reports.batch import default_notebook, render_batch
from healthlab.sample import generate_portfolio
from healthlab.tables import TABLE_NAMES

QUARTER = "2026Q3"
BIN = Path(sys.executable).parent
ROUNDS = 3


def _active(folder: Path, count: int) -> list[str]:
    usage = pd.read_csv(folder / "usage.csv", dtype=str, usecols=["client_id", "month"])
    return list(dict.fromkeys(usage.loc[usage["month"] == "2026-09-01", "client_id"]))[
        :count
    ]


def _grow(small: Path, large: Path, scratch: Path, extra_clients: int) -> None:
    """Write ``small`` plus ``extra_clients`` other clients (ids ``X...``) to ``large``.

    The same clients are then rendered from both portfolios, so only the
    portfolio size differs between the two measurements.
    """
    generate_portfolio(scratch, n_clients=extra_clients, n_months=36, seed=1)
    large.mkdir()
    for name in TABLE_NAMES:
        own = pd.read_csv(small / f"{name}.csv", dtype=str, keep_default_na=False)
        others = pd.read_csv(scratch / f"{name}.csv", dtype=str, keep_default_na=False)
        others["client_id"] = "X" + others["client_id"]
        pd.concat([own, others]).to_csv(large / f"{name}.csv", index=False)


def _floor(work: Path, runs: int = 2) -> float:
    import papermill
    from nbconvert import HTMLExporter

    notebook = new_notebook(
        cells=[
            new_code_cell(
                'client_id = ""\nquarter = ""', metadata={"tags": ["parameters"]}
            ),
            new_code_cell("pass"),
        ]
    )
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = work / "empty.ipynb"
    nbformat.write(notebook, path)
    exporter = HTMLExporter()
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        executed = papermill.execute_notebook(
            str(path),
            str(work / "empty-out.ipynb"),
            parameters={"client_id": "0001", "quarter": QUARTER},
            progress_bar=False,
        )
        exporter.from_notebook_node(executed)
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def _durations(result) -> list[float]:
    return [entry.duration_s for entry in result.entries if entry.status == "rendered"]


class _MemorySampler:
    """Sample the RSS of this process and its descendants in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> float:
        try:
            import psutil
        except ImportError:
            return _proc_rss()
        me = psutil.Process()
        total = 0
        for process in [me, *me.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                continue
        return total / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self._rss()))
            self._stop.wait(self.interval)

    def __enter__(self) -> _MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _proc_rss() -> float:
    """Sum VmRSS over every process whose parent chain leads to this one."""
    import os

    parents: dict[int, int] = {}
    rss: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        parents[pid] = int(fields.get("PPid", "0").strip())
        rss[pid] = float(fields.get("VmRSS", "0 kB").split()[0]) / 1024
    me = os.getpid()
    total = 0.0
    for pid in rss:
        current = pid
        while current and current != me:
            current = parents.get(current, 0)
        if current == me:
            total += rss[pid]
    return total


def _naive(dataset: Path, clients: list[str], work: Path) -> float:
    notebook = default_notebook()
    started = time.perf_counter()
    for client in clients:
        executed = work / f"naive-{client}.ipynb"
        subprocess.run(
            [
                str(BIN / "papermill"),
                str(notebook),
                str(executed),
                "--no-progress-bar",
                "-r",
                "client_id",
                client,
                "-p",
                "quarter",
                QUARTER,
                "-p",
                "dataset",
                str(dataset),
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                str(BIN / "jupyter"),
                "nbconvert",
                "--to",
                "html",
                "--no-input",
                str(executed),
            ],
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - started


def run() -> list[str]:
    """Run every measurement and return the report lines."""
    lines = []
    work = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    try:
        small = work / "p300"
        large = work / "p3000"
        started = time.perf_counter()
        generate_portfolio(small, n_clients=300, n_months=36, seed=0)
        _grow(small, large, work / "others", extra_clients=2700)
        lines.append(
            f"portfolios generated in {time.perf_counter() - started:.0f} s "
            "(300 clients, and the same 300 plus 2,700 others; 36 months)"
        )

        # The machine is shared, so the floor, the 300-client batch and the
        # 3,000-client batch are measured in alternation, ROUNDS times, and
        # compared by their medians.
        floors: list[float] = []
        per_size: dict[str, list[float]] = {"300": [], "3,000": []}
        overheads: dict[str, list[float]] = {"300": [], "3,000": []}
        firsts: dict[str, list[float]] = {"300": [], "3,000": []}
        for round_number in range(ROUNDS):
            floors.append(_floor(work, runs=2))
            sizes = [("300", small), ("3,000", large)]
            # Alternate which size goes first, so neither always runs right
            # after the other's clean-up.
            for label, folder in sizes if round_number % 2 == 0 else sizes[::-1]:
                chosen = _active(small, 12)[4 * round_number : 4 * round_number + 4]
                started = time.perf_counter()
                result = render_batch(
                    folder,
                    QUARTER,
                    work / f"scale-{label}",
                    clients=chosen,
                    jobs=1,
                    progress=False,
                )
                total = time.perf_counter() - started
                durations = _durations(result)
                # The first report may wait for the worker's first kernel,
                # which boots while the batch loads the dataset.
                firsts[label].append(durations[0])
                per_size[label] += durations[1:]
                overheads[label].append(total - sum(durations))
        floor = statistics.median(floors)
        latency = statistics.median(per_size["300"])
        lines.append(
            f"floor (empty notebook + HTML export): {floor:.2f} s "
            f"(median of {len(floors)} rounds: "
            f"{', '.join(f'{value:.2f}' for value in floors)})"
        )
        lines.append(
            f"per report, HTML+PDF, jobs=1: {latency:.2f} s = {latency / floor:.1f}x "
            f"the floor (goal <= 3x; median of {len(per_size['300'])} reports)"
        )
        for label in per_size:
            lines.append(
                f"{label} clients: {statistics.median(per_size[label]):.2f} s per "
                f"report (median of {len(per_size[label])}), first report of a "
                f"batch {statistics.median(firsts[label]):.2f} s; one-time load, "
                "validation, slicing and worker start "
                f"{statistics.median(overheads[label]):.1f} s per batch"
            )
        ratio = statistics.median(per_size["3,000"]) / latency
        lines.append(
            f"per-report time 3,000 / 300 clients: {ratio:.2f}x (goal <= 1.1x)"
        )

        clients = _active(small, 12)
        group = clients[:8]
        naive = _naive(small, group, work)
        started = time.perf_counter()
        render_batch(small, QUARTER, work / "batch", clients=group, progress=False)
        batch_time = time.perf_counter() - started
        throughput = batch_time / len(group)
        lines.append(
            f"per report, HTML+PDF, default jobs, whole batch: {throughput:.2f} s = "
            f"{throughput / floor:.1f}x the floor ({len(group)} reports in "
            f"{batch_time:.1f} s, dataset load and worker start included)"
        )
        lines.append(
            f"naive loop (papermill CLI + nbconvert CLI, HTML only): {naive:.1f} s "
            f"for the same {len(group)} reports; batch (HTML+PDF) is "
            f"{naive / batch_time:.1f}x faster (goal >= 3x)"
        )

        with _MemorySampler() as sampler:
            render_batch(
                small, QUARTER, work / "memory", clients=clients, progress=False
            )
        samples = sampler.samples
        middle = samples[0][0] + (samples[-1][0] - samples[0][0]) / 2
        first = max(rss for stamp, rss in samples if stamp <= middle)
        second = max(rss for stamp, rss in samples if stamp > middle)
        lines.append(
            f"memory over a batch of {len(clients)} reports (process + children): "
            f"peak {max(rss for _, rss in samples):.0f} MiB; first half peak "
            f"{first:.0f} MiB, second half peak {second:.0f} MiB "
            f"({second / first:.2f}x, goal flat)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return lines


if __name__ == "__main__":
    for line in run():
        print(line)
