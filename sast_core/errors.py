"""The toolkit's one error type for bad input, and the exit codes of every command.

Contract of every command-line tool: exit 0 = all checks hold, 1 = a bound was violated or a check failed,
2 = bad input, reported as ONE line on stderr (what, which file or flag, what was expected), no traceback,
no partial output file.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


class InputError(ValueError):
    """Bad input (file, flag, hyperparameter): the message is one line naming what was wrong and what was
    expected."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
