"""The exceptions fmprep raises: :class:`FmprepError` and one subclass per kind of failure.

Each kind is one of the command line's exit codes, so a task that catches them decides exactly
as a shell script that reads ``$?`` would. The native module instantiates these classes with the
CLI's message (the text after ``fmprep: error:``) and exit code.
"""

from __future__ import annotations

__all__ = [
    "FmprepError",
    "UsageError",
    "BadInputError",
    "LocalIOError",
    "S3Error",
    "OutputExistsError",
    "InterruptedRunError",
    "InternalError",
]


class FmprepError(RuntimeError):
    """A failed fmprep call: ``message`` is the CLI's one-line message, ``exit_code`` its code.

    ``str(err)`` is the message. Subclasses name the kind; catch this class for all of them.
    """

    #: The exit code the ``fmprep`` command returns for this kind of failure.
    default_exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = self.default_exit_code if exit_code is None else exit_code

    def __reduce__(self):  # keep the exit code when pickled (multiprocessing, Airflow XCom)
        return (type(self), (self.message, self.exit_code))


class UsageError(FmprepError):
    """An invalid option or option value (exit code 2)."""

    default_exit_code = 2


class BadInputError(FmprepError):
    """Unusable input data: missing column, too many malformed rows, corrupt gzip, no rows left
    after filtering, a file that is not RecordIO (exit code 3)."""

    default_exit_code = 3


class LocalIOError(FmprepError):
    """A local file could not be read or written: missing input, unwritable output, disk full
    (exit code 4)."""

    default_exit_code = 4


class S3Error(FmprepError):
    """S3 failed: credentials, access denied, missing bucket or key, network (exit code 5)."""

    default_exit_code = 5


class OutputExistsError(FmprepError):
    """The output already holds a finished run; pass ``overwrite=True`` or
    ``if_exists="reuse"`` (exit code 6)."""

    default_exit_code = 6


class InterruptedRunError(FmprepError):
    """The run was cancelled through a :class:`fmprep.CancelToken` (exit code 130). Staged files
    were removed and no manifest was written. A Ctrl-C raises ``KeyboardInterrupt`` instead,
    after the same clean-up."""

    default_exit_code = 130


class InternalError(FmprepError):
    """A bug in fmprep (exit code 1); please report it with the message."""

    default_exit_code = 1
