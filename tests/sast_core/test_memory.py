"""Memory estimates: refused past the limit with one line naming the largest parts; default limit from RAM."""

from __future__ import annotations

import pytest

from sast_core.errors import InputError
from sast_core.memory import DEFAULT_FRACTION, check_memory, format_bytes, memory_limit, physical_memory


def test_under_the_limit_returns_the_total():
    assert check_memory({"a": 100, "b": 50}, 1000, "lower x") == 150


def test_past_the_limit_is_one_line_naming_the_largest_parts_and_the_flag():
    with pytest.raises(InputError) as info:
        check_memory({"framed data": 924e9, "traces": 2e9, "tiny": 1}, 8 * 2**30, "lower --time-bins")
    message = str(info.value)
    assert message.startswith("this run needs about 926 GB of memory (framed data 924 GB, traces 2 GB)")
    assert "--max-memory" in message and "lower --time-bins" in message and "tiny" not in message


def test_default_limit_is_a_share_of_physical_memory():
    total = physical_memory()
    assert total is not None and total > 0  # Linux reports it
    assert memory_limit(None) == int(total * DEFAULT_FRACTION)
    assert memory_limit(123) == 123


@pytest.mark.parametrize(("count", "text"), [(999, "999 B"), (1500, "1.5 kB"), (2.5e9, "2.5 GB"), (9.24e11, "924 GB")])
def test_format(count, text):
    assert format_bytes(count) == text
