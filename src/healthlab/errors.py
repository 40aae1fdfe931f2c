"""Errors raised for problems a user can fix.

Every error a user can cause derives from :class:`HealthlabError`. The CLI prints
its message without a traceback and exits with status 2. Anything else that
escapes is a defect in healthlab.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_LISTED = 20
"""Problems listed in the message of a :class:`DataValidationError`, so that it
fits on one screen. Its ``problems`` attribute keeps all of them."""


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file.

    ``row`` is the line number in the file as a spreadsheet shows it (the header
    is line 1, so the first data row is 2), or ``None`` when the problem is about
    the whole file or column.
    """

    file: str
    rule: str
    message: str
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column `{self.column}`"
        text = f"{where}: {self.message}"
        if self.value is not None:
            text += f" (value: {self.value!r})"
        return text + f" [{self.rule}]"


class HealthlabError(Exception):
    """Base class of the errors a user can fix by changing an input."""


class ConfigError(HealthlabError):
    """A model file, column mapping or option is invalid."""


class DataValidationError(HealthlabError):
    """A dataset breaks one or more rules; ``problems`` lists all of them."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(self._build_message())

    def _build_message(self) -> str:
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        # A single table file (`calibrate --table`) is not a dataset folder.
        is_file = Path(self.source).suffix.lower() in (".csv", ".parquet")
        kind = "Table" if is_file else "Dataset"
        lines = [f"{kind} {self.source} is invalid: {count} {noun} found."]
        lines += [f"  - {problem}" for problem in self.problems[:MAX_LISTED]]
        hidden = count - MAX_LISTED
        if hidden > 0:
            more = f"  ... and {hidden} more"
            if Path(self.source).is_dir():
                more += f"; `healthlab validate {self.source}` lists them all"
            lines.append(more + ".")
        lines.append("Fix these problems and run the command again.")
        return "\n".join(lines)


class CalibrationError(HealthlabError):
    """The data cannot support a trustworthy fit of the score weights."""


class ReportError(HealthlabError):
    """A report cannot be rendered for the requested client or quarter."""


class ParameterError(ReportError):
    """A report parameter (client, quarter, audience, file) is invalid."""


def format_problems(problems: Iterable[Problem]) -> str:
    """Format problems one per line, in the order given."""
    return "\n".join(str(problem) for problem in problems)
