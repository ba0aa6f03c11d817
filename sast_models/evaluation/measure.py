"""Measure one evaluation mode on a labelled set: accuracy, per-class accuracy, loss, spike statistics.

For every spiking layer (all layers but the readout), over all samples, steps and neurons:
- spike rate = mean of s[t] (hard mode: the fraction of (neuron, step) pairs that spike);
- near-threshold fraction = fraction of potentials with |u[t] - theta| < band. Potentials near threshold are
  where the surrogate and the hard spike disagree most, so this fraction diagnoses the transfer gap (P7).
Accuracies are in percent; the loss is the mean cross-entropy of the logits. A runner whose traces carry
`.stats` (the hardware modes: saturation events, SynOps, formats, silent layers) adds their sum under
"hardware".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .modes import Runner


@torch.no_grad()
def measure(runner: Runner, frames: Tensor, labels: Tensor, *, n_classes: int, theta: float, band: float,
            batch_size: int = 256, device: str | torch.device = "cpu") -> dict:
    """Run `runner` over frames (N, T, ...) in batches; returns the mode's report (see module docstring)."""
    correct = torch.zeros(n_classes, dtype=torch.float64)
    total = torch.zeros(n_classes, dtype=torch.float64)
    loss_sum = 0.0
    layer_sums = torch.zeros(0, 3, dtype=torch.float64)  # per spiking layer: spike sum, near count, entries
    hardware = None
    for start in range(0, len(labels), batch_size):
        x = frames[start:start + batch_size].to(device).transpose(0, 1)
        y = labels[start:start + batch_size].to(device)
        trace = runner(x)
        loss_sum += float(F.cross_entropy(trace.logits.double(), y, reduction="sum"))
        hits = (trace.logits.argmax(1) == y).double().cpu()
        correct += torch.bincount(y.cpu(), weights=hits, minlength=n_classes)
        total += torch.bincount(y.cpu(), minlength=n_classes).double()
        batch_sums = torch.tensor([[float(layer.spikes.double().sum()),
                                    float(((layer.membranes - theta).abs() < band).sum()),
                                    float(layer.membranes.numel())] for layer in trace.layers[:-1]],
                                  dtype=torch.float64).reshape(-1, 3)
        layer_sums = batch_sums if layer_sums.numel() == 0 else layer_sums + batch_sums
        stats = getattr(trace, "stats", None)
        if stats is not None:
            hardware = stats if hardware is None else hardware + stats
    n = int(total.sum())
    present = total > 0
    report = {
        "accuracy": 100.0 * float(correct.sum()) / max(n, 1),
        "loss": loss_sum / max(n, 1),
        "n_samples": n,
        "per_class_accuracy": [100.0 * float(c / t) if p else None
                               for c, t, p in zip(correct, total, present, strict=True)],
        "spike_rate": (layer_sums[:, 0] / layer_sums[:, 2]).tolist(),
        "near_threshold_fraction": (layer_sums[:, 1] / layer_sums[:, 2]).tolist(),
    }
    if hardware is not None:
        report["hardware"] = hardware.to_dict()
    return report
