"""`python -m sast_models.train`: train a LIF network with the baseline optimizer, SAM, or SAST (--help).

Methods: baseline = the base optimizer alone (SAM with rho = 0, bit-exact); sam = perturbation and descent
on the same minibatch; sast = perturbation from an independent minibatch B' (THEORY.md P5).
Outputs in --out DIR: model.safetensors (network + JSON header with hyperparameters and provenance),
metrics.jsonl (one line per epoch), summary.json, and resume.safetensors (rewritten after every epoch:
network, optimizer and RNG states, epoch, split), recorded in DIR/manifest.json (sast_core.runs: the
configuration, the model's sha256, complete or not) and written under DIR's lock. `--resume` continues from it
and ends with the same weights as an uninterrupted run; `--overwrite` replaces what DIR holds. Under `torchrun
--nproc_per_node=N` training is data-parallel (DDP); --batch-size is the global batch. Bad input (a flag out of
its range, a combination, DIR holding another run, more memory than --max-memory): one line on stderr, exit 2,
nothing written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from sast_core.atomic import json_text
from sast_core.cli import CliParser, cli_entry
from sast_core.config_file import add_config_flag, parse_args
from sast_core.errors import EXIT_OK, InputError
from sast_core.flags import Size, Text
from sast_core.memory import MEMORY_HELP, check_memory
from sast_core.runs import Entry, RunFolder, Session, differences, read_entries

from ..checkpoint import checkpoint_bytes
from ..data.framing import FRAME_MODES
from ..data.loading import SPEC_HELP, FramedDataset, open_frames
from ..data.splits import stratified_split
from ..data.synthetic import PRESETS
from ..evaluation.measure import measure
from ..evaluation.modes import EVALUATION_MODES
from ..memory import network_memory
from ..networks import LIFNetwork, build_network
from ..perturbation import ExplicitSpace, RawSpace
from ..sam import SAM
from ..spec import NetworkSpec
from ..training.config import CONFIGURATION as C
from ..training.config import METHODS, OPTIMIZERS, PERTURB_SPACES, RHO_SCALINGS
from ..training.distributed import Context, process_device, resolve_device, setup, teardown, wrap
from ..training.loop import epoch_batches, train_epoch
from ..training.resume import RESUME_FILE, Resumed, load_state, restore, save_state
from ..training.schedule import SCHEDULES, learning_rate

ENTRY = "sast_models.train"  # its run-folder manifest entry
OUTPUTS = ("metrics.jsonl", RESUME_FILE, "model.safetensors", "summary.json")
# flags that do not change the trained weights (not part of the configuration)
CONFIG_EXCLUDED = ("out", "resume", "overwrite", "device", "progress", "cache_dir", "max_memory", "config")


def resumable(config: dict) -> tuple[str, ...]:
    """The keys a resume may change: --epochs, unless a learning-rate schedule spans the run's epochs."""
    return ("epochs",) if config.get("lr_schedule", "constant") == "constant" else ()


def build_parser() -> CliParser:
    p = CliParser(prog="python -m sast_models.train", description=__doc__.split("\n")[0])
    p.add_argument("--data", type=C["data"], default="synthetic", help=f"dataset: {SPEC_HELP}")
    p.add_argument("--split", type=C["split"], default="train",
                   help="dataset split to train on (train/validation from it)")
    p.add_argument("--time-bins", type=C["time_bins"], default=10, help="T, frames per sample")
    p.add_argument("--frame-mode", choices=FRAME_MODES, default="binary",
                   help="binary frames (input bound X = 1) or event counts (X = the data's maximum)")
    p.add_argument("--duration-us", type=C["duration_us"], default=None,
                   help="fixed framing window in microseconds (default: each sample's own span)")
    p.add_argument("--downsample", type=C["downsample"], default=1, help="sum k x k pixel blocks")
    p.add_argument("--val-fraction", type=C["val_fraction"], default=0.2,
                   help="stratified, seeded validation share; 0 trains on every sample (no validation metrics)")
    p.add_argument("--arch", choices=("mlp", "conv"), default="mlp", help="dense LIF layers, or conv blocks first")
    p.add_argument("--hidden", type=C["hidden"], default="512", help="comma-separated widths of the dense LIF layers")
    p.add_argument("--channels", type=C["channels"], default="16,32", help="comma-separated conv channels (arch conv)")
    p.add_argument("--method", choices=METHODS, default="sast", help="optimizer family")
    p.add_argument("--rho", type=C["rho"], default=0.3, help="SAM radius (ignored, recorded as 0, for baseline)")
    p.add_argument("--perturb", choices=PERTURB_SPACES, default="raw",
                   help="SAM perturbs the raw parameters (W = P(V + e)) or the explicit weights and biases (P(V) + e)")
    p.add_argument("--rho-scaling", choices=RHO_SCALINGS, default="global",
                   help="global: e = rho g / ||g||; layer: e_l = rho_l g_l / ||g_l||, rho_l = rho ||w_l|| / ||w||")
    p.add_argument("--asam", action="store_true", help="adaptive SAM: e = rho T^2 g / ||T g||, T = |w| + eta")
    p.add_argument("--asam-eta", type=C["asam_eta"], default=0.01, help="eta of adaptive SAM")
    p.add_argument("--surrogate", type=C["surrogate"], default="sigmoid", help="surrogate gradient family")
    p.add_argument("--beta", type=C["beta"], default=5.0, help="surrogate sharpness")
    p.add_argument("--tau", type=C["tau"], default=0.5, help="leak of the spiking layers, in [0, 1)")
    p.add_argument("--theta", type=C["theta"], default=1.0, help="threshold")
    p.add_argument("--reset", type=C["reset"], default="zero", help="zero, subtract or none")
    p.add_argument("--parameterization", choices=("contractive", "plain"), default="contractive",
                   help="contractive: the weights satisfy the theory's caps by construction")
    p.add_argument("--inf-cap", type=C["inf_cap"], default=20.0, help="contractive: ||W||_inf <= c (A3)")
    p.add_argument("--spectral-cap", type=C["spectral_cap"], default=20.0,
                   help="contractive: sqrt(||W||_1 ||W||_inf) <= omega (certified ||W||_2 bound)")
    p.add_argument("--bias-cap", type=C["bias_cap"], default=1.0, help="contractive: ||b||_inf <= bbar")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="base optimizer")
    p.add_argument("--lr", type=C["lr"], default=1e-3, help="learning rate")
    p.add_argument("--lr-schedule", choices=SCHEDULES, default="constant",
                   help="constant, or cosine from --lr to 0 over all steps of the run")
    p.add_argument("--momentum", type=C["momentum"], default=0.9, help="SGD momentum")
    p.add_argument("--weight-decay", type=C["weight_decay"], default=0.0, help="weight decay of the base optimizer")
    p.add_argument("--epochs", type=C["epochs"], default=10, help="epochs in total (a resume continues to it)")
    p.add_argument("--batch-size", type=C["batch_size"], default=64, help="global minibatch (split across processes)")
    p.add_argument("--band", type=C["band"], default=0.1, help="near-threshold band |u - theta| < band")
    p.add_argument("--seed", type=C["seed"], default=0, help="seed of the initialization, split and batch order")
    p.add_argument("--device", type=Text("a device"), default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--cache-dir", type=Text("a folder path"), default=None,
                   help="SAST cache root (default $SAST_CACHE or ~/.cache/sast)")
    p.add_argument("--max-memory", type=Size(), default=None, help=MEMORY_HELP)
    p.add_argument("--out", type=Text("a folder path"), required=True, help="output folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    p.add_argument("--overwrite", action="store_true",
                   help="replace what --out holds instead of refusing (a --resume of the same configuration "
                        "still continues)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    add_config_flag(p)
    return p


def make_config(args: argparse.Namespace) -> dict:
    """The run's hyperparameters (JSON values; every number was checked by its flag type)."""
    kind = args.data.partition(":")[0]
    if kind not in (*PRESETS, "nmnist", "dvsgesture"):
        raise InputError(f"--data {args.data!r}: unknown dataset; expected {SPEC_HELP}")
    config = {k: v for k, v in vars(args).items() if k not in CONFIG_EXCLUDED}
    if args.arch != "conv":
        config["channels"] = []
    if args.method == "baseline":
        config["rho"] = 0.0
    return config


@dataclass
class Claim:
    """What --out holds and what this run will do with it (decided before any work)."""

    folder: RunFolder
    entry: Entry
    options: dict  # RunFolder.check / session options
    fresh: bool  # start from epoch 0 even if a resume file is there (--overwrite of another configuration)
    finished: bool  # a --resume of a finished run of this very configuration: nothing to do


def claim_out(args: argparse.Namespace, config: dict, command: list[str], main_process: bool) -> Claim:
    """Refuse, before writing anything, an unwritable --out or one holding another run (unless --resume of the
    same configuration, or --overwrite)."""
    out = Path(args.out)
    folder = RunFolder(out)
    entry = Entry(ENTRY, config, OUTPUTS, argv=command)
    free = resumable(config)
    try:
        previous = read_entries(out).get(ENTRY) if out.is_dir() else None
    except InputError:
        if not args.overwrite:
            raise
        previous = None
    legacy = previous is None and any((out / name).exists() for name in (RESUME_FILE, "summary.json"))
    if not args.resume and not args.overwrite and (previous is not None or legacy):
        raise InputError(f"--out {out}: holds a previous run; pass --resume to continue it, --overwrite to "
                         f"replace it, or use another folder")
    same = previous is not None and not differences(previous.configuration, entry.configuration, free)
    fresh = args.overwrite and not (args.resume and (same or legacy))
    finished = args.resume and same and previous.complete and previous.configuration == entry.configuration
    options = {"ignore": free if args.resume else (), "replaces_model": not finished,
               "adopt": args.resume and not fresh}
    if main_process:
        folder.check(entry, overwrite=args.overwrite, **options)
    return Claim(folder, entry, options, fresh, finished)


def network_spec(config: dict, frame_shape: list[int], n_classes: int, input_bound: float) -> NetworkSpec:
    """The NetworkSpec for the flags and the data (input shape (C, H, W) of one frame, classes, bound X)."""
    return NetworkSpec(arch=config["arch"], input_shape=tuple(frame_shape[1:]), n_classes=n_classes,
                       hidden=tuple(config["hidden"]), channels=tuple(config["channels"]),
                       surrogate=config["surrogate"], beta=config["beta"], theta=config["theta"],
                       tau=config["tau"], reset=config["reset"], parameterization=config["parameterization"],
                       inf_cap=config["inf_cap"], spectral_cap=config["spectral_cap"], bias_cap=config["bias_cap"],
                       input_bound=input_bound)


def make_optimizer(config: dict, net: LIFNetwork) -> SAM:
    """The base optimizer wrapped in SAM (rho = 0 for the baseline: exactly the base optimizer), perturbing the
    raw parameters (grouped by layer) or the explicit weights and biases of `net`."""
    name, lr, wd, params = config["optimizer"], config["lr"], config["weight_decay"], net.parameters()
    if name == "sgd":
        base = torch.optim.SGD(params, lr=lr, momentum=config["momentum"], weight_decay=wd)
    elif name == "adam":
        base = torch.optim.Adam(params, lr=lr, weight_decay=wd)
    else:
        base = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    space = ExplicitSpace(net) if config["perturb"] == "explicit" else RawSpace.by_layer(net)
    return SAM(base, config["rho"], adaptive=config["asam"], eta=config["asam_eta"], space=space,
               layerwise=config["rho_scaling"] == "layer")


def scheduled_lr(config: dict, index: int, *, first_step: int, total_steps: int) -> float:
    """The learning rate of step `index` of an epoch that starts at global step `first_step`."""
    return learning_rate(config["lr_schedule"], config["lr"], first_step + index, total_steps)


def validation_reports(net, frames, labels, *, n_classes: int, theta: float, band: float,
                       device) -> dict[str, dict]:
    """Surrogate and hard-spike reports of `net` on the validation split."""
    net.eval()
    return {mode: measure(EVALUATION_MODES[mode](net), frames, labels, n_classes=n_classes, theta=theta,
                          band=band, device=device) for mode in ("surrogate", "hard")}


VAL_KEYS = ("val_loss", "hard_val_loss", "surrogate_acc", "hard_acc", "transfer_gap_pp", "spike_rate",
            "near_threshold_fraction")


def epoch_line(epoch: int, stats: dict, reports: dict[str, dict] | None, val_seconds: float) -> dict:
    """One metrics.jsonl line; without a validation split (reports None) the validation metrics are null."""
    if reports is None:
        val = dict.fromkeys(VAL_KEYS)
    else:
        surrogate, hard = reports["surrogate"], reports["hard"]
        val = {"val_loss": surrogate["loss"], "hard_val_loss": hard["loss"],
               "surrogate_acc": surrogate["accuracy"], "hard_acc": hard["accuracy"],
               "transfer_gap_pp": surrogate["accuracy"] - hard["accuracy"],
               "spike_rate": hard["spike_rate"], "near_threshold_fraction": hard["near_threshold_fraction"]}
    return {"epoch": epoch, **stats, **val, "val_seconds": val_seconds,
            "epoch_seconds": stats["train_seconds"] + val_seconds}


def mean_of(history: list[dict], key: str) -> float | None:
    """Mean of a per-epoch fraction over the epochs that report it (None when none does)."""
    values = [line[key] for line in history if line.get(key) is not None]
    return sum(values) / len(values) if values else None


def summary(config: dict, history: list[dict], checkpoint: Path, sizes: tuple[int, int],
            config_file: str | None = None) -> dict:
    last = history[-1]
    train_seconds = sum(line["train_seconds"] for line in history)
    cpu_seconds = sum(line["train_cpu_seconds"] for line in history)
    return {"surrogate_acc": last["surrogate_acc"], "hard_acc": last["hard_acc"],
            "transfer_gap_pp": last["transfer_gap_pp"], "train_seconds": train_seconds,
            "seconds_per_epoch": train_seconds / len(history),
            "cpu_seconds_per_epoch": cpu_seconds / len(history), "epochs": len(history),
            "method": config["method"], "rho": config["rho"], "beta": config["beta"], "tau": config["tau"],
            "seed": config["seed"], "data": config["data"], "arch": config["arch"],
            "optimizer": config["optimizer"], "checkpoint": str(checkpoint), "train_size": sizes[0],
            "val_size": sizes[1], "near_threshold_fraction": last["near_threshold_fraction"],
            "spike_rate": last["spike_rate"], "perturbed_outside_caps": mean_of(history, "perturbed_outside_caps"),
            "perturbed_a4_violated": mean_of(history, "perturbed_a4_violated"), "config": config,
            "config_file": config_file}


@dataclass
class Prepared:
    """Everything a run needs, validated before the first file is written."""

    config: dict
    net: LIFNetwork
    resumed: Resumed | None
    frames: torch.Tensor
    labels: torch.Tensor
    split: tuple[np.ndarray, np.ndarray]
    info: dict
    claim: Claim
    overwrite: bool
    command: list[str]
    progress: bool
    config_file: str | None  # the --config file's absolute path


def checked_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The stratified split; InputError when --val-fraction > 0 leaves either part empty (no silent 0 % of 0);
    --val-fraction 0 trains on every sample."""
    train_idx, val_idx = stratified_split(labels, val_fraction, seed)
    n = len(labels)
    if len(val_idx) == 0 and val_fraction > 0:
        raise InputError(f"--val-fraction {val_fraction:g}: leaves no validation sample of the {n} (need at "
                         f"least {0.5 / n:.2g})")
    if len(train_idx) == 0:
        raise InputError(f"--val-fraction {val_fraction:g}: leaves no training sample of the {n}")
    return train_idx, val_idx


@dataclass
class Plan:
    """A validated command line: flags, configuration, what --out holds, the listed data (nothing loaded)."""

    args: argparse.Namespace
    config: dict
    command: list[str]
    claim: Claim
    framed: FramedDataset | None  # None when the run is finished already (or the data was not listed)


def plan(argv: list[str] | None, *, with_data: bool = True) -> Plan:
    """Parse and validate the flags and --out, list the data and check the memory the run needs (not with
    `with_data=False`: the sweep checks the data once for cells that differ only in method, rho, beta, seed);
    reads no sample and writes nothing (the sweep and the reproduction validate every run with it before training)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(build_parser(), argv)
    config = make_config(args)
    command = ["python", "-m", "sast_models.train", *argv]
    main_process = int(os.environ.get("RANK", "0")) == 0  # under torchrun only rank 0 writes
    claim = claim_out(args, config, command, main_process)
    resolve_device(args.device)
    if claim.finished or not with_data:
        return Plan(args, config, command, claim, None)
    framed = open_frames(args.data, time_bins=args.time_bins, split=args.split, duration_us=args.duration_us,
                         mode=args.frame_mode, downsample=args.downsample, cache_dir=args.cache_dir,
                         progress=args.progress)
    estimate_spec = network_spec(config, list(framed.frame_shape), len(framed.class_names), 1.0)
    check_memory({**framed.memory_part(), **network_memory(estimate_spec, batch=min(args.batch_size, len(framed)),
                                                            time_bins=args.time_bins, training=True)},
                 args.max_memory, "lower --time-bins, --batch-size or the layer widths")
    return Plan(args, config, command, claim, framed)


def prepare(argv: list[str] | None) -> tuple[Prepared | None, torch.device]:
    """`plan`, then load the data and build (or resume) the network; writes nothing. None: a --resume of a
    finished run (its summary is printed)."""
    job = plan(argv)
    args, config, claim = job.args, job.config, job.claim
    if claim.finished:
        print((Path(args.out) / "summary.json").read_text().rstrip())
        return None, torch.device("cpu")
    device = process_device(resolve_device(args.device))
    frames, labels, info = job.framed.load(args.progress)
    config["input_bound"] = 1.0 if args.frame_mode == "binary" else max(1.0, float(frames.max()))
    spec = network_spec(config, info["frame_shape"], info["n_classes"], config["input_bound"])
    split = checked_split(labels.numpy(), args.val_fraction, args.seed)
    resume_path = Path(args.out) / RESUME_FILE
    resumed = None
    if args.resume and not claim.fresh and resume_path.exists():
        resumed = load_state(resume_path, config=config, split=split, device=device)
        if resumed.epoch > args.epochs:
            raise InputError(f"--epochs {args.epochs}: {resume_path} has {resumed.epoch} epochs done already")
    net = resumed.net if resumed else build_network(spec, seed=args.seed).to(device)
    config_file = None if args.config is None else str(Path(args.config).resolve())
    return Prepared(config, net, resumed, frames, labels, split, info, claim, args.overwrite, job.command,
                    args.progress, config_file), device


@cli_entry
def main(argv: list[str] | None = None) -> int:
    prepared, device = prepare(argv)
    if prepared is None:
        return EXIT_OK
    ctx = setup(device)
    try:
        if ctx.is_main:
            claim = prepared.claim
            with claim.folder.session(claim.entry, overwrite=prepared.overwrite, **claim.options) as session:
                run(prepared, ctx, session)
        else:
            run(prepared, ctx, None)
    finally:
        teardown(ctx)
    return EXIT_OK


def diverged(epoch: int) -> InputError:
    """A diverged run (non-finite gradients, losses, statistics or parameters) stops with one line; the last
    finished epoch stays resumable."""
    return InputError(f"training diverged at epoch {epoch} (non-finite gradient, loss, statistics or weights); "
                      f"lower --lr or --rho (the last finished epoch stays in {RESUME_FILE})")


def run(job: Prepared, ctx: Context, session: Session | None) -> None:
    """Train from the first (or resumed) epoch to config['epochs']; the main process writes the outputs."""
    config, net = job.config, job.net
    model = wrap(net, ctx)
    sam = make_optimizer(config, net)
    history: list[dict] = []
    if job.resumed:
        restore(job.resumed, sam)
        history = job.resumed.history
    provenance = {"command": job.command, "torch": torch.__version__, "python": platform.python_version(),
                  "world_size": ctx.world, "device": str(ctx.device), "data": job.info,
                  "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "config_file": job.config_file}
    train_idx, val_idx = job.split
    val = torch.from_numpy(val_idx)
    val_frames, val_labels = job.frames[val], job.labels[val]
    steps = len(epoch_batches(train_idx, seed=config["seed"], epoch=1, batch_size=config["batch_size"],
                              independent=False, world=ctx.world))
    for epoch in range(len(history) + 1, config["epochs"] + 1):
        lr_at = None if config["lr_schedule"] == "constant" else partial(
            scheduled_lr, config, first_step=(epoch - 1) * steps, total_steps=config["epochs"] * steps)
        try:
            stats = train_epoch(model, sam, job.frames, job.labels, train_idx, seed=config["seed"], epoch=epoch,
                                batch_size=config["batch_size"], independent=config["method"] == "sast", ctx=ctx,
                                progress=job.progress, lr_at=lr_at)
        except FloatingPointError:
            raise diverged(epoch) from None
        if not all(bool(torch.isfinite(p).all()) for p in net.parameters()):
            raise diverged(epoch)
        start = time.perf_counter()
        reports = None if len(val_idx) == 0 else validation_reports(
            net, val_frames, val_labels, n_classes=job.info["n_classes"], theta=config["theta"],
            band=config["band"], device=ctx.device)
        line = epoch_line(epoch, stats, reports, time.perf_counter() - start)
        if not all(math.isfinite(v) for v in line.values() if isinstance(v, float)):
            raise diverged(epoch)
        history.append(line)
        if session is not None:
            session.write("metrics.jsonl", "".join(json.dumps(line) + "\n" for line in history))
            save_state(session.path(RESUME_FILE), net, sam, epoch=epoch, history=history, config=config,
                       provenance=provenance, split=job.split)
            if job.progress:
                accuracy = ("no validation split" if reports is None else
                            f"surrogate {line['surrogate_acc']:.2f}%  hard {line['hard_acc']:.2f}%")
                print(f"epoch {epoch}: {accuracy}  loss {line['train_loss']:.4f}  {line['train_seconds']:.1f} s",
                      file=sys.stderr)
    if session is not None:
        model_bytes = checkpoint_bytes(net, hyperparameters=config, provenance=provenance)
        checkpoint = session.path("model.safetensors")
        result = summary(config, history, checkpoint, (len(train_idx), len(val_idx)), job.config_file)
        session.commit({"model.safetensors": model_bytes, "summary.json": json_text(result)},
                       model_sha256=hashlib.sha256(model_bytes).hexdigest())
        print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
