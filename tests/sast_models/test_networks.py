"""LIF networks: one switch between surrogate and hard spikes, traces, P1 state bounds, contraction, A4 refusal."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sast_core.errors import InputError
from sast_models.networks import build_network
from sast_models.neuron import LIFState, lif_step
from sast_models.spec import NetworkSpec
from sast_models.surrogates import spike_function
from sast_theory.calculus import largest_feasible_taubar, reset_slope_bounds, state_bound
from sast_theory.surrogates import reset_offset

SMALL_MLP = dict(arch="mlp", input_shape=(2, 4, 4), hidden=(12, 8), n_classes=3)
SMALL_CONV = dict(arch="conv", input_shape=(2, 8, 8), channels=(4,), hidden=(6,), n_classes=3)


def _input(spec: NetworkSpec, steps=5, batch=3, seed=0, bound=None):
    generator = torch.Generator().manual_seed(seed)
    shape = (steps, batch, *spec.input_shape)
    return torch.rand(shape, generator=generator, dtype=torch.float64) * (bound or spec.input_bound)


@pytest.mark.parametrize("kwargs", [SMALL_MLP, SMALL_CONV])
def test_both_modes_from_the_same_weights(kwargs):
    net = build_network(NetworkSpec(**kwargs), seed=1).double()
    x = _input(net.spec)
    surrogate = net.trace(x, "surrogate")
    hard = net.trace(x, "hard")
    assert surrogate.logits.shape == hard.logits.shape == (3, 3)
    assert len(surrogate.layers) == len(net.layers)
    for record in hard.layers[:-1]:
        assert set(record.spikes.unique().tolist()) <= {0.0, 1.0}
    # the first layer sees the same currents in both modes
    torch.testing.assert_close(surrogate.layers[0].currents, hard.layers[0].currents, rtol=0, atol=0)
    torch.testing.assert_close(net(x, "hard"), hard.logits, rtol=0, atol=0)


def test_conv_block_shapes_and_pooling():
    net = build_network(NetworkSpec(**SMALL_CONV), seed=0).double()
    record = net.trace(_input(net.spec), "hard").layers[0]
    assert record.membranes.shape == (5, 3, 4, 8, 8)
    assert record.output.shape == (5, 3, 4, 4, 4)
    expected = torch.nn.functional.avg_pool2d(record.spikes.flatten(0, 1), 2).view(5, 3, 4, 4, 4)
    torch.testing.assert_close(record.output, expected)


def test_readout_is_mean_of_leaky_integrator():
    net = build_network(NetworkSpec(**SMALL_MLP), seed=2).double()
    trace = net.trace(_input(net.spec), "surrogate")
    readout = trace.layers[-1]
    tau = net.spec.readout_leak
    u = torch.zeros_like(readout.currents[0])
    acc = torch.zeros_like(u)
    for current in readout.currents:
        u = tau * u + current
        acc += u
    torch.testing.assert_close(trace.logits, acc / readout.currents.shape[0], rtol=1e-12, atol=1e-12)


def test_surrogate_spikes_converge_to_hard_spikes_as_beta_grows():
    """Away from threshold (every hard membrane of a sample at least `margin` from theta), sigma_beta -> H."""
    kwargs = dict(SMALL_MLP, parameterization="plain", init_gain=3.0)
    base = build_network(NetworkSpec(**kwargs), seed=3).double()
    x = _input(base.spec, steps=8, batch=256, seed=5)
    hard = base.trace(x, "hard")
    margin = 0.02
    per_sample = torch.stack([(layer.membranes - base.spec.theta).abs().flatten(2).amin((0, 2))
                              for layer in hard.layers[:-1]]).amin(0)
    keep = per_sample > margin
    assert int(keep.sum()) >= 10
    errors = []
    for beta in [30.0, 300.0, 3000.0, 30000.0]:
        net = build_network(NetworkSpec(**kwargs, beta=beta)).double()
        net.load_state_dict(base.state_dict())
        with torch.no_grad():
            soft = net.trace(x[:, keep], "surrogate")
        errors.append(max(float((a.spikes - b.spikes[:, keep]).abs().max())
                          for a, b in zip(soft.layers[:-1], hard.layers[:-1])))
    assert errors[0] > 1e-3  # a soft surrogate is visibly not the step ...
    assert errors == sorted(errors, reverse=True)  # ... and the gap closes as beta grows
    assert errors[-1] < 1e-12


def test_infeasible_contraction_is_refused_with_the_feasible_range():
    defaults = NetworkSpec()
    limit = largest_feasible_taubar("sigmoid", 10.0, 1.0, "zero", defaults.inf_cap * 1.0 + defaults.bias_cap)
    with pytest.raises(InputError, match="largest feasible taubar") as info:
        build_network(NetworkSpec(**SMALL_MLP, beta=10.0, tau=0.9))
    assert f"{limit:.6g}" in str(info.value)
    build_network(NetworkSpec(**SMALL_MLP, beta=10.0, tau=0.9, parameterization="plain"))  # plain is allowed


def test_plain_network_reports_whether_it_contracts():
    net = build_network(NetworkSpec(**SMALL_MLP, parameterization="plain", init_gain=50.0, beta=20.0, tau=0.9))
    report = net.contraction_report()
    assert len(report) == 2 and all(r["contractive"] == (r["rho"] < 1) for r in report)
    assert not all(r["contractive"] for r in report)
    contractive = build_network(NetworkSpec(**SMALL_MLP), seed=0).contraction_report()
    assert all(r["contractive"] for r in contractive)


spec_strategy = st.builds(
    lambda arch, beta, reset, surrogate, tau_frac, caps, bound, per_neuron: dict(
        **(SMALL_MLP if arch == "mlp" else SMALL_CONV), beta=beta, reset=reset, surrogate=surrogate,
        tau_frac=tau_frac, inf_cap=caps[0], spectral_cap=caps[1], bias_cap=caps[2], input_bound=bound,
        tau_per_neuron=per_neuron),
    st.sampled_from(["mlp", "conv"]), st.floats(0.1, 30.0), st.sampled_from(["zero", "subtract", "none"]),
    st.sampled_from(["sigmoid", "arctan"]), st.floats(0.0, 0.999),
    st.tuples(st.floats(0.1, 50.0), st.floats(0.1, 50.0), st.floats(0.0, 5.0)), st.floats(0.1, 10.0),
    st.booleans(),
)


def _feasible_spec(params) -> NetworkSpec:
    params = dict(params)
    tau_frac = params.pop("tau_frac")
    current = params["inf_cap"] * max(params["input_bound"], 1.0) + params["bias_cap"]
    limit = largest_feasible_taubar(params["surrogate"], params["beta"], 1.0, params["reset"], current)
    return NetworkSpec(**params, tau=tau_frac * limit)


@settings(max_examples=20, deadline=None)
@given(params=spec_strategy, seed=st.integers(0, 2**16), scale=st.floats(1e-3, 1e3))
def test_P1_state_bound_holds_in_both_modes(params, seed, scale):
    spec = _feasible_spec(params)
    net = build_network(spec, seed=seed).double()
    with torch.no_grad():
        for layer in net.layers:  # arbitrary raw parameters: the caps must still hold
            layer.raw_weight.mul_(scale)
            layer.raw_bias.normal_(0, scale)
    x = _input(spec, steps=6, batch=4, seed=seed)
    x = torch.where(torch.rand_like(x) < 0.3, torch.full_like(x, spec.input_bound), x)  # many inputs at X
    r0 = reset_offset(spec.reset, spec.theta)
    for mode in ("surrogate", "hard"):
        trace = net.trace(x, mode)
        for layer, current in zip(trace.layers[:-1], net.current_bounds()):
            bound = state_bound(spec.leak_cap, current, r0)
            assert float(layer.membranes.detach().abs().max()) <= bound
            assert float(layer.currents.detach().abs().max()) <= current


@settings(max_examples=40, deadline=None)
@given(params=spec_strategy, seed=st.integers(0, 2**16))
def test_two_trajectories_contract_at_rate_rho(params, seed):
    """Same input currents, different initial states inside the P1 interval: |du[t]| <= rho^t |du[0]|."""
    spec = _feasible_spec(params)
    current_bound = spec.inf_cap * spec.input_bound + spec.bias_cap
    r0 = reset_offset(spec.reset, spec.theta)
    bound = state_bound(spec.leak_cap, current_bound, r0)
    kappa, _ = reset_slope_bounds(spec.surrogate, spec.beta, spec.theta, spec.reset, -bound, bound)
    rho = spec.leak_cap * kappa
    assert rho < 1
    generator = torch.Generator().manual_seed(seed)
    n = 64
    u0 = (torch.rand(n, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    v0 = (torch.rand(n, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    spike = spike_function(spec.surrogate, spec.beta, "surrogate")
    a = LIFState(u0, spike(u0 - spec.theta))
    b = LIFState(v0, spike(v0 - spec.theta))
    gap0 = (u0 - v0).abs()
    for t in range(1, 12):
        current = (torch.rand(n, generator=generator, dtype=torch.float64) * 2 - 1) * current_bound
        step = dict(leak=lambda v: spec.leak_cap * v, theta=spec.theta, reset=spec.reset, spike=spike)
        a, b = lif_step(a, current, **step), lif_step(b, current, **step)
        float_error = 8 * t * torch.finfo(torch.float64).eps * (bound + current_bound)  # rounding only
        assert bool(((a.membrane - b.membrane).abs() <= rho**t * gap0 + float_error).all())


def test_tau_per_neuron_shapes():
    net = build_network(NetworkSpec(**SMALL_CONV, tau_per_neuron=True, learn_tau=True, taubar=0.6, tau=0.3))
    assert net.layers[0].leak().shape == (4, 8, 8)
    assert net.layers[1].leak().shape == (6,)
    assert math.isclose(float(net.layers[0].leak().detach().max()), 0.3, rel_tol=1e-6)


def test_wrong_input_shape_is_one_clear_error():
    net = build_network(NetworkSpec(**SMALL_MLP))
    with pytest.raises(InputError, match="expected"):
        net(torch.zeros(3, 2, 5))


def test_learned_leak_gets_gradients_and_stays_capped():
    net = build_network(NetworkSpec(**SMALL_MLP, learn_tau=True, taubar=0.8, tau=0.4), seed=0)
    net(_input(net.spec).float()).sum().backward()
    assert net.layers[0].leak.raw.grad is not None
    assert np.all(net.layers[0].leak().detach().numpy() <= 0.8)


def test_inference_reuses_explicit_parameters_only_while_raw_ones_are_unchanged():
    net = build_network(NetworkSpec(**SMALL_MLP), seed=0).double()
    x = _input(net.spec)
    with torch.no_grad():
        first = net(x, "hard")
        assert net.layers[0].explicit() is net.layers[0].explicit()  # cached without autograd
        net.layers[0].raw_weight.mul_(1.5)  # an in-place update (optimizer step, SAM perturbation)
        changed = net(x, "hard")
    fresh = build_network(NetworkSpec(**SMALL_MLP), seed=0).double()
    fresh.load_state_dict(net.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(changed, fresh(x, "hard"), rtol=0, atol=0)
    assert not torch.equal(first, changed)
    with torch.enable_grad():  # with autograd the explicit tensors are always recomputed, in the graph
        assert net.layers[0].explicit().weight.requires_grad
