"""The ``fmprep`` console script: the Rust command line, run in this Python process.

The native ``main`` parses the arguments, installs fmprep's SIGINT/SIGTERM handlers (which
record the signal so that the run removes its staged files and exits 130/143), prints the
manifest line and returns the exit code. Python's own SIGINT handler is reset first: it would
otherwise still see the Ctrl-C and raise ``KeyboardInterrupt`` after the run, printing a
traceback and changing the exit code.
"""

from __future__ import annotations

import signal
import sys

from . import _native


def main() -> None:
    """Run ``fmprep`` with ``sys.argv`` and exit with its code."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    code = _native.main(sys.argv)
    sys.stdout.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
