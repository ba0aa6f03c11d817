"""`python -m sast_models.train`: train a LIF network with the baseline optimizer, SAM, or SAST (--help).

Methods: baseline = the base optimizer alone (SAM with rho = 0, bit-exact); sam = perturbation and descent
on the same minibatch; sast = perturbation from an independent minibatch B' (THEORY.md P5).
Outputs in --out DIR: model.safetensors (network + JSON header with hyperparameters and provenance),
metrics.jsonl (one line per epoch), summary.json, and resume.safetensors (rewritten after every epoch:
network, optimizer and RNG states, epoch, split). `--resume` continues from it and ends with the same weights
as an uninterrupted run. Under `torchrun --nproc_per_node=N` training is data-parallel (DDP); --batch-size
is the global batch. Bad input: one line on stderr, exit 2, nothing written.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sast_core.atomic import atomic_write_json, atomic_write_text
from sast_core.cli import CliParser, cli_entry, parse_list
from sast_core.errors import EXIT_OK, InputError
from sast_core.outputs import check_writable

from ..checkpoint import save_checkpoint
from ..data.loading import SPEC_HELP, load_frames
from ..data.splits import stratified_split
from ..data.synthetic import PRESETS
from ..evaluation.measure import measure
from ..evaluation.modes import EVALUATION_MODES
from ..networks import LIFNetwork, build_network
from ..sam import SAM
from ..spec import NetworkSpec
from ..training.distributed import Context, process_device, resolve_device, setup, teardown, wrap
from ..training.loop import train_epoch
from ..training.resume import RESUME_FILE, Resumed, load_state, restore, save_state

METHODS = ("baseline", "sam", "sast")
OPTIMIZERS = ("sgd", "adam", "adamw")
CONFIG_EXCLUDED = ("out", "resume", "device", "progress", "cache_dir")  # do not change the trained weights


def build_parser() -> CliParser:
    p = CliParser(prog="python -m sast_models.train", description=__doc__.split("\n")[0])
    p.add_argument("--data", default="synthetic", help=f"dataset: {SPEC_HELP} (default synthetic)")
    p.add_argument("--split", default="train", help="dataset split to train on (train/validation from it)")
    p.add_argument("--time-bins", type=int, default=10, help="T, frames per sample")
    p.add_argument("--frame-mode", choices=("binary", "count"), default="binary",
                   help="binary frames (input bound X = 1) or event counts (X = the data's maximum)")
    p.add_argument("--duration-us", type=int, default=None, help="fixed framing window (default: per sample)")
    p.add_argument("--downsample", type=int, default=1, help="sum k x k pixel blocks")
    p.add_argument("--val-fraction", type=float, default=0.2, help="stratified, seeded validation share")
    p.add_argument("--arch", choices=("mlp", "conv"), default="mlp")
    p.add_argument("--hidden", default="512", help="comma-separated widths of the dense LIF layers")
    p.add_argument("--channels", default="16,32", help="comma-separated conv channels (arch conv)")
    p.add_argument("--method", choices=METHODS, default="sast")
    p.add_argument("--rho", type=float, default=0.3, help="SAM radius (ignored, recorded as 0, for baseline)")
    p.add_argument("--asam", action="store_true", help="adaptive SAM: e = rho T^2 g / ||T g||, T = |w| + eta")
    p.add_argument("--asam-eta", type=float, default=0.01)
    p.add_argument("--surrogate", default="sigmoid")
    p.add_argument("--beta", type=float, default=5.0, help="surrogate sharpness")
    p.add_argument("--tau", type=float, default=0.5, help="leak of the spiking layers")
    p.add_argument("--theta", type=float, default=1.0, help="threshold")
    p.add_argument("--reset", default="zero", help="zero, subtract or none")
    p.add_argument("--parameterization", choices=("contractive", "plain"), default="contractive")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64, help="global minibatch (split across processes)")
    p.add_argument("--band", type=float, default=0.1, help="near-threshold band |u - theta| < band")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--cache-dir", default=None, help="SAST cache root (default $SAST_CACHE or ~/.cache/sast)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    return p


def make_config(args: argparse.Namespace) -> dict:
    """The run's hyperparameters (JSON values) after validating every number; InputError names the flag."""
    checks = [("--rho", args.rho >= 0, ">= 0"), ("--epochs", args.epochs >= 1, ">= 1"),
              ("--batch-size", args.batch_size >= 1, ">= 1"), ("--lr", args.lr > 0, "> 0"),
              ("--val-fraction", 0 < args.val_fraction < 1, "in (0, 1)"),
              ("--weight-decay", args.weight_decay >= 0, ">= 0"),
              ("--momentum", 0 <= args.momentum < 1, "in [0, 1)"),
              ("--band", args.band > 0, "> 0"), ("--asam-eta", args.asam_eta >= 0, ">= 0"),
              ("--time-bins", args.time_bins >= 1, ">= 1")]
    for flag, ok, expected in checks:
        if not ok:
            value = getattr(args, flag[2:].replace("-", "_"))
            raise InputError(f"{flag} {value}: expected a value {expected}")
    kind = args.data.partition(":")[0]
    if kind not in (*PRESETS, "nmnist", "dvsgesture"):
        raise InputError(f"--data {args.data!r}: unknown dataset; expected {SPEC_HELP}")
    config = {k: v for k, v in vars(args).items() if k not in CONFIG_EXCLUDED}
    config["hidden"] = parse_list("--hidden", args.hidden, int, minimum=1, allow_empty=True)
    config["channels"] = (parse_list("--channels", args.channels, int, minimum=1, allow_empty=True)
                          if args.arch == "conv" else [])
    if args.method == "baseline":
        config["rho"] = 0.0
    return config


def check_out_dir(out: Path, resume: bool) -> None:
    """Refuse, before writing anything, an unwritable --out or one holding another run (unless resuming)."""
    check_writable(out)
    if not resume and any((out / name).exists() for name in (RESUME_FILE, "summary.json")):
        raise InputError(f"--out {out}: holds a previous run; pass --resume to continue it, or use another")


def network_spec(config: dict, frame_shape: list[int], n_classes: int, input_bound: float) -> NetworkSpec:
    """The NetworkSpec for the flags and the data (input shape (C, H, W) of one frame, classes, bound X)."""
    return NetworkSpec(arch=config["arch"], input_shape=tuple(frame_shape[1:]), n_classes=n_classes,
                       hidden=tuple(config["hidden"]), channels=tuple(config["channels"]),
                       surrogate=config["surrogate"], beta=config["beta"], theta=config["theta"],
                       tau=config["tau"], reset=config["reset"], parameterization=config["parameterization"],
                       input_bound=input_bound)


def make_optimizer(config: dict, params) -> SAM:
    """The base optimizer wrapped in SAM (rho = 0 for the baseline: exactly the base optimizer)."""
    name, lr, wd = config["optimizer"], config["lr"], config["weight_decay"]
    if name == "sgd":
        base = torch.optim.SGD(params, lr=lr, momentum=config["momentum"], weight_decay=wd)
    elif name == "adam":
        base = torch.optim.Adam(params, lr=lr, weight_decay=wd)
    else:
        base = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    return SAM(base, config["rho"], adaptive=config["asam"], eta=config["asam_eta"])


def validation_reports(net, frames, labels, *, n_classes: int, theta: float, band: float,
                       device) -> dict[str, dict]:
    """Surrogate and hard-spike reports of `net` on the validation split."""
    net.eval()
    return {mode: measure(EVALUATION_MODES[mode](net), frames, labels, n_classes=n_classes, theta=theta,
                          band=band, device=device) for mode in ("surrogate", "hard")}


def epoch_line(epoch: int, stats: dict, reports: dict[str, dict], val_seconds: float) -> dict:
    surrogate, hard = reports["surrogate"], reports["hard"]
    return {"epoch": epoch, **stats, "val_loss": surrogate["loss"], "hard_val_loss": hard["loss"],
            "surrogate_acc": surrogate["accuracy"], "hard_acc": hard["accuracy"],
            "transfer_gap_pp": surrogate["accuracy"] - hard["accuracy"],
            "spike_rate": hard["spike_rate"], "near_threshold_fraction": hard["near_threshold_fraction"],
            "val_seconds": val_seconds, "epoch_seconds": stats["train_seconds"] + val_seconds}


def summary(config: dict, history: list[dict], checkpoint: Path, sizes: tuple[int, int]) -> dict:
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
            "spike_rate": last["spike_rate"]}


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
    out: Path
    command: list[str]
    progress: bool


def prepare(argv: list[str] | None) -> tuple[Prepared, torch.device]:
    """Parse and validate the flags, load the data, build (or resume) the network; writes nothing."""
    args = build_parser().parse_args(argv)
    config = make_config(args)
    out = Path(args.out)
    check_out_dir(out, args.resume)
    device = process_device(resolve_device(args.device))
    frames, labels, info = load_frames(args.data, time_bins=args.time_bins, split=args.split,
                                       duration_us=args.duration_us, mode=args.frame_mode,
                                       downsample=args.downsample, cache_dir=args.cache_dir,
                                       progress=args.progress)
    config["input_bound"] = 1.0 if args.frame_mode == "binary" else max(1.0, float(frames.max()))
    spec = network_spec(config, info["frame_shape"], info["n_classes"], config["input_bound"])
    split = stratified_split(labels.numpy(), args.val_fraction, args.seed)
    resume_path = out / RESUME_FILE
    resumed = None
    if args.resume and resume_path.exists():
        resumed = load_state(resume_path, config=config, split=split, device=device)
        if resumed.epoch > args.epochs:
            raise InputError(f"--epochs {args.epochs}: {resume_path} has {resumed.epoch} epochs done already")
    net = resumed.net if resumed else build_network(spec, seed=args.seed).to(device)
    command = ["python", "-m", "sast_models.train", *(sys.argv[1:] if argv is None else argv)]
    return Prepared(config, net, resumed, frames, labels, split, info, out, command, args.progress), device


@cli_entry
def main(argv: list[str] | None = None) -> int:
    prepared, device = prepare(argv)
    ctx = setup(device)
    try:
        run(prepared, ctx)
    finally:
        teardown(ctx)
    return EXIT_OK


def run(job: Prepared, ctx: Context) -> None:
    """Train from the first (or resumed) epoch to config['epochs']; the main process writes the outputs."""
    config, net, out = job.config, job.net, job.out
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob(".*.tmp"):  # temp files of a write interrupted by a kill
            stale.unlink(missing_ok=True)
    model = wrap(net, ctx)
    sam = make_optimizer(config, net.parameters())
    history: list[dict] = []
    if job.resumed:
        restore(job.resumed, sam)
        history = job.resumed.history
    provenance = {"command": job.command, "torch": torch.__version__, "python": platform.python_version(),
                  "world_size": ctx.world, "device": str(ctx.device), "data": job.info,
                  "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    train_idx, val_idx = job.split
    val = torch.from_numpy(val_idx)
    val_frames, val_labels = job.frames[val], job.labels[val]
    for epoch in range(len(history) + 1, config["epochs"] + 1):
        stats = train_epoch(model, sam, job.frames, job.labels, train_idx, seed=config["seed"], epoch=epoch,
                            batch_size=config["batch_size"], independent=config["method"] == "sast", ctx=ctx,
                            progress=job.progress)
        start = time.perf_counter()
        reports = validation_reports(net, val_frames, val_labels, n_classes=job.info["n_classes"],
                           theta=config["theta"], band=config["band"], device=ctx.device)
        history.append(epoch_line(epoch, stats, reports, time.perf_counter() - start))
        if ctx.is_main:
            atomic_write_text(out / "metrics.jsonl", "".join(json.dumps(line) + "\n" for line in history))
            save_state(out / RESUME_FILE, net, sam, epoch=epoch, history=history, config=config,
                       provenance=provenance, split=job.split)
            if job.progress:
                line = history[-1]
                print(f"epoch {epoch}: surrogate {line['surrogate_acc']:.2f}%  hard {line['hard_acc']:.2f}%  "
                      f"loss {line['train_loss']:.4f}  {line['train_seconds']:.1f} s", file=sys.stderr)
    if ctx.is_main:
        checkpoint = save_checkpoint(out / "model.safetensors", net, hyperparameters=config,
                                     provenance=provenance)
        result = summary(config, history, checkpoint, (len(train_idx), len(val_idx)))
        atomic_write_json(out / "summary.json", result)
        print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
