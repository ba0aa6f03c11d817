"""The main job on the embedded default: `python -m paper_figures.demo --out runs/demo`.

Trains a baseline (plain Adam) and a SAST model (independent-second-minibatch SAM) with the same smooth
surrogate (beta = 1) on the embedded synthetic N-MNIST-style set, for several seeds; evaluates each on the test
split with surrogate spikes, hard spikes and INT8/INT4 integer deployment; computes the theory's a posteriori
constants for every checkpoint; and writes results.json, results.md (mean +- sd over seeds) and accuracy.png
into --out. Re-running continues or reuses finished runs. Every flag, every training run it will start (its
flags, folder and memory), the evaluation split and --out are validated before the first model is trained. A
dataset without a Test/ split (the genuine N-MNIST subset) is evaluated on the training runs' held-out part:
--split train --subset val. Exit 0 on success, 2 on bad input.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import sys
import time
from pathlib import Path

from sast_core.atomic import json_text
from sast_core.cli import CliParser, cli_entry
from sast_core.errors import EXIT_OK, InputError
from sast_core.flags import Integer, ListOf, Number, Size, Text
from sast_core.memory import MEMORY_HELP
from sast_core.runs import Entry, RunFolder
from sast_models.data.loading import open_frames
from sast_models.data.splits import SUBSETS, check_subset
from sast_models.evaluation.modes import EVALUATION_MODES
from sast_models.training.config import SEED

from .plots import accuracy_bars

METHODS = ("baseline", "sast")
DEFAULT_MODES = "surrogate,hard,int8,int4"
ENTRY = "paper_figures.demo"
OUTPUTS = ("results.json", "results.md", "accuracy.png", "log.txt")
VAL_FRACTION = 0.2  # the training command's default, recorded for --subset val


def build_parser() -> CliParser:
    p = CliParser(prog="python -m paper_figures.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Text("a folder path"), required=True, help="output folder")
    p.add_argument("--data", type=Text("a dataset spec"), default="synthetic",
                   help="dataset spec (default: the embedded synthetic set)")
    p.add_argument("--split", type=Text("a split name"), default="test", help="split the models are evaluated on")
    p.add_argument("--subset", choices=SUBSETS, default="all",
                   help="all of --split, or the training runs' validation part (with --split train)")
    p.add_argument("--epochs", type=Integer(1), default=15, help="training epochs")
    p.add_argument("--lr", type=Number(0, low_open=True), default=5e-3, help="learning rate")
    p.add_argument("--batch-size", type=Integer(1), default=32, help="minibatch")
    p.add_argument("--beta", type=Number(0, low_open=True), default=1.0,
                   help="surrogate sharpness (the gap shows at small beta)")
    p.add_argument("--rho", type=Number(0), default=0.3, help="SAST radius")
    p.add_argument("--time-bins", type=Integer(1), default=10, help="T, frames per sample")
    p.add_argument("--seeds", type=ListOf(SEED), default="0,1,2", help="comma-separated training seeds")
    p.add_argument("--modes", type=ListOf(choices=tuple(EVALUATION_MODES)), default=DEFAULT_MODES,
                   help="evaluation modes")
    p.add_argument("--max-memory", type=Size(), default=None, help=MEMORY_HELP)
    p.add_argument("--overwrite", action="store_true",
                   help="replace what --out (and its run folders) hold instead of refusing")
    return p


def _call(main, argv: list[str], result: Path, log: io.StringIO) -> dict:
    """Run a toolkit CLI in-process (its stdout and stderr to the log) and read the JSON file it wrote; a
    failure becomes one InputError line carrying the command's own message."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    log.write(out.getvalue() + err.getvalue())
    if code != EXIT_OK:
        message = next((line for line in err.getvalue().splitlines() if line.startswith("error:")), "")
        raise InputError(f"{main.__module__} exited with code {code}: {message.removeprefix('error: ')}")
    return json.loads(result.read_text())


def resume_flag(run_dir: Path) -> list[str]:
    """Re-running the demo continues (or reuses) a previous run of the same configuration."""
    from sast_models.training.resume import RESUME_FILE

    return ["--resume"] if (run_dir / RESUME_FILE).exists() else []


def train_argv(args, method: str, seed: int, run_dir: Path) -> list[str]:
    return ["--data", args.data, "--method", method, "--rho", str(args.rho), "--beta", str(args.beta),
            "--epochs", str(args.epochs), "--lr", str(args.lr), "--batch-size", str(args.batch_size),
            "--time-bins", str(args.time_bins), "--seed", str(seed), "--val-fraction", str(VAL_FRACTION),
            "--out", str(run_dir), "--no-progress", *resume_flag(run_dir),
            *(["--max-memory", str(args.max_memory)] if args.max_memory else []),
            *(["--overwrite"] if args.overwrite else [])]


def validate(args, out: Path, entry: Entry) -> None:
    """Everything that can be checked before the first model is trained (writes nothing)."""
    from sast_models.cli import train

    RunFolder(out).check(entry, overwrite=args.overwrite)
    check_subset(args.subset, {"data": args.data, "split": "train", "val_fraction": VAL_FRACTION, "seed": 0},
                 data=args.data, split=args.split)
    for seed in args.seeds:
        for method in METHODS:
            train.plan(train_argv(args, method, seed, out / f"{method}_seed{seed}"))
    if args.split != "train":  # the evaluation split must exist (its listing reads no sample)
        open_frames(args.data, time_bins=args.time_bins, split=args.split, cache=False)


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from sast_models.cli import evaluate, report, train

    out = Path(args.out)
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "overwrite", "max_memory")}
    entry = Entry(ENTRY, settings, OUTPUTS, argv=["python", "-m", ENTRY, *(sys.argv[1:] if argv is None else argv)])
    validate(args, out, entry)
    log = io.StringIO()
    results: dict = {"settings": settings, "runs": {method: {} for method in METHODS}}
    start = time.perf_counter()
    overwrite = ["--overwrite"] if args.overwrite else []
    with RunFolder(out).session(entry, overwrite=args.overwrite) as session:
        for seed in args.seeds:
            for method in METHODS:
                run_dir = out / f"{method}_seed{seed}"
                print(f"[demo] seed {seed}: training {method} (beta={args.beta}) ...", file=sys.stderr)
                summary = _call(train.main, train_argv(args, method, seed, run_dir), run_dir / "summary.json", log)
                print(f"[demo] seed {seed}: evaluating {method} on {args.split} ({args.subset}): "
                      f"{','.join(args.modes)}", file=sys.stderr)
                evaluation = _call(evaluate.main, ["--model", summary["checkpoint"], "--modes", ",".join(args.modes),
                                                   "--split", args.split, "--subset", args.subset, "--out",
                                                   str(run_dir), "--no-progress", *overwrite],
                                   run_dir / "eval.json", log)
                theory = _call(report.main, ["--model", summary["checkpoint"], "--out", str(run_dir / "theory"),
                                             *overwrite], run_dir / "theory" / "theory.json", log)
                results["runs"][method][str(seed)] = {"train": summary, "evaluate": evaluation, "theory": theory}
        results["summary"] = summarise(results)
        results["seconds"] = time.perf_counter() - start
        session.commit({"results.json": json_text(results), "results.md": results_table(results),
                        "accuracy.png": accuracy_bars(results), "log.txt": log.getvalue()})
    print(results_table(results))
    return EXIT_OK


def _mean_sd(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


def summarise(results: dict) -> dict:
    """Per method: mean and sd over seeds of each mode's test accuracy, the transfer gap, s/epoch."""
    modes = results["settings"]["modes"]
    out = {}
    for method, runs in results["runs"].items():
        evaluations = [run["evaluate"] for run in runs.values()]
        out[method] = {
            "accuracy": {m: _mean_sd([e["modes"][m]["accuracy"] for e in evaluations]) for m in modes},
            "transfer_gap_pp": _mean_sd([e["transfer_gap_pp"] for e in evaluations]),
            "seconds_per_epoch": _mean_sd([run["train"]["seconds_per_epoch"] for run in runs.values()]),
        }
    return out


def results_table(results: dict) -> str:
    """Markdown: test accuracy per evaluation mode and method (mean +- sd over seeds), gap, time per epoch."""
    modes = results["settings"]["modes"]
    lines = ["| method | " + " | ".join(f"{m} acc (%)" for m in modes) + " | gap surrogate-hard (pp) | s/epoch |",
             "|---" * (len(modes) + 3) + "|"]
    for method, stats in results["summary"].items():
        accs = " | ".join(f"{stats['accuracy'][m]['mean']:.1f} +- {stats['accuracy'][m]['sd']:.1f}" for m in modes)
        gap = stats["transfer_gap_pp"]
        lines.append(f"| {method} | {accs} | {gap['mean']:.1f} +- {gap['sd']:.1f} | "
                     f"{stats['seconds_per_epoch']['mean']:.2f} |")
    settings = results["settings"]
    lines.append("")
    lines.append(f"data {settings['data']} ({settings['split']} split, {settings['subset']}), "
                 f"beta {settings['beta']}, rho {settings['rho']}, "
                 f"{settings['epochs']} epochs, lr {settings['lr']}, batch {settings['batch_size']}, "
                 f"seeds {settings['seeds']}; total {results['seconds']:.0f} s")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
