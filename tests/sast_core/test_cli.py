"""The shared command-line plumbing: list flags, the parser's usage errors, flag-named value errors, defaults in
--help, and the entry wrapper's exit codes (a full disk included)."""

from __future__ import annotations

import errno

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sast_core.cli import CliParser, cli_entry, parse_list
from sast_core.errors import EXIT_BAD_INPUT, InputError
from sast_core.flags import Integer, Number


@given(values=st.lists(st.integers(-50, 50), max_size=6), spaces=st.sampled_from(["", " ", "  "]))
def test_integer_lists_round_trip(values, spaces) -> None:
    text = ",".join(f"{spaces}{v}{spaces}" for v in values) + ("," if values else "")
    assert parse_list("--x", text, int, allow_empty=True) == values


@pytest.mark.parametrize(
    ("text", "options", "needle"),
    [
        ("1,a", {"kind": int}, "entry 'a': expected an integer"),
        ("0.5,x", {"kind": float}, "entry 'x': expected a finite number"),
        ("0.5,nan", {"kind": float}, "entry 'nan': expected a finite number"),
        (" , ", {"kind": int}, "one or more"),
        ("3,0", {"kind": Integer(1)}, "entry '0': expected an integer >= 1"),
        ("-0.1", {"kind": Number(0)}, ">= 0"),
        ("hard,int3", {"choices": ("surrogate", "hard")}, "entry 'int3': expected one of surrogate, hard"),
    ],
)
def test_bad_lists_are_one_line_input_errors_naming_the_flag(text, options, needle) -> None:
    with pytest.raises(InputError) as info:
        parse_list("--flag", text, **options)
    message = str(info.value)
    assert message.startswith("--flag") and needle in message and "\n" not in message


def test_choices_keep_the_order_given() -> None:
    assert parse_list("--modes", "hard, surrogate", choices={"surrogate": 1, "hard": 2}) == ["hard", "surrogate"]


def test_usage_errors_become_exit_2_with_one_line(capsys) -> None:
    @cli_entry
    def main(argv: list[str] | None = None) -> int:
        parser = CliParser(prog="tool")
        parser.add_argument("--n", type=int, required=True)
        parser.parse_args(argv)
        return 0

    assert main(["--n", "3"]) == 0
    assert main(["--n", "three"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: tool:") and "--n" in err


def flagged_main():
    @cli_entry
    def main(argv: list[str] | None = None) -> int:
        parser = CliParser(prog="tool")
        parser.add_argument("--beta", type=Number(0, low_open=True), default=5.0, help="sharpness")
        parser.add_argument("--seed", type=Integer(0, 2**32 - 1), default=0, help="seed")
        parser.parse_args(argv)
        return 0

    return main


@pytest.mark.parametrize(("argv", "line"), [
    (["--beta", "nan"], "error: --beta nan: expected a finite number > 0\n"),
    (["--beta", "inf"], "error: --beta inf: expected a finite number > 0\n"),
    (["--beta=-1"], "error: --beta -1: expected a finite number > 0\n"),
    (["--seed", "-1"], "error: --seed -1: expected an integer in 0..4294967295\n"),
    (["--seed", ""], "error: --seed '': expected an integer in 0..4294967295\n"),
])
def test_flag_values_are_refused_naming_the_flag(argv, line, capsys) -> None:
    assert flagged_main()(argv) == EXIT_BAD_INPUT
    assert capsys.readouterr().err == line


def test_help_shows_every_default(capsys) -> None:
    with pytest.raises(SystemExit):
        flagged_main()(["--help"])
    out = capsys.readouterr().out
    assert "sharpness (default: 5.0)" in out and "seed (default: 0)" in out


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS])
def test_a_full_or_read_only_disk_is_one_line_exit_2(code, capsys) -> None:
    @cli_entry
    def main(argv=None) -> int:
        raise OSError(code, "simulated", "/some/out/file.json")

    assert main() == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: /some/out/file.json: cannot write (simulated)")


def test_other_os_errors_are_not_hidden() -> None:
    @cli_entry
    def main(argv=None) -> int:
        raise OSError(errno.EIO, "io")

    with pytest.raises(OSError):
        main()
