"""Airflow drop-in for the reviews -> SageMaker Factorization Machines data pipeline.

``preprocess`` and ``prepare`` keep the signatures of the old pandas pipeline functions, so
an existing DAG only changes its import; the work is done by the ``fmprep`` binary, found
through ``$FMPREP_BIN`` or on PATH. ``run_fmprep`` runs any fmprep command the same way.
Each returns fmprep's JSON manifest as a dict, which a ``PythonOperator`` pushes to XCom.
"""

from ._runner import (
    DEFAULT_GRACE_PERIOD,
    EXIT_CODES,
    FmprepError,
    FmprepNotFoundError,
    FmprepTimeout,
    find_fmprep,
    run_fmprep,
)
from ._tasks import location, prepare, preprocess

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "EXIT_CODES",
    "FmprepError",
    "FmprepNotFoundError",
    "FmprepTimeout",
    "find_fmprep",
    "location",
    "prepare",
    "preprocess",
    "run_fmprep",
]
