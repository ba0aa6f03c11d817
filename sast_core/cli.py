"""Command-line plumbing: the parser, the entry wrapper (InputError -> one stderr line, exit 2), list flags."""

from __future__ import annotations

import argparse
import errno
import functools
import sys
from collections.abc import Callable, Collection
from typing import NoReturn, TypeVar

from .errors import EXIT_BAD_INPUT, InputError
from .flags import FlagType, FlagValueError, Integer, ListOf, Number, Text

F = TypeVar("F", bound=Callable[..., int])

_PLAIN_TYPES = {int: Integer(), float: Number(), str: Text()}
# A write the machine cannot complete: one line and exit 2 like bad input (nothing half written is trusted:
# writes are atomic and run folders mark their outputs complete last, sast_core.runs).
DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)


def cli_entry(main: F) -> F:
    """Wrap a CLI `main(argv) -> exit code`: an InputError (or a full / read-only disk) becomes one stderr line
    and exit code 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except InputError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except OSError as err:
            if err.errno not in DISK_ERRORS:
                raise
            where = f"{err.filename}: " if err.filename else ""
            print(f"error: {where}cannot write ({err.strerror}); no output was completed", file=sys.stderr)
            return EXIT_BAD_INPUT

    return wrapper  # type: ignore[return-value]


class CliParser(argparse.ArgumentParser):
    """argparse whose usage errors are InputErrors (one stderr line and exit 2 under `cli_entry`), whose
    FlagType values are refused as `--flag VALUE: expected ...`, and whose --help shows every default."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        kwargs["exit_on_error"] = False  # ArgumentErrors reach parse_known_args below, with their flag
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        try:
            return super().parse_known_args(args, namespace)
        except argparse.ArgumentError as err:
            cause = err.__context__
            if isinstance(cause, FlagValueError) and cause.text is not None:
                raise InputError(f"{err.argument_name} {cause.text}: {cause}") from None
            self.error(str(err))

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{self.prog}: {message} (see --help)")


def parse_list(
    flag: str,
    text: str,
    kind: FlagType | type = str,
    *,
    choices: Collection[str] | None = None,
    allow_empty: bool = False,
) -> list:
    """The comma-separated values of `text` (blank entries skipped) as `ListOf(kind)` converts them (int,
    float and str stand for Integer(), Number() and Text()); InputError naming `flag` for an entry outside
    `kind` or `choices`, or for no entry at all (unless `allow_empty`)."""
    item = _PLAIN_TYPES.get(kind, kind) if isinstance(kind, type) else kind
    try:
        return ListOf(item, allow_empty=allow_empty, choices=tuple(choices) if choices else None).convert(text)
    except FlagValueError as err:
        raise InputError(f"{flag} {text!r}: {err}") from None
