"""Export an executed report notebook to self-contained HTML and to PDF.

HTML goes through nbconvert's :class:`~nbconvert.HTMLExporter` with the
packaged ``qbr`` template (``healthlab/templates/qbr``): no code, no prompts, no
parameters cell, only the HTML and PNG parts of display outputs, and an inline
style sheet. The PDF is drawn from that HTML by WeasyPrint, which may fetch
nothing but ``data:`` URLs. Both are checked before they are returned: a page
that refers to an outside resource or shows a path of the rendering machine
raises :class:`~healthlab.errors.ReportError` instead of being written.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import re
import sys
import sysconfig
import tempfile
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healthlab.errors import ReportError

if TYPE_CHECKING:
    from nbconvert import HTMLExporter
    from nbformat import NotebookNode

logger = logging.getLogger(__name__)

TEMPLATE_NAME = "qbr"
REMOVED_TAGS = frozenset({"parameters", "injected-parameters", "remove"})
INTERNAL_TAG = "internal"
KEPT_MIME_TYPES = ("text/html", "image/png")

_EXTERNAL_REFERENCE = re.compile(
    r"""(?:\b(?:src|href|srcset|poster|data|action)\s*=\s*["']?\s*(?!data:|\#)[^\s"'>]"""
    r"""|url\(\s*["']?\s*(?!data:|\#)[^)\s]"""
    r"""|@import\b|<script\b|<link\b|<iframe\b|<object\b|<embed\b|<base\b)""",
    re.IGNORECASE,
)


def templates_folder() -> Path:
    """Return the folder that contains the packaged nbconvert templates."""
    return Path(str(resources.files("healthlab") / "templates"))


def template_files() -> list[Path]:
    """Return the files of the ``qbr`` template, for hashing into cache keys."""
    return sorted(path for path in (templates_folder() / TEMPLATE_NAME).iterdir())


@functools.cache
def _exporter() -> HTMLExporter:
    # Building the exporter loads the Jinja environment; a worker process
    # reuses one exporter for all the reports it renders.
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(templates_folder())],
    )
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.exclude_anchor_links = True
    exporter.embed_images = True
    return exporter


def report_cells(notebook: NotebookNode, audience: str) -> NotebookNode:
    """Return a copy of an executed notebook holding only what a reader may see.

    Cells tagged ``parameters``, ``injected-parameters`` or ``remove`` are
    dropped, and so are cells tagged ``internal`` unless ``audience`` is
    ``internal``. Code cells keep only display outputs, and of those only the
    ``text/html`` and ``image/png`` parts; the notebook metadata, which records
    the paths and parameters of the run, is cleared.
    """
    cleaned = copy.deepcopy(notebook)
    cleaned.metadata = {
        key: value
        for key, value in cleaned.metadata.items()
        if key in ("kernelspec", "language_info")
    }
    kept = []
    for cell in cleaned.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & REMOVED_TAGS:
            continue
        if INTERNAL_TAG in tags and audience != "internal":
            continue
        cell.metadata = {}
        if cell.cell_type == "code":
            cell.source = ""
            outputs = []
            for output in cell.get("outputs", []):
                if output.get("output_type") != "display_data":
                    continue
                data = {
                    mime: output["data"][mime]
                    for mime in KEPT_MIME_TYPES
                    if mime in output.get("data", {})
                }
                if data:
                    output.data = data
                    output.metadata = {}
                    outputs.append(output)
            if not outputs:
                continue
            cell.outputs = outputs
        elif cell.cell_type != "markdown":
            continue
        kept.append(cell)
    cleaned.cells = kept
    return cleaned


def machine_paths(*extra: str | Path) -> list[str]:
    """Return path prefixes of this machine that must never appear in a report.

    The list contains the home folder, the temporary folder, the Python prefix and
    its ``site-packages``, the current folder and any ``extra`` paths (such as a
    report's working folder and its dataset). Paths shorter than 5 characters
    are left out, because they would match ordinary text.
    """
    candidates: list[str] = [
        os.path.expanduser("~"),
        tempfile.gettempdir(),
        sys.prefix,
        sys.base_prefix,
        sysconfig.get_paths()["purelib"],
        os.getcwd(),
        "site-packages",
        "dist-packages",
    ]
    candidates += [str(path) for path in extra]
    resolved = {str(Path(path).resolve()) for path in extra if str(path)}
    return sorted(
        {path for path in [*candidates, *resolved] if len(path) >= 5},
        key=len,
        reverse=True,
    )


def find_leaks(text: str, forbidden: Iterable[str]) -> list[str]:
    """Return the forbidden strings that occur in ``text``."""
    return [item for item in forbidden if item and item in text]


def check_self_contained(page: str, what: str) -> None:
    """Raise ReportError if the HTML refers to anything outside itself.

    Allowed references are ``data:`` URLs and in-page ``#`` anchors. Scripts,
    links to style sheets, frames and ``@import`` are rejected.
    """
    match = _EXTERNAL_REFERENCE.search(page)
    if match is not None:
        start = max(match.start() - 40, 0)
        excerpt = page[start : match.end() + 40].replace("\n", " ")
        raise ReportError(
            f"{what} is not self-contained: it refers to an outside resource "
            f"near {excerpt!r}. Reports may only embed data: URLs."
        )


def export_html(
    notebook: NotebookNode,
    *,
    title: str,
    audience: str,
    footer: str = "",
    forbidden: Iterable[str] = (),
) -> str:
    """Convert an executed report notebook to a self-contained HTML page.

    Parameters
    ----------
    notebook
        The notebook as executed by papermill.
    title
        Text of the page's ``<title>``; escaped by the template.
    audience
        ``client`` or ``internal``; cells tagged ``internal`` are kept only for
        ``internal``.
    footer
        Text of the page footer; escaped by the template.
    forbidden
        Strings that must not occur in the page, such as the machine paths from
        :func:`machine_paths`.

    Raises
    ------
    ReportError
        If the page refers to an outside resource or contains a forbidden
        string.
    """
    cleaned = report_cells(notebook, audience)
    extra: dict[str, Any] = {
        "qbr": {"title": title, "edition": audience, "footer": footer}
    }
    page, _ = _exporter().from_notebook_node(cleaned, resources=extra)
    check_self_contained(page, f"The {audience} report {title!r}")
    leaks = find_leaks(page, forbidden)
    if leaks:
        raise ReportError(
            f"The {audience} report {title!r} shows machine paths "
            f"({', '.join(repr(item) for item in leaks)}); it was not written. "
            "Remove the output that prints them from the notebook."
        )
    return page


def html_to_pdf(page: str) -> bytes:
    """Draw a PDF from a report page with WeasyPrint.

    Only ``data:`` URLs may be fetched, so a page cannot make WeasyPrint read a
    local file or reach the network. Page size, margins, the header naming the
    client and quarter, and page numbers come from the page's ``@page`` rules.
    """
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"})
    document = HTML(string=page, url_fetcher=fetcher)
    pdf: bytes = document.write_pdf()
    return pdf
