"""Command-line plumbing shared by every check: flags, checkpoint and data loading, outputs, exit codes.

Conventions (README, "Using it"): exit 0 = every bound held, 1 = a bound was violated, 2 = bad input (one line on
stderr, nothing written). Every flag, the output folder (sast_core.runs: results of another model or another
configuration are refused unless --overwrite) and the memory the samples and traces need are checked before
any measuring. Outputs (CHECK_OUTPUTS per check, SUMMARY_OUTPUTS for verification.all) are written after all
the measuring is done, in one all-or-nothing commit recorded in the folder's manifest.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from sast_core.atomic import json_text
from sast_core.cli import CliParser, cli_entry, parse_list
from sast_core.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError
from sast_core.flags import Integer, Size, Text
from sast_core.memory import MEMORY_HELP, check_memory
from sast_core.runs import Entry, RunFolder, sha256_file
from sast_models.checkpoint import load_checkpoint
from sast_models.data.loading import SPEC_HELP, open_frames
from sast_models.data.splits import SUBSETS, check_subset, run_subset
from sast_models.describe import describe
from sast_models.memory import network_memory
from sast_models.networks import LIFNetwork
from sast_models.training.config import SEED
from sast_theory.description import NetworkDescription

from .plots import bound_chart
from .report import CheckResult, table

RANDOM_DATA = "random"
CHECK_OUTPUTS = ("{check}.json", "{check}.png")  # the files of one check's result
SUMMARY_OUTPUTS = ("summary.json", "summary.md")  # verification.all's summary
NOT_CONFIGURATION = ("out", "overwrite", "progress", "max_memory")  # flags that do not change the results


def common_parser(prog: str, description: str) -> CliParser:
    """Flags every check (and verification.all) takes."""
    p = CliParser(prog=prog, description=description)
    p.add_argument("--model", type=Text("a checkpoint path"), required=True, help="checkpoint (model.safetensors)")
    p.add_argument("--data", type=Text("a dataset spec"), default=None,
                   help=f"'{RANDOM_DATA}' (binary frames in {{0, X}}) or {SPEC_HELP} "
                   "(default: the checkpoint's training data, else random)")
    p.add_argument("--split", type=Text("a split name"), default="test", help="dataset split")
    p.add_argument("--subset", choices=SUBSETS, default="all",
                   help="all samples of the split, or the training run's validation/training part of it "
                        "(needs the training split: --split train)")
    p.add_argument("--samples", type=Integer(1), default=16, help="data samples measured and used as attack starts")
    p.add_argument("--time-bins", type=Integer(1), default=None, help="T (default: as in training, else 8)")
    p.add_argument("--steps", type=Integer(0), default=30, help="iterations of each attack")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the sample choice and the attacks")
    p.add_argument("--max-memory", type=Size(), default=None, help=MEMORY_HELP)
    p.add_argument("--out", type=Text("a folder path"), default="verification_out", help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace what --out holds instead of refusing")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    return p


def output_names(checks: Iterable[str], summary: bool) -> tuple[str, ...]:
    """Every file a run of `checks` writes (and the summary's)."""
    names = [pattern.format(check=check) for check in checks for pattern in CHECK_OUTPUTS]
    return tuple(names + (list(SUMMARY_OUTPUTS) if summary else []))


@dataclass
class Setup:
    """What a check measures on: the float64 network, its description, the samples, the settings; and where its
    results go (the validated output folder and its manifest entry)."""

    net: LIFNetwork
    description: NetworkDescription
    x: Tensor  # (T, N, *input_shape), entries in [0, X]
    y: Tensor  # (N,)
    bound: float  # X of A1
    steps: int
    generator: torch.Generator
    progress: bool
    settings: dict[str, Any]
    folder: RunFolder | None = None
    entry: Entry | None = None
    overwrite: bool = False

    def bar(self, items: Iterable, desc: str) -> Iterable:
        return tqdm(items, desc=desc, disable=not self.progress, leave=False)


def prepare(args: argparse.Namespace, command: str, outputs: tuple[str, ...],
            argv: list[str] | None = None) -> Setup:
    """Validate the flags, the output folder (for `command` writing `outputs`) and the memory; load the
    checkpoint (float64, eval) and the samples."""
    net, header = load_checkpoint(args.model)
    net = net.double().eval()
    hyper = header["hyperparameters"]
    data = args.data or hyper.get("data") or RANDOM_DATA
    steps = args.time_bins or hyper.get("time_bins") or 8
    if data != RANDOM_DATA:
        check_subset(args.subset, hyper, data=data, split=args.split)
    elif args.subset != "all":
        raise InputError(f"--subset {args.subset}: needs a dataset (--data), not random inputs")
    configuration = {**{k: v for k, v in vars(args).items() if k not in NOT_CONFIGURATION}, "data": data,
                     "time_bins": steps}
    entry = Entry(command, configuration, outputs, model_sha256=sha256_file(args.model),
                  argv=["python", "-m", command, *(sys.argv[1:] if argv is None else argv)])
    folder = RunFolder(args.out)
    folder.check(entry, overwrite=args.overwrite)
    generator = torch.Generator().manual_seed(args.seed)
    x, y = load_samples(net, data, args.split, steps, args.samples, hyper, generator, args.progress,
                        subset=args.subset, max_memory=args.max_memory)
    settings = {"model": str(args.model), "data": data, "split": args.split if data != RANDOM_DATA else None,
                "subset": args.subset if data != RANDOM_DATA else None,
                "samples": int(y.numel()), "time_bins": int(steps), "attack_steps": args.steps, "seed": args.seed,
                "input_bound": net.spec.input_bound, "architecture": net.spec.to_dict()}
    return Setup(net, describe(net), x, y, float(net.spec.input_bound), args.steps, generator, args.progress,
                 settings, folder, entry, args.overwrite)


def sample_memory(net: LIFNetwork, steps: int, count: int) -> dict[str, float]:
    """Estimated bytes of `count` float64 samples of `steps` steps and of the attacks' traces on them."""
    values = float(steps) * count * math.prod(net.spec.input_shape)
    return {f"samples ({steps} steps x {count} x {tuple(net.spec.input_shape)} float64)": values * 8,
            **network_memory(net.spec, batch=max(count, 8), time_bins=steps, training=True, value_bytes=8)}


def load_samples(net: LIFNetwork, data: str, split: str, steps: int, count: int, hyper: dict,
                 generator: torch.Generator, progress: bool, *, subset: str = "all",
                 max_memory: int | None = None) -> tuple[Tensor, Tensor]:
    """`count` samples (T, N, ...) float64 with labels: random binary frames, or drawn from (a subset of) a
    dataset; the memory they and the attacks need is checked first."""
    spec, bound = net.spec, float(net.spec.input_bound)
    hint = "lower --time-bins or --samples"
    if data == RANDOM_DATA:
        check_memory(sample_memory(net, steps, count), max_memory, hint)
        x = (torch.rand(steps, count, *spec.input_shape, generator=generator, dtype=torch.float64) < 0.3) * bound
        return x.double(), torch.randint(spec.n_classes, (count,), generator=generator)
    mode = hyper.get("frame_mode", "binary" if bound == 1.0 else "count")
    framed = open_frames(data, time_bins=steps, split=split, duration_us=hyper.get("duration_us"), mode=mode,
                         downsample=hyper.get("downsample", 1), progress=progress)
    if tuple(framed.frame_shape[1:]) != tuple(spec.input_shape):
        raise InputError(f"--data {data}: frames of shape {tuple(framed.frame_shape[1:])}, the model expects "
                         f"{tuple(spec.input_shape)}")
    check_memory({**framed.memory_part(), **sample_memory(net, steps, min(count, len(framed)))}, max_memory, hint)
    frames, labels, _ = framed.load(progress)
    pool = torch.from_numpy(run_subset(labels.numpy(), subset, hyper, data=data, split=split))
    chosen = pool[torch.randperm(len(pool), generator=generator)[:count]]
    x = frames[chosen].transpose(0, 1).double()
    if x.min() < 0 or x.max() > bound:
        raise InputError(f"--data {data}: frame values reach {float(x.max()):g}, outside [0, X = {bound:g}] (A1)")
    if labels.max() >= spec.n_classes:
        raise InputError(f"--data {data}: labels up to {int(labels.max())}, the model has {spec.n_classes} classes")
    return x, labels[chosen]


def parse_modes(text: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(parse_list("--mode", text, choices=allowed))


def write_outputs(setup: Setup, results: list[CheckResult], summary: dict[str, Any] | None = None,
                  markdown: str | None = None) -> None:
    """Render every PNG, then commit every file at once (all or none) into the setup's output folder:
    CHECK_OUTPUTS per result, and SUMMARY_OUTPUTS (summary.json, summary.md) when given."""
    outputs: dict[str, bytes | str] = {}
    for result in results:
        json_name, png_name = (pattern.format(check=result.check) for pattern in CHECK_OUTPUTS)
        outputs[png_name] = bound_chart(result)
        outputs[json_name] = json_text(result.to_dict())
    if summary is not None:
        outputs[SUMMARY_OUTPUTS[0]] = json_text(summary)
    if markdown is not None:
        outputs[SUMMARY_OUTPUTS[1]] = markdown
    with setup.folder.session(setup.entry, overwrite=setup.overwrite) as session:
        session.commit(outputs)


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
    setup = prepare(args, f"verification.check_{check.name}", output_names([check.name], summary=False), argv)
    result = check.measure(setup, modes)
    write_outputs(setup, [result])
    print(json.dumps({"check": result.check, "passed": result.passed}))
    print(table([row.to_dict() for row in result.rows]))
    return exit_code([result])
