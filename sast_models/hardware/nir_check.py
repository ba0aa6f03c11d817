"""Run an exported NIR graph (nir_export.py) in a consumer, Norse or snnTorch, step by step, and measure its
agreement with our network: per spiking layer the spike trains, and the predictions (argmax of the logits).

A consumer is fed x[t] (B, *input_shape) one step at a time from its own initial state; each spiking node's
output is that layer's spikes; the readout node never spikes and its membrane v is our readout membrane
(Norse: the node's state v; snnTorch: its `mem`, which is v tau_mem / dt with snnTorch's dt), so
logits = mean over t of v. Where spike trains differ, the FIRST difference of a sample (earliest step, then
earliest layer) is where that layer's inputs still agreed, so only float rounding can explain it: its
distance |u - theta| on our side is reported (rounding: about 1e-7 relative in float32).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from sast_core.errors import InputError

from .nir_export import SNNTORCH_DT

INSTALL = "pip install --no-deps snntorch==1.0.0 norse==1.1.0 nirtorch==2.6 (README, Makefile)"


class ConsumerTrace(NamedTuple):
    spikes: list[Tensor]  # per spiking layer (T, B, *lif_shape), 0/1
    readout: Tensor  # the readout membrane v, (T, B, n_classes), float64
    logits: Tensor  # mean over t of v, (B, n_classes)


def require(consumer: str) -> None:
    """InputError unless `consumer` is a known consumer that is installed."""
    if consumer not in CONSUMERS:
        raise InputError(f"--check {consumer}: unknown consumer; expected one of {', '.join(CONSUMERS)}")
    if importlib.util.find_spec(consumer) is None or importlib.util.find_spec("nirtorch") is None:
        raise InputError(f"--check {consumer}: {consumer} (with nirtorch) is not installed: {INSTALL}")


@contextlib.contextmanager
def captured(messages: list[str]) -> Iterator[None]:
    """Collect what a consumer prints, logs and warns while importing or running (instead of our stdout)."""
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage().strip())  # type: ignore[method-assign]
    root = logging.getLogger()
    root.addHandler(handler)
    out = io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
            warnings.simplefilter("always")
            yield
    finally:
        root.removeHandler(handler)
        messages.extend(str(w.message).strip() for w in caught)
        printed = " ".join(out.getvalue().split())
        if printed:
            messages.append(printed if len(printed) <= 300 else printed[:297] + "...")


def _neuron_names(graph: Any) -> tuple[list[str], str]:
    readout = str(graph.metadata["readout"])
    spiking = sorted((name for name in graph.nodes if name.startswith("neuron") and name != readout),
                     key=lambda name: int(name[len("neuron"):]))
    return spiking, readout


def norse_runner(graph: Any, messages: list[str]) -> Callable[[Tensor], ConsumerTrace]:
    """norse.torch.from_nir(graph, dt=graph's dt): spikes from the executor's per-node outputs, the readout's v
    from its state."""
    spiking, readout = _neuron_names(graph)
    with captured(messages):
        import norse.torch

        model = norse.torch.from_nir(graph, dt=float(graph.metadata["dt"]))

    def run(x: Tensor) -> ConsumerTrace:
        state, spikes, membrane = None, [[] for _ in spiking], []
        with captured(messages):
            for frame in x:
                _, state = model(frame, state)
                for store, name in zip(spikes, spiking, strict=True):
                    store.append(state.cache[name])
                membrane.append(state.state[readout][0].v)
        return _trace(spikes, membrane)

    return run


def snntorch_runner(graph: Any, messages: list[str]) -> Callable[[Tensor], ConsumerTrace]:
    """snntorch.import_nir.import_from_nir(graph): spikes from forward hooks on the Leaky modules (hidden
    state inside them, reset before each batch), v = mem (r dt / tau_mem) with snnTorch's dt."""
    spiking, readout = _neuron_names(graph)
    with captured(messages):
        from snntorch.import_nir import import_from_nir

        model = import_from_nir(graph)
    node = graph.nodes[readout]
    to_v = torch.as_tensor(np.asarray(node.r) * SNNTORCH_DT / np.asarray(node.tau), dtype=torch.float64)
    outputs: dict[str, Tensor] = {}
    for name in spiking:
        model.get_submodule(name).register_forward_hook(
            lambda module, inputs, output, name=name: outputs.__setitem__(name, output))
    leaky = [model.get_submodule(name) for name in (*spiking, readout)]

    def run(x: Tensor) -> ConsumerTrace:
        for module in leaky:
            module.reset_mem()
        spikes, membrane = [[] for _ in spiking], []
        with captured(messages):
            for frame in x:
                model(frame)
                for store, name in zip(spikes, spiking, strict=True):
                    store.append(outputs[name])
                membrane.append(leaky[-1].mem.double() * to_v)
        return _trace(spikes, membrane)

    return run


def _trace(spikes: list[list[Tensor]], membrane: list[Tensor]) -> ConsumerTrace:
    readout = torch.stack(membrane).detach().double()
    return ConsumerTrace([torch.stack(s).detach() for s in spikes], readout, readout.mean(0))


CONSUMERS = {"norse": norse_runner, "snntorch": snntorch_runner}  # the name is also the module to import


def consumer_runner(consumer: str, graph: Any, messages: list[str]) -> Callable[[Tensor], ConsumerTrace]:
    """A runner x (T, B, *input_shape) -> ConsumerTrace of `graph` imported by `consumer` (see require)."""
    require(consumer)
    return CONSUMERS[consumer](graph, messages)


class Agreement:
    """Agreement of a consumer with our network over batches: add(), then report()."""

    def __init__(self, thresholds: list[np.ndarray]) -> None:
        self.thresholds = [torch.as_tensor(t) for t in thresholds]  # per spiking layer, lif_shape
        self.equal = [0] * len(thresholds)
        self.entries = [0] * len(thresholds)
        self.identical = [0] * len(thresholds)
        self.ours_spikes = [0] * len(thresholds)
        self.their_spikes = [0] * len(thresholds)
        self.samples = self.same_prediction = self.correct_ours = self.correct_consumer = 0
        self.logit_gap = self.logit_gap_identical = 0.0
        self.divergences: list[dict[str, Any]] = []

    def add(self, reference: Any, consumer: ConsumerTrace, labels: Tensor) -> None:
        """reference: .layers (the readout last; each .spikes and .membranes in float units) and .logits."""
        batch = reference.logits.shape[0]
        mismatch = []
        for index, (ours, theirs) in enumerate(zip(reference.layers[:-1], consumer.spikes, strict=True)):
            ours_spikes = ours.spikes.to(torch.float64)
            theirs = theirs.to(torch.float64).reshape(ours_spikes.shape)
            differs = (ours_spikes != theirs).flatten(2)  # (T, B, neurons)
            self.equal[index] += int((~differs).sum())
            self.entries[index] += differs.numel()
            self.identical[index] += int((~differs.any(2).any(0)).sum())
            self.ours_spikes[index] += int(ours_spikes.sum())
            self.their_spikes[index] += int(theirs.sum())
            mismatch.append(differs)
        same_sample = ~torch.stack([m.any(2).any(0) for m in mismatch]).any(0) if mismatch else \
            torch.ones(batch, dtype=torch.bool)
        gap = (reference.logits.double() - consumer.logits).abs().amax(1)
        self.logit_gap = max(self.logit_gap, float(gap.max()))
        if bool(same_sample.any()):
            self.logit_gap_identical = max(self.logit_gap_identical, float(gap[same_sample].max()))
        ours, theirs = reference.logits.argmax(1), consumer.logits.argmax(1)
        self.same_prediction += int((ours == theirs).sum())
        self.correct_ours += int((ours == labels).sum())
        self.correct_consumer += int((theirs == labels).sum())
        for sample in torch.nonzero(~same_sample).flatten().tolist():
            self.divergences.append(self._first_divergence(reference, mismatch, sample))
        self.samples += batch

    def _first_divergence(self, reference: Any, mismatch: list[Tensor], sample: int) -> dict[str, Any]:
        """The earliest step, then the earliest layer, where sample's spike trains differ; our |u - theta| there."""
        per_layer = torch.stack([m[:, sample].any(1) for m in mismatch])  # (L, T)
        step = int(torch.nonzero(per_layer.any(0)).min())
        layer = int(torch.nonzero(per_layer[:, step]).min())
        membrane = reference.layers[layer].membranes[step, sample].double().flatten()
        theta = self.thresholds[layer].double().flatten()
        neurons = mismatch[layer][step, sample]
        distance = float((membrane[neurons] - theta[neurons]).abs().max())
        return {"sample": self.samples + sample, "step": step, "layer": layer, "neurons": int(neurons.sum()),
                "distance_to_threshold": distance}

    def report(self) -> dict[str, Any]:
        layers = [{"spike_agreement": e / max(n, 1), "identical_samples": i / max(self.samples, 1),
                   "spikes_ours": o, "spikes_consumer": c}
                  for e, n, i, o, c in zip(self.equal, self.entries, self.identical, self.ours_spikes,
                                           self.their_spikes, strict=True)]
        distances = [d["distance_to_threshold"] for d in self.divergences]
        n = max(self.samples, 1)
        return {"samples": self.samples, "prediction_agreement": self.same_prediction / n,
                "accuracy_ours": self.correct_ours / n, "accuracy_consumer": self.correct_consumer / n,
                "layers": layers, "diverged_samples": len(self.divergences),
                "max_first_divergence_distance": max(distances) if distances else None,
                "first_divergences": self.divergences[:20],
                "max_logit_difference": self.logit_gap,
                "max_logit_difference_identical_samples": self.logit_gap_identical}


def passes(report: dict[str, Any], minimum: float) -> bool:
    """The check's verdict: prediction agreement and every layer's spike agreement >= minimum."""
    values = [report["prediction_agreement"], *(layer["spike_agreement"] for layer in report["layers"])]
    return all(math.isfinite(v) and v >= minimum for v in values)
