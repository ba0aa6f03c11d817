"""`python -m sast_models.sweep`: a grid of training runs (method x rho x beta x seed), one process each, collected
into a table.

    python -m sast_models.sweep --out DIR --methods baseline,sast --rhos 0.1,0.3 --betas 1,5 \
        --seeds 0,1,2 [--jobs K] [--shard I/N] [--collect-only] -- [other train flags, e.g. --epochs 20]

Cell c (in the fixed order methods, betas, seeds, rhos; the baseline has the single rho 0) trains into
DIR/cells/<name>/ with `python -m sast_models.train ... --resume`: a finished cell (summary.json present) is
skipped, an interrupted one continues. `--shard I/N` runs only the cells with index % N == I, so N machines
sharing DIR (or whose DIR/cells/ folders are merged afterwards) cover the grid once. Every invocation then
collects ALL finished cells under DIR/cells into DIR/sweep.csv and DIR/sweep.json (rows + mean/std over
seeds per method, rho, beta). Exit 0 when every selected cell finished, 1 when one failed, 2 on bad input.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from tqdm import tqdm

from sast_core.atomic import atomic_write_json, atomic_write_text
from sast_core.cli import CliParser, cli_entry, parse_list
from sast_core.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError
from sast_core.outputs import check_writable

from . import train

COLUMNS = ["cell", "method", "rho", "beta", "seed", "surrogate_acc", "hard_acc", "transfer_gap_pp",
           "seconds_per_epoch", "cpu_seconds_per_epoch", "train_seconds", "epochs"]
STATISTICS = ("surrogate_acc", "hard_acc", "transfer_gap_pp", "seconds_per_epoch", "cpu_seconds_per_epoch")
CONTROLLED = ("--out", "--method", "--rho", "--beta", "--seed", "--resume")


def build_parser() -> CliParser:
    p = CliParser(prog="python -m sast_models.sweep", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="sweep folder (cells/, sweep.csv, sweep.json)")
    p.add_argument("--methods", default="baseline,sast", help="comma-separated: baseline, sam, sast")
    p.add_argument("--rhos", default="0.3", help="comma-separated SAM radii (not used by the baseline)")
    p.add_argument("--betas", default="1,5", help="comma-separated surrogate sharpness values")
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.add_argument("--jobs", type=int, default=1, help="cells run at the same time on this machine")
    p.add_argument("--shard", default="0/1", help="I/N: run only cells with index %% N == I")
    p.add_argument("--collect-only", action="store_true", help="only rebuild the table from finished cells")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then flags passed to every training run")
    return p


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(v) for v in text.split("/"))
    except ValueError:
        raise InputError(f"--shard {text!r}: expected I/N, e.g. 0/4") from None
    if not 0 <= index < count:
        raise InputError(f"--shard {text!r}: expected 0 <= I < N")
    return index, count


def cell_name(method: str, rho: float, beta: float, seed: int) -> str:
    return f"{method}_rho{rho:g}_beta{beta:g}_seed{seed}"


def grid(methods: list[str], rhos: list[float], betas: list[float], seeds: list[int]) -> list[dict]:
    """The cells in their fixed order (the order `--shard` counts in)."""
    cells = []
    for method, beta, seed in itertools.product(methods, betas, seeds):
        for rho in ([0.0] if method == "baseline" else rhos):
            cells.append({"cell": cell_name(method, rho, beta, seed), "method": method, "rho": rho,
                          "beta": beta, "seed": seed})
    return cells


def check_train_args(extra: list[str]) -> list[str]:
    """The pass-through flags, validated by the training command's own parser (without touching files)."""
    extra = extra[1:] if extra[:1] == ["--"] else extra
    clash = [flag for flag in extra if flag.split("=")[0] in CONTROLLED]
    if clash:
        raise InputError(f"training flag(s) {', '.join(clash)} are set by the sweep itself; remove them")
    train.make_config(train.build_parser().parse_args([*extra, "--out", "unused"]))
    return extra


def command(cell: dict, out: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "sast_models.train", *extra, "--method", cell["method"], "--rho",
            str(cell["rho"]), "--beta", str(cell["beta"]), "--seed", str(cell["seed"]), "--out",
            str(out / "cells" / cell["cell"]), "--resume", "--no-progress"]


def log_path(out: Path, cell: dict) -> Path:
    return out / "cells" / f"{cell['cell']}.log"


def run_cells(cells: list[dict], out: Path, extra: list[str], jobs: int, progress: bool) -> list[str]:
    """Run the unfinished cells, at most `jobs` at a time; returns a line per failed cell."""
    todo = [c for c in cells if not (out / "cells" / c["cell"] / "summary.json").exists()]
    failures: list[str] = []
    running: list[tuple[dict, subprocess.Popen]] = []
    bar = tqdm(total=len(todo), desc="sweep", disable=not progress)
    threads = os.environ.get("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    env = {**os.environ, "OMP_NUM_THREADS": threads}
    while todo or running:
        while todo and len(running) < jobs:
            cell = todo.pop(0)
            log = log_path(out, cell)
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "w") as handle:
                running.append((cell, subprocess.Popen(command(cell, out, extra), stdout=handle,
                                                       stderr=subprocess.STDOUT, env=env)))
        cell, proc = running.pop(0)
        if proc.wait() != 0:
            failures.append(f"{cell['cell']}: exit {proc.returncode} (see {log_path(out, cell)})")
        bar.update(1)
    bar.close()
    return failures


def collect(out: Path) -> dict:
    """Every finished cell under out/cells -> rows and per-(method, rho, beta) mean/std over seeds."""
    rows = []
    for summary_path in sorted((out / "cells").glob("*/summary.json")):
        summary = json.loads(summary_path.read_text())
        rows.append({"cell": summary_path.parent.name, **{k: summary.get(k) for k in COLUMNS[1:]}})
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["method"], row["rho"], row["beta"]), []).append(row)
    stats = []
    for (method, rho, beta), members in sorted(groups.items()):
        entry = {"method": method, "rho": rho, "beta": beta, "n_seeds": len(members)}
        for key in STATISTICS:
            values = [m[key] for m in members if m[key] is not None]
            entry[f"{key}_mean"] = statistics.fmean(values) if values else None
            entry[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else None
        stats.append(entry)
    return {"rows": rows, "groups": stats}


def write_table(out: Path, table: dict) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table["rows"])
    atomic_write_text(out / "sweep.csv", buffer.getvalue())
    atomic_write_json(out / "sweep.json", table)


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    check_writable(out)
    methods = parse_list("--methods", args.methods, choices=train.METHODS)
    rhos = parse_list("--rhos", args.rhos, float, minimum=0)
    cells = grid(methods, rhos, parse_list("--betas", args.betas, float), parse_list("--seeds", args.seeds, int))
    index, count = parse_shard(args.shard)
    if args.jobs < 1:
        raise InputError(f"--jobs {args.jobs}: expected >= 1")
    extra = check_train_args(args.train_args)
    mine = cells[index::count]
    failures = [] if args.collect_only else run_cells(mine, out, extra, args.jobs, args.progress)
    table = collect(out)
    write_table(out, table)
    print(json.dumps(table, indent=2, sort_keys=True))
    for line in failures:
        print(f"failed: {line}", file=sys.stderr)
    return EXIT_CHECK_FAILED if failures else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
