"""Command-line plumbing shared by every check: flags, checkpoint and data loading, outputs, exit codes.

Conventions (README, "Using it"): exit 0 = every bound held, 1 = a bound was violated, 2 = bad input (one line on
stderr, nothing written). Outputs (DIR/<check>.json, DIR/<check>.png) are written atomically after all the
measuring is done.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from sast_core.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from sast_core.cli import CliParser, cli_entry, parse_list
from sast_core.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError
from sast_core.outputs import check_writable
from sast_models.checkpoint import load_checkpoint
from sast_models.data.loading import SPEC_HELP, load_frames
from sast_models.describe import describe
from sast_models.networks import LIFNetwork
from sast_theory.description import NetworkDescription

from .plots import bound_chart
from .report import CheckResult, table

RANDOM_DATA = "random"


def common_parser(prog: str, description: str) -> CliParser:
    """Flags every check (and verification.all) takes."""
    p = CliParser(prog=prog, description=description)
    p.add_argument("--model", required=True, help="checkpoint (model.safetensors)")
    p.add_argument("--data", default=None, help=f"'{RANDOM_DATA}' (binary frames in {{0, X}}) or {SPEC_HELP} "
                   "(default: the checkpoint's training data, else random)")
    p.add_argument("--split", default="test", help="dataset split (default test)")
    p.add_argument("--samples", type=int, default=16, help="data samples measured and used as attack starts")
    p.add_argument("--time-bins", type=int, default=None, help="T (default: as in training, else 8)")
    p.add_argument("--steps", type=int, default=30, help="iterations of each attack (default 30)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample choice and the attacks")
    p.add_argument("--out", default="verification_out", help="output folder (default verification_out)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    return p


@dataclass
class Setup:
    """What a check measures on: the float64 network, its description, the samples, the settings."""

    net: LIFNetwork
    description: NetworkDescription
    x: Tensor  # (T, N, *input_shape), entries in [0, X]
    y: Tensor  # (N,)
    bound: float  # X of A1
    steps: int
    generator: torch.Generator
    progress: bool
    settings: dict[str, Any]

    def bar(self, items: Iterable, desc: str) -> Iterable:
        return tqdm(items, desc=desc, disable=not self.progress, leave=False)


def prepare(args: argparse.Namespace) -> Setup:
    """Validate the flags, load the checkpoint (float64, eval) and the samples."""
    for flag, value, low in (("--samples", args.samples, 1), ("--steps", args.steps, 0),
                             ("--time-bins", args.time_bins, 1)):
        if value is not None and value < low:
            raise InputError(f"{flag} {value}: expected an integer >= {low}")
    check_writable(Path(args.out))
    net, header = load_checkpoint(args.model)
    net = net.double().eval()
    generator = torch.Generator().manual_seed(args.seed)
    hyper = header.get("hyperparameters", {})
    data = args.data or hyper.get("data") or RANDOM_DATA
    steps = args.time_bins or hyper.get("time_bins") or 8
    x, y = load_samples(net, data, args.split, steps, args.samples, hyper, generator, args.progress)
    settings = {"model": str(args.model), "data": data, "split": args.split if data != RANDOM_DATA else None,
                "samples": int(y.numel()), "time_bins": int(steps), "attack_steps": args.steps, "seed": args.seed,
                "input_bound": net.spec.input_bound, "architecture": net.spec.to_dict()}
    return Setup(net, describe(net), x, y, float(net.spec.input_bound), args.steps, generator, args.progress,
                 settings)


def load_samples(net: LIFNetwork, data: str, split: str, steps: int, count: int, hyper: dict,
                 generator: torch.Generator, progress: bool) -> tuple[Tensor, Tensor]:
    """`count` samples (T, N, ...) float64 with labels: random binary frames, or drawn from a dataset."""
    spec, bound = net.spec, float(net.spec.input_bound)
    if data == RANDOM_DATA:
        x = (torch.rand(steps, count, *spec.input_shape, generator=generator, dtype=torch.float64) < 0.3) * bound
        return x.double(), torch.randint(spec.n_classes, (count,), generator=generator)
    mode = hyper.get("frame_mode", "binary" if bound == 1.0 else "count")
    frames, labels, _ = load_frames(data, time_bins=steps, split=split, duration_us=hyper.get("duration_us"),
                                    mode=mode, downsample=hyper.get("downsample", 1), progress=progress)
    if tuple(frames.shape[2:]) != tuple(spec.input_shape):
        raise InputError(f"--data {data}: frames of shape {tuple(frames.shape[2:])}, the model expects "
                         f"{tuple(spec.input_shape)}")
    chosen = torch.randperm(len(labels), generator=generator)[:count]
    x = frames[chosen].transpose(0, 1).double()
    if x.min() < 0 or x.max() > bound:
        raise InputError(f"--data {data}: frame values reach {float(x.max()):g}, outside [0, X = {bound:g}] (A1)")
    if labels.max() >= spec.n_classes:
        raise InputError(f"--data {data}: labels up to {int(labels.max())}, the model has {spec.n_classes} classes")
    return x, labels[chosen]


def parse_modes(text: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(parse_list("--mode", text, choices=allowed))


def write_outputs(out: Path, results: list[CheckResult], summary: dict[str, Any] | None = None,
                  markdown: str | None = None) -> None:
    """Render every PNG first, then write each file atomically; optionally summary.json and summary.md."""
    pictures = [bound_chart(result) for result in results]
    for result, picture in zip(results, pictures, strict=True):
        atomic_write_bytes(out / f"{result.check}.png", picture)
        atomic_write_json(out / f"{result.check}.json", result.to_dict())
    if summary is not None:
        atomic_write_json(out / "summary.json", summary)
    if markdown is not None:
        atomic_write_text(out / "summary.md", markdown)


def exit_code(results: list[CheckResult]) -> int:
    return EXIT_OK if all(result.passed for result in results) else EXIT_CHECK_FAILED


@dataclass(frozen=True)
class Check:
    """One check: its name (the output file stem), the property it tests, its modes and its measurement."""

    name: str
    property: str
    summary: str
    modes: tuple[str, ...]
    default_modes: tuple[str, ...]
    measure: Callable[[Setup, tuple[str, ...]], CheckResult]

    def parser(self) -> CliParser:
        p = common_parser(f"python -m verification.check_{self.name}", f"{self.property}: {self.summary}")
        default = ",".join(self.default_modes)
        p.add_argument("--mode", default=default,
                       help=f"comma-separated subset of {', '.join(self.modes)} (default {default})")
        return p

    def main(self, argv: list[str] | None = None) -> int:
        return _main(self, argv)


@cli_entry
def _main(check: Check, argv: list[str] | None) -> int:
    args = check.parser().parse_args(argv)
    modes = parse_modes(args.mode, check.modes)
    setup = prepare(args)
    result = check.measure(setup, modes)
    write_outputs(Path(args.out), [result])
    print(json.dumps({"check": result.check, "passed": result.passed}))
    print(table([row.to_dict() for row in result.rows]))
    return exit_code([result])
