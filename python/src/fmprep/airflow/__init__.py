"""The Airflow DAG's ``preprocess`` and ``prepare`` callables, run in the task's process.

The signatures are those of the pandas/scipy pipeline functions (and of :mod:`fmprep_airflow`),
so a DAG's ``PythonOperator(python_callable=..., op_kwargs=...)`` keeps working with only the
import changed. Each returns fmprep's manifest, which the operator pushes to XCom
(``feature_dim`` for the training task).

Unlike :mod:`fmprep_airflow`, which starts the ``fmprep`` command as a child process, these call
the engine in-process: no binary to find on the worker's PATH, and Airflow's timeout and
termination exceptions (raised by its signal handlers in the task's main thread) cancel the run,
which removes its staged files and writes no manifest, before the exception goes on. Log lines go
to the ``"fmprep"`` logger, which the task log captures.

Locations: a *bucket* argument is an S3 bucket name, unless it is an absolute local path or a
``file://`` URL (a local directory); see :func:`location`.
"""

from __future__ import annotations

from typing import Any, Dict

from fmprep_airflow._tasks import _file_url_to_path, location

from .._api import prepare as _prepare
from .._api import preprocess as _preprocess

__all__ = ["location", "prepare", "preprocess"]


def preprocess(
    s3_in_url: str,
    s3_out_bucket: str,
    s3_out_prefix: str,
    delimiter: str = ",",
    if_exists: str = "reuse",
) -> Dict[str, Any]:
    """Filter, index and split the raw reviews file into ``train/``, ``validate/``, ``test/`` CSVs.

    ``fmprep preprocess <s3_in_url> --output <s3_out_bucket>/<s3_out_prefix> --delimiter
    <delimiter> --if-exists <if_exists>``; ``delimiter`` is the *input*'s (``"\\t"`` for the
    Amazon reviews TSV). ``if_exists="reuse"`` (the default) makes a retried task idempotent: a
    finished run made from the same input, options and fmprep version is returned as it is.

    Returns:
        fmprep's manifest (``feature_dim``, ``n_customers``, ``n_products``, ``counts``, ``files``).
    """
    source = _file_url_to_path(s3_in_url) if s3_in_url.startswith("file://") else s3_in_url
    return _preprocess(
        source, location(s3_out_bucket, s3_out_prefix), delimiter=delimiter, if_exists=if_exists
    )


def prepare(
    s3_in_bucket: str,
    s3_in_prefix: str,
    s3_out_bucket: str,
    s3_out_prefix: str,
    delimiter: str = ",",
    if_exists: str = "reuse",
) -> Dict[str, Any]:
    """Convert :func:`preprocess`'s output into SageMaker Factorization Machines RecordIO-protobuf
    (``train/train.protobuf``, ``validate/validate.protobuf``, ``test/test_<i>.protobuf``).

    Returns:
        fmprep's manifest; the training task reads ``feature_dim`` from it through XCom.
    """
    return _prepare(
        location(s3_in_bucket, s3_in_prefix),
        location(s3_out_bucket, s3_out_prefix),
        delimiter=delimiter,
        if_exists=if_exists,
    )
