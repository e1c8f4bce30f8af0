"""Stubs of the compiled module ``fmprep._native`` (python/rust/lib.rs)."""

import logging
from typing import Any, List, Optional, Sequence

__version__: str

class CancelToken:
    """A cancellation token: ``cancel()`` from any thread stops the call holding it."""

    def __init__(self) -> None: ...
    def cancel(self) -> None:
        """Ask the call holding this token to stop (it raises ``InterruptedRunError``)."""
    @property
    def cancelled(self) -> bool:
        """Whether ``cancel()`` was called."""

class Records:
    """RecordIO-protobuf records as an Arrow stream: ``label``, ``keys``, ``values``."""

    def __arrow_c_stream__(self, requested_schema: Optional[object] = None) -> object:
        """An ``arrow_array_stream`` PyCapsule over the records."""
    def __len__(self) -> int: ...
    @property
    def files(self) -> List[str]:
        """The files the records were read from, in order."""

def main(argv: Sequence[str]) -> int:
    """Run the fmprep command line with ``argv`` (``argv[0]`` is the program name); returns the
    exit code."""

def command(
    argv: Sequence[str],
    cancel: CancelToken,
    logger: logging.Logger,
    *,
    progress: bool = False,
    frame: Any = None,
    frame_name: str = "frame",
    title: Optional[str] = None,
) -> str:
    """Run the fmprep command ``argv`` (without the program name) in-process; returns its last
    stdout line (the manifest)."""

def read_recordio(path: str, region: Optional[str] = None, endpoint_url: Optional[str] = None) -> Records:
    """Decode the RecordIO-protobuf records at ``path``."""
