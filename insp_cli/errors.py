"""The one exception type that reaches users as a single clear line (no traceback)."""


class InspError(Exception):
    """A user-facing error: bad input, missing data, corrupt store, NaN loss...

    The CLI prints ``error: <message>`` and exits with ``exit_code``.
    """

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
