"""The one error type users see: a clear one-line message, no traceback (the CLI exits 2)."""


class CodenetError(Exception):
    """A problem with the user's input (file, data set, config, checkpoint), not a bug."""
