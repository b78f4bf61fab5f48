"""The one error type users see.

Every bad input (file, flag, config key) raises `RlrecError` with a one-line message that names
the culprit: the file and line, or the key with its value and allowed range. The CLI prints it
as `rlrec: error: <message>` and exits with status 2, without a traceback.
"""


class RlrecError(Exception):
    """A user-facing error: one line, names the culprit, maps to exit status 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # Keep it to one line whatever the caller passed in.
        super().__init__(" ".join(str(message).split()))
