"""Flag value types: every finite value in range is accepted (as text and as a typed value), everything else
(inf, nan, out of range, wrong type, empty) is refused with the expectation as the message."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sast_core.flags import FlagValueError, Integer, ListOf, Number, OrNone, Size, Text

BOUNDS = st.sampled_from([(None, None, False, False), (0.0, None, False, False), (0.0, None, True, False),
                          (0.0, 1.0, True, True), (0.0, 1.0, False, True), (-2.0, 3.0, False, False)])


def inside(value: float, low, high, low_open, high_open) -> bool:
    return (math.isfinite(value) and (low is None or value > low or (value == low and not low_open))
            and (high is None or value < high or (value == high and not high_open)))


@given(BOUNDS, st.floats(allow_nan=True, allow_infinity=True))
def test_number_accepts_exactly_the_finite_values_of_its_interval(bounds, value) -> None:
    kind = Number(bounds[0], bounds[1], low_open=bounds[2], high_open=bounds[3])
    for candidate in (lambda: kind.convert(repr(value)), lambda: kind.check(value)):
        if inside(value, *bounds):
            assert candidate() == value
        else:
            with pytest.raises(FlagValueError, match="expected a finite number"):
                candidate()


@given(st.sampled_from([(None, None), (1, None), (0, 2**32 - 1), (2, 16)]), st.integers(-(2**70), 2**70))
def test_integer_accepts_exactly_its_range(bounds, value) -> None:
    kind = Integer(*bounds)
    ok = (bounds[0] is None or value >= bounds[0]) and (bounds[1] is None or value <= bounds[1])
    for candidate in (lambda: kind.convert(str(value)), lambda: kind.check(value)):
        if ok:
            assert candidate() == value
        else:
            with pytest.raises(FlagValueError, match="expected an integer"):
                candidate()


@pytest.mark.parametrize("text", ["", " ", "1.5", "1e3", "nan", "inf", "five", "0x10"])
def test_integer_refuses_non_integers(text) -> None:
    with pytest.raises(FlagValueError):
        Integer().convert(text)


@pytest.mark.parametrize("value", [True, "5", 5.0, None, [5]])
def test_typed_checks_refuse_other_json_types(value) -> None:
    """A checkpoint header's `time_bins: "5"` (or true, 5.0, null) is not an integer."""
    with pytest.raises(FlagValueError):
        Integer(1).check(value)
    if not isinstance(value, float):
        with pytest.raises(FlagValueError):
            Number().check(value)


def test_messages_state_the_expectation() -> None:
    assert str(Number(0, low_open=True).refuse()) == "expected a finite number > 0"
    assert str(Number(0, 1, high_open=True).refuse()) == "expected a finite number in [0, 1)"
    assert str(Integer(2, 16).refuse()) == "expected an integer in 2..16"
    assert str(Integer(1).refuse()) == "expected an integer >= 1"
    assert str(Text("a folder path").refuse()) == "expected a folder path"


@pytest.mark.parametrize(("text", "size"), [("123", 123), ("8G", 8 * 2**30), ("512M", 512 * 2**20),
                                            ("1.5GiB", int(1.5 * 2**30)), ("2k", 2048), ("1 T", 2**40)])
def test_sizes(text, size) -> None:
    assert Size().convert(text) == size


@pytest.mark.parametrize("text", ["", "0", "-1G", "nanG", "inf", "8X", "G", "0.1"])
def test_bad_sizes(text) -> None:
    with pytest.raises(FlagValueError, match="size"):
        Size().convert(text)


def test_text_refuses_empty_and_unknown_choices() -> None:
    for value in ("", "  ", None, 3):
        with pytest.raises(FlagValueError):
            Text().check(value)
    assert Text(choices=("a", "b")).convert("b") == "b"
    with pytest.raises(FlagValueError, match="one of a, b"):
        Text(choices=("a", "b")).convert("c")


@given(st.lists(st.integers(1, 10**6), max_size=5), st.sampled_from(["", " "]))
def test_lists_round_trip(values, space) -> None:
    kind = ListOf(Integer(1), allow_empty=True)
    assert kind.convert(",".join(f"{space}{v}{space}" for v in values)) == values
    assert kind.check(values) == values


def test_list_errors_name_the_entry() -> None:
    with pytest.raises(FlagValueError, match="entry 'nan': expected a finite number >= 0"):
        ListOf(Number(0)).convert("0.1,nan")
    with pytest.raises(FlagValueError, match="one or more"):
        ListOf(Number(0)).convert(" , ")
    with pytest.raises(FlagValueError, match="entry 'int3': expected one of"):
        ListOf(choices=("hard", "surrogate")).convert("hard,int3")
    with pytest.raises(FlagValueError):
        ListOf(Integer(1)).check("16")  # a string is not a list of widths


def test_or_none() -> None:
    kind = OrNone(Integer(1))
    assert kind.check(None) is None and kind.check(3) == 3
    with pytest.raises(FlagValueError, match="or null"):
        kind.check(0)
