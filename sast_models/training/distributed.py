"""torch.distributed plumbing for data-parallel training (torchrun; gloo on CPU, nccl on GPU).

Without torchrun (or with WORLD_SIZE=1) everything is a single process: rank 0 of a world of 1, no process
group, no DDP wrapper. With DDP every backward all-reduces (averages) the gradients, so SAM's perturbation
norm is computed from the global gradient on every rank (see sast_models.sam).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from sast_core.errors import InputError


@dataclass(frozen=True)
class Context:
    rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str) -> torch.device:
    """'cpu', 'cuda' or 'cuda:N'; InputError when CUDA is asked for but absent."""
    if name != "cpu" and not name.startswith("cuda"):
        raise InputError(f"--device {name!r}: expected cpu, cuda or cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {name}: CUDA is not available on this machine")
    return torch.device(name)


def world_size() -> int:
    """The number of processes torchrun started (1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def process_device(device: torch.device) -> torch.device:
    """This process's device: under torchrun each process takes the GPU of its LOCAL_RANK."""
    if device.type == "cuda" and world_size() > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def setup(device: torch.device) -> Context:
    """Join the torchrun process group when WORLD_SIZE > 1 (nccl on CUDA, gloo on CPU)."""
    if world_size() <= 1:
        return Context(0, 1, device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Context(dist.get_rank(), dist.get_world_size(), device)


def wrap(model: nn.Module, ctx: Context) -> nn.Module:
    """The model itself (one process) or its DistributedDataParallel wrapper."""
    if ctx.world == 1:
        return model
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def sum_across(values: list[float], ctx: Context) -> list[float]:
    """Elementwise sum of `values` over all processes (identity for one process)."""
    if ctx.world == 1:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def teardown(ctx: Context) -> None:
    if ctx.world > 1 and dist.is_initialized():
        dist.destroy_process_group()
