"""Learning-rate schedules: pinned values, and the per-step rates a training run actually used."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sast_models.training.schedule import learning_rate


def test_constant_is_the_base_rate():
    assert [learning_rate("constant", 5e-3, k, 10) for k in range(10)] == [5e-3] * 10


def test_cosine_pinned_values():
    assert learning_rate("cosine", 1.0, 0, 4) == 1.0
    assert learning_rate("cosine", 1.0, 1, 4) == pytest.approx(0.8535533905932737, abs=1e-15)  # (1 + 1/sqrt 2)/2
    assert learning_rate("cosine", 1.0, 2, 4) == pytest.approx(0.5, abs=1e-15)
    assert learning_rate("cosine", 1.0, 3, 4) == pytest.approx(0.14644660940672624, abs=1e-15)
    assert learning_rate("cosine", 2e-3, 375, 750) == pytest.approx(1e-3, rel=1e-12)


@given(total=st.integers(1, 10_000), lr=st.floats(1e-6, 10.0))
def test_cosine_decreases_from_lr_and_stays_positive(total, lr):
    values = [learning_rate("cosine", lr, k, total) for k in range(0, total, max(1, total // 50))]
    assert values[0] == lr
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    assert learning_rate("cosine", lr, total - 1, total) > 0
    assert learning_rate("cosine", lr, total - 1, total) <= lr * (1 - math.cos(math.pi / total)) / 2 + 1e-15 * lr


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="linear"):
        learning_rate("linear", 1.0, 0, 1)
