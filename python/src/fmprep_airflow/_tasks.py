"""``preprocess`` and ``prepare``: the two callables the existing Airflow DAG runs.

Their signatures are exactly those of the pandas/scipy pipeline they replace, so the DAG's
``PythonOperator(python_callable=..., op_kwargs=config[...])`` calls keep working unchanged.
No ``**kwargs``: Airflow 2 would fill such a parameter with the whole task context.

Locations. A *bucket* argument is an S3 bucket name, as in the old pipeline, unless it is an
absolute local path (``/data/reviews``) or a ``file://`` URL, which name a local directory.
That is how the tests and local runs work without S3. Relative paths are not accepted: they
cannot be told apart from bucket names. Prefixes lose leading and trailing slashes, so
``"preprocess/"``, ``"/preprocess"`` and ``"preprocess"`` are the same prefix.
"""

from __future__ import annotations

import os
import urllib.parse
import urllib.request
from typing import Any, Dict

from ._runner import run_fmprep

__all__ = ["location", "preprocess", "prepare"]


def location(bucket: str, prefix: str = "") -> str:
    """fmprep's spelling of an Airflow-style (bucket, prefix) pair.

    >>> location("my-bucket", "/preprocess/")
    's3://my-bucket/preprocess'
    >>> location("/data/out", "prepare/")
    '/data/out/prepare'
    >>> location("file:///data/out", "")
    '/data/out'
    """
    prefix = (prefix or "").strip("/")
    if bucket.startswith("file://"):
        base = _file_url_to_path(bucket)
    elif os.path.isabs(bucket):
        base = bucket
    else:
        name = bucket[len("s3://") :] if bucket.startswith("s3://") else bucket
        name = name.strip("/")
        if not name:
            raise ValueError(f"empty S3 bucket name: {bucket!r}")
        return f"s3://{name}/{prefix}" if prefix else f"s3://{name}"
    return os.path.join(base, prefix) if prefix else base


def preprocess(
    s3_in_url: str,
    s3_out_bucket: str,
    s3_out_prefix: str,
    delimiter: str = ",",
    if_exists: str = "reuse",
) -> Dict[str, Any]:
    """Filter, index and split the raw reviews file into ``train/``, ``validate/``, ``test/`` CSVs.

    Runs ``fmprep preprocess <s3_in_url> --output <s3_out_bucket>/<s3_out_prefix>
    --delimiter <delimiter> --if-exists <if_exists>``; ``delimiter`` is that of the *input* file
    (``"\\t"`` for the Amazon reviews TSV). ``s3_in_url`` is an ``s3://`` URL, a local path or a
    ``file://`` URL. ``if_exists="reuse"`` (the default) makes a retried or cleared task
    idempotent: a finished run at the output made from the same input objects, options and fmprep
    version is returned as it is; any other finished run there fails with exit code 6 (``"fail"``
    always does; ``"overwrite"`` replaces it).

    Returns:
        fmprep's manifest (``feature_dim``, ``n_customers``, ``n_products``, ``counts``,
        ``files``...), which Airflow stores in XCom.
    """
    source = _file_url_to_path(s3_in_url) if s3_in_url.startswith("file://") else s3_in_url
    return run_fmprep(
        [
            "preprocess",
            source,
            "--output",
            location(s3_out_bucket, s3_out_prefix),
            "--delimiter",
            delimiter,
            "--if-exists",
            if_exists,
        ]
    )


def prepare(
    s3_in_bucket: str,
    s3_in_prefix: str,
    s3_out_bucket: str,
    s3_out_prefix: str,
    delimiter: str = ",",
    if_exists: str = "reuse",
) -> Dict[str, Any]:
    """Convert ``preprocess``'s output into SageMaker Factorization Machines RecordIO-protobuf.

    Runs ``fmprep prepare <s3_in_bucket>/<s3_in_prefix> --output
    <s3_out_bucket>/<s3_out_prefix> --delimiter <delimiter> --if-exists <if_exists>`` and writes
    ``train/train.protobuf``, ``validate/validate.protobuf`` and ``test/test_<i>.protobuf``.
    ``if_exists`` is as for :func:`preprocess` (``"reuse"``: retries are idempotent).

    Returns:
        fmprep's manifest; the training task reads ``feature_dim`` from it through XCom.
    """
    return run_fmprep(
        [
            "prepare",
            location(s3_in_bucket, s3_in_prefix),
            "--output",
            location(s3_out_bucket, s3_out_prefix),
            "--delimiter",
            delimiter,
            "--if-exists",
            if_exists,
        ]
    )


def _file_url_to_path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"file URL names another host: {url!r}")
    if not parts.path:
        raise ValueError(f"file URL without a path: {url!r}")
    return urllib.request.url2pathname(parts.path)
