"""``python -m fmprep ARGS``: the same as the ``fmprep`` command."""

from ._cli import main

main()
