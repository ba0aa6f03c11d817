"""The contenders: our dense LIF MLP and the closest equivalent built with each peer library.

Every contender is the same network: 2312 -> 512 LIF (threshold 1, leak 0.5 per step, reset to zero,
sigmoid-like surrogate of slope 5) -> 10 non-spiking leaky readout (leak 0.5); logits = mean over time of
the readout membrane; loss = cross-entropy. Time-major input (T, B, 2312).

Peers use their own neuron modules and, like ours, compute each Linear layer's currents for all T steps in
ONE batched matmul (a Linear layer is stateless, so this is the fastest correct way to write it in every
library; SpikingJelly does it itself in multi-step mode). `idiomatic=True` instead calls the Linear layer
inside the per-step loop, as the snnTorch and Norse tutorials do.

Differences we cannot remove (stated in docs/performance.md):
- ours is surrogate-forward (the spike IS sigmoid(5 (u - 1))); the peers spike with a Heaviside step and use
  a surrogate only in the backward pass (snnTorch `surrogate.sigmoid(slope=5)`, SpikingJelly
  `surrogate.Sigmoid(alpha=5)`, Norse SuperSpike with alpha=5: Norse has no sigmoid surrogate).
- ours maps raw to explicit weights each forward (the contractive parameterization); `ours_plain` is the
  same network with the plain parameterization (W = V), i.e. exactly the peers' parameter layout.
- Norse's LIFCell is current-based (a synaptic state i besides v). With tau_syn_inv = 1/dt the synaptic
  current decays fully each step, so v[t] = 0.5 v[t-1] + 0.5 I[t] (our leak; the input halved), and the readout
  is Norse's LICell with the same constants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

N_IN, N_HIDDEN, N_OUT = 2312, 512, 10
TAU, THETA, BETA = 0.5, 1.0, 5.0


@dataclass
class Contender:
    name: str
    model: nn.Module
    library: str
    version: str


def _uniform_init(linear: nn.Linear) -> nn.Linear:
    """Same init as ours (uniform +-1/sqrt(fan_in), zero bias), so the peers see the same activity regime."""
    bound = 1.0 / math.sqrt(linear.in_features)
    with torch.no_grad():
        linear.weight.uniform_(-bound, bound)
        linear.bias.zero_()
    return linear


class Ours(nn.Module):
    """Our dense LIF MLP (the toolkit's own network, default settings but for the sizes)."""

    def __init__(self, parameterization: str, seed: int) -> None:
        super().__init__()
        from sast_models.networks import build_network
        from sast_models.spec import NetworkSpec

        spec = NetworkSpec(arch="mlp", input_shape=(N_IN,), hidden=(N_HIDDEN,), n_classes=N_OUT, beta=BETA,
                           tau=TAU, theta=THETA, reset="zero", surrogate="sigmoid",
                           parameterization=parameterization)
        self.net = build_network(spec, seed=seed)

    def forward(self, x: Tensor, mode: str = "surrogate") -> Tensor:
        return self.net(x, mode=mode)


class OursDense(Ours):
    """Ours with the event-sparse input path switched off: the dense F.linear of the code before this work."""

    def forward(self, x: Tensor, mode: str = "surrogate") -> Tensor:
        from sast_models import layers

        saved = layers.SPARSE_MAX_DENSITY
        layers.SPARSE_MAX_DENSITY = -1.0
        try:
            return self.net(x, mode=mode)
        finally:
            layers.SPARSE_MAX_DENSITY = saved


class SnnTorchMLP(nn.Module):
    def __init__(self, idiomatic: bool) -> None:
        super().__init__()
        import snntorch as snn
        from snntorch import surrogate

        self.idiomatic = idiomatic
        self.fc1 = _uniform_init(nn.Linear(N_IN, N_HIDDEN))
        self.lif1 = snn.Leaky(beta=TAU, threshold=THETA, spike_grad=surrogate.sigmoid(slope=BETA),
                              reset_mechanism="zero")
        self.fc2 = _uniform_init(nn.Linear(N_HIDDEN, N_OUT))
        self.readout = snn.Leaky(beta=TAU, threshold=THETA, spike_grad=surrogate.sigmoid(slope=BETA),
                                 reset_mechanism="none")

    def forward(self, x: Tensor) -> Tensor:
        mem1 = self.lif1.init_leaky()
        mem2 = self.readout.init_leaky()
        if self.idiomatic:
            out = []
            for x_t in x:
                spk1, mem1 = self.lif1(self.fc1(x_t), mem1)
                _, mem2 = self.readout(self.fc2(spk1), mem2)
                out.append(mem2)
            return torch.stack(out).mean(0)
        spikes = []
        for cur in self.fc1(x):
            spk1, mem1 = self.lif1(cur, mem1)
            spikes.append(spk1)
        out = []
        for cur in self.fc2(torch.stack(spikes)):
            _, mem2 = self.readout(cur, mem2)
            out.append(mem2)
        return torch.stack(out).mean(0)


class SpikingJellyMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        from spikingjelly.activation_based import functional, layer, neuron, surrogate

        self.functional = functional
        common = dict(tau=1.0 / (1.0 - TAU), decay_input=False, v_reset=0.0, detach_reset=False,
                      step_mode="m")
        # decay_input=False, v_reset=0: H = V - V / tau + X = 0.5 V + X (our leak); hard reset to 0 after a spike
        self.net = nn.Sequential(
            _uniform_init(layer.Linear(N_IN, N_HIDDEN, step_mode="m")),
            neuron.LIFNode(v_threshold=THETA, surrogate_function=surrogate.Sigmoid(alpha=BETA), **common),
            _uniform_init(layer.Linear(N_HIDDEN, N_OUT, step_mode="m")),
        )
        # the readout never reaches an infinite threshold: a leaky integrator; v_seq is its membrane
        self.readout = neuron.LIFNode(v_threshold=float("inf"), surrogate_function=surrogate.Sigmoid(alpha=BETA),
                                      store_v_seq=True, **common)

    def forward(self, x: Tensor) -> Tensor:
        self.functional.reset_net(self)
        self.readout(self.net(x))
        return self.readout.v_seq.mean(0)


class NorseMLP(nn.Module):
    def __init__(self, idiomatic: bool) -> None:
        super().__init__()
        import norse.torch as norse

        dt = 1e-3
        self.idiomatic = idiomatic
        self.fc1 = _uniform_init(nn.Linear(N_IN, N_HIDDEN))
        self.lif1 = norse.LIFCell(norse.LIFParameters(tau_syn_inv=torch.tensor(1.0 / dt),
                                                      tau_mem_inv=torch.tensor((1.0 - TAU) / dt),
                                                      v_th=torch.tensor(THETA), v_reset=torch.tensor(0.0),
                                                      method="super", alpha=torch.tensor(BETA)), dt=dt)
        self.fc2 = _uniform_init(nn.Linear(N_HIDDEN, N_OUT))
        self.readout = norse.LICell(norse.LIParameters(tau_syn_inv=torch.tensor(1.0 / dt),
                                                       tau_mem_inv=torch.tensor((1.0 - TAU) / dt)), dt=dt)

    def forward(self, x: Tensor) -> Tensor:
        s1 = s2 = None
        if self.idiomatic:
            out = []
            for x_t in x:
                z, s1 = self.lif1(self.fc1(x_t), s1)
                v, s2 = self.readout(self.fc2(z), s2)
                out.append(v)
            return torch.stack(out).mean(0)
        spikes = []
        for cur in self.fc1(x):
            z, s1 = self.lif1(cur, s1)
            spikes.append(z)
        out = []
        for cur in self.fc2(torch.stack(spikes)):
            v, s2 = self.readout(cur, s2)
            out.append(v)
        return torch.stack(out).mean(0)


def _version(module: str) -> str:
    try:
        import importlib.metadata as md

        return md.version(module)
    except Exception:  # noqa: BLE001 - a version string is informative only
        return "?"


def contenders(seed: int, names: list[str]) -> tuple[list[Contender], dict[str, str]]:
    """Build the requested contenders; a peer whose library is missing is skipped with the reason."""
    builders = {
        "ours": (lambda: Ours("contractive", seed), "sast-toolkit", "sast-toolkit"),
        "ours_plain": (lambda: Ours("plain", seed), "sast-toolkit", "sast-toolkit"),
        "ours_dense_input": (lambda: OursDense("contractive", seed), "sast-toolkit", "sast-toolkit"),
        "snntorch": (lambda: SnnTorchMLP(idiomatic=False), "snntorch", "snntorch"),
        "snntorch_idiomatic": (lambda: SnnTorchMLP(idiomatic=True), "snntorch", "snntorch"),
        "spikingjelly": (SpikingJellyMLP, "spikingjelly", "spikingjelly"),
        "norse": (lambda: NorseMLP(idiomatic=False), "norse", "norse"),
        "norse_idiomatic": (lambda: NorseMLP(idiomatic=True), "norse", "norse"),
    }
    built, skipped = [], {}
    for name in names:
        build, library, dist = builders[name]
        torch.manual_seed(seed)
        try:
            model = build()
        except ImportError as err:
            skipped[name] = f"{library} not installed ({err})"
            continue
        built.append(Contender(name, model, library, _version(dist)))
    return built, skipped


NAMES = ("ours", "ours_plain", "ours_dense_input", "snntorch", "snntorch_idiomatic",
         "spikingjelly", "norse", "norse_idiomatic")
