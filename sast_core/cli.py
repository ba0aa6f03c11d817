"""Command-line plumbing: the parser, the entry wrapper (InputError -> one stderr line, exit 2), list flags."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Collection
from typing import NoReturn, TypeVar

from .errors import EXIT_BAD_INPUT, InputError

F = TypeVar("F", bound=Callable[..., int])
T = TypeVar("T")

_KIND_NAMES = {int: "integers", float: "numbers", str: "names"}


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


def parse_list(
    flag: str,
    text: str,
    kind: Callable[[str], T] = str,
    *,
    minimum: float | None = None,
    choices: Collection[str] | None = None,
    allow_empty: bool = False,
) -> list[T]:
    """The comma-separated values of `text` (blank entries skipped), converted by `kind`.

    InputError naming `flag` for an entry `kind` rejects, an entry below `minimum`, a name outside `choices`,
    or no entry at all (unless `allow_empty`).
    """
    what = _KIND_NAMES.get(kind, "values")  # type: ignore[call-overload]
    try:
        values = [kind(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"{flag} {text!r}: expected comma-separated {what}") from None
    if not values and not allow_empty:
        raise InputError(f"{flag} {text!r}: expected one or more comma-separated {what}")
    if minimum is not None and any(v < minimum for v in values):  # type: ignore[operator]
        raise InputError(f"{flag} {text!r}: every entry must be >= {minimum:g}")
    if choices is not None:
        unknown = [v for v in values if v not in choices]
        if unknown:
            raise InputError(f"{flag} {text!r}: unknown {', '.join(map(str, unknown))}; expected one or more "
                             f"of {', '.join(choices)}")
    return values
