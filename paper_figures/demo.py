"""The main job on the embedded default: `python -m paper_figures.demo --out runs/demo`.

Trains a baseline (plain Adam) and a SAST model (independent-second-minibatch SAM) with the same smooth
surrogate (beta = 1) on the embedded synthetic N-MNIST-style set, for several seeds; evaluates each on the test
split with surrogate spikes, hard spikes and INT8/INT4 integer deployment; computes the theory's a posteriori
constants for every checkpoint; and writes results.json, results.md (mean +- sd over seeds) and accuracy.png
into --out. Re-running continues or reuses finished runs. Exit 0 on success, 2 on bad input.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import sys
import time
from pathlib import Path

from sast_core.atomic import atomic_write_json, atomic_write_text
from sast_core.cli import CliParser, cli_entry, parse_list
from sast_core.errors import EXIT_OK, InputError

from .plots import accuracy_bars

METHODS = ("baseline", "sast")


def build_parser() -> CliParser:
    p = CliParser(prog="python -m paper_figures.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--data", default="synthetic", help="dataset spec (default: the embedded synthetic set)")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--beta", type=float, default=1.0, help="surrogate sharpness (the gap shows at small beta)")
    p.add_argument("--rho", type=float, default=0.3, help="SAST radius")
    p.add_argument("--time-bins", type=int, default=10)
    p.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds")
    p.add_argument("--modes", default=DEFAULT_MODES, help=f"evaluation modes (default: {DEFAULT_MODES})")
    return p


def _call(main, argv: list[str], result: Path, log: io.StringIO) -> dict:
    """Run a toolkit CLI in-process (stdout to the log) and read the JSON file it wrote."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(argv)
    log.write(buffer.getvalue())
    if code != EXIT_OK:
        raise InputError(f"{main.__module__} {' '.join(argv)}: exited with code {code}")
    return json.loads(result.read_text())


def resume_flag(run_dir: Path) -> list[str]:
    """Re-running the demo continues (or reuses) a previous run of the same configuration."""
    from sast_models.training.resume import RESUME_FILE

    return ["--resume"] if (run_dir / RESUME_FILE).exists() else []


DEFAULT_MODES = "surrogate,hard,int8,int4"


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    seeds = parse_list("--seeds", args.seeds, int)
    from sast_models.cli import evaluate, report, train

    out = Path(args.out)
    modes = args.modes
    log = io.StringIO()
    results: dict = {"settings": vars(args) | {"modes": modes}, "runs": {method: {} for method in METHODS}}
    start = time.perf_counter()
    for seed in seeds:
        for method in METHODS:
            run_dir = out / f"{method}_seed{seed}"
            print(f"[demo] seed {seed}: training {method} (beta={args.beta}) ...", file=sys.stderr)
            summary = _call(train.main, ["--data", args.data, "--method", method, "--rho", str(args.rho),
                                         "--beta", str(args.beta), "--epochs", str(args.epochs),
                                         "--lr", str(args.lr), "--batch-size", str(args.batch_size),
                                         "--time-bins", str(args.time_bins), "--seed", str(seed),
                                         "--out", str(run_dir), "--no-progress", *resume_flag(run_dir)],
                            run_dir / "summary.json", log)
            print(f"[demo] seed {seed}: evaluating {method} on the test split: {modes}", file=sys.stderr)
            evaluation = _call(evaluate.main, ["--model", summary["checkpoint"], "--modes", modes,
                                               "--out", str(run_dir), "--no-progress"], run_dir / "eval.json", log)
            theory = _call(report.main, ["--model", summary["checkpoint"], "--out", str(run_dir / "theory")],
                           run_dir / "theory" / "theory.json", log)
            results["runs"][method][str(seed)] = {"train": summary, "evaluate": evaluation, "theory": theory}
    results["summary"] = summarise(results)
    results["seconds"] = time.perf_counter() - start
    atomic_write_json(out / "results.json", results)
    atomic_write_text(out / "results.md", results_table(results))
    accuracy_bars(results, out / "accuracy.png")
    atomic_write_text(out / "log.txt", log.getvalue())
    print(results_table(results))
    return EXIT_OK


def _mean_sd(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


def summarise(results: dict) -> dict:
    """Per method: mean and sd over seeds of each mode's test accuracy, the transfer gap, s/epoch."""
    modes = results["settings"]["modes"].split(",")
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
    modes = results["settings"]["modes"].split(",")
    lines = ["| method | " + " | ".join(f"{m} acc (%)" for m in modes) + " | gap surrogate-hard (pp) | s/epoch |",
             "|---" * (len(modes) + 3) + "|"]
    for method, stats in results["summary"].items():
        accs = " | ".join(f"{stats['accuracy'][m]['mean']:.1f} +- {stats['accuracy'][m]['sd']:.1f}" for m in modes)
        gap = stats["transfer_gap_pp"]
        lines.append(f"| {method} | {accs} | {gap['mean']:.1f} +- {gap['sd']:.1f} | "
                     f"{stats['seconds_per_epoch']['mean']:.2f} |")
    settings = results["settings"]
    lines.append("")
    lines.append(f"data {settings['data']} (test split), beta {settings['beta']}, rho {settings['rho']}, "
                 f"{settings['epochs']} epochs, lr {settings['lr']}, batch {settings['batch_size']}, "
                 f"seeds {settings['seeds']}; total {results['seconds']:.0f} s")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
