"""`python -m sast_models.evaluate --model CKPT --modes hard,...`: evaluate a checkpoint in several modes.

Per mode: accuracy and per-class accuracy (percent), mean cross-entropy, spike rate per spiking layer and
the fraction of membrane potentials with |u - theta| < band (the diagnostic of the surrogate-to-hard gap).
Gaps: surrogate accuracy minus each other mode's, in percentage points (`transfer_gap_pp` = surrogate - hard).
Modes: the registry `sast_models.evaluation.modes.EVALUATION_MODES` (surrogate, hard, int8, int4, fixed).
Framing defaults to the checkpoint's training settings. JSON on stdout and in --out DIR/eval.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from sast_core.atomic import atomic_write_json
from sast_core.cli import CliParser, cli_entry, parse_list
from sast_core.errors import EXIT_OK, InputError
from sast_core.outputs import check_writable

from ..checkpoint import load_checkpoint
from ..data.loading import SPEC_HELP, load_frames
from ..data.splits import stratified_split
from ..describe import describe
from ..evaluation.measure import measure
from ..evaluation.modes import EVALUATION_MODES
from ..training.distributed import resolve_device

SUBSETS = ("all", "val", "train")


def build_parser() -> CliParser:
    p = CliParser(prog="python -m sast_models.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="checkpoint (model.safetensors)")
    p.add_argument("--data", default=None, help=f"{SPEC_HELP} (default: the checkpoint's training data)")
    p.add_argument("--split", default="test", help="dataset split (default test)")
    p.add_argument("--subset", choices=SUBSETS, default="all",
                   help="all samples of the split, or the training run's validation/training part of it")
    p.add_argument("--modes", default="surrogate,hard", help="comma-separated evaluation modes")
    p.add_argument("--time-bins", type=int, default=None, help="default: as in training")
    p.add_argument("--band", type=float, default=None, help="near-threshold band (default: as in training)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=None, help="seed of the --subset split (default: training's)")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--out", default=None, help="folder for eval.json")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    return p


def select_modes(text: str) -> dict:
    """The runner factories named in `text`; InputError for an unknown name."""
    return {name: EVALUATION_MODES[name] for name in parse_list("--modes", text, choices=EVALUATION_MODES)}


def subset_indices(labels: np.ndarray, subset: str, hyper: dict, seed: int | None) -> np.ndarray:
    """Indices of the evaluated samples; val/train reproduce the training run's stratified split."""
    if subset == "all":
        return np.arange(len(labels))
    if "val_fraction" not in hyper:
        raise InputError(f"--subset {subset}: the checkpoint records no validation split")
    train, val = stratified_split(labels, hyper["val_fraction"], hyper["seed"] if seed is None else seed)
    return val if subset == "val" else train


def checkpoint_frames(hyper: dict, args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """The frames (N, T, ...) and labels of args.split / args.subset, framed as the checkpoint was trained
    unless args.data / args.time_bins say otherwise; info gains "data" and "time_bins"."""
    data = args.data or hyper.get("data")
    if not data:
        raise InputError("--data: required (the checkpoint records no training data)")
    time_bins = args.time_bins or hyper.get("time_bins")
    if not time_bins or time_bins < 1:
        raise InputError("--time-bins: required, >= 1 (the checkpoint records none)")
    framing = {"duration_us": hyper.get("duration_us"), "mode": hyper.get("frame_mode", "count"),
               "downsample": hyper.get("downsample", 1)}
    frames, labels, info = load_frames(data, time_bins=time_bins, split=args.split, cache_dir=args.cache_dir,
                                       progress=args.progress, **framing)
    chosen = torch.from_numpy(subset_indices(labels.numpy(), args.subset, hyper, args.seed))
    return frames[chosen], labels[chosen], {**info, "data": data, "time_bins": time_bins}


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    runners = select_modes(args.modes)
    if args.out:
        check_writable(Path(args.out))
    device = resolve_device(args.device)
    net, header = load_checkpoint(args.model, device=device)
    hyper = header.get("hyperparameters", {})
    band = args.band if args.band is not None else hyper.get("band", 0.1)
    if band <= 0:
        raise InputError(f"--band {band}: expected a value > 0")
    frames, labels, info = checkpoint_frames(hyper, args)
    data, time_bins = info["data"], info["time_bins"]
    net.eval()
    reports = {}
    for name, factory in runners.items():
        report = measure(factory(net), frames, labels, n_classes=net.spec.n_classes, theta=net.spec.theta,
                         band=band, batch_size=args.batch_size, device=device)
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
    text = json.dumps(result, indent=2, sort_keys=True, allow_nan=False)
    if args.out:
        atomic_write_json(Path(args.out) / "eval.json", result)
    print(text)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
