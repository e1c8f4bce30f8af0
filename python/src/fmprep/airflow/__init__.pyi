"""Type stubs of ``fmprep.airflow``."""

from typing import Any, Dict

def location(bucket: str, prefix: str = ...) -> str:
    """fmprep's spelling of an Airflow-style (bucket, prefix) pair."""

def preprocess(s3_in_url: str, s3_out_bucket: str, s3_out_prefix: str, delimiter: str = ...,
               if_exists: str = ...) -> Dict[str, Any]:
    """``fmprep preprocess`` in-process; returns the manifest."""

def prepare(s3_in_bucket: str, s3_in_prefix: str, s3_out_bucket: str, s3_out_prefix: str,
            delimiter: str = ..., if_exists: str = ...) -> Dict[str, Any]:
    """``fmprep prepare`` in-process; returns the manifest."""
