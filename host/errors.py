"""The one error type users see: a clear one-line message, no traceback (the CLI exits 2)."""

import sys


class CodenetError(Exception):
    """A problem with the user's input (file, data set, config, checkpoint), not a bug."""


def exit_code(run) -> int:
    """Calls run(): 0, or 2 with the CodenetError's one line on stderr (the module entry points' main)."""
    try:
        run()
    except CodenetError as e:
        print(f"codenet: error: {e}", file=sys.stderr)
        return 2
    return 0
