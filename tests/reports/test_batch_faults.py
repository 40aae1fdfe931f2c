"""Batch behaviour under faults: hangs, kernels that fail to start, Dask, CLI codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from reports_helpers import QUARTER, active_clients, inactive_clients, make_portfolio

from healthlab.errors import ParameterError
from healthlab.reports.batch import render_batch

pytestmark = pytest.mark.slow

PARAMETERS = (
    'client_id = ""\nquarter = ""\ndataset = ""\nmodel_file = ""\n'
    'audience = "client"\nalerts_file = ""'
)


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_portfolio(tmp_path_factory.mktemp("faults") / "data", n_clients=8)


def _notebook(path: Path, *cells: str) -> Path:
    notebook = new_notebook(
        cells=[new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]})]
        + [new_code_cell(source) for source in cells]
    )
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, path)
    return path


def test_hanging_client_times_out_and_batch_goes_on(
    portfolio: Path, tmp_path: Path
) -> None:
    slow, quick = active_clients(portfolio)[:2]
    # Each cell stays under the per-cell timeout, so only the wall-clock guard
    # can stop the slow client.
    nap = f"import time\nif client_id == {slow!r}:\n    time.sleep(4)"
    notebook = _notebook(tmp_path / "hang.ipynb", nap, nap, nap, nap)
    result = render_batch(
        portfolio,
        QUARTER,
        tmp_path / "out",
        clients=[slow, quick],
        formats=("html",),
        jobs=2,
        timeout=6,
        progress=False,
        notebook=notebook,
    )
    assert result.rendered == [quick]
    assert result.failed == [slow]
    entry = result.with_status("failed")[0]
    assert "timed out after 6 s" in entry.error
    assert not list((tmp_path / "out" / QUARTER / "client").glob(f"*{slow}.*"))


def test_kernel_start_failure_is_retried(
    portfolio: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A kernel spec whose first launch exits at once, like a kernel that
    # crashes while starting; the second launch is a normal ipykernel.
    spec = tmp_path / "jupyter" / "kernels" / "flaky"
    spec.mkdir(parents=True)
    marker = tmp_path / "launched-once"
    launcher = spec / "launch.py"
    launcher.write_text(
        "import os, sys\n"
        f"marker = {str(marker)!r}\n"
        "if not os.path.exists(marker):\n"
        "    open(marker, 'w').close()\n"
        "    sys.exit(3)\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'ipykernel_launcher', "
        "'-f', sys.argv[1]])\n"
    )
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, str(launcher), "{connection_file}"],
                "display_name": "flaky",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    notebook = _notebook(tmp_path / "tiny.ipynb", "x = 1")
    client = active_clients(portfolio)[0]
    result = render_batch(
        portfolio,
        QUARTER,
        tmp_path / "out",
        clients=[client],
        formats=("html",),
        jobs=1,
        progress=False,
        notebook=notebook,
        kernel_name="flaky",
        timeout=60,
    )
    assert result.rendered == [client]
    assert result.with_status("rendered")[0].attempts == 2


def test_kernel_that_never_starts_fails_after_retries(
    portfolio: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "jupyter" / "kernels" / "broken"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    sys.executable,
                    "-c",
                    "import sys; sys.exit(3)",
                    "{connection_file}",
                ],
                "display_name": "broken",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    notebook = _notebook(tmp_path / "tiny.ipynb", "x = 1")
    client = active_clients(portfolio)[0]
    result = render_batch(
        portfolio,
        QUARTER,
        tmp_path / "out",
        clients=[client],
        formats=("html",),
        jobs=1,
        progress=False,
        notebook=notebook,
        kernel_name="broken",
        timeout=60,
        retries=1,
    )
    entry = result.with_status("failed")[0]
    assert entry.attempts == 2
    assert "kernel failed to start 2 times" in entry.error


def test_dask_local_cluster_renders(portfolio: Path, tmp_path: Path) -> None:
    from distributed import LocalCluster

    clients = active_clients(portfolio)[:2]
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        result = render_batch(
            portfolio,
            QUARTER,
            tmp_path / "out",
            clients=clients,
            formats=("html",),
            scheduler=cluster.scheduler_address,
            progress=False,
        )
    assert sorted(result.rendered) == sorted(clients)
    pages = sorted((tmp_path / "out" / QUARTER / "client").glob("*.html"))
    assert len(pages) == 2
    assert all("Brand-protection results" in page.read_text() for page in pages)


def test_unreachable_scheduler_is_user_error(portfolio: Path, tmp_path: Path) -> None:
    client = active_clients(portfolio)[0]
    with pytest.raises(ParameterError, match="Cannot connect to the Dask scheduler"):
        render_batch(
            portfolio,
            QUARTER,
            tmp_path / "out",
            clients=[client],
            formats=("html",),
            scheduler="tcp://127.0.0.1:9",
            progress=False,
        )


def _cli(*arguments: str) -> subprocess.CompletedProcess:
    command = Path(sys.executable).parent / "healthlab"
    return subprocess.run(
        [str(command), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"quarter": "2026-3"}, "is malformed"),
        ({"clients": ["K9999Q"]}, r"Unknown client id\(s\): 'K9999Q'"),
        ({"segment": "giant"}, "Segment 'giant' is unknown"),
        ({"formats": ["docx"]}, "formats 'docx' not supported"),
        ({"audience": "board"}, "audience 'board' is unknown"),
        ({"jobs": 0}, "jobs must be 1 or more"),
        ({"quarter": "2031Q1"}, "No client has usage or operations data in 2031Q1"),
        ({"clients": ["K0001Q"], "segment": "smb"}, "either by id or by segment"),
    ],
)
def test_invalid_options_raise_before_writing(
    portfolio: Path, tmp_path: Path, options: dict, message: str
) -> None:
    arguments = {"quarter": QUARTER, "progress": False} | options
    with pytest.raises(ParameterError, match=message):
        render_batch(portfolio, out=tmp_path / "out", **arguments)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--quarter", "2026-3"], "is malformed"),
        (
            ["--quarter", QUARTER, "--clients", "K9999Q"],
            "Unknown client id(s): 'K9999Q'",
        ),
    ],
)
def test_cli_user_errors_exit_2(
    portfolio: Path, tmp_path: Path, arguments: list[str], message: str
) -> None:
    run = _cli("render", str(portfolio), "--out", str(tmp_path / "out"), *arguments)
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()


def test_cli_output_under_a_file_exit_2(portfolio: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    run = _cli(
        "render", str(portfolio), "--quarter", QUARTER, "--out", str(blocker / "out")
    )
    assert run.returncode == 2
    assert f"{blocker} is a file, not a folder" in run.stderr
    assert "Traceback" not in run.stderr


def test_cli_exit_codes_for_failure_and_skip(portfolio: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    good = active_clients(portfolio)[0]
    bad = inactive_clients(portfolio)[0]
    common = [
        "render",
        str(portfolio),
        "--quarter",
        QUARTER,
        "--out",
        str(out),
        "--formats",
        "html",
        "--jobs",
        "2",
    ]
    first = _cli(*common, "--clients", f"{good},{bad}")
    assert first.returncode == 1
    assert f"failed: {bad}:" in first.stderr
    assert "1 rendered, 0 skipped, 1 failed" in first.stdout
    again = _cli(*common, "--clients", good)
    assert again.returncode == 0
    assert "0 rendered, 1 skipped, 0 failed" in again.stdout
