"""Type stubs of the ``fmprep`` package (see the module docstrings for the behaviour)."""

import os
from typing import Any, Dict, Optional, Sequence, Union

from ._errors import (
    BadInputError as BadInputError,
    FmprepError as FmprepError,
    InternalError as InternalError,
    InterruptedRunError as InterruptedRunError,
    LocalIOError as LocalIOError,
    OutputExistsError as OutputExistsError,
    S3Error as S3Error,
    UsageError as UsageError,
)
from ._native import CancelToken as CancelToken, Records as Records

__version__: str

PathLike = Union[str, os.PathLike[str]]
Inputs = Union[PathLike, Sequence[PathLike]]

def run(input: Inputs, output: PathLike, *, cancel: Optional[CancelToken] = ..., progress: bool = ...,
        **options: Any) -> Dict[str, Any]:
    """The whole pipeline (``fmprep run``); returns the manifest."""

def preprocess(input: Inputs, output: PathLike, *, cancel: Optional[CancelToken] = ..., progress: bool = ...,
               **options: Any) -> Dict[str, Any]:
    """Stages 1-4 (``fmprep preprocess``); returns the manifest."""

def prepare(input: PathLike, output: PathLike, *, cancel: Optional[CancelToken] = ..., progress: bool = ...,
            **options: Any) -> Dict[str, Any]:
    """Stages 5-6 (``fmprep prepare``); returns the manifest."""

def inspect(path: Inputs, head: int = ..., **options: Any) -> Dict[str, Any]:
    """Decode RecordIO-protobuf files (``fmprep inspect``); returns the summary."""

def explore(input: Inputs, **options: Any) -> Dict[str, Any]:
    """Long-tail statistics (``fmprep explore --json``)."""

def from_frame(frame: Any, output: PathLike, *, customer: str = ..., product: str = ..., rating: str = ...,
               title: Optional[str] = ..., time: Optional[str] = ..., cancel: Optional[CancelToken] = ...,
               progress: bool = ..., **options: Any) -> Dict[str, Any]:
    """The whole pipeline on an ``__arrow_c_stream__`` frame; returns the manifest."""

def read_recordio(path: PathLike, *, region: Optional[str] = ..., endpoint_url: Optional[str] = ...) -> Records:
    """RecordIO-protobuf records as an Arrow stream."""
