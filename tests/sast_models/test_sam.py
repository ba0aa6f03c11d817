"""SAM / SAST / ASAM: perturbation geometry, exact restore, batch roles, rho = 0, weight decay, DDP."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from sast_models.sam import SAM

RHO = 0.05


def _model(seed: int = 0, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Dropout(dropout), nn.Linear(6, 3)).double()


def _batch(seed: int, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)


def _closure(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]):
    x, y = batch

    def closure() -> torch.Tensor:
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    return closure


def _grads(model: nn.Module, batch) -> list[torch.Tensor]:
    """The loss gradient of `model` on `batch`, on a copy (the model itself is untouched)."""
    clone = copy.deepcopy(model)
    clone.zero_grad()
    _closure(clone, batch)()
    return [p.grad.detach().clone() for p in clone.parameters()]


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_perturbation_has_norm_rho_along_the_gradient():
    model = _model()
    sam = SAM(torch.optim.SGD(model.parameters(), lr=0.1), rho=RHO)
    before = _params(model)
    _closure(model, _batch(1))()
    g = _flat(p.grad for p in model.parameters())
    norm = sam.first_step()
    e = _flat(p.detach() - w for p, w in zip(model.parameters(), before, strict=True))
    assert norm == pytest.approx(torch.linalg.vector_norm(g).item(), rel=1e-14)
    assert abs(torch.linalg.vector_norm(e).item() - RHO) < 1e-12
    torch.testing.assert_close(e, RHO * g / torch.linalg.vector_norm(g), rtol=1e-12, atol=1e-15)


def test_restore_is_bit_exact_before_the_base_step():
    class Recorder(torch.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {})
            self.seen: list[torch.Tensor] = []

        def step(self, closure=None):
            self.seen = [p.detach().clone() for g in self.param_groups for p in g["params"]]

    model = _model()
    # Weights much smaller than e: (w + e) - e loses w's low bits, so only a copy restores exactly.
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1e-3)
    before = _params(model)
    recorder = Recorder(model.parameters())
    sam = SAM(recorder, rho=0.7)
    sam.step(_closure(model, _batch(1)))
    assert all(torch.equal(a, b) for a, b in zip(recorder.seen, before, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(_params(model), before, strict=True))


def test_sast_takes_the_perturbation_from_b_prime_and_the_step_from_b():
    model, lr = _model(), 0.1
    b, b_prime = _batch(1), _batch(2)
    w0 = _params(model)
    calls: list[tuple[str, list[torch.Tensor]]] = []

    def recorded(name, batch):
        inner = _closure(model, batch)

        def closure():
            calls.append((name, _params(model)))
            return inner()

        return closure

    sam = SAM(torch.optim.SGD(model.parameters(), lr=lr), rho=RHO)
    result = sam.step(recorded("B'", b_prime), recorded("B", b))

    assert [name for name, _ in calls] == ["B'", "B"]
    assert all(torch.equal(a, w) for a, w in zip(calls[0][1], w0, strict=True))  # perturbation gradient at w
    g_prime = _grads(_model(), b_prime)  # gradient of B' at w (fresh model with the same weights)
    e = [RHO * g / torch.linalg.vector_norm(_flat(g_prime)) for g in g_prime]
    for a, w, ei in zip(calls[1][1], w0, e, strict=True):  # descent gradient at w + e(B')
        torch.testing.assert_close(a, w + ei, rtol=1e-13, atol=1e-15)
    perturbed = _model()
    with torch.no_grad():
        for p, ei in zip(perturbed.parameters(), e, strict=True):
            p.add_(ei)
    g_b = _grads(perturbed, b)
    for p, w, g in zip(model.parameters(), w0, g_b, strict=True):
        torch.testing.assert_close(p.detach(), w - lr * g, rtol=1e-12, atol=1e-14)
    assert result.perturb_grad_norm == pytest.approx(torch.linalg.vector_norm(_flat(g_prime)).item())
    # the other assignment of roles gives a different step: the test can tell B from B'
    swapped = _model()
    SAM(torch.optim.SGD(swapped.parameters(), lr=lr), rho=RHO).step(
        _closure(swapped, b), _closure(swapped, b_prime)
    )
    assert not all(
        torch.allclose(p, q) for p, q in zip(swapped.parameters(), model.parameters(), strict=True)
    )


@pytest.mark.parametrize(
    "make_base",
    [
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
        lambda ps: torch.optim.Adam(ps, lr=1e-2),
        lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
    ],
    ids=["sgd-momentum", "adam", "adamw"],
)
@pytest.mark.parametrize("api", ["step", "first_second"])
def test_rho_zero_is_the_base_optimizer_bit_for_bit(make_base, api):
    reference, wrapped = _model(), _model()
    base = make_base(reference.parameters())
    sam = SAM(make_base(wrapped.parameters()), rho=0.0)
    for k in range(5):
        batch = _batch(10 + k)
        base.zero_grad()
        _closure(reference, batch)()
        base.step()
        if api == "step":
            sam.step(_closure(wrapped, batch))
        else:
            sam.zero_grad()
            _closure(wrapped, batch)()
            sam.first_step()
            sam.zero_grad()
            _closure(wrapped, batch)()
            sam.second_step()
    assert all(torch.equal(p, q) for p, q in zip(reference.parameters(), wrapped.parameters(), strict=True))


def test_weight_decay_stays_out_of_the_perturbation():
    lr, wd = 0.1, 5.0
    model = _model()
    w0 = _params(model)
    sam = SAM(torch.optim.SGD(model.parameters(), lr=lr, weight_decay=wd), rho=RHO)
    batch = _batch(3)
    g = _grads(model, batch)
    _closure(model, batch)()
    sam.first_step()
    e = [p.detach() - w for p, w in zip(model.parameters(), w0, strict=True)]
    raw = _flat(g)
    torch.testing.assert_close(_flat(e), RHO * raw / torch.linalg.vector_norm(raw), rtol=1e-12, atol=1e-15)
    # the decay is applied by the base step, at the restored weights w (not at w + e)
    perturbed = copy.deepcopy(model)
    g_pert = _grads(perturbed, batch)
    sam.zero_grad()
    _closure(model, batch)()
    sam.second_step()
    for p, w, gp in zip(model.parameters(), w0, g_pert, strict=True):
        torch.testing.assert_close(p.detach(), w - lr * (gp + wd * w), rtol=1e-12, atol=1e-14)


def test_asam_perturbation_geometry():
    eta, rho = 0.01, 0.2
    model = _model()
    with torch.no_grad():
        model[0].weight[0, 0] = 0.0  # a zero weight: T = eta there
    w0 = _params(model)
    sam = SAM(torch.optim.SGD(model.parameters(), lr=0.1), rho=rho, adaptive=True, eta=eta)
    _closure(model, _batch(4))()
    g = _flat(p.grad for p in model.parameters())
    t = _flat(w.abs() + eta for w in w0)
    norm = sam.first_step()
    e = _flat(p.detach() - w for p, w in zip(model.parameters(), w0, strict=True))
    assert norm == pytest.approx(torch.linalg.vector_norm(t * g).item(), rel=1e-13)
    assert abs(torch.linalg.vector_norm(e / t).item() - rho) < 1e-12  # ||T^-1 e|| = rho
    torch.testing.assert_close(e, rho * t**2 * g / torch.linalg.vector_norm(t * g), rtol=1e-12, atol=1e-16)
    # larger weights get proportionally larger steps: ASAM differs from SAM's direction
    cosine = torch.dot(e, g) / (torch.linalg.vector_norm(e) * torch.linalg.vector_norm(g))
    assert cosine < 1 - 1e-3


def test_zero_gradient_gives_no_perturbation_and_no_nan():
    model = _model()
    w0 = _params(model)
    sam = SAM(torch.optim.SGD(model.parameters(), lr=0.1), rho=RHO)

    def flat_loss():
        loss = 0.0 * model(_batch(1)[0]).sum()
        loss.backward()
        return loss

    result = sam.step(flat_loss)
    assert result.perturb_grad_norm == 0.0
    assert all(torch.equal(p, w) for p, w in zip(model.parameters(), w0, strict=True))


def test_non_finite_gradient_raises_before_moving_weights():
    model = _model()
    w0 = _params(model)
    sam = SAM(torch.optim.SGD(model.parameters(), lr=0.1), rho=RHO)

    def nan_loss():
        loss = float("nan") * model(_batch(1)[0]).sum()
        loss.backward()
        return loss

    with pytest.raises(FloatingPointError):
        sam.step(nan_loss)
    assert all(torch.equal(p, w) for p, w in zip(model.parameters(), w0, strict=True))


def test_failure_in_the_descent_pass_restores_the_weights():
    model = _model()
    w0 = _params(model)
    sam = SAM(torch.optim.SGD(model.parameters(), lr=0.1), rho=RHO)

    def broken():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sam.step(_closure(model, _batch(1)), broken)
    assert all(torch.equal(p, w) for p, w in zip(model.parameters(), w0, strict=True))
    sam.step(_closure(model, _batch(1)))  # usable again


@pytest.mark.parametrize("replay", [True, False])
def test_rng_replay_gives_both_passes_the_same_random_numbers(replay):
    model = _model(dropout=0.5)
    sam = SAM(torch.optim.SGD(model.parameters(), lr=0.1), rho=RHO, rng_replay=replay)
    x, y = _batch(5)
    outputs: list[torch.Tensor] = []

    def closure():
        out = model(x)
        outputs.append(out.detach())
        loss = nn.functional.cross_entropy(out, y)
        loss.backward()
        return loss

    torch.manual_seed(123)
    sam.step(closure)
    masks = [(o == 0) for o in (outputs[0], outputs[1])]  # dropout masks leave their trace in the outputs
    after = torch.rand(())
    torch.manual_seed(123)
    model(x)  # one forward draws the RNG exactly like one pass
    one_pass = torch.rand(())
    assert torch.equal(after, one_pass) == replay
    if replay:
        assert not torch.allclose(outputs[0], outputs[1])  # weights moved by e, masks identical
        assert torch.equal(masks[0], masks[1])


def test_negative_rho_is_rejected():
    with pytest.raises(ValueError, match="rho"):
        SAM(torch.optim.SGD(_model().parameters(), lr=0.1), rho=-0.1)


def test_state_dict_is_the_base_optimizers():
    model = _model()
    sam = SAM(torch.optim.Adam(model.parameters(), lr=1e-2), rho=RHO)
    sam.step(_closure(model, _batch(1)))
    other = SAM(torch.optim.Adam(_model().parameters(), lr=1e-2), rho=RHO)
    other.load_state_dict(sam.state_dict())
    assert torch.equal(
        other.base.state[other.param_groups[0]["params"][0]]["exp_avg"],
        sam.base.state[sam.param_groups[0]["params"][0]]["exp_avg"],
    )


# --- torch.distributed: two gloo processes on CPU equal one process on the concatenated batches ----------

STEPS = 3


def _run_steps(model: nn.Module, shard) -> list[torch.Tensor]:
    """Three SAM steps then three SAST steps; `shard(batch)` selects this process's part of a batch."""
    sam = SAM(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), rho=0.1)
    for k in range(STEPS):
        sam.step(_closure(model, shard(_batch(20 + k))))
    for k in range(STEPS):
        sam.step(_closure(model, shard(_batch(40 + k))), _closure(model, shard(_batch(60 + k))))
    return [p.detach().clone() for p in model.parameters()]


def _ddp_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        model = nn.parallel.DistributedDataParallel(_model())
        n = _batch(0)[0].shape[0] // world

        def shard(batch):
            return tuple(t[rank * n : (rank + 1) * n] for t in batch)

        torch.save(_run_steps(model, shard), f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_equal_one_process_on_the_concatenated_batch(tmp_path):
    mp.spawn(_ddp_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    single = _run_steps(_model(), lambda batch: batch)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert all(
        torch.equal(a, b) for a, b in zip(*ranks, strict=True)
    )  # every rank applied the same perturbation
    for a, b in zip(ranks[0], single, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(_flat(single), _flat(_model().parameters()))  # the run moved the weights
