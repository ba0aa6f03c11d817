"""Command-line plumbing shared by every check: flags, checkpoint and data loading, budgets, outputs, exit codes.

Conventions (README, "Using it"): exit 0 = every bound held, 1 = a bound was violated, 2 = bad input (one line on
stderr, nothing written). Every flag, the output folder (sast_core.runs: results of another model or another
configuration are refused unless --overwrite) and the memory the samples and traces need are checked before
any measuring. Outputs (CHECK_OUTPUTS per check, SUMMARY_OUTPUTS for verification.all, and for violated rows
their witnesses DIR/witness-<check>-<n>.safetensors) are written after all the measuring is done, in one
all-or-nothing commit recorded in the folder's manifest.

Budget: every check takes `--budget SECONDS` (wall clock). A check spends it on its searches in a fixed order and
stops starting new work when it is spent; what it skipped is listed in its JSON (`skipped_by_budget`) and
notes, never silently dropped.

Modes: `surrogate` and `hard` are the network as trained (float64); `int8`, `int4`, `fixed` are the hardware
modes of sast_models.hardware. State bounds (P1/P6) run the integer simulator itself; the other checks measure
the network whose weights, biases and leaks are the deployed values (`Setup.quantized`), in surrogate mode.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from sast_core.atomic import json_text
from sast_core.cli import CliParser, cli_entry, parse_list
from sast_core.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError
from sast_core.flags import Integer, Number, Size, Text
from sast_core.memory import MEMORY_HELP, check_memory
from sast_core.runs import Entry, RunFolder, sha256_file
from sast_models.checkpoint import load_checkpoint
from sast_models.data.loading import SPEC_HELP, load_frames, open_frames
from sast_models.data.splits import SUBSETS, check_subset, run_subset
from sast_models.describe import describe
from sast_models.from_description import network_from_description
from sast_models.hardware.deploy import dequantized
from sast_models.hardware.modes import HARDWARE_MODES
from sast_models.memory import network_memory
from sast_models.networks import LIFNetwork, build_network
from sast_models.spec import NetworkSpec
from sast_models.training.config import SEED
from sast_theory.description import NetworkDescription

from . import witness as witnesses
from .plots import bound_chart
from .report import CheckResult, table

RANDOM_DATA = "random"
QUANTIZED_MODES = tuple(HARDWARE_MODES)  # int8, int4, fixed
CHECK_OUTPUTS = ("{check}.json", "{check}.png")  # the files of one check's result
SUMMARY_OUTPUTS = ("summary.json", "summary.md")  # verification.all's summary
WITNESS_OUTPUT = "witness-{check}-{index}.safetensors"  # a violated row's witness
NOT_CONFIGURATION = ("out", "overwrite", "progress", "max_memory")  # flags that do not change the results


def common_parser(prog: str, description: str, budget: float = 60.0, config: bool = False) -> CliParser:
    """Flags every check (and verification.all) takes; `budget` is the default of --budget; `config` offers
    --config FILE (a freshly initialised network of a training configuration) as an alternative to --model."""
    p = CliParser(prog=prog, description=description)
    model = {"type": Text("a checkpoint path"), "help": "checkpoint (model.safetensors)"}
    if config:
        source = p.add_mutually_exclusive_group(required=True)
        source.add_argument("--model", **model)
        source.add_argument("--config", type=Text("a JSON file path"),
                            help="training configuration (JSON: the training command's settings, e.g. a "
                            "checkpoint header's 'hyperparameters'): its network at initialisation")
    else:
        p.add_argument("--model", required=True, **model)
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
    p.add_argument("--budget", type=Number(0, low_open=True), default=budget,
                   help="wall-clock seconds for the measurements; work beyond it is skipped and listed")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the sample choice and the attacks")
    p.add_argument("--max-memory", type=Size(), default=None, help=MEMORY_HELP)
    p.add_argument("--out", type=Text("a folder path"), default="verification_out", help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace what --out holds instead of refusing")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    return p


def output_names(checks: Iterable[str], summary: bool) -> tuple[str, ...]:
    """Every file a run of `checks` writes (and the summary's), witnesses aside (known after the measuring)."""
    names = [pattern.format(check=check) for check in checks for pattern in CHECK_OUTPUTS]
    return tuple(names + (list(SUMMARY_OUTPUTS) if summary else []))


@dataclass
class Setup:
    """What a check measures on: the float64 network, its description, the samples, the settings, the clock; and
    where its results go (the validated output folder and its manifest entry)."""

    net: LIFNetwork
    description: NetworkDescription
    x: Tensor  # (T, N, *input_shape), entries in [0, X]
    y: Tensor  # (N,)
    bound: float  # X of A1
    steps: int
    generator: torch.Generator
    progress: bool
    settings: dict[str, Any]
    budget: float = math.inf
    started: float = field(default_factory=time.monotonic)
    header: dict[str, Any] = field(default_factory=dict)
    folder: RunFolder | None = None
    entry: Entry | None = None
    overwrite: bool = False
    _quantized: dict[str, Setup] = field(default_factory=dict, repr=False)

    def bar(self, items: Iterable, desc: str, total: int | None = None) -> Iterable:
        return tqdm(items, desc=desc, total=total, disable=not self.progress, leave=False)

    def time_left(self) -> float:
        return self.budget - (time.monotonic() - self.started)

    def expired(self) -> bool:
        return self.time_left() <= 0

    def with_budget(self, seconds: float) -> Setup:
        """The same setup on a fresh clock of `seconds`."""
        return dataclasses.replace(self, budget=seconds, started=time.monotonic())

    def quantized(self, mode: str) -> Setup:
        """The setup of the network with the deployed values of `mode` (sast_models.hardware.deploy.dequantized):
        float64, plain (no caps, so no a priori bounds), measured in surrogate mode."""
        if mode not in self._quantized:
            description = dequantized(self.description, HARDWARE_MODES[mode])
            net = network_from_description(description).eval()
            self._quantized[mode] = dataclasses.replace(self, net=net, description=description, _quantized={})
        return dataclasses.replace(self._quantized[mode], budget=self.budget, started=self.started)


def load_model(path: str) -> tuple[LIFNetwork, dict[str, Any]]:
    """The checkpoint's network in float64, eval mode, and its header."""
    net, header = load_checkpoint(path)
    return net.double().eval(), header


def network_from_config(path: str) -> tuple[LIFNetwork, dict[str, Any]]:
    """The network of a training configuration at initialisation (its seed), float64, and a header holding the
    configuration: a JSON object of the training command's settings (or {'hyperparameters': ...}, as in a
    checkpoint header); the NetworkSpec fields it names (arch, hidden, beta, tau, ...) over the spec's defaults,
    its data (default synthetic, framed as it says) for the input shape, the classes and X."""
    try:
        loaded = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise InputError(f"--config {path}: not a readable JSON file ({type(err).__name__})") from None
    config = loaded.get("hyperparameters", loaded) if isinstance(loaded, dict) else None
    if not isinstance(config, dict):
        raise InputError(f"--config {path}: expected a JSON object of training settings")
    config = {"data": "synthetic", "split": "train", "time_bins": 10, "frame_mode": "binary", "seed": 0, **config}
    frames, _, info = load_frames(config["data"], time_bins=config["time_bins"], split=config["split"],
                                  duration_us=config.get("duration_us"), mode=config["frame_mode"],
                                  downsample=config.get("downsample", 1))
    bound = 1.0 if config["frame_mode"] == "binary" else max(1.0, float(frames.max()))
    derived = {"input_shape", "n_classes", "input_bound"}
    fields = {f.name for f in dataclasses.fields(NetworkSpec)} - derived
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k in fields}
    spec = NetworkSpec(input_shape=tuple(info["frame_shape"][1:]), n_classes=info["n_classes"], input_bound=bound,
                       **options)
    net = build_network(spec, seed=int(config["seed"])).double().eval()
    return net, {"hyperparameters": {**config, "input_bound": bound}, "config_file": str(path)}


def load_network(args: argparse.Namespace) -> tuple[LIFNetwork, dict[str, Any]]:
    """--model CKPT, or --config FILE where the command offers it."""
    config = getattr(args, "config", None)
    return network_from_config(config) if config else load_model(args.model)


def prepare(args: argparse.Namespace, command: str, outputs: tuple[str, ...],
            argv: list[str] | None = None) -> Setup:
    """Validate the flags, the output folder (for `command` writing `outputs`) and the memory; load the
    checkpoint (or configuration: float64, eval) and the samples."""
    started = time.monotonic()
    net, header = load_network(args)
    hyper = header["hyperparameters"]
    data = args.data or hyper.get("data") or RANDOM_DATA
    steps = args.time_bins or hyper.get("time_bins") or 8
    if data != RANDOM_DATA:
        check_subset(args.subset, hyper, data=data, split=args.split)
    elif args.subset != "all":
        raise InputError(f"--subset {args.subset}: needs a dataset (--data), not random inputs")
    configuration = {**{k: v for k, v in vars(args).items() if k not in NOT_CONFIGURATION}, "data": data,
                     "time_bins": steps}
    entry = Entry(command, configuration, outputs, model_sha256=sha256_file(args.model) if args.model else None,
                  argv=["python", "-m", command, *(sys.argv[1:] if argv is None else argv)])
    folder = RunFolder(args.out)
    folder.check(entry, overwrite=args.overwrite)
    generator = torch.Generator().manual_seed(args.seed)
    x, y = load_samples(net, data, args.split, steps, args.samples, hyper, generator, args.progress,
                        subset=args.subset, max_memory=args.max_memory)
    settings = {"model": str(args.model) if args.model else None, "config": getattr(args, "config", None),
                "data": data, "split": args.split if data != RANDOM_DATA else None,
                "subset": args.subset if data != RANDOM_DATA else None, "samples": int(y.numel()),
                "time_bins": int(steps), "attack_steps": args.steps, "seed": args.seed, "budget_s": args.budget,
                "input_bound": net.spec.input_bound, "architecture": net.spec.to_dict()}
    return Setup(net, describe(net), x, y, float(net.spec.input_bound), args.steps, generator, args.progress,
                 settings, args.budget, started, header, folder, entry, args.overwrite)


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


def _witnesses(out: Path, result: CheckResult, index: int) -> dict[str, bytes]:
    """{file name: bytes} of the witness of every violated row that has one (numbered from `index`); sets the
    rows' witness_file."""
    files = {}
    for row in result.rows:
        if row.holds or row.replay is None:
            continue
        name = WITNESS_OUTPUT.format(check=result.check, index=index + len(files))
        meta = {"model": result.settings.get("model"), "config": result.settings.get("config"),
                "quantity": row.quantity, "empirical": row.empirical,
                "bound": row.bound, "settings": {k: v for k, v in result.settings.items() if k != "architecture"}}
        files[name] = row.replay.encode(json.loads(json.dumps(meta, default=str)))
        row.witness_file = str(out / name)
    return files


def write_outputs(setup: Setup, results: list[CheckResult], summary: dict[str, Any] | None = None,
                  markdown: str | None = None) -> None:
    """Render every PNG and witness, then commit every file at once (all or none) into the setup's output folder:
    CHECK_OUTPUTS per result, the witnesses, and SUMMARY_OUTPUTS (summary.json, summary.md) when given."""
    outputs: dict[str, bytes | str] = {}
    for result in results:
        outputs.update(_witnesses(setup.folder.out, result, 0))
    for result in results:
        json_name, png_name = (pattern.format(check=result.check) for pattern in CHECK_OUTPUTS)
        outputs[png_name] = (result.figure or bound_chart)(result)
        outputs[json_name] = json_text(result.to_dict())
    if summary is not None:
        outputs[SUMMARY_OUTPUTS[0]] = json_text(summary)
    if markdown is not None:
        outputs[SUMMARY_OUTPUTS[1]] = markdown
    entry = dataclasses.replace(setup.entry, files=tuple(dict.fromkeys((*setup.entry.files, *outputs))))
    with setup.folder.session(entry, overwrite=setup.overwrite) as session:
        session.commit(outputs)


def exit_code(results: list[CheckResult]) -> int:
    return EXIT_OK if all(result.passed for result in results) else EXIT_CHECK_FAILED


def run_check(check: Check, setup: Setup, modes: tuple[str, ...]) -> CheckResult:
    """check.measure on the setup, timed."""
    started = time.monotonic()
    result = check.measure(setup, modes)
    result.seconds = time.monotonic() - started
    if result.skipped:
        result.notes.append(f"--budget {setup.budget:g} s reached: skipped {len(result.skipped)} item(s), listed "
                            "in skipped_by_budget")
    return result


@dataclass(frozen=True)
class Check:
    """One check: its name (the output file stem), the property it tests, its modes, its measurement and its
    default budget (seconds)."""

    name: str
    property: str
    summary: str
    modes: tuple[str, ...]
    default_modes: tuple[str, ...]
    measure: Callable[[Setup, tuple[str, ...]], CheckResult]
    budget: float = 60.0
    flags: Callable[[CliParser], None] | None = None  # check-specific flags
    config: bool = False  # --config FILE accepted instead of --model

    def parser(self) -> CliParser:
        p = common_parser(f"python -m verification.check_{self.name}", f"{self.property}: {self.summary}",
                          self.budget, self.config)
        default = ",".join(self.default_modes)
        p.add_argument("--mode", "--modes", dest="mode", type=Text("a comma-separated list of modes"),
                       default=default, help=f"comma-separated subset of {', '.join(self.modes)}")
        if self.flags is not None:
            self.flags(p)
        return p

    def main(self, argv: list[str] | None = None) -> int:
        return _main(self, argv)


@cli_entry
def _main(check: Check, argv: list[str] | None) -> int:
    args = check.parser().parse_args(argv)
    modes = parse_modes(args.mode, check.modes)
    setup = prepare(args, f"verification.check_{check.name}", output_names([check.name], summary=False), argv)
    setup.settings["options"] = {k: v for k, v in vars(args).items()
                                 if k not in setup.settings and k not in NOT_CONFIGURATION}
    result = run_check(check, setup, modes)
    write_outputs(setup, [result])
    print(json.dumps({"check": result.check, "passed": result.passed, "seconds": round(result.seconds, 1)}))
    print(table([row.to_dict() for row in result.rows]))
    return exit_code([result])


def witness_of(check: str, probe: str, **tensors_and_params: Any) -> witnesses.Witness:
    """A Witness from keyword arguments: tensors go to .tensors, everything else to .params."""
    tensors = {k: v for k, v in tensors_and_params.items() if isinstance(v, Tensor)}
    params = {k: v for k, v in tensors_and_params.items() if not isinstance(v, Tensor)}
    return witnesses.Witness(check, probe, tensors, params)
