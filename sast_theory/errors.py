"""The toolkit's one error type for bad input, and the CLI wrapper that turns it into exit code 2.

Contract of every command-line tool: exit 0 = all checks hold, 1 = a bound was violated or a check failed,
2 = bad input, reported as ONE line on stderr (what, which file or flag, what was expected), no traceback,
no partial output file.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

F = TypeVar("F", bound=Callable[..., int])

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


class InputError(ValueError):
    """Bad input (file, flag, hyperparameter): the message is one line naming what was wrong and what was
    expected."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def cli_entry(main: F) -> F:
    """Wrap a CLI `main(argv) -> exit code`: an InputError becomes one stderr line and exit code 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except InputError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_BAD_INPUT

    return wrapper  # type: ignore[return-value]


class CliParser(argparse.ArgumentParser):
    """argparse whose usage errors are InputErrors: one stderr line and exit 2 under `cli_entry`."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{self.prog}: {message} (see --help)")
