"""The input tables of a dataset: their files, columns, types, units and keys.

This module is the single description of the data model. The pandera schemas in
:mod:`healthlab.validation` and the column tables in ``data/README.md`` are both
built from it, so the two cannot drift apart.

A dataset is a folder with one file per table, named ``<table>.csv`` or
``<table>.parquet``. Months are written as the first day of the month
(``2026-03-01``); other dates as ISO dates (``2026-03-17``).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from typing import Literal

ColumnKind = Literal["str", "int", "float", "date", "month", "category"]

CHANNELS = ("marketplace", "social_media", "website", "app_store", "domain")
INFRINGEMENT_TYPES = (
    "counterfeit",
    "trademark_misuse",
    "copyright",
    "impersonation",
    "grey_market",
)
SEGMENTS = ("enterprise", "mid_market", "smb")
TIERS = ("premium", "standard", "essentials")
SENTIMENTS = ("negative", "neutral", "positive")
OUTCOMES = ("renewed", "churned")


@dataclass(frozen=True)
class Column:
    """One column of an input table."""

    name: str
    kind: ColumnKind
    description: str
    unit: str = ""
    # Keyword-only, so that a positional 0 cannot land in `nullable`.
    _: KW_ONLY
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """One input table: the file stem, its columns and its unique key."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    rules: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


_CLIENT_ID = Column("client_id", "str", "Client identifier; kept as text (`007`).")
_MONTH = Column("month", "month", "Calendar month, written as its first day.")

TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table(
            "clients",
            "One row per client brand: contract facts and ownership.",
            (
                _CLIENT_ID,
                Column("client_name", "str", "Brand name shown in reports."),
                Column("segment", "category", "Sales segment.", categories=SEGMENTS),
                Column("tier", "category", "Service tier.", categories=TIERS),
                Column(
                    "arr_usd", "float", "Annual recurring revenue.", "USD", minimum=0
                ),
                Column("contract_start", "date", "First day of the first contract."),
                Column(
                    "renewal_date",
                    "date",
                    "Next renewal date, or the renewal at which the client left.",
                ),
                Column(
                    "licensed_seats",
                    "int",
                    "User seats in the contract.",
                    "seats",
                    minimum=1,
                ),
                Column("csm", "str", "Customer success manager who owns the client."),
            ),
            key=("client_id",),
            rules=("renewal_date is after contract_start",),
        ),
        Table(
            "usage",
            "Product utilisation per client and month.",
            (
                _CLIENT_ID,
                _MONTH,
                Column(
                    "active_users",
                    "int",
                    "Distinct users who signed in during the month.",
                    "users",
                    minimum=0,
                ),
                Column(
                    "logins", "int", "Sign-ins during the month.", "count", minimum=0
                ),
            ),
            key=("client_id", "month"),
        ),
        Table(
            "nps",
            "Net Promoter Score survey responses.",
            (
                _CLIENT_ID,
                Column("response_date", "date", "Date the response was submitted."),
                Column("respondent_id", "str", "Anonymous respondent identifier."),
                Column(
                    "score",
                    "int",
                    "Answer to 'How likely are you to recommend us?'.",
                    "0-10",
                    minimum=0,
                    maximum=10,
                ),
            ),
            key=("client_id", "respondent_id", "response_date"),
        ),
        Table(
            "operations",
            "Brand-protection work per client, month, channel and infringement type.",
            (
                _CLIENT_ID,
                _MONTH,
                Column(
                    "channel", "category", "Where it was found.", categories=CHANNELS
                ),
                Column(
                    "infringement_type",
                    "category",
                    "What kind of infringement.",
                    categories=INFRINGEMENT_TYPES,
                ),
                Column(
                    "detections",
                    "int",
                    "Infringing items detected.",
                    "count",
                    minimum=0,
                ),
                Column(
                    "enforcement_requested",
                    "int",
                    "Takedown or enforcement actions sent.",
                    "count",
                    minimum=0,
                ),
                Column(
                    "removals_confirmed",
                    "int",
                    "Actions confirmed as removed by the platform.",
                    "count",
                    minimum=0,
                ),
                Column(
                    "median_days_to_removal",
                    "float",
                    "Median days from request to confirmed removal; blank when none.",
                    "days",
                    nullable=True,
                    minimum=0,
                ),
            ),
            key=("client_id", "month", "channel", "infringement_type"),
            rules=("removals_confirmed <= enforcement_requested",),
        ),
        Table(
            "economic_impact",
            "Inputs to the economic impact estimate, per client and month.",
            (
                _CLIENT_ID,
                _MONTH,
                Column(
                    "avg_listing_price_usd",
                    "float",
                    "Average price of the removed infringing listings.",
                    "USD",
                    minimum=0,
                ),
                Column(
                    "est_units_per_listing",
                    "float",
                    "Estimated units one listing sells before removal.",
                    "units",
                    minimum=0,
                ),
            ),
            key=("client_id", "month"),
        ),
        Table(
            "qbr_meetings",
            "Quarterly business review meetings held with the client.",
            (
                _CLIENT_ID,
                Column("meeting_date", "date", "Date of the meeting."),
                Column(
                    "sentiment",
                    "category",
                    "CSM's reading of the client's mood.",
                    categories=SENTIMENTS,
                ),
                Column(
                    "objectives_met",
                    "int",
                    "Agreed objectives met.",
                    "count",
                    minimum=0,
                ),
                Column(
                    "objectives_total",
                    "int",
                    "Objectives agreed for the period.",
                    "count",
                    minimum=0,
                ),
                Column(
                    "internal_notes",
                    "str",
                    "CSM notes; internal only, never shown to the client.",
                    nullable=True,
                ),
            ),
            key=("client_id", "meeting_date"),
            rules=("objectives_met <= objectives_total",),
        ),
        Table(
            "renewals",
            "Outcome of every renewal date that has passed.",
            (
                _CLIENT_ID,
                Column("renewal_date", "date", "Contract end date that was decided."),
                Column(
                    "outcome",
                    "category",
                    "Whether the client renewed or left.",
                    categories=OUTCOMES,
                ),
                Column("arr_usd", "float", "ARR up for renewal.", "USD", minimum=0),
            ),
            key=("client_id", "renewal_date"),
        ),
    )
}

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)
