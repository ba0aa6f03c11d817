"""Exact trajectories of the one LIF step (THEORY.md sec. 1), by hand, for every reset mode and spike map."""

import math

import pytest
import torch

from sast_core.errors import InputError
from sast_models.neuron import LIFState, integrate, lif_step
from sast_models.surrogates import hard_spike, spike_function

# dyadic numbers: every value below is exact in float64, so hard-mode trajectories compare with ==
CURRENTS = [0.625, 0.625, 0.625, 1.0, 0.25]
HARD_EXPECTED = {
    # t1: 0.625; t2: 0.3125 + 0.625; t3: 0.46875 + 0.625 = 1.09375 > 1 spikes; t4 and t5 depend on the reset
    "zero": ([0.625, 0.9375, 1.09375, 1.0, 0.75], [0, 0, 1, 0, 0]),  # t4: reset to 0, u = 1.0 = theta: no spike
    "subtract": ([0.625, 0.9375, 1.09375, 1.046875, 0.2734375], [0, 0, 1, 1, 0]),
    "none": ([0.625, 0.9375, 1.09375, 1.546875, 1.0234375], [0, 0, 1, 1, 1]),
}


def run(reset, spike, currents=CURRENTS, tau=0.5, theta=1.0):
    cur = torch.tensor(currents, dtype=torch.float64).view(-1, 1)
    membranes, spikes = integrate(cur, leak=lambda v: tau * v, theta=theta, reset=reset, spike=spike)
    return membranes.view(-1).tolist(), spikes.view(-1).tolist()


@pytest.mark.parametrize("reset", ["zero", "subtract", "none"])
def test_hard_trajectory_exact(reset):
    membranes, spikes = run(reset, hard_spike)
    assert membranes == HARD_EXPECTED[reset][0]
    assert spikes == HARD_EXPECTED[reset][1]


def test_hard_spike_is_strict_at_threshold():
    state = lif_step(LIFState(torch.zeros(3), torch.zeros(3)), torch.tensor([1.0, 1.0 + 2**-20, 1.0 - 2**-20]),
                     leak=lambda v: 0.5 * v, theta=1.0, reset="zero", spike=hard_spike)
    assert state.spikes.tolist() == [0.0, 1.0, 0.0]


def _hand_sigmoid_trajectory(reset, beta, tau, theta, currents):
    u, s, us, ss = 0.0, 0.0, [], []
    for current in currents:
        r = {"zero": u * (1 - s), "subtract": u - theta * s, "none": u}[reset]
        u = tau * r + current
        s = 1 / (1 + math.exp(-beta * (u - theta)))
        us.append(u)
        ss.append(s)
    return us, ss


@pytest.mark.parametrize("reset", ["zero", "subtract", "none"])
def test_sigmoid_trajectory_matches_hand_computation(reset):
    currents = [0.3, 1.4, -0.2, 0.9, 2.5, 0.0]
    membranes, spikes = run(reset, spike_function("sigmoid", 3.0, "surrogate"), currents, tau=0.7, theta=0.8)
    expected_u, expected_s = _hand_sigmoid_trajectory(reset, 3.0, 0.7, 0.8, currents)
    assert membranes == pytest.approx(expected_u, rel=1e-14, abs=1e-15)
    assert spikes == pytest.approx(expected_s, rel=1e-14, abs=1e-15)


def test_arctan_trajectory_matches_hand_computation():
    currents = [0.5, 0.9, 1.2]
    membranes, spikes = run("zero", spike_function("arctan", 2.0, "surrogate"), currents, tau=0.5, theta=1.0)
    u, s = 0.0, 0.0
    for t, current in enumerate(currents):
        u = 0.5 * u * (1 - s) + current
        s = 0.5 + math.atan(math.pi / 2 * 2.0 * (u - 1.0)) / math.pi
        assert membranes[t] == pytest.approx(u, rel=1e-14)
        assert spikes[t] == pytest.approx(s, rel=1e-14)


def test_first_step_resets_from_rest_with_no_spike():
    # u[0] = 0, s[0] = 0: the subtract reset at t = 1 must not subtract theta * phi(-theta)
    membranes, _ = run("subtract", spike_function("sigmoid", 1.0, "surrogate"), [0.25], theta=1.0)
    assert membranes == [0.25]


def test_per_neuron_leak_broadcasts():
    tau = torch.tensor([0.0, 0.5, 0.75], dtype=torch.float64)
    cur = torch.full((2, 1, 3), 0.5, dtype=torch.float64)
    membranes, _ = integrate(cur, leak=lambda v: tau * v, theta=10.0, reset="zero", spike=hard_spike)
    assert membranes[1, 0].tolist() == [0.5, 0.75, 0.875]


def test_unknown_reset_and_mode_are_rejected():
    with pytest.raises(InputError, match="reset"):
        run("halve", hard_spike)
    with pytest.raises(InputError, match="mode"):
        spike_function("sigmoid", 1.0, "soft")
