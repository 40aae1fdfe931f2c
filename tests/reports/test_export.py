"""Export of executed notebooks to self-contained HTML and to PDF."""

from __future__ import annotations

import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from healthlab.errors import ReportError
from healthlab.reports import export, markup

HAS_PDFTOTEXT = shutil.which("pdftotext") is not None


def _notebook(html: str = "<p>visible</p>") -> nbformat.NotebookNode:
    parameters = new_code_cell('client_id = ""', metadata={"tags": ["parameters"]})
    injected = new_code_cell(
        'client_id = "SECRET-ID"', metadata={"tags": ["injected-parameters"]}
    )
    shown = new_code_cell("show(secret_code())")
    shown.outputs = [
        new_output("stream", name="stderr", text="/home/user/site-packages/x.py warn"),
        new_output("execute_result", data={"text/plain": "<Figure size 10>"}),
        new_output(
            "display_data",
            data={"text/html": html, "text/plain": "<IPython.core.display.HTML>"},
            metadata={"isolated": False},
        ),
        new_output("display_data", data={"image/png": "iVBORw0KGgo="}),
        new_output("display_data", data={"application/javascript": "alert(1)"}),
    ]
    internal = new_markdown_cell("## Internal heading", metadata={"tags": ["internal"]})
    removed = new_markdown_cell("Analyst note", metadata={"tags": ["remove"]})
    notebook = new_notebook(
        cells=[
            removed,
            parameters,
            injected,
            new_markdown_cell("## Section"),
            shown,
            internal,
        ]
    )
    notebook.metadata["papermill"] = {"parameters": {"dataset": "/secret/path"}}
    return notebook


def test_report_cells_keep_only_displays() -> None:
    cleaned = export.report_cells(_notebook(), "client")
    assert [cell.cell_type for cell in cleaned.cells] == ["markdown", "code"]
    outputs = cleaned.cells[1].outputs
    assert [list(output.data) for output in outputs] == [["text/html"], ["image/png"]]
    assert cleaned.cells[1].source == ""
    assert "papermill" not in cleaned.metadata


def test_internal_cells_only_in_internal_edition() -> None:
    client = export.export_html(_notebook(), title="T", audience="client")
    internal = export.export_html(_notebook(), title="T", audience="internal")
    assert "Internal heading" not in client
    assert "Internal heading" in internal


def test_export_hides_code_streams_and_parameters() -> None:
    page = export.export_html(_notebook(), title="T <x>", audience="client")
    for hidden in (
        "SECRET-ID",
        "secret_code",
        "site-packages",
        "Figure size",
        "alert(1)",
        "Analyst note",
        "/secret/path",
        "In&nbsp;[",
        "client_id",
    ):
        assert hidden not in page
    assert "<p>visible</p>" in page
    assert "<title>T &lt;x&gt;</title>" in page
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in page


@pytest.mark.parametrize(
    "html",
    [
        '<img src="https://cdn.example.invalid/x.png">',
        '<link rel="stylesheet" href="style.css">',
        "<script>console.log(1)</script>",
        '<div style="background: url(http://example.invalid/a.png)"></div>',
        "<style>@import 'x.css';</style>",
        '<a href="http://example.invalid">x</a>',
    ],
)
def test_export_rejects_outside_references(html: str) -> None:
    with pytest.raises(ReportError, match="is not self-contained"):
        export.export_html(_notebook(html), title="T", audience="client")


def test_export_rejects_machine_paths(tmp_path) -> None:
    leaked = f"<p>{tmp_path}/data.parquet</p>"
    with pytest.raises(ReportError, match="shows machine paths"):
        export.export_html(
            _notebook(leaked),
            title="T",
            audience="client",
            forbidden=export.machine_paths(tmp_path),
        )


def test_machine_paths_cover_home_and_prefix(tmp_path) -> None:
    import sys
    from pathlib import Path

    paths = export.machine_paths(tmp_path)
    assert str(Path.home()) in paths
    assert sys.prefix in paths
    assert str(tmp_path) in paths
    assert "site-packages" in paths


def test_pdf_has_header_footer_and_page_numbers(tmp_path) -> None:
    name = '<b>Zeta</b> "Ωμέγα" 東京 🚀'
    body = markup.cover(name, "Q3 2026", "1 October 2026", "Client edition")
    body += "".join(markup.paragraph(f"Line {index}") for index in range(120))
    notebook = new_notebook(cells=[new_code_cell("x")])
    notebook.cells[0].outputs = [new_output("display_data", data={"text/html": body})]
    page = export.export_html(notebook, title="T", audience="client")
    pdf = export.html_to_pdf(page)
    assert pdf.startswith(b"%PDF")
    if not HAS_PDFTOTEXT:
        pytest.skip("pdftotext (poppler-utils) not installed: PDF text not checked")
    import subprocess

    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pages = text.split("\f")
    assert name in pages[0]
    assert "Page 1 of" in pages[0]
    assert f"{name} · Q3 2026" in pages[1]
    assert "Client edition" in pages[1]


def test_pdf_fetches_no_files(tmp_path) -> None:
    import io

    from matplotlib.figure import Figure

    buffer = io.BytesIO()
    Figure(figsize=(1, 1)).savefig(buffer, format="png")
    secret = tmp_path / "secret.png"
    secret.write_bytes(buffer.getvalue())
    page = f'<html><body><img src="{secret.as_uri()}"><p>x</p></body></html>'
    pdf = export.html_to_pdf(page)
    assert pdf.startswith(b"%PDF")
    assert b"/Image" not in pdf  # WeasyPrint's default fetcher would embed it
