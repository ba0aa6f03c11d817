"""`python -m sast_models.evaluate --model CKPT --modes hard,...`: evaluate a checkpoint in several modes.

Per mode: accuracy and per-class accuracy (percent), mean cross-entropy, spike rate per spiking layer and
the fraction of membrane potentials with |u - theta| < band (the diagnostic of the surrogate-to-hard gap).
Gaps: surrogate accuracy minus each other mode's, in percentage points (`transfer_gap_pp` = surrogate - hard).
Modes: the registry `sast_models.evaluation.modes.EVALUATION_MODES` (surrogate, hard, int8, int4, fixed).
Framing defaults to the checkpoint's training settings. JSON on stdout and in --out DIR/eval.json, recorded in
DIR's manifest with the model's sha256 (results for another model, or of another configuration, are refused
unless --overwrite). `--subset val` needs the training split (`--split train`).
"""

from __future__ import annotations

import argparse
import sys

import torch

from sast_core.atomic import json_text
from sast_core.cli import CliParser, cli_entry
from sast_core.errors import EXIT_OK, InputError
from sast_core.flags import Integer, ListOf, Number, Size, Text
from sast_core.memory import MEMORY_HELP, check_memory
from sast_core.runs import Entry, RunFolder, sha256_file

from ..checkpoint import load_checkpoint
from ..data.loading import SPEC_HELP, open_frames
from ..data.splits import SUBSETS, check_subset, run_subset
from ..describe import describe
from ..evaluation.measure import measure
from ..evaluation.modes import EVALUATION_MODES
from ..memory import network_memory
from ..training.config import SEED
from ..training.distributed import resolve_device

ENTRY = "sast_models.evaluate"
OUTPUT = "eval.json"


def build_parser() -> CliParser:
    p = CliParser(prog="python -m sast_models.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Text("a checkpoint path"), required=True, help="checkpoint (model.safetensors)")
    p.add_argument("--data", type=Text("a dataset spec"), default=None,
                   help=f"{SPEC_HELP} (default: the checkpoint's training data)")
    p.add_argument("--split", type=Text("a split name"), default="test", help="dataset split")
    p.add_argument("--subset", choices=SUBSETS, default="all",
                   help="all samples of the split, or the training run's validation/training part of it "
                        "(needs the training split: --split train)")
    p.add_argument("--modes", type=ListOf(choices=tuple(EVALUATION_MODES)), default="surrogate,hard",
                   help="comma-separated evaluation modes")
    p.add_argument("--time-bins", type=Integer(1), default=None, help="T (default: as in training)")
    p.add_argument("--band", type=Number(0, low_open=True), default=None,
                   help="near-threshold band (default: as in training)")
    p.add_argument("--batch-size", type=Integer(1), default=256, help="samples per forward pass")
    p.add_argument("--device", type=Text("a device"), default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--seed", type=SEED, default=None, help="seed of the --subset split (default: training's)")
    p.add_argument("--cache-dir", type=Text("a folder path"), default=None, help="SAST cache root")
    p.add_argument("--max-memory", type=Size(), default=None, help=MEMORY_HELP)
    p.add_argument("--out", type=Text("a folder path"), default=None, help="folder for eval.json")
    p.add_argument("--overwrite", action="store_true", help="replace what --out holds instead of refusing")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    return p


def framing_source(hyper: dict, args: argparse.Namespace) -> tuple[str, int]:
    """The dataset spec and T to frame with: the flags, else the checkpoint's training settings."""
    data = args.data or hyper.get("data")
    if not data:
        raise InputError("--data: required (the checkpoint records no training data)")
    time_bins = args.time_bins if args.time_bins is not None else hyper.get("time_bins")
    if time_bins is None:
        raise InputError("--time-bins: required (the checkpoint records none)")
    check_subset(args.subset, hyper, data=data, split=args.split)
    return data, time_bins


def checkpoint_frames(net: torch.nn.Module, hyper: dict, args: argparse.Namespace, data: str,
                      time_bins: int) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """The frames (N, T, ...) and labels of args.split / args.subset, framed as the checkpoint was trained;
    the frame shape and the memory estimate (--max-memory) are checked before anything is loaded."""
    framing = {"duration_us": hyper.get("duration_us"), "mode": hyper.get("frame_mode", "count"),
               "downsample": hyper.get("downsample", 1)}
    framed = open_frames(data, time_bins=time_bins, split=args.split, cache_dir=args.cache_dir,
                         progress=args.progress, **framing)
    if tuple(framed.frame_shape[1:]) != tuple(net.spec.input_shape):
        raise InputError(f"--data {data}: frames of shape {tuple(framed.frame_shape[1:])}, the model expects "
                         f"{tuple(net.spec.input_shape)}")
    check_memory({**framed.memory_part(), **network_memory(net.spec, batch=min(args.batch_size, len(framed)),
                                                            time_bins=time_bins, training=False)},
                 args.max_memory, "lower --time-bins or --batch-size")
    frames, labels, info = framed.load(args.progress)
    chosen = torch.from_numpy(run_subset(labels.numpy(), args.subset, hyper, data=data, split=args.split,
                                         seed=args.seed))
    return frames[chosen], labels[chosen], {**info, "data": data, "time_bins": time_bins}


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    device = resolve_device(args.device)
    net, header = load_checkpoint(args.model, device=device)
    hyper = header["hyperparameters"]
    data, time_bins = framing_source(hyper, args)
    band = args.band if args.band is not None else hyper.get("band", 0.1)
    configuration = {"data": data, "split": args.split, "subset": args.subset, "modes": args.modes,
                     "time_bins": time_bins, "band": band, "seed": args.seed, "batch_size": args.batch_size}
    entry = Entry(ENTRY, configuration, (OUTPUT,), model_sha256=sha256_file(args.model),
                  argv=["python", "-m", ENTRY, *(sys.argv[1:] if argv is None else argv)])
    folder = RunFolder(args.out) if args.out else None
    if folder:
        folder.check(entry, overwrite=args.overwrite)
    frames, labels, info = checkpoint_frames(net, hyper, args, data, time_bins)
    net.eval()
    reports = {}
    for name in args.modes:
        report = measure(EVALUATION_MODES[name](net), frames, labels, n_classes=net.spec.n_classes,
                         theta=net.spec.theta, band=band, batch_size=args.batch_size, device=device)
        per_class = zip(info["class_names"], report["per_class_accuracy"], strict=True)
        report["per_class_accuracy"] = dict(per_class)
        reports[name] = report
    result = {
        "model": str(args.model), "data": data, "split": args.split, "subset": args.subset,
        "n_samples": len(labels), "time_bins": time_bins, "band": band, "theta": net.spec.theta,
        "layers": [layer.name for layer in describe(net).layers if layer.spiking],
        "modes": reports,
        "gaps_pp": ({name: reports["surrogate"]["accuracy"] - r["accuracy"] for name, r in reports.items()
                     if name != "surrogate"} if "surrogate" in reports else {}),
    }
    result["transfer_gap_pp"] = result["gaps_pp"].get("hard")
    text = json_text(result)
    if folder:
        with folder.session(entry, overwrite=args.overwrite) as session:
            session.commit({OUTPUT: text})
    print(text.rstrip())
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
