"""Where SAM perturbs: raw parameters vs explicit weights W = P(V); layerwise rho; the perturbed A3/A4 check."""

from __future__ import annotations

import math

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sast_models.networks import LIFNetwork, build_network, layer_contraction
from sast_models.parameterization import capped_bias, capped_weight
from sast_models.perturbation import A4Verdicts, ExplicitSpace, RawSpace
from sast_models.sam import SAM
from sast_models.spec import NetworkSpec
from sast_theory.calculus import contraction_factor
from sast_theory.norms import inf_norm, one_norm

# small caps so that trained-size perturbations leave them; beta 0.5, tau 0.6 keeps A4 feasible at these caps
SPEC = dict(arch="mlp", input_shape=(12,), n_classes=3, hidden=(7, 5), beta=0.5, tau=0.6, inf_cap=2.0,
            spectral_cap=2.0, bias_cap=0.5, init_gain=3.0)
# zero reset, sigmoid: A4 depends on the current bound only when it is small (beta 10: the largest feasible taubar
# is 0.68 at I = 0.3 and 0.48 from I = 1 on), so tau 0.5 at I = c + bbar = 0.4 holds and a large e breaks it
TIGHT = dict(SPEC, beta=10.0, tau=0.5, inf_cap=0.3, spectral_cap=0.3, bias_cap=0.1)


def _net(seed: int = 0, **changes) -> LIFNetwork:
    return build_network(NetworkSpec(**{**SPEC, **changes}), seed=seed).double()


def _batch(seed: int, n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(5, n, 12, generator=g, dtype=torch.float64) < 0.4).double()  # T = 5 binary frames
    return x, torch.randint(0, 3, (n,), generator=g)


def _closure(net: torch.nn.Module, batch):
    x, y = batch

    def closure() -> torch.Tensor:
        loss = torch.nn.functional.cross_entropy(net(x, mode="surrogate"), y)
        loss.backward()
        return loss.detach()

    return closure


def _explicit(net: LIFNetwork) -> list[tuple[torch.Tensor, torch.Tensor]]:
    with torch.no_grad():
        return [tuple(t.clone() for t in layer.explicit()[:2]) for layer in net.layers]


def _explicit_grads(net: LIFNetwork, batch, at: list[tuple[torch.Tensor, torch.Tensor]] | None = None):
    """dL/dW, dL/db at explicit tensors `at` (default: the net's own), from a plain network holding them as raw
    values (plain: W = raw), so no SAM code is involved."""
    plain = build_network(NetworkSpec(**{**net.spec.to_dict(), "parameterization": "plain"}), seed=0).double()
    with torch.no_grad():
        for layer, (w, b) in zip(plain.layers, _explicit(net) if at is None else at, strict=True):
            layer.raw_weight.copy_(w)
            layer.raw_bias.copy_(b)
    _closure(plain, batch)()
    return [(layer.raw_weight.grad.clone(), layer.raw_bias.grad.clone()) for layer in plain.layers]


def _flat(pairs) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for pair in pairs for t in pair])


def _descent_grads_after_first_step(net: LIFNetwork, sam: SAM, b_prime, b):
    """Run the perturbation pass on B', first_step, then the descent pass on B; returns the raw gradients (before
    the base step) and the offsets e that were applied."""
    sam.zero_grad()
    sam.begin()
    _closure(net, b_prime)()
    sam.first_step()
    offsets = [(layer.sam_offset.weight.clone(), layer.sam_offset.bias.clone()) for layer in net.layers]
    sam.zero_grad()
    _closure(net, b)()
    grads = [(layer.raw_weight.grad.clone(), layer.raw_bias.grad.clone()) for layer in net.layers]
    sam.second_step()
    return grads, offsets


@pytest.mark.parametrize("rho", [0.05, 0.7, 3.0])
def test_explicit_perturbation_is_rho_along_the_explicit_gradient(rho):
    net = _net()
    b_prime, b = _batch(1), _batch(2)
    g = _explicit_grads(net, b_prime)
    sam = SAM(torch.optim.SGD(net.parameters(), lr=0.1), rho=rho, space=ExplicitSpace(net))
    _, offsets = _descent_grads_after_first_step(net, sam, b_prime, b)
    e, g = _flat(offsets), _flat(g)
    assert abs(torch.linalg.vector_norm(e).item() - rho) < 1e-12
    torch.testing.assert_close(e, rho * g / torch.linalg.vector_norm(g), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("parameterization", ["contractive", "plain"])
def test_explicit_descent_gradient_is_the_chain_rule_through_p_at_v(parameterization):
    """raw grad = J_P(V)^T grad L(W + e), with grad L(W + e) from an independent plain network at W + e."""
    net = _net(parameterization=parameterization)
    b_prime, b = _batch(3), _batch(4)
    w0 = _explicit(net)
    raw = [(layer.raw_weight.detach().clone(), layer.raw_bias.detach().clone()) for layer in net.layers]
    sam = SAM(torch.optim.SGD(net.parameters(), lr=0.1), rho=0.8, space=ExplicitSpace(net))
    grads, offsets = _descent_grads_after_first_step(net, sam, b_prime, b)
    at = [(w + ew, bb + eb) for (w, bb), (ew, eb) in zip(w0, offsets, strict=True)]
    g_at = _explicit_grads(net, b, at)
    for layer, (v, rb), (gw, gb), (got_w, got_b) in zip(net.layers, raw, g_at, grads, strict=True):
        v, rb = v.clone().requires_grad_(), rb.clone().requires_grad_()
        if layer.caps is None:
            w, bias = v, rb
        else:
            w, bias = capped_weight(v, layer.caps.inf, layer.caps.spectral), capped_bias(rb, layer.caps.bias)
        want_w, want_b = torch.autograd.grad((w, bias), (v, rb), grad_outputs=(gw, gb))
        torch.testing.assert_close(got_w, want_w, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(got_b, want_b, rtol=1e-9, atol=1e-12)
    assert torch.linalg.vector_norm(_flat(g_at) - _flat(_explicit_grads(net, b, w0))) > 0  # e mattered


def test_after_a_step_no_offset_remains_and_gradients_flow_again():
    net = _net()
    sam = SAM(torch.optim.Adam(net.parameters(), lr=1e-2), rho=0.5, space=ExplicitSpace(net))
    before = [p.detach().clone() for p in net.parameters()]
    sam.step(_closure(net, _batch(5)), _closure(net, _batch(6)))
    assert all(layer.sam_offset is None for layer in net.layers)
    assert all(p.requires_grad for p in net.parameters())
    assert any(not torch.equal(p, q) for p, q in zip(net.parameters(), before, strict=True))
    with torch.no_grad():  # evaluation uses the unperturbed, cached explicit tensors
        first = net.layers[0].explicit()
        assert net.layers[0].explicit() is first


def test_failure_in_the_perturbation_pass_leaves_no_offset_and_no_frozen_parameter():
    net = _net()
    sam = SAM(torch.optim.SGD(net.parameters(), lr=0.1), rho=0.5, space=ExplicitSpace(net))

    def broken() -> torch.Tensor:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        sam.step(broken, _closure(net, _batch(1)))
    assert all(layer.sam_offset is None for layer in net.layers)
    assert all(p.requires_grad for p in net.parameters())


def test_rho_zero_explicit_layerwise_is_the_base_optimizer_bit_for_bit():
    runs = []
    for space in (None, "explicit"):
        net = _net()
        base = torch.optim.Adam(net.parameters(), lr=1e-2)
        sam = SAM(base, rho=0.0, space=None if space is None else ExplicitSpace(net), layerwise=True)
        for k in range(3):
            sam.step(_closure(net, _batch(10 + k)), _closure(net, _batch(20 + k)))
        runs.append([p.detach().clone() for p in net.parameters()])
    plain = _net()
    base = torch.optim.Adam(plain.parameters(), lr=1e-2)
    for k in range(3):
        base.zero_grad()
        _closure(plain, _batch(20 + k))()
        base.step()
    for run in runs:
        assert all(torch.equal(a, b) for a, b in zip(run, plain.parameters(), strict=True))


def test_explicit_equals_raw_for_the_plain_parameterization():
    results = []
    for make_space in (lambda n: RawSpace.by_layer(n), ExplicitSpace):
        net = _net(parameterization="plain")
        sam = SAM(torch.optim.SGD(net.parameters(), lr=0.1), rho=0.4, space=make_space(net))
        for k in range(2):
            sam.step(_closure(net, _batch(30 + k)), _closure(net, _batch(40 + k)))
        results.append([p.detach().clone() for p in net.parameters()])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("space_name", ["raw", "explicit"])
def test_layerwise_rho_splits_the_radius_by_weight_norm(space_name):
    net = _net()
    space = RawSpace.by_layer(net) if space_name == "raw" else ExplicitSpace(net)
    rho = 0.3
    if space_name == "raw":
        values = [[p.detach().clone() for p in layer.parameters()] for layer in net.layers]
    else:
        values = [list(pair) for pair in _explicit(net)]
    sam = SAM(torch.optim.SGD(net.parameters(), lr=0.1), rho=rho, space=space, layerwise=True)
    sam.zero_grad()
    sam.begin()
    _closure(net, _batch(7))()
    grads = ([[p.grad.clone() for p in layer.parameters()] for layer in net.layers] if space_name == "raw" else
             [[layer.sam_offset.weight.grad.clone(), layer.sam_offset.bias.grad.clone()] for layer in net.layers])
    sam.first_step()
    if space_name == "raw":
        e = [[p.detach() - v for p, v in zip(layer.parameters(), vs, strict=True)]
             for layer, vs in zip(net.layers, values, strict=True)]
    else:
        e = [[layer.sam_offset.weight, layer.sam_offset.bias] for layer in net.layers]
    norms = [torch.linalg.vector_norm(torch.cat([t.reshape(-1) for t in ts])).item() for ts in values]
    total = math.sqrt(sum(n * n for n in norms))
    for e_l, g_l, n_l in zip(e, grads, norms, strict=True):
        flat_e = torch.cat([t.reshape(-1) for t in e_l])
        flat_g = torch.cat([t.reshape(-1) for t in g_l])
        want = rho * n_l / total * flat_g / torch.linalg.vector_norm(flat_g)
        torch.testing.assert_close(flat_e, want, rtol=1e-9, atol=1e-14)
    assert abs(torch.linalg.vector_norm(torch.cat([t.reshape(-1) for ts in e for t in ts])).item() - rho) < 1e-9
    sam.second_step()


def _brute_force_verdict(net: LIFNetwork, offsets) -> tuple[bool, bool]:
    outside = violated = False
    for index, (layer, (ew, eb)) in enumerate(zip(net.layers, offsets, strict=True)):
        with torch.no_grad():
            w, b, tau = layer.explicit()
        w, b = w + ew, b + eb
        w_inf, w_one = inf_norm(w.double().numpy()), one_norm(w.double().numpy())
        outside |= (w_inf > layer.caps.inf or math.sqrt(w_inf * w_one) > layer.caps.spectral
                    or float(b.abs().max()) > layer.caps.bias)
        if layer.spiking:
            spec = net.spec
            report = layer_contraction(spec, index, w, b, torch.tensor(spec.leak_cap))
            violated |= not report["contractive"]
    return outside, violated


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), rho=st.floats(1e-6, 60.0), batch=st.integers(0, 100),
       dtype=st.sampled_from([torch.float32, torch.float64]), spec=st.sampled_from([SPEC, TIGHT]),
       layerwise=st.booleans(), gain=st.sampled_from([0.05, 3.0]))
def test_the_perturbed_a3_a4_verdict_matches_a_float64_brute_force(seed, rho, batch, dtype, spec, layerwise,
                                                                    gain):
    spec = {**spec, "init_gain": gain}  # 0.05: the caps are far from the weights; 3.0: the row caps are active
    net = build_network(NetworkSpec(**spec), seed=seed).to(dtype)
    sam = SAM(torch.optim.SGD(net.parameters(), lr=0.1), rho=rho, space=ExplicitSpace(net), layerwise=layerwise)
    x, y = _batch(batch)
    sam.zero_grad()
    sam.begin()
    _closure(net, (x.to(dtype), y))()
    if sam.first_step() == 0.0:
        assert sam.space.last_check is None
        return
    offsets = [(layer.sam_offset.weight.clone(), layer.sam_offset.bias.clone()) for layer in net.layers]
    check = sam.space.last_check
    sam.second_step()
    net_at_w = build_network(NetworkSpec(**spec), seed=seed).to(dtype)  # the weights before the base step
    assert (check.outside_caps, check.a4_violated) == _brute_force_verdict(net_at_w, offsets)


def test_the_verdict_sees_both_sides():
    """Tiny rho keeps a network inside caps that are not active; a large one breaks A3 and then A4 (layerwise, so
    that the hidden layers, whose gradients are tiny at beta 10, get a large share of rho)."""
    net = build_network(NetworkSpec(**{**TIGHT, "init_gain": 0.05}), seed=0).double()  # the caps are far
    sam = SAM(torch.optim.SGD(net.parameters(), lr=0.0), rho=1e-4, space=ExplicitSpace(net), layerwise=True)
    assert sam.step(_closure(net, _batch(1))).check == (False, False)
    sam.rho = 50.0
    check = sam.step(_closure(net, _batch(1))).check
    assert check.outside_caps and check.a4_violated


def test_raw_space_keeps_the_caps_so_it_reports_nothing():
    net = _net()
    sam = SAM(torch.optim.SGD(net.parameters(), lr=0.1), rho=5.0, space=RawSpace.by_layer(net))
    assert sam.step(_closure(net, _batch(1))).check is None


@settings(max_examples=10, deadline=None)
@given(beta=st.sampled_from([0.25, 0.5, 10.0, 20.0]), taubar=st.floats(0.2, 0.98),
       currents=st.lists(st.floats(0.0, 50.0), min_size=1, max_size=12))
def test_a4_verdicts_are_exact_for_any_sequence_of_current_bounds(beta, taubar, currents):
    verdicts = A4Verdicts("sigmoid", beta, 1.0, "zero", taubar)
    for current in currents:
        assert verdicts.holds(current) == (contraction_factor("sigmoid", beta, 1.0, "zero", taubar, current) < 1)
    assert verdicts.evaluations <= 2 * len(currents)


def test_a4_verdicts_need_few_evaluations_for_slowly_growing_weights():
    verdicts = A4Verdicts("sigmoid", 0.5, 1.0, "zero", 0.9)
    assert all(verdicts.holds(21.0 * (1 + k / 1000)) for k in range(1000))
    assert verdicts.evaluations == 1  # rho(42) < 1 settles every later query


# --- torch.distributed: explicit perturbation, two gloo processes equal one process ------------------------


def _explicit_steps(net, shard) -> list[torch.Tensor]:
    sam = SAM(torch.optim.SGD(net.parameters(), lr=0.1), rho=0.5, space=ExplicitSpace(net))
    for k in range(2):
        sam.step(_closure_ddp(net, shard(_batch(50 + k, 8))), _closure_ddp(net, shard(_batch(60 + k, 8))))
    return [p.detach().clone() for p in net.parameters()]


def _closure_ddp(model, batch):
    x, y = batch
    world = dist.get_world_size() if dist.is_initialized() else 1

    def closure() -> torch.Tensor:
        loss = torch.nn.functional.cross_entropy(model(x, mode="surrogate"), y, reduction="sum") * world / 8
        loss.backward()
        return loss.detach()

    return closure


def _explicit_ddp_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        net = _net()
        model = torch.nn.parallel.DistributedDataParallel(net)

        def shard(batch):
            x, y = batch
            n = y.shape[0] // world
            return x[:, rank * n:(rank + 1) * n], y[rank * n:(rank + 1) * n]

        sam = SAM(torch.optim.SGD(net.parameters(), lr=0.1), rho=0.5, space=ExplicitSpace(net))
        for k in range(2):
            sam.step(_closure_ddp(model, shard(_batch(50 + k, 8))), _closure_ddp(model, shard(_batch(60 + k, 8))))
        torch.save([p.detach().clone() for p in net.parameters()], f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_explicit_perturbation_two_gloo_processes_equal_one_process(tmp_path):
    mp.spawn(_explicit_ddp_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    single = _explicit_steps(_net(), lambda batch: batch)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert all(torch.equal(a, b) for a, b in zip(*ranks, strict=True))
    for a, b in zip(ranks[0], single, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
