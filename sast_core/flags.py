"""Value types of flags (and of the same values read back from files): type and range in one object.

A `FlagType` converts command-line text (`convert`, also its argparse `type=`) and checks a value that is
already typed (`check`, e.g. a field of a checkpoint header); both refuse with `FlagValueError`, whose message
is the expectation ("expected a finite number > 0"). `CliParser` turns it into the one line
`--beta nan: expected a finite number > 0`. Declaring a flag stays one line:

    p.add_argument("--lr", type=Number(0, low_open=True), default=1e-3, help="learning rate")
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Any

_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


class FlagValueError(argparse.ArgumentTypeError):
    """A value outside its FlagType; the message is what was expected, `text` the refused command-line text."""

    text: str | None = None


class FlagType:
    """Base: `expected` describes the accepted values; `convert(text)` parses and checks, `check(value)` checks."""

    expected = "a value"

    def __call__(self, text: str) -> Any:
        try:
            return self.convert(text)
        except FlagValueError as err:
            err.text = text if text.strip() else repr(text)
            raise

    def convert(self, text: str) -> Any:
        raise NotImplementedError

    def check(self, value: Any) -> Any:
        raise NotImplementedError

    def refuse(self) -> FlagValueError:
        return FlagValueError(f"expected {self.expected}")

    def __repr__(self) -> str:  # argparse names the type in some messages
        return type(self).__name__


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool, fmt) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{fmt(low)}, {fmt(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {fmt(low)}"
    if high is not None:
        return f"{'<' if high_open else '<='} {fmt(high)}"
    return ""


class Number(FlagType):
    """A finite float in [low, high] (either end open or absent); inf and nan are always refused."""

    def __init__(self, low: float | None = None, high: float | None = None, *, low_open: bool = False,
                 high_open: bool = False) -> None:
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open
        self.expected = " ".join(filter(None, ["a finite number",
                                               _interval(low, high, low_open, high_open, lambda v: f"{v:g}")]))

    def convert(self, text: str) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise self.refuse() from None
        return self.check(value)

    def check(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.refuse()
        value = float(value)
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise self.refuse()
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            raise self.refuse()
        return value


class Integer(FlagType):
    """An integer in low..high (inclusive; either end absent)."""

    def __init__(self, low: int | None = None, high: int | None = None) -> None:
        self.low, self.high = low, high
        if low is not None and high is not None:
            self.expected = f"an integer in {low}..{high}"
        else:
            self.expected = " ".join(filter(None, ["an integer", _interval(low, high, False, False, str)]))

    def convert(self, text: str) -> int:
        try:
            value = int(text)
        except (TypeError, ValueError):
            raise self.refuse() from None
        return self.check(value)

    def check(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.refuse()
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise self.refuse()
        return value


class Text(FlagType):
    """A non-empty string (a path, a name); `choices` restricts it to a fixed set."""

    def __init__(self, what: str = "a non-empty value", choices: tuple[str, ...] | None = None) -> None:
        self.choices = choices
        self.expected = f"one of {', '.join(choices)}" if choices else what

    def convert(self, text: str) -> str:
        return self.check(text)

    def check(self, value: Any) -> str:
        if not isinstance(value, str) or not value.strip() or (self.choices and value not in self.choices):
            raise self.refuse()
        return value


class Size(FlagType):
    """A number of bytes: 123456, 512M, 8G, 1.5GiB (binary units); at least one byte."""

    expected = "a size such as 8G, 512M or a number of bytes"

    def convert(self, text: str) -> int:
        match = _SIZE.match(text or "")
        if not match:
            raise self.refuse()
        number, unit, _ = match.groups()
        value = float(number) * _UNITS[unit.lower()]
        if not math.isfinite(value) or value < 1:
            raise self.refuse()
        return int(value)

    def check(self, value: Any) -> int:
        return Integer(1).check(value)


class ListOf(FlagType):
    """Comma-separated values of `item` (blank entries skipped; at least one unless `allow_empty`), or,
    with `choices`, names from a fixed set, in the order given."""

    def __init__(self, item: FlagType | None = None, *, allow_empty: bool = False,
                 choices: tuple[str, ...] | None = None) -> None:
        self.item = Text(choices=choices) if choices else (item if item is not None else Text())
        self.allow_empty = allow_empty
        self.expected = f"{'' if allow_empty else 'one or more '}comma-separated values, each {self.item.expected}"

    def convert(self, text: str) -> list:
        values = []
        for part in (p.strip() for p in text.split(",")):
            if part:
                try:
                    values.append(self.item.convert(part))
                except FlagValueError:
                    raise FlagValueError(f"entry {part!r}: expected {self.item.expected}") from None
        if not values and not self.allow_empty:
            raise self.refuse()
        return values

    def check(self, value: Any) -> list:
        if not isinstance(value, (list, tuple)) or (not value and not self.allow_empty):
            raise self.refuse()
        return [self.item.check(v) for v in value]


class OrNone(FlagType):
    """`inner`, or None (a value read from a file, where null means 'not set')."""

    def __init__(self, inner: FlagType) -> None:
        self.inner = inner
        self.expected = f"{inner.expected} or null"

    def convert(self, text: str) -> Any:
        return self.inner.convert(text)

    def check(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            return self.inner.check(value)
        except FlagValueError:
            raise self.refuse() from None
