"""Drive a command's parser with random flag values (finite, inf, nan, negative, huge, empty, junk) and check the
contract: exit 0 (or the work starts), or exit 2 with exactly one line on stderr and nothing written to --out.

A test gives the command's `main`, a valid base command line, the flags to fuzz with their value strategies, and
optionally the work to stand in for (`accept`): a function patched to raise `Accepted`, so that flag values that
pass every check need not train for 10**9 epochs. Examples per command: $SAST_FUZZ_EXAMPLES (default 6; run once
with many more by hand, e.g. SAST_FUZZ_EXAMPLES=300).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("SAST_FUZZ_EXAMPLES", "6"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 20, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

SPECIAL = ["inf", "-inf", "nan", "", " ", "0", "-0", "-1", "1e308", "1e-320", "1e999", "x", "1,2", "0x10",
           "99999999999999999999999"]
# a third of the draws are ordinary values (so that whole command lines also pass), the rest hostile
NUMBERS = st.one_of(st.floats(0.001, 0.9).map(repr), st.sampled_from(SPECIAL),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr))
INTEGERS = st.one_of(st.integers(1, 6).map(str), st.sampled_from(SPECIAL), st.integers(-(2**80), 2**80).map(str))
LISTS = st.lists(st.one_of(NUMBERS, INTEGERS), max_size=3).map(",".join)
SIZES = st.sampled_from(["", "0", "-1", "1", "1k", "16M", "x", "inf", "1e999G"])


def names(*valid: str) -> st.SearchStrategy[str]:
    """Comma lists of valid names, junk and empty entries."""
    return st.lists(st.sampled_from([*valid, "", "nope", "nan"]), max_size=3).map(",".join)


class Accepted(Exception):
    """Raised in place of the command's work: every check passed."""


def accept(target: str) -> contextlib.AbstractContextManager:
    """Patch `target` (a dotted name) to raise Accepted."""

    def refuse_work(*args, **kwargs):
        raise Accepted

    return mock.patch(target, refuse_work)


_COUNTER = itertools.count()


def flag_strategy(flags: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[list[str]]:
    """A random subset of `flags`, each with a drawn value, as `--flag=value` (so '-1' is a value, not a flag)."""
    return st.lists(st.sampled_from(sorted(flags)), unique=True, max_size=min(4, len(flags))).flatmap(
        lambda chosen: st.tuples(*(flags[flag] for flag in chosen)).map(
            lambda values: [f"{flag}={value}" for flag, value in zip(chosen, values)]))


def check_contract(main: Callable[[list[str]], int], base: Callable[[Path], list[str]], drawn: list[str],
                   root: Path, *, work: contextlib.AbstractContextManager | None = None,
                   after: list[str] | None = None, codes: tuple[int, ...] = (0,)) -> str:
    """Run `main(base(out) + drawn + after)` in-process on a fresh --out; returns 'ok', 'accepted' or 'refused'.

    Fails on a traceback, an exit code other than 2 and `codes` (1: a check failed, for the commands that
    check), an exit 2 with other than one 'error: ' line on stderr, or an exit 2 that left --out behind.
    """
    out = root / f"run{next(_COUNTER)}"
    argv = [*base(out), *drawn, *(after or [])]
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err), \
            (work or contextlib.nullcontext()):
        try:
            code = main(argv)
        except Accepted:
            event("accepted")
            return "accepted"
    lines = err.getvalue().splitlines()
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err.getvalue())
        assert not out.exists(), (argv, sorted(str(p) for p in out.rglob("*")))
        event("refused")
        return "refused"
    assert code in codes, (argv, code, err.getvalue())
    event(f"exit {code}")
    return "ok"


def undocumented(parser) -> list[str]:
    """Flags of `parser` without a help text (--help shows the default only beside a help text)."""
    return [action.dest for action in parser._actions if not (action.help and action.help.strip())]
