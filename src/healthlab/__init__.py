"""healthlab: client health scores for a brand-protection business.

Heavy libraries (statsmodels, papermill, nbconvert, weasyprint, dask) are imported
inside the functions that use them, so ``import healthlab`` stays fast.
"""

from healthlab.errors import (
    CalibrationError,
    ConfigError,
    DataValidationError,
    HealthlabError,
    ParameterError,
    Problem,
    ReportError,
)

__version__ = "0.1.0"

__all__ = [
    "CalibrationError",
    "ConfigError",
    "DataValidationError",
    "HealthlabError",
    "ParameterError",
    "Problem",
    "ReportError",
    "__version__",
]
