"""The shared command-line plumbing: list flags, the parser's usage errors and the entry wrapper's exit codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sast_core.cli import CliParser, cli_entry, parse_list
from sast_core.errors import EXIT_BAD_INPUT, InputError


@given(values=st.lists(st.integers(-50, 50), max_size=6), spaces=st.sampled_from(["", " ", "  "]))
def test_integer_lists_round_trip(values, spaces) -> None:
    text = ",".join(f"{spaces}{v}{spaces}" for v in values) + ("," if values else "")
    assert parse_list("--x", text, int, allow_empty=True) == values


@pytest.mark.parametrize(
    ("text", "options", "needle"),
    [
        ("1,a", {"kind": int}, "expected comma-separated integers"),
        ("0.5,x", {"kind": float}, "expected comma-separated numbers"),
        (" , ", {"kind": int}, "one or more"),
        ("3,0", {"kind": int, "minimum": 1}, ">= 1"),
        ("-0.1", {"kind": float, "minimum": 0}, ">= 0"),
        ("hard,int3", {"choices": ("surrogate", "hard")}, "unknown int3"),
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
