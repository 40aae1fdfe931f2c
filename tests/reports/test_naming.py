"""Safe report file names from hostile client names."""

from __future__ import annotations

import re

import pytest

from healthlab.errors import ReportError
from healthlab.reports.naming import report_stem, report_stems, slugify

SAFE = re.compile(r"[A-Za-z0-9_-]+")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Acme Corp", "acme-corp"),
        ("Café Crème", "cafe-creme"),
        ('<b>Bold</b> "Quoted" & Co', "bold-quoted-co"),
        ("Day/Night\\Optics", "day-night-optics"),
        ("../../etc/passwd", "etc-passwd"),
        ("Ωμέγα", ""),
        ("東京スポーツ用品", ""),
        ("Rocket 🚀 Gear", "rocket-gear"),
        ("   ", ""),
    ],
)
def test_slugify_cases(name: str, expected: str) -> None:
    assert slugify(name) == expected


def test_slugify_cuts_long_names_at_hyphen() -> None:
    slug = slugify("alpha " * 20)
    assert len(slug) <= 40
    assert not slug.endswith("-")
    assert slug.startswith("alpha-alpha")


@pytest.mark.parametrize(
    ("client_id", "name", "expected"),
    [
        ("0042", "Acme", "acme-0042"),
        ("007", "東京スポーツ用品", "client-007"),
        ("K0001Q", "<script>x</script>", "x-K0001Q"),
    ],
)
def test_report_stem_cases(client_id: str, name: str, expected: str) -> None:
    assert report_stem(client_id, name) == expected


def test_report_stem_hashes_unsafe_ids() -> None:
    slash = report_stem("a/b", "Acme")
    dash = report_stem("a-b", "Acme")
    assert SAFE.fullmatch(slash)
    assert SAFE.fullmatch(dash)
    assert slash != dash
    assert report_stem("a/b", "Acme") == slash  # stable


def test_report_stem_rejects_empty_id() -> None:
    with pytest.raises(ReportError, match="client id is empty"):
        report_stem("", "Acme")


def test_report_stems_are_unique_per_client() -> None:
    stems = report_stems([("1", "Same Name"), ("2", "Same Name"), ("3", "Ωμέγα")])
    assert len(set(stems.values())) == 3
    assert all(SAFE.fullmatch(stem) for stem in stems.values())


def test_report_stems_reject_case_collisions() -> None:
    with pytest.raises(ReportError, match="map to the same report file name"):
        report_stems([("ab", "Acme"), ("AB", "Acme")])
