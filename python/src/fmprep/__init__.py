"""fmprep: Amazon-reviews-style ratings to SageMaker Factorization Machines training data.

The same engine as the ``fmprep`` command (which this package also installs), called in-process:

>>> import fmprep
>>> manifest = fmprep.run("reviews.tsv.gz", "out/", seed=7)            # doctest: +SKIP
>>> manifest["feature_dim"]                                               # doctest: +SKIP

* :func:`run`, :func:`preprocess`, :func:`prepare`, :func:`inspect`, :func:`explore`: the
  commands, options as keyword arguments (the long flags in snake_case); each returns the
  manifest (or summary) as a dict.
* :func:`from_frame`: the pipeline on a polars/pandas/pyarrow frame, through the Arrow C stream.
* :func:`read_recordio`: RecordIO-protobuf records back as an Arrow stream.
* :mod:`fmprep.airflow`: the Airflow DAG's ``preprocess``/``prepare`` callables.
* Errors: :class:`FmprepError` and one subclass per CLI exit code.
"""

from __future__ import annotations

from . import _native
from ._api import (
    CancelToken,
    explore,
    from_frame,
    inspect,
    prepare,
    preprocess,
    read_recordio,
    run,
)
from ._errors import (
    BadInputError,
    FmprepError,
    InternalError,
    InterruptedRunError,
    LocalIOError,
    OutputExistsError,
    S3Error,
    UsageError,
)

#: The version of the fmprep engine in this wheel (the crate's version).
__version__: str = _native.__version__

__all__ = [
    "BadInputError",
    "CancelToken",
    "FmprepError",
    "InternalError",
    "InterruptedRunError",
    "LocalIOError",
    "OutputExistsError",
    "S3Error",
    "UsageError",
    "__version__",
    "explore",
    "from_frame",
    "inspect",
    "prepare",
    "preprocess",
    "read_recordio",
    "run",
]
