"""End-to-end batch rendering and the confidentiality checks on its output.

One session-scoped batch renders the client edition of five clients (four with
hostile names) plus one client without data in the quarter, and the internal
edition of two clients; every test then inspects those files.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from reports_helpers import (
    QUARTER,
    SPECIAL_NAMES,
    active_clients,
    inactive_clients,
    make_portfolio,
    pdf_text,
    visible_text,
)

from healthlab.reports.batch import render_batch

pytestmark = pytest.mark.slow

HAS_PDFTOTEXT = shutil.which("pdftotext") is not None
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_portfolio(tmp_path_factory.mktemp("portfolio") / "data")


@pytest.fixture(scope="session")
def chosen(portfolio: Path) -> dict[str, list[str]]:
    active = active_clients(portfolio)
    return {"ok": active[:5], "no_data": inactive_clients(portfolio)[:1]}


@pytest.fixture(scope="session")
def alerts_file(portfolio: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("alerts") / "alerts.csv"
    pd.DataFrame(
        {
            "client_id": ["K0001Q", "K0007Q", "K0009Q"],
            "rule": ["score_drop", "missed_qbr", "nps_detractor"],
            "severity": ["high", "medium", "low"],
            "message": [
                "Score fell 12 points in 3 months",
                "No QBR for 7 months",
                "Alert text of another client",
            ],
        }
    ).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def batch(portfolio: Path, chosen: dict[str, list[str]], tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    result = render_batch(
        portfolio,
        QUARTER,
        out,
        clients=chosen["ok"] + chosen["no_data"],
        jobs=2,
        progress=False,
        timeout=240,
    )
    return result, out


@pytest.fixture(scope="session")
def internal_batch(portfolio: Path, alerts_file: Path, batch, tmp_path_factory):
    _, out = batch
    result = render_batch(
        portfolio,
        QUARTER,
        out,
        clients=["K0001Q", "K0007Q"],
        audience="internal",
        formats=("html", "pdf"),
        jobs=2,
        progress=False,
        alerts=alerts_file,
        timeout=240,
    )
    return result, out


def _clients(portfolio: Path) -> pd.DataFrame:
    return pd.read_csv(portfolio / "clients.csv", dtype=str)


def _shared_files(out: Path, audience: str = "client") -> list[Path]:
    return sorted((out / QUARTER / audience).iterdir())


def _texts(path: Path) -> list[str]:
    if path.suffix == ".html":
        return [visible_text(path.read_text(encoding="utf-8"))]
    if HAS_PDFTOTEXT:
        return [pdf_text(path)]
    return []


def _owner(path: Path) -> str:
    match = re.search(r"(K\d{4}Q)\.(html|pdf)$", path.name)
    assert match, f"{path.name} does not end with a client id"
    return match[1]


# --------------------------------------------------------------------------
# statuses, files and manifest


def test_batch_renders_active_clients(batch, chosen) -> None:
    result, _ = batch
    assert sorted(result.rendered) == sorted(chosen["ok"])
    assert result.failed == chosen["no_data"]


def test_failed_client_has_error_and_no_shareable_file(batch, chosen) -> None:
    result, out = batch
    failed = result.with_status("failed")[0]
    assert "no usage or operations data in 2026Q3" in failed.error
    assert not list((out / QUARTER / "client").glob(f"*{failed.client_id}.*"))
    kept = out / QUARTER / "_internal" / "failed" / "client"
    assert (kept / f"{failed.file_stem}.ipynb").is_file()
    assert (
        "no usage or operations data" in (kept / f"{failed.file_stem}.txt").read_text()
    )


def test_file_names_are_safe_and_unique(batch, chosen) -> None:
    _, out = batch
    files = _shared_files(out)
    assert len(files) == 2 * len(chosen["ok"])
    for path in files:
        assert re.fullmatch(r"[a-z0-9-]+-K\d{4}Q\.(html|pdf)", path.name), path.name
    stems = {path.stem for path in files}
    assert len(stems) == len(chosen["ok"])
    assert "zanzibar-quoted-sons-K0001Q" in stems
    assert "client-K0003Q" in stems  # Japanese name: no ASCII letters left
    assert "rocket-gear-outlet-depot-K0004Q" in stems


def test_work_folders_are_removed_after_success(batch, chosen) -> None:
    _, out = batch
    work = out / QUARTER / "_internal" / "work" / "client"
    left = sorted(path.name for path in work.iterdir()) if work.exists() else []
    assert all(name.endswith(tuple(chosen["no_data"])) for name in left)


def test_manifest_records_hashes_and_statuses(batch, chosen) -> None:
    import hashlib

    _, out = batch
    folder = out / QUARTER / "_internal"
    manifest = json.loads((folder / "manifest-client.json").read_text())
    entries = {entry["client_id"]: entry for entry in manifest["clients"]}
    assert set(entries) == set(chosen["ok"] + chosen["no_data"])
    for client_id in chosen["ok"]:
        entry = entries[client_id]
        assert entry["status"] == "rendered"
        assert entry["duration_s"] > 0
        assert set(entry["inputs"]) == {
            "slice",
            "notebook",
            "model",
            "template",
            "parameters",
        }
        for fmt in ("html", "pdf"):
            data = (
                out / QUARTER / "client" / f"{entry['file_stem']}.{fmt}"
            ).read_bytes()
            assert entry["outputs"][fmt]["sha256"] == hashlib.sha256(data).hexdigest()
    table = pd.read_csv(folder / "manifest-client.csv", dtype=str)
    assert list(table.columns[:4]) == [
        "client_id",
        "client_name",
        "file_stem",
        "status",
    ]
    assert {"html_sha256", "pdf_sha256", "error", "slice_sha256"} <= set(table.columns)
    assert (table["status"] == "failed").sum() == 1


def test_index_is_internal_and_lists_clients(batch) -> None:
    _, out = batch
    assert not (out / QUARTER / "client" / "index.html").exists()
    index = (out / QUARTER / "_internal" / "index.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;Zanzibar&lt;/b&gt;" in index
    assert "<b>Zanzibar" not in index
    assert 'href="../client/client-K0003Q.pdf"' in index


# --------------------------------------------------------------------------
# confidentiality of the client edition


def test_no_other_client_in_any_client_file(batch, portfolio) -> None:
    _, out = batch
    clients = _clients(portfolio)
    for path in _shared_files(out):
        owner = _owner(path)
        others = clients[clients["client_id"] != owner]
        for text in _texts(path):
            for client_id, name in zip(
                others["client_id"], others["client_name"], strict=True
            ):
                assert client_id not in text, f"{client_id} found in {path.name}"
                assert name not in text, f"{name!r} found in {path.name}"


def test_client_edition_hides_internal_fields(batch, portfolio) -> None:
    _, out = batch
    clients = _clients(portfolio)
    meetings = pd.read_csv(portfolio / "qbr_meetings.csv", dtype=str)
    notes = {note for note in meetings["internal_notes"].dropna() if len(note) > 12}
    csm_names = set(clients["csm"])
    forbidden_words = [
        "churn",
        "health score",
        "talking point",
        "internal",
        "alert",
        "at_risk",
        "contrib_",
        "logit",
        "intercept",
    ]
    for path in _shared_files(out):
        for text in _texts(path):
            lowered = text.lower()
            for note in notes:
                assert note not in text, f"internal note in {path.name}"
            for name in csm_names:
                assert name not in text, f"CSM name in {path.name}"
            for word in forbidden_words:
                assert word not in lowered, f"{word!r} in {path.name}"
            assert _owner(path) not in text, f"own client id in {path.name}"


def test_client_edition_shows_no_code_parameters_or_paths(batch, portfolio) -> None:
    _, out = batch
    markers = [
        "import ",
        "def ",
        "show(",
        "validate_parameters",
        "papermill",
        "Traceback",
        "In [",
        "Out[",
        "client_id",
        "model_file",
        "dataset =",
        QUARTER,
        "site-packages",
        "/tmp/",
        str(Path.home()),
        sys.prefix,
        str(portfolio),
        str(out),
        ".parquet",
        ".ipynb",
        "Warning",
    ]
    for path in _shared_files(out):
        for text in _texts(path):
            for marker in markers:
                assert marker not in text, f"{marker!r} in {path.name}"


def test_names_render_as_escaped_text(batch) -> None:
    _, out = batch
    page = (out / QUARTER / "client" / "zanzibar-quoted-sons-K0001Q.html").read_text(
        encoding="utf-8"
    )
    assert "<b>Zanzibar" not in page
    assert "<i>Sons" not in page
    assert "&lt;b&gt;Zanzibar&lt;/b&gt;" in page
    assert "&amp; &lt;i&gt;Sons&lt;/i&gt;" in page


@pytest.mark.skipif(not HAS_PDFTOTEXT, reason="pdftotext (poppler-utils) not installed")
@pytest.mark.parametrize(
    ("stem", "name"),
    [
        ("zanzibar-quoted-sons-K0001Q", SPECIAL_NAMES[0]),
        ("zeta-K0002Q", SPECIAL_NAMES[1]),
        ("client-K0003Q", SPECIAL_NAMES[2]),
        ("rocket-gear-outlet-depot-K0004Q", SPECIAL_NAMES[3]),
    ],
)
def test_pdf_shows_name_header_and_page_numbers(batch, stem: str, name: str) -> None:
    _, out = batch
    text = pdf_text(out / QUARTER / "client" / f"{stem}.pdf")
    pages = text.split("\f")
    assert name in pages[0]
    assert re.search(r"Page 1 of (\d+)", pages[0])
    assert f"{name} · Q3 2026" in pages[1]  # running header from page 2 on
    assert "Page 2 of" in pages[1]


def test_html_is_self_contained(batch) -> None:
    _, out = batch
    for path in _shared_files(out):
        if path.suffix != ".html":
            continue
        page = path.read_text(encoding="utf-8")
        assert "<script" not in page.lower()
        assert "<link" not in page.lower()
        assert "@import" not in page
        assert "@font-face" not in page
        references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", page)
        assert references, "expected inline images"
        assert all(item.startswith("data:image/png;base64,") for item in references)
        assert not re.search(r"url\((?!data:)", page)
        assert "http://" not in page
        assert "https://" not in page


def _chromium_check(page: Path, profile: Path) -> tuple[list[str], list[str], str]:
    """Open a page headless with the network blocked; return requests, console, DOM."""
    net_log = profile / "net.json"
    run = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
            f"--log-net-log={net_log}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    events = json.loads(net_log.read_text())["events"]
    # Chromium's own background services (updates, time, accounts) use Google
    # hosts; every other request comes from the page.
    own = re.compile(r"^https?://[^/]*(google|googleapis|gvt1|gstatic)\.com/")
    requests = sorted(
        {
            event["params"]["url"]
            for event in events
            if "url" in event.get("params", {})
            and not own.match(event["params"]["url"])
            and not event["params"]["url"].startswith("data:")
        }
    )
    return requests, console, run.stdout


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed")
def test_chromium_check_detects_bad_page(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text(
        '<img src="http://report-check.invalid/x.png">'
        "<script>console.error('bad page')</script>"
    )
    requests, console, _ = _chromium_check(page, tmp_path / "profile")
    assert any("report-check.invalid" in url for url in requests)
    assert any("bad page" in line for line in console)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed")
def test_report_loads_in_chromium_offline(batch, tmp_path: Path) -> None:
    _, out = batch
    page = out / QUARTER / "client" / "rocket-gear-outlet-depot-K0004Q.html"
    requests, console, dom = _chromium_check(page, tmp_path / "profile")
    assert requests == []
    assert console == []
    assert "Rocket 🚀 Gear/Outlet\\Depot" in dom
    assert dom.count("<img") >= 4


# --------------------------------------------------------------------------
# internal edition


def test_internal_edition_adds_internal_sections(internal_batch, portfolio) -> None:
    result, out = internal_batch
    assert sorted(result.rendered) == ["K0001Q", "K0007Q"]
    page = visible_text(
        (out / QUARTER / "internal" / "zanzibar-quoted-sons-K0001Q.html").read_text(
            encoding="utf-8"
        )
    )
    for heading in (
        "Health score",
        "Churn risk",
        "What changed and why",
        "Talking points",
        "Open alerts",
        "Last QBR meeting",
    ):
        assert heading in page
    assert "Score fell 12 points in 3 months" in page
    assert "Alert text of another client" not in page
    assert "No QBR for 7 months" not in page
    meetings = pd.read_csv(portfolio / "qbr_meetings.csv", dtype=str)
    own_notes = (
        meetings.loc[
            (meetings["client_id"] == "K0001Q")
            & (meetings["meeting_date"] <= "2026-09-30"),
        ]
        .sort_values("meeting_date")["internal_notes"]
        .dropna()
    )
    assert own_notes.iloc[-1] in page


def test_internal_edition_shows_no_other_client(internal_batch, portfolio) -> None:
    _, out = internal_batch
    clients = _clients(portfolio)
    for path in _shared_files(out, "internal"):
        owner = _owner(path)
        others = clients[clients["client_id"] != owner]
        for text in _texts(path):
            for client_id, name in zip(
                others["client_id"], others["client_name"], strict=True
            ):
                assert client_id not in text
                assert name not in text


# --------------------------------------------------------------------------
# re-runs


@pytest.fixture
def rerun_out(batch, tmp_path: Path) -> Path:
    _, out = batch
    copy = tmp_path / "reports"
    shutil.copytree(out, copy)
    return copy


def test_rerun_skips_unchanged_reports(portfolio, chosen, rerun_out: Path) -> None:
    result = render_batch(
        portfolio, QUARTER, rerun_out, clients=chosen["ok"], jobs=2, progress=False
    )
    assert sorted(result.skipped) == sorted(chosen["ok"])
    assert result.rendered == []


def test_rerun_with_force_renders_again(portfolio, chosen, rerun_out: Path) -> None:
    target = chosen["ok"][4]
    result = render_batch(
        portfolio, QUARTER, rerun_out, clients=[target], force=True, progress=False
    )
    assert result.rendered == [target]


def test_changed_model_renders_again(portfolio, chosen, rerun_out: Path) -> None:
    from healthlab.model import default_model_path

    model = rerun_out.parent / "model.yaml"
    text = (
        default_model_path()
        .read_text()
        .replace("displacement_rate: 0.2", "displacement_rate: 0.25")
    )
    model.write_text(text)
    target = chosen["ok"][4]
    result = render_batch(
        portfolio, QUARTER, rerun_out, clients=[target], model=model, progress=False
    )
    assert result.rendered == [target]


def test_changed_output_file_renders_again(portfolio, chosen, rerun_out: Path) -> None:
    target = chosen["ok"][4]
    html = next((rerun_out / QUARTER / "client").glob(f"*{target}.html"))
    html.write_text("tampered", encoding="utf-8")
    result = render_batch(
        portfolio,
        QUARTER,
        rerun_out,
        clients=[target],
        formats=("html",),
        progress=False,
    )
    assert result.rendered == [target]
    assert html.read_text(encoding="utf-8") != "tampered"


def test_renamed_client_replaces_old_files(portfolio, chosen, rerun_out: Path) -> None:
    target = chosen["ok"][4]
    renamed = rerun_out.parent / "renamed"
    shutil.copytree(portfolio, renamed)
    clients = pd.read_csv(renamed / "clients.csv", dtype=str, keep_default_na=False)
    clients.loc[clients["client_id"] == target, "client_name"] = "Brand New Name"
    clients.to_csv(renamed / "clients.csv", index=False)
    folder = rerun_out / QUARTER / "client"
    old = sorted(path.name for path in folder.glob(f"*-{target}.*"))
    result = render_batch(
        renamed,
        QUARTER,
        rerun_out,
        clients=[target],
        formats=("html",),
        progress=False,
    )
    assert result.rendered == [target]
    assert all(not (folder / name).exists() for name in old)
    assert (folder / f"brand-new-name-{target}.html").is_file()
