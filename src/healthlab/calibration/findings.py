"""Findings: what a calibration check detected and what it did about it."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Finding:
    """One problem detected while calibrating, with the fallback that handled it.

    Attributes
    ----------
    check
        Short code of the check that fired. The fit reports ``separation``,
        ``collinearity``, ``constant``, ``convergence``, ``events`` and
        ``clusters``. The weights report ``wrong_sign``, ``no_evidence``,
        ``evidence``, ``weights`` (how they were derived) and ``bands``. The
        data report ``excluded``, ``missing``, ``segments`` and, for tables,
        ``invalid_rows``.
    message
        What was detected, in plain words, with the figures behind it.
    action
        What calibration did about it; empty when nothing needed doing.
    """

    check: str
    message: str
    action: str = ""

    def __str__(self) -> str:
        return f"{self.message} {self.action}".strip()

    def to_dict(self) -> dict[str, str]:
        """Return the finding as a plain mapping, as stored in a model file."""
        return asdict(self)
