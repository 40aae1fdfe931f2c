"""Validation of the report notebook's parameters.

The first cell after the notebook's ``parameters`` cell calls
:func:`validate_parameters`. It fails at once, with a message that names the
bad value and the value to pass instead, for an unknown audience, a malformed
quarter, a missing dataset or file, an unknown client and a quarter without
data. It returns everything the report needs, already reduced to one client.

Client ids are text (``007``). Stock papermill turns ``-p client_id 007`` into
the integer 7; an integer is therefore matched against the ids made of digits
(``7`` finds ``007``), and rejected when it matches more than one id. Passing
``-r client_id 007`` keeps the text as it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from healthlab.dataset import Dataset
from healthlab.errors import ParameterError
from healthlab.model import ScoreModel, load_model
from healthlab.reports.quarters import Quarter
from healthlab.reports.slicing import is_slice, read_slice

logger = logging.getLogger(__name__)

AUDIENCES = ("client", "internal")
ALERT_SUFFIXES = (".csv", ".json", ".parquet")


@dataclass(frozen=True)
class ReportInputs:
    """Validated parameters and the one client's data a report is built from."""

    client_id: str
    quarter: Quarter
    audience: str
    data: Dataset
    model: ScoreModel
    dataset_last_month: pd.Timestamp | None
    scores: pd.DataFrame | None
    alerts: pd.DataFrame | None

    @property
    def internal(self) -> bool:
        """True for the internal edition."""
        return self.audience == "internal"


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_audience(audience: object) -> str:
    """Return the audience, or raise ParameterError if it is not known."""
    if audience not in AUDIENCES:
        raise ParameterError(
            f"Audience {audience!r} is unknown: use 'client' for the edition "
            "shared with the client or 'internal' for the customer-success team."
        )
    return str(audience)


def resolve_client_id(client_id: object, known: list[str], where: str) -> str:
    """Return the client id as text, matched against the ``known`` ids.

    Raises
    ------
    ParameterError
        If the id is blank, of an unsupported type, not among ``known``, or an
        integer that matches several ids.
    """
    if isinstance(client_id, bool) or _blank(client_id):
        raise ParameterError(
            "Parameter `client_id` is required: pass the client's id, for example "
            "`papermill ... -r client_id 0042`."
        )
    if isinstance(client_id, int):
        matches = [item for item in known if item.isdigit() and int(item) == client_id]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ParameterError(
                f"Client id {client_id} is ambiguous in {where}: it matches "
                f"{', '.join(repr(item) for item in matches)}. Pass the id as text "
                f"with `papermill ... -r client_id {matches[0]}`."
            )
        text = str(client_id)
    elif isinstance(client_id, str):
        text = client_id.strip()
    else:
        raise ParameterError(
            f"Parameter `client_id` must be text, got {type(client_id).__name__} "
            f"{client_id!r}."
        )
    if text not in known:
        raise ParameterError(
            f"Client {text!r} is not in {where} ({len(known)} clients). Check the "
            "id; ids are text, so pass them with `papermill ... -r client_id ID` "
            "to keep leading zeros."
        )
    return text


def _months_with_data(data: Dataset) -> pd.Series:
    months = pd.concat([data.usage["month"], data.operations["month"]])
    return months.drop_duplicates().sort_values(ignore_index=True)


def check_quarter_has_data(data: Dataset, client_id: str, quarter: Quarter) -> None:
    """Raise ParameterError if the client has no usage or operations in the quarter."""
    months = _months_with_data(data)
    if quarter.contains(months).any():
        return
    if months.empty:
        raise ParameterError(
            f"Client {client_id!r} has no usage or operations data at all, so "
            f"there is nothing to report for {quarter}."
        )
    first = Quarter(months.iloc[0].year, months.iloc[0].quarter)
    last = Quarter(months.iloc[-1].year, months.iloc[-1].quarter)
    raise ParameterError(
        f"Client {client_id!r} has no usage or operations data in {quarter}; its "
        f"data covers {first} to {last}. Choose a quarter in that range."
    )


def read_alerts_file(path: str | Path) -> pd.DataFrame:
    """Read a whole alerts file: CSV, JSON records or Parquet with ``client_id``.

    Raises
    ------
    ParameterError
        If the file is missing, has another suffix, cannot be parsed or has no
        ``client_id`` column.
    """
    file = Path(path)
    if file.suffix.lower() not in ALERT_SUFFIXES:
        raise ParameterError(
            f"Alerts file {file.name!r} must end in {', '.join(ALERT_SUFFIXES)}."
        )
    if not file.is_file():
        raise ParameterError(
            f"Alerts file {file.name!r} was not found; pass the file written by "
            "`healthlab monitor` (`--alerts` on the command line, `alerts_file` "
            "in the notebook), or leave it out."
        )
    try:
        if file.suffix.lower() == ".csv":
            frame = pd.read_csv(file, dtype={"client_id": str})
        elif file.suffix.lower() == ".json":
            frame = pd.read_json(file, orient="records", dtype={"client_id": str})
        else:
            frame = pd.read_parquet(file)
    except (OSError, ValueError) as error:
        raise ParameterError(
            f"Cannot read alerts file {file.name!r}: {error}"
        ) from None
    if "client_id" not in frame.columns:
        raise ParameterError(
            f"Alerts file {file.name!r} has no `client_id` column; found "
            f"{', '.join(map(str, frame.columns)) or 'no columns'}."
        )
    frame["client_id"] = frame["client_id"].astype(str)
    return frame


def read_alerts(path: str | Path, client_id: str) -> pd.DataFrame:
    """Read an alerts file and keep one client's rows; see :func:`read_alerts_file`."""
    frame = read_alerts_file(path)
    return frame[frame["client_id"] == client_id].reset_index(drop=True)


def _load_full(
    folder: Path, client_id: object, audience: str, model: ScoreModel
) -> tuple[str, Dataset, pd.Timestamp | None, pd.DataFrame | None]:
    from healthlab.dataset import load_dataset

    full = load_dataset(folder)
    known = [str(item) for item in full.clients["client_id"]]
    resolved = resolve_client_id(client_id, known, f"dataset {folder.name!r}")
    scores = None
    if audience == "internal":
        from healthlab.scoring import score_dataset

        all_scores = score_dataset(full, model)
        scores = all_scores[all_scores["client_id"] == resolved].reset_index(drop=True)
    return resolved, full.for_client(resolved), full.last_month, scores


def validate_parameters(
    client_id: object,
    quarter: object,
    dataset: object,
    model_file: object = None,
    audience: object = "client",
    alerts_file: object = None,
) -> ReportInputs:
    """Validate the notebook parameters and load the client's data.

    Parameters
    ----------
    client_id
        The client's id as text; an integer is matched as described in the
        module docstring.
    quarter
        The report quarter as ``YYYYQn``, for example ``2026Q3``.
    dataset
        A dataset folder, or a slice folder written by the batch.
    model_file
        A score model YAML; blank or None for the packaged default.
    audience
        ``client`` or ``internal``.
    alerts_file
        Optional alerts file from ``healthlab monitor``; blank or None for none.

    Returns
    -------
    ReportInputs
        The resolved parameters and one client's data.

    Raises
    ------
    ParameterError
        For any invalid parameter, with a message naming it.
    """
    chosen_audience = check_audience(audience)
    chosen_quarter = Quarter.parse(quarter)
    if _blank(dataset):
        raise ParameterError(
            "Parameter `dataset` is required: pass the dataset folder, for example "
            "`papermill ... -p dataset data/sample`."
        )
    folder = Path(str(dataset))
    if not folder.is_dir():
        raise ParameterError(
            f"Dataset folder {folder.name!r} was not found; check the `dataset` "
            "parameter."
        )
    model = load_model(None if _blank(model_file) else Path(str(model_file)))

    if is_slice(folder):
        piece = read_slice(folder)
        resolved = resolve_client_id(client_id, [piece.client_id], "this client slice")
        data, last_month, scores = piece.data, piece.dataset_last_month, piece.scores
        alerts = piece.alerts
        if chosen_audience == "internal" and scores is None:
            raise ParameterError(
                f"The slice for client {resolved!r} contains no health scores, so it "
                "can only render the client edition; render it with "
                "`healthlab render --audience internal`."
            )
    else:
        resolved, data, last_month, scores = _load_full(
            folder, client_id, chosen_audience, model
        )
        alerts = None

    check_quarter_has_data(data, resolved, chosen_quarter)
    if not _blank(alerts_file):
        alerts = read_alerts(Path(str(alerts_file)), resolved)
    if chosen_audience != "internal":
        scores, alerts = None, None
    logger.info(
        "Parameters valid: client %s, %s, %s edition",
        resolved,
        chosen_quarter,
        chosen_audience,
    )
    return ReportInputs(
        client_id=resolved,
        quarter=chosen_quarter,
        audience=chosen_audience,
        data=data,
        model=model,
        dataset_last_month=last_month,
        scores=scores,
        alerts=alerts,
    )
