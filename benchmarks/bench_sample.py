"""Sample portfolio: generation time, churn rate and how much churn signal it holds.

For churn within 12 months of each client-month, the benchmark compares the AUC
of the hidden latent health (mean of the last three months) with the held-out
AUC of a plain logistic regression on five simple components computed from the
observable tables. The components mirror what the score measures (utilisation,
enforcement success, NPS, economic impact per ARR, QBR engagement) but are
simpler than :mod:`healthlab.scoring`. The benchmark shows that the signal is
in the data. It does not measure the shipped score.

Run with ``python -m benchmarks sample``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from healthlab.sample import generate_portfolio

HORIZON_MONTHS = 12
SEEDS = (0, 1, 2)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the Mann-Whitney rank formula (ties averaged)."""
    labels = np.asarray(labels, dtype=bool)
    ranks = rankdata(scores)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    rank_sum = ranks[labels].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


def churn_labels(folder: Path) -> pd.DataFrame:
    """Label each client-month by the outcome of the next renewal within 12 months.

    The next renewal is the first one dated on or after the start of the
    following month. Client-months without a decided renewal in the horizon are
    dropped (censored).
    """
    latent = pd.read_csv(
        folder / "_ground_truth" / "latent_health.csv",
        dtype={"client_id": str},
        parse_dates=["month"],
    )
    renewals = pd.read_csv(
        folder / "renewals.csv", dtype={"client_id": str}, parse_dates=["renewal_date"]
    )
    latent = latent.sort_values(["client_id", "month"])
    latent["latent_3m"] = latent.groupby("client_id")["latent_health"].transform(
        lambda values: values.rolling(3, min_periods=1).mean()
    )
    latent["next_month"] = latent["month"] + pd.DateOffset(months=1)
    merged = pd.merge_asof(
        latent.sort_values("next_month"),
        renewals.sort_values("renewal_date"),
        left_on="next_month",
        right_on="renewal_date",
        by="client_id",
        direction="forward",
    )
    horizon_end = merged["next_month"] + pd.DateOffset(months=HORIZON_MONTHS)
    merged = merged[merged["renewal_date"].notna()]
    merged = merged[merged["renewal_date"] < horizon_end[merged.index]]
    merged["churn"] = merged["outcome"] == "churned"
    return merged[["client_id", "month", "latent_3m", "churn"]]


def proxy_components(folder: Path) -> pd.DataFrame:
    """Compute five simple components per client-month from data up to that month."""
    read = {"dtype": {"client_id": str}}
    clients = pd.read_csv(folder / "clients.csv", **read)
    usage = pd.read_csv(folder / "usage.csv", parse_dates=["month"], **read)
    operations = pd.read_csv(folder / "operations.csv", parse_dates=["month"], **read)
    impact = pd.read_csv(folder / "economic_impact.csv", parse_dates=["month"], **read)
    nps = pd.read_csv(folder / "nps.csv", parse_dates=["response_date"], **read)
    meetings = pd.read_csv(
        folder / "qbr_meetings.csv", parse_dates=["meeting_date"], **read
    )

    frame = usage.merge(clients[["client_id", "licensed_seats", "arr_usd"]])
    monthly_ops = operations.groupby(["client_id", "month"], as_index=False)[
        ["enforcement_requested", "removals_confirmed"]
    ].sum()
    frame = frame.merge(monthly_ops, how="left").merge(impact, how="left")
    frame["impact"] = (
        frame["removals_confirmed"]
        * frame["avg_listing_price_usd"]
        * frame["est_units_per_listing"]
        * 0.2
        / frame["arr_usd"]
    )
    frame["utilisation_share"] = frame["active_users"] / frame["licensed_seats"]

    nps["month"] = nps["response_date"].dt.to_period("M").dt.to_timestamp()
    nps["promoter"] = (nps["score"] >= 9).astype(float)
    nps["detractor"] = (nps["score"] <= 6).astype(float)
    nps_monthly = nps.groupby(["client_id", "month"], as_index=False).agg(
        responses=("score", "size"),
        promoters=("promoter", "sum"),
        detractors=("detractor", "sum"),
    )
    meetings["month"] = meetings["meeting_date"].dt.to_period("M").dt.to_timestamp()
    meetings["mood"] = meetings["sentiment"].map(
        {"negative": -1.0, "neutral": 0.0, "positive": 1.0}
    )
    meetings_monthly = meetings.groupby(["client_id", "month"], as_index=False).agg(
        meetings=("mood", "size"),
        mood=("mood", "sum"),
        met=("objectives_met", "sum"),
        total=("objectives_total", "sum"),
    )
    frame = frame.merge(nps_monthly, how="left").merge(meetings_monthly, how="left")
    filled = [
        "responses",
        "promoters",
        "detractors",
        "meetings",
        "mood",
        "met",
        "total",
    ]
    frame[filled] = frame[filled].fillna(0.0)
    frame = frame.sort_values(["client_id", "month"]).reset_index(drop=True)

    grouped = frame.groupby("client_id")

    def rolling_sum(column: str, window: int) -> pd.Series:
        return grouped[column].transform(
            lambda values: values.rolling(window, min_periods=1).sum()
        )

    requested = rolling_sum("enforcement_requested", 3)
    responses = rolling_sum("responses", 12)
    net = rolling_sum("promoters", 12) - rolling_sum("detractors", 12)
    portfolio_nps = frame["promoters"].sum() - frame["detractors"].sum()
    portfolio_nps /= max(frame["responses"].sum(), 1)
    meetings_6 = rolling_sum("meetings", 6)
    return pd.DataFrame(
        {
            "client_id": frame["client_id"],
            "month": frame["month"],
            "utilisation": grouped["utilisation_share"].transform(
                lambda values: values.rolling(3, min_periods=1).mean()
            ),
            "enforcement": rolling_sum("removals_confirmed", 3)
            / requested.where(requested > 0),
            "nps": (net + 10 * portfolio_nps) / (responses + 10),
            "impact": rolling_sum("impact", 12)
            * 12
            / grouped["impact"].transform(
                lambda values: values.rolling(12, min_periods=1).count()
            ),
            "engagement": meetings_6
            + rolling_sum("mood", 6) / meetings_6.where(meetings_6 > 0)
            + rolling_sum("met", 6) / rolling_sum("total", 6).where(meetings_6 > 0),
        }
    )


def signal_figures(folder: Path) -> dict[str, float]:
    """Return latent-health and proxy-score AUCs on later, held-out months."""
    import statsmodels.api as sm

    rows = churn_labels(folder).merge(proxy_components(folder))
    features = ["utilisation", "enforcement", "nps", "impact", "engagement"]
    design = rows[features].copy()
    design["impact"] = np.log1p(design["impact"].clip(lower=0))
    design = design.fillna(design.mean())
    design = (design - design.mean()) / design.std()
    design = sm.add_constant(design)

    months = np.sort(rows["month"].unique())
    split = months[len(months) // 2]
    train = (rows["month"] < split).to_numpy()
    test = ~train
    fit = sm.Logit(rows["churn"].astype(float)[train], design[train]).fit(disp=0)
    predicted = fit.predict(design[test])

    labels = rows["churn"].to_numpy()
    figures = {
        "rows": float(len(rows)),
        "base_rate": float(labels.mean()),
        "latent_auc_all": auc(labels, -rows["latent_3m"].to_numpy()),
        "latent_auc_test": auc(labels[test], -rows["latent_3m"].to_numpy()[test]),
        "proxy_auc_test": auc(labels[test], predicted.to_numpy()),
    }
    for feature in features:
        values = design[feature].to_numpy()
        figures[f"auc_{feature}"] = auc(labels, -values)
    return figures


def run() -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory() as scratch:
        for clients, months in ((300, 36), (900, 36)):
            timings = []
            for repeat in range(3):
                folder = Path(scratch) / f"time-{clients}-{repeat}"
                started = time.perf_counter()
                generate_portfolio(folder, n_clients=clients, n_months=months)
                timings.append(time.perf_counter() - started)
            lines.append(
                f"generate {clients} x {months}: median "
                f"{statistics.median(timings):.2f} s of {len(timings)} runs"
            )

        for seed in SEEDS:
            folder = Path(scratch) / f"seed-{seed}"
            summary = generate_portfolio(folder, seed=seed)
            figures = signal_figures(folder)
            ratio = figures["proxy_auc_test"] / figures["latent_auc_test"]
            lines.append(
                f"seed {seed}: annual churn {summary.annual_churn_rate:.1%} "
                f"({summary.churned_clients}/{summary.renewals} renewals), "
                f"rows {figures['rows']:.0f}, churn-in-12m {figures['base_rate']:.1%}"
            )
            lines.append(
                f"  latent AUC {figures['latent_auc_all']:.3f} (held-out "
                f"{figures['latent_auc_test']:.3f}), proxy score held-out AUC "
                f"{figures['proxy_auc_test']:.3f} = {ratio:.0%} of latent"
            )
            lines.append(
                "  single-component AUC: "
                + ", ".join(
                    f"{name} {figures['auc_' + name]:.3f}"
                    for name in ("utilisation", "enforcement", "nps", "impact")
                    + ("engagement",)
                )
            )
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
