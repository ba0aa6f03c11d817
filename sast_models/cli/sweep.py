"""`python -m sast_models.sweep`: a grid of training runs (method x rho x beta x seed), one process each, collected
into a table.

    python -m sast_models.sweep --out DIR --methods baseline,sast --rhos 0.1,0.3 --betas 1,5 \
        --seeds 0,1,2 [--jobs K] [--shard I/N] [--collect-only] -- [other train flags, e.g. --epochs 20]
    python -m sast_models.sweep --out DIR --config configs/nmnist/baseline.toml --config configs/nmnist/sast.toml \
        --seeds 0,1,2 -- --data nmnist:PATH

With `--config FILE` (repeatable) every file is a training recipe (`python -m sast_models.train --config FILE`):
its cells take method, rho and beta from the file unless --methods / --rhos / --betas are given, are named
<file stem>_<method>_rho<rho>_beta<beta>_seed<seed>, and share the recipe's configuration (each recipe its own;
the table groups by recipe too). Without it, the defaults are baseline,sast / 0.3 / 1,5.

Cell c (in the fixed order methods, betas, seeds, rhos; the baseline has the single rho 0) trains into
DIR/cells/<name>/ with `python -m sast_models.train ... --resume`. Before anything runs, every selected cell
is validated as its training run would be (flags, data, memory) and compared with what its folder holds (the
folder's manifest): a finished cell of this configuration is skipped, an interrupted one (or one with fewer
--epochs) continues, a cell of another configuration is refused (exit 2) unless --overwrite, which retrains it.
`--shard I/N` runs only the cells with index % N == I, so N machines sharing DIR (or whose DIR/cells/ folders
are merged afterwards) cover the grid once. Every invocation then collects ALL finished cells under DIR/cells
into DIR/sweep.csv and DIR/sweep.json (rows + mean/std over seeds per method, rho, beta, and the training
configuration they share); a finished cell of another configuration is refused, never mixed into the table.
Exit 0 when every selected cell finished, 1 when one failed, 2 on bad input.
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

from sast_core.atomic import json_text
from sast_core.cli import CliParser, cli_entry
from sast_core.config_file import parse_args
from sast_core.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError
from sast_core.flags import Integer, ListOf, Number, Text
from sast_core.outputs import check_writable
from sast_core.runs import Entry, RunFolder, differences, read_entries

from ..training.config import METHODS, SEED
from . import train

COLUMNS = ["cell", "recipe", "method", "rho", "beta", "seed", "surrogate_acc", "hard_acc", "transfer_gap_pp",
           "seconds_per_epoch", "cpu_seconds_per_epoch", "train_seconds", "epochs"]
STATISTICS = ("surrogate_acc", "hard_acc", "transfer_gap_pp", "seconds_per_epoch", "cpu_seconds_per_epoch")
CONTROLLED = ("--out", "--method", "--rho", "--beta", "--seed", "--resume", "--overwrite", "--config")
DEFAULT_GRID = {"methods": ["baseline", "sast"], "rhos": [0.3], "betas": [1.0, 5.0]}
CELL_KEYS = ("method", "rho", "beta", "seed")  # what the grid varies; the rest is the sweep's configuration
ENTRY = "sast_models.sweep"
OUTPUTS = ("sweep.csv", "sweep.json")


def build_parser() -> CliParser:
    p = CliParser(prog="python -m sast_models.sweep", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Text("a folder path"), required=True,
                   help="sweep folder (cells/, sweep.csv, sweep.json)")
    p.add_argument("--config", type=Text("a TOML file path"), action="append", default=[], metavar="FILE.toml",
                   help="a training recipe (repeatable): its cells take method, rho, beta from it")
    p.add_argument("--methods", type=ListOf(choices=METHODS), default=None,
                   help="comma-separated: baseline, sam, sast (default: each recipe's, else baseline,sast)")
    p.add_argument("--rhos", type=ListOf(Number(0)), default=None,
                   help="comma-separated SAM radii, not used by the baseline (default: each recipe's, else 0.3)")
    p.add_argument("--betas", type=ListOf(Number(0, low_open=True)), default=None,
                   help="comma-separated surrogate sharpness values (default: each recipe's, else 1,5)")
    p.add_argument("--seeds", type=ListOf(SEED), default="0", help="comma-separated seeds")
    p.add_argument("--jobs", type=Integer(1, 256), default=1, help="cells run at the same time on this machine")
    p.add_argument("--shard", type=Text("I/N"), default="0/1", help="I/N: run only cells with index %% N == I")
    p.add_argument("--collect-only", action="store_true", help="only rebuild the table from finished cells")
    p.add_argument("--overwrite", action="store_true",
                   help="retrain cells that hold another configuration, and replace a table of another one")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
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


def cell_name(method: str, rho: float, beta: float, seed: int, recipe: str = "") -> str:
    return f"{recipe + '_' if recipe else ''}{method}_rho{rho:g}_beta{beta:g}_seed{seed}"


def grid(methods: list[str], rhos: list[float], betas: list[float], seeds: list[int], recipe: str = "",
         config: str | None = None) -> list[dict]:
    """The cells of one recipe in their fixed order (the order `--shard` counts in)."""
    cells = []
    for method, beta, seed in itertools.product(methods, betas, seeds):
        for rho in ([0.0] if method == "baseline" else rhos):
            cells.append({"cell": cell_name(method, rho, beta, seed, recipe), "method": method, "rho": rho,
                          "beta": beta, "seed": seed, "recipe": recipe, "config": config})
    return cells


def recipe_cells(args: argparse.Namespace, extra: list[str]) -> list[dict]:
    """Every cell: the plain grid without --config, else each recipe's grid (its own method / rho / beta)."""
    if not args.config:
        given = {key: getattr(args, key) or default for key, default in DEFAULT_GRID.items()}
        return grid(given["methods"], given["rhos"], given["betas"], args.seeds)
    stems = [Path(path).stem for path in args.config]
    if len(set(stems)) != len(stems):
        raise InputError(f"--config: recipe names (file stems) must differ, got {', '.join(stems)}")
    cells = []
    for path, stem in zip(args.config, stems, strict=True):
        recipe = train.make_config(train_args(["--config", path, *extra]))
        cells += grid(args.methods or [recipe["method"]], args.rhos or [recipe["rho"]],
                      args.betas or [recipe["beta"]], args.seeds, stem, str(Path(path).resolve()))
    return cells


def train_args(argv: list[str]) -> argparse.Namespace:
    """The training command's flags (with its --config applied), validated without touching any file."""
    return parse_args(train.build_parser(), [*argv, "--out", "unused"])


def check_train_args(extra: list[str]) -> list[str]:
    """The pass-through flags, validated by the training command's own parser (without touching files)."""
    extra = extra[1:] if extra[:1] == ["--"] else extra
    clash = [flag for flag in extra if flag.split("=")[0] in CONTROLLED]
    if clash:
        raise InputError(f"training flag(s) {', '.join(clash)} are set by the sweep itself; remove them")
    train.make_config(train_args(extra))
    return extra


def train_argv(cell: dict, out: Path, extra: list[str], overwrite: bool) -> list[str]:
    """The training command line of a cell (without the interpreter)."""
    recipe = ["--config", cell["config"]] if cell.get("config") else []
    return [*recipe, *extra, "--method", cell["method"], "--rho", str(cell["rho"]), "--beta", str(cell["beta"]),
            "--seed", str(cell["seed"]), "--out", str(out / "cells" / cell["cell"]), "--resume", "--no-progress",
            *(["--overwrite"] if overwrite else [])]


def command(cell: dict, out: Path, extra: list[str], overwrite: bool = False) -> list[str]:
    return [sys.executable, "-m", "sast_models.train", *train_argv(cell, out, extra, overwrite)]


def log_path(out: Path, cell: dict) -> Path:
    return out / "cells" / f"{cell['cell']}.log"


def common(configuration: dict) -> dict:
    """A cell's training configuration without what the grid varies: the sweep's configuration."""
    return {k: v for k, v in configuration.items() if k not in CELL_KEYS}


def plan_cells(cells: list[dict], out: Path, extra: list[str], overwrite: bool) -> tuple[list[dict], dict]:
    """(the cells to run, the sweep's configuration): each cell validated as its training run would be (flags,
    --out: another configuration is refused unless --overwrite; data, memory); finished cells are skipped.
    A recipe sweep's configuration is {"recipes": {stem: that recipe's configuration}}."""
    todo, configurations, listed = [], {}, set()
    for cell in cells:  # the data and memory once per recipe: its cells differ only in method, rho, beta, seed
        recipe = cell.get("recipe", "")
        job = train.plan(train_argv(cell, out, extra, overwrite), with_data=recipe not in listed)
        if job.framed is not None:
            listed.add(recipe)
        configurations.setdefault(recipe, common(job.claim.entry.configuration))
        if not job.claim.finished:
            todo.append(cell)
    if set(configurations) == {""}:
        return todo, configurations[""]
    return todo, {"recipes": configurations}


def recipe_of(name: str, configuration: dict) -> tuple[str, dict | None]:
    """(recipe, the configuration its cells share) of cell `name`; ("", configuration) for a plain sweep, and
    (name, None) when the cell belongs to none of the sweep's recipes."""
    recipes = configuration.get("recipes")
    if not isinstance(recipes, dict):
        return "", configuration
    stems = [stem for stem in recipes if name.startswith(stem + "_")]
    stem = max(stems, key=len) if stems else None
    return (stem, recipes[stem]) if stem is not None else (name, None)


def run_cells(todo: list[dict], out: Path, extra: list[str], jobs: int, progress: bool,
              overwrite: bool = False) -> list[str]:
    """Run the cells, at most `jobs` at a time; returns a line per failed cell."""
    todo = list(todo)
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
                running.append((cell, subprocess.Popen(command(cell, out, extra, overwrite), stdout=handle,
                                                       stderr=subprocess.STDOUT, env=env)))
        cell, proc = running.pop(0)
        if proc.wait() != 0:
            failures.append(f"{cell['cell']}: exit {proc.returncode} (see {log_path(out, cell)})")
        bar.update(1)
    bar.close()
    return failures


def finished_cells(out: Path) -> list[tuple[str, dict, Path]]:
    """(cell name, training configuration, summary path) of every finished cell under out/cells."""
    found = []
    for folder in sorted(p for p in (out / "cells").glob("*") if p.is_dir()):
        entry = read_entries(folder).get(train.ENTRY)
        if entry is not None and entry.complete:
            found.append((folder.name, entry.configuration, folder / "summary.json"))
        elif entry is None and (folder / "summary.json").exists():
            raise InputError(f"{folder}: a finished cell without a run manifest (an older version wrote it); its "
                             f"configuration is unknown: retrain it with --overwrite or move it away")
    return found


def collect(out: Path, configuration: dict | None = None) -> dict:
    """Every finished cell under out/cells -> rows and per-(method, rho, beta) mean/std over seeds. All cells
    must share one training configuration (`configuration`, else the first cell's): InputError otherwise."""
    rows = []
    for name, cell_configuration, summary_path in finished_cells(out):
        configuration = configuration if configuration is not None else common(cell_configuration)
        recipe, expected = recipe_of(name, configuration)
        if expected is None:
            raise InputError(f"--out {out}: cell {name} belongs to none of the recipes "
                             f"{', '.join(configuration['recipes'])}; move it away, or sweep its recipe too")
        changed = differences(expected, common(cell_configuration), ignore=("epochs",))
        if changed:
            raise InputError(f"--out {out}: cell {name} was trained with another configuration "
                             f"({', '.join(changed[:3])}); rerun the sweep with --overwrite, or move the cell away")
        if cell_configuration["epochs"] != expected["epochs"]:
            continue  # not (yet) continued to this sweep's --epochs: unfinished for it
        try:
            summary = json.loads(summary_path.read_text())
            if not isinstance(summary, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as err:
            raise InputError(f"{summary_path}: corrupt cell summary ({err}); rerun the cell") from None
        rows.append({"cell": name, "recipe": recipe, **{k: summary.get(k) for k in COLUMNS[2:]}})
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["recipe"], row["method"], row["rho"], row["beta"]), []).append(row)
    stats = []
    for (recipe, method, rho, beta), members in sorted(groups.items()):
        entry = {"recipe": recipe, "method": method, "rho": rho, "beta": beta, "n_seeds": len(members)}
        for key in STATISTICS:
            values = [m[key] for m in members if isinstance(m[key], (int, float))]
            entry[f"{key}_mean"] = statistics.fmean(values) if values else None
            entry[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else None
        stats.append(entry)
    return {"rows": rows, "groups": stats, "configuration": configuration}


def table_files(table: dict) -> dict[str, str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table["rows"])
    return {"sweep.csv": buffer.getvalue(), "sweep.json": json_text(table)}


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    if args.collect_only and not out.is_dir():
        raise InputError(f"--out {out}: no such sweep folder (nothing to collect)")
    check_writable(out)
    index, count = parse_shard(args.shard)
    extra = check_train_args(args.train_args)
    cells = recipe_cells(args, extra)
    folder = RunFolder(out)
    previous = read_entries(out).get(ENTRY) if out.is_dir() else None
    argv_line = ["python", "-m", ENTRY, *(sys.argv[1:] if argv is None else argv)]
    if args.collect_only:
        todo, configuration = [], previous.configuration if previous else None
    else:  # validate every cell and the table's folder before training anything
        todo, configuration = plan_cells(cells[index::count], out, extra, args.overwrite)
        folder.check(Entry(ENTRY, configuration, OUTPUTS), overwrite=args.overwrite, ignore=("epochs",))
    failures = run_cells(todo, out, extra, args.jobs, args.progress, args.overwrite)
    table = collect(out, configuration)
    entry = Entry(ENTRY, table["configuration"] or {}, OUTPUTS, argv=argv_line)
    # --collect-only rebuilds the table from the cells: it replaces whatever table was there
    with folder.session(entry, overwrite=args.overwrite or args.collect_only, wait=True,
                        ignore=("epochs",)) as session:
        session.commit(table_files(table))
    print(json.dumps(table, indent=2, sort_keys=True))
    for line in failures:
        print(f"failed: {line}", file=sys.stderr)
    return EXIT_CHECK_FAILED if failures else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
