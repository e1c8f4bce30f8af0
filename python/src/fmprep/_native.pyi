"""Stubs of the compiled module ``fmprep._native`` (python/rust/lib.rs)."""

import logging
from typing import Any, Iterable, List, Optional, Sequence, Tuple

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

# The Spark job's kernels (python/rust/spark.rs), called by fmprep.spark on the executors.

class ParsedRows:
    """Valid rows of one file as an Arrow stream: ``customer_id``, ``product_id``, ``rating``,
    ``product_title`` (binary), ``pos`` (file << 40 | line), ``key`` (the split key)."""

    def __arrow_c_stream__(self, requested_schema: Optional[object] = None) -> object:
        """An ``arrow_array_stream`` PyCapsule over the rows."""
    def __len__(self) -> int: ...

def spark_input_files(
    specs: Sequence[str], region: Optional[str] = None, endpoint_url: Optional[str] = None
) -> List[str]:
    """The files of ``specs`` in the order ``fmprep run`` reads them."""

def spark_parse_file(
    path: str,
    file: int,
    seed: int,
    options: str = "{}",
    batch_rows: int = 65536,
    region: Optional[str] = None,
    endpoint_url: Optional[str] = None,
) -> Tuple[ParsedRows, str]:
    """Parse one text file with fmprep's reader: its valid rows and its counters as JSON."""

def spark_write_records(
    stream: Any,
    n_customers: int,
    n_products: int,
    path_template: str,
    chunk_records: int = 0,
    region: Optional[str] = None,
    endpoint_url: Optional[str] = None,
) -> List[Tuple[str, int, int]]:
    """Encode (customer, product, label) rows as RecordIO files; ``(path, records, bytes)`` each."""

def spark_write_object(
    path: str, chunks: Iterable[bytes], region: Optional[str] = None, endpoint_url: Optional[str] = None
) -> int:
    """Write one object from byte chunks, appearing whole; returns its size."""
