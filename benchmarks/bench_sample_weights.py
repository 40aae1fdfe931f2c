"""Calibrated weights and their held-out accuracy on sample portfolios.

For each seed in :data:`SEEDS` this generates the sample portfolio (300
clients x 36 months), calibrates it with the packaged default model and
prints:

- the calibrated weights and the status of each component;
- the held-out AUC of the backtest, which fits on the earlier observation
  dates and tests on the later ones. It is given for the calibrated weights,
  the default (expert) weights and the generator's hidden latent health on
  the same rows. The latent health is the ceiling for any score built from
  the data;
- the share of client months at each component's ceiling of 100.

Usage: ``python -m benchmarks sample_weights`` or
``python -m benchmarks.bench_sample_weights``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from healthlab.calibration import calibrate_data
from healthlab.calibration.backtest import latent_health_auc
from healthlab.components import compute_components
from healthlab.dataset import load_dataset
from healthlab.model import COMPONENTS, load_model
from healthlab.sample import generate_portfolio

SEEDS = (0, 1, 2)


def _seed_lines(folder: Path, seed: int) -> list[str]:
    generate_portfolio(folder, seed=seed)
    data = load_dataset(folder)
    model = load_model()
    components = compute_components(data, model)
    result = calibrate_data(data, model)
    backtest = result.backtest
    latent = latent_health_auc(backtest, folder)
    assert latent is not None  # the sample portfolio writes its ground truth

    status = result.final.weights.table["status"].astype(str)
    weights = ", ".join(
        f"{name} {weight:.3f} ({status[name]})"
        for name, weight in result.model.weights_for(None).items()
    )
    ceiling = ", ".join(
        f"{name} {(components[name] >= 100).mean():.1%}" for name in COMPONENTS
    )
    calibrated = backtest.metrics.auc
    return [
        f"seed {seed}: weights {weights}",
        f"  held-out AUC on {backtest.metrics.observations} rows: calibrated "
        f"{calibrated:.3f}, default weights {backtest.previous_metrics.auc:.3f}, "
        f"latent health {latent[0]:.3f} (calibrated / latent "
        f"{calibrated / latent[0]:.1%})",
        f"  client months at 100: {ceiling}",
    ]


def run() -> list[str]:
    """Calibrate each sample seed and return the lines to print."""
    lines = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in SEEDS:
            lines += _seed_lines(Path(folder) / f"seed{seed}", seed)
    return lines


if __name__ == "__main__":
    for line in run():
        print(line, flush=True)
