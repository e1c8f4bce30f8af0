"""The Python API: each call is the matching ``fmprep`` command, run in this process.

Keyword options are the command line's long flags in snake_case (``min_customer_ratings=5`` is
``--min-customer-ratings 5``). They become command-line arguments that the native module parses
with the CLI's own parser and turns into library options with the CLI's own code, so defaults,
checks, messages, the ``FMPREP_*`` environment variables and the ``config=`` file are exactly
those of the command. Values: ``True`` gives the bare flag, ``False`` and ``None`` leave it out,
a list or tuple is joined with commas (``split=(0.6, 0.2, 0.2)``), anything else is ``str()``-ed.

While a call runs, the GIL is released; the calling thread wakes every few tens of milliseconds
to run Python's signal handlers and to pass fmprep's log lines to the ``logging`` logger
``"fmprep"``. An exception from a signal handler (``KeyboardInterrupt`` on Ctrl-C, Airflow's
timeout or termination exceptions) cancels the run, waits until its staged files are removed,
and is then re-raised. ``cancel=`` takes a :class:`CancelToken` that another thread can cancel.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, Mapping, Optional, Sequence, Union

from . import _native

__all__ = [
    "CancelToken",
    "explore",
    "from_frame",
    "inspect",
    "prepare",
    "preprocess",
    "read_recordio",
    "run",
]

PathLike = Union[str, "os.PathLike[str]"]
Inputs = Union[PathLike, Sequence[PathLike]]

#: The logger that receives fmprep's log lines (``error``/``warning``/``info``/``debug``).
logger = logging.getLogger("fmprep")

CancelToken = _native.CancelToken


def _flags(options: Mapping[str, Any]) -> list:
    """Command-line arguments for keyword ``options`` (see the module docstring)."""
    argv = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            argv += [flag, ",".join(str(v) for v in value)]
        else:
            argv += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return argv


def _inputs(input: Inputs) -> list:
    """One or several inputs as arguments: several are read as one input, in order."""
    if isinstance(input, (str, os.PathLike)):
        return [os.fspath(input)]
    return [os.fspath(i) for i in input]


def _call(
    argv: list,
    *,
    cancel: Optional[CancelToken],
    progress: bool,
    frame: Any = None,
    frame_name: str = "frame",
    title: Optional[str] = None,
) -> Dict[str, Any]:
    """Run ``fmprep <argv>`` in-process and return its last stdout line parsed as JSON."""
    token = CancelToken() if cancel is None else cancel
    line = _native.command(
        argv,
        token,
        logger,
        progress=progress,
        frame=frame,
        frame_name=frame_name,
        title=title,
    )
    return json.loads(line)


def run(
    input: Inputs,
    output: PathLike,
    *,
    cancel: Optional[CancelToken] = None,
    progress: bool = False,
    **options: Any,
) -> Dict[str, Any]:
    """The whole pipeline, ``fmprep run``: ratings at ``input`` to RecordIO-protobuf at ``output``.

    Args:
        input: a path, ``s3://bucket/key``, a directory, a glob, an ``s3://`` prefix, a Parquet
            file or dataset, or a list of them read as one input.
        output: a local directory or ``s3://bucket/prefix``.
        cancel: a token to cancel the run from another thread.
        progress: draw progress bars (or periodic log lines) on stderr.
        **options: the CLI's flags in snake_case: ``seed=7``, ``split=(0.6, 0.2, 0.2)``,
            ``threads=2``, ``overwrite=True``, ``if_exists="reuse"``, ``region="eu-west-1"``...

    Returns:
        The manifest (the dict written as ``manifest.json``).

    Raises:
        FmprepError: a subclass per kind of failure, with the CLI's ``exit_code`` and message.
    """
    argv = ["run", *_inputs(input), "--output", os.fspath(output), *_flags(options)]
    return _call(argv, cancel=cancel, progress=progress)


def preprocess(
    input: Inputs,
    output: PathLike,
    *,
    cancel: Optional[CancelToken] = None,
    progress: bool = False,
    **options: Any,
) -> Dict[str, Any]:
    """Stages 1-4, ``fmprep preprocess``: the split tables (``train/train.csv``, ...), maps and
    manifest at ``output``. Arguments and result as for :func:`run` (plus ``format="parquet"``)."""
    argv = ["preprocess", *_inputs(input), "--output", os.fspath(output), *_flags(options)]
    return _call(argv, cancel=cancel, progress=progress)


def prepare(
    input: PathLike,
    output: PathLike,
    *,
    cancel: Optional[CancelToken] = None,
    progress: bool = False,
    **options: Any,
) -> Dict[str, Any]:
    """Stages 5-6, ``fmprep prepare``: a :func:`preprocess` output (or the pandas pipeline's
    CSVs) at ``input`` to RecordIO-protobuf at ``output``; the same bytes as :func:`run`."""
    argv = ["prepare", os.fspath(input), "--output", os.fspath(output), *_flags(options)]
    return _call(argv, cancel=cancel, progress=progress)


def inspect(path: Inputs, head: int = 0, **options: Any) -> Dict[str, Any]:
    """Decode RecordIO-protobuf files, ``fmprep inspect``: the summary (``files``, ``total``
    with records, feature_dim, label histogram and framing errors), with the first ``head``
    records under ``"head"`` (each as ``fmprep inspect --head`` prints it).

    Raises:
        BadInputError: on a framing error (the file is not RecordIO-protobuf or is truncated).
    """
    argv = ["inspect", *_inputs(path), "--head", str(head), *_flags(options)]
    summary = _call(argv, cancel=None, progress=False)
    summary.setdefault("head", [])  # the command prints no records for head=0
    return summary


def explore(input: Inputs, **options: Any) -> Dict[str, Any]:
    """Long-tail statistics of an input, ``fmprep explore --json``: rating-count quantiles,
    shares and the threshold sweep (``plot="tail.png"`` also draws them)."""
    argv = ["explore", *_inputs(input), "--json", *_flags(options)]
    return _call(argv, cancel=None, progress=False)


def from_frame(
    frame: Any,
    output: PathLike,
    *,
    customer: str = "customer_id",
    product: str = "product_id",
    rating: str = "star_rating",
    title: Optional[str] = None,
    time: Optional[str] = None,
    cancel: Optional[CancelToken] = None,
    progress: bool = False,
    **options: Any,
) -> Dict[str, Any]:
    """The whole pipeline on rows already in memory: ``fmprep run`` with ``frame`` as the input.

    ``frame`` is anything with ``__arrow_c_stream__`` (the Arrow PyCapsule stream protocol): a
    polars DataFrame or LazyFrame's collected frame, a pyarrow Table or RecordBatchReader, a
    pandas DataFrame (pandas >= 2.2). Its batches are read one at a time, in order, so the output
    is byte-identical to :func:`run` on a file holding the same rows, and a RecordBatchReader is
    never held whole: memory grows with the kept rows and ids. Invalid rows (a null id, a rating
    off the scale) are counted and limited like malformed lines (``max_bad_lines``).

    Args:
        customer, product, rating: the column names (``--customer-col`` ...).
        title: the product title column (default: ``product_title`` when the frame has one).
        time: the time column, for ``split_mode="holdout-last"`` (``--time-col``).
        **options: as for :func:`run`.
    """
    if not hasattr(frame, "__arrow_c_stream__"):
        raise TypeError(
            f"from_frame needs an object with __arrow_c_stream__ (polars, pyarrow, pandas >= 2.2), "
            f"not {type(frame).__name__}"
        )
    columns = {"customer_col": customer, "product_col": product, "rating_col": rating, "time_col": time}
    argv = ["run", "-", "--output", os.fspath(output), *_flags(columns), *_flags(options)]
    name = f"<{type(frame).__module__}.{type(frame).__qualname__}>"
    return _call(argv, cancel=cancel, progress=progress, frame=frame, frame_name=name, title=title)


def read_recordio(path: PathLike, *, region: Optional[str] = None, endpoint_url: Optional[str] = None):
    """The records of RecordIO-protobuf files as an Arrow stream of ``label`` (float32),
    ``keys`` (list of uint64) and ``values`` (list of float32).

    ``path`` is a file, a directory of ``*.protobuf`` files, an ``s3://`` key or prefix. The
    result has ``__arrow_c_stream__``: ``pl.DataFrame(x)`` and ``pa.table(x)`` both read it.
    """
    return _native.read_recordio(os.fspath(path), region=region, endpoint_url=endpoint_url)
