"""One training epoch of baseline / SAM / SAST over in-memory frames, data-parallel when world > 1.

Batches: the epoch's descent order (splits.epoch_order, stream 0) cut into global minibatches B of
`batch_size`; SAST pairs each B with the same-position batch B' of an independent order (stream 1). Each
process computes the loss on its shard of the global batch, scaled so that DDP's gradient average equals
the gradient of the mean loss over the whole global batch:

    loss_rank = (world / |B|) * sum_{i in shard} CE(z_i, y_i)   =>   mean over ranks = (1/|B|) sum_{i in B} CE

A final batch with fewer samples than processes is skipped (it would leave a process without data).
The network starts every forward pass from u = 0, s = 0, so the two passes of a SAM step share no state.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from ..sam import SAM
from .batches import DESCENT_STREAM, PERTURB_STREAM, batches, epoch_order, shard
from .distributed import Context, sum_across


def make_closure(model: nn.Module, frames: Tensor, labels: Tensor, batch: np.ndarray,
                 ctx: Context) -> Callable[[], Tensor]:
    """Forward + backward of the scaled surrogate-mode loss on this process's shard of global batch B."""
    local = torch.from_numpy(shard(batch, ctx.rank, ctx.world))
    x = frames[local].to(ctx.device).transpose(0, 1)
    y = labels[local].to(ctx.device)
    scale = ctx.world / len(batch)

    def closure() -> Tensor:
        loss = F.cross_entropy(model(x, mode="surrogate"), y, reduction="sum") * scale
        loss.backward()
        return loss.detach()

    return closure


def epoch_batches(train_idx: np.ndarray, *, seed: int, epoch: int, batch_size: int, independent: bool,
                  world: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """[(B, B' or None)] for one epoch, in dataset indices; batches smaller than `world` dropped."""
    n = len(train_idx)
    descent = batches(train_idx[epoch_order(n, seed, epoch, DESCENT_STREAM)], batch_size)
    if independent:
        perturb = batches(train_idx[epoch_order(n, seed, epoch, PERTURB_STREAM)], batch_size)
    else:
        perturb = [None] * len(descent)
    return [(b, bp) for b, bp in zip(descent, perturb, strict=True) if len(b) >= world]


def train_epoch(model: nn.Module, sam: SAM, frames: Tensor, labels: Tensor, train_idx: np.ndarray, *,
                seed: int, epoch: int, batch_size: int, independent: bool, ctx: Context,
                progress: bool = True, lr_at: Callable[[int], float] | None = None) -> dict:
    """One epoch; returns mean losses (per sample), mean gradient norms over the steps, wall and CPU seconds.

    train_loss is the loss of the descent pass (baseline: at w; SAM/SAST: at w + e on B); perturb_loss the
    loss of the perturbation pass (SAM: on B at w; SAST: on B' at w), None for the baseline. `lr_at(i)` sets the
    base optimizer's learning rate before step i of the epoch (`lr` reports the first step's). With an explicit
    perturbation space on contractive layers, `perturbed_outside_caps` / `perturbed_a4_violated` are the fractions
    of steps whose perturbed network left A3's caps / violated A4 (None when nothing was checked).
    """
    model.train()
    start, start_cpu = time.perf_counter(), time.process_time()
    plan = epoch_batches(train_idx, seed=seed, epoch=epoch, batch_size=batch_size, independent=independent,
                         world=ctx.world)
    sums = np.zeros(4)  # descent loss, perturbation loss, descent grad norm, perturbation grad norm
    samples = 0
    checks = np.zeros(3)  # checked steps, outside the caps, A4 violated
    bar = tqdm(plan, desc=f"epoch {epoch}", leave=False, disable=not (progress and ctx.is_main))
    for index, (b, b_prime) in enumerate(bar):
        if lr_at is not None:
            for group in sam.base.param_groups:
                group["lr"] = lr_at(index)
        descent = make_closure(model, frames, labels, b, ctx)
        perturb = descent if b_prime is None else make_closure(model, frames, labels, b_prime, ctx)
        result = sam.step(perturb, None if b_prime is None else descent)
        if result.check is not None:
            checks += [1, result.check.outside_caps, result.check.a4_violated]
        sums += [result.descent_loss * len(b), (result.perturb_loss or 0.0) * len(b),
                 result.descent_grad_norm, result.perturb_grad_norm or 0.0]
        samples += len(b)
        bar.set_postfix(loss=f"{result.descent_loss:.4f}")  # this shard's mean loss
    losses = sum_across(sums[:2].tolist(), ctx)
    steps = max(len(plan), 1)
    with_perturbation = sam.rho > 0
    return {
        "train_loss": losses[0] / (ctx.world * max(samples, 1)),
        "perturb_loss": losses[1] / (ctx.world * max(samples, 1)) if with_perturbation else None,
        "grad_norm": sums[2] / steps,
        "perturb_grad_norm": sums[3] / steps if with_perturbation else None,
        "lr": lr_at(0) if lr_at is not None else sam.base.param_groups[0]["lr"],
        "perturbed_outside_caps": checks[1] / checks[0] if checks[0] else None,
        "perturbed_a4_violated": checks[2] / checks[0] if checks[0] else None,
        "steps": len(plan),
        "train_seconds": time.perf_counter() - start,
        "train_cpu_seconds": time.process_time() - start_cpu,  # all threads of this process
    }
