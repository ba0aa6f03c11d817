"""Measurements of a finished run, computed once and reused: `python -m paper_figures.measure RUN... [--what ...]`.

Each measurement writes into RUN/measurements/<name>/ and, last, key.json: the sha256 of the model file and
of the measurement's settings, and the command's exit code. A measurement is reused only when key.json
matches (an interrupted one is recomputed). The evaluation set is the data's test split when it has one, else
the training run's held-out validation part (`--split train --subset val`).

- evaluation:   `sast_models.evaluate` in the requested modes (accuracy, gaps, spike rates, SynOps, P6 widths);
                a stored evaluation covering more modes is reused;
- theory:       `sast_theory.report` (every constant, a priori and a posteriori, P6);
- verification: `verification.all` with `samples` data samples and `steps` attack iterations (exit 1 = a
                bound was violated: recorded, not an error);
- membrane:     histograms of u - theta of every spiking layer over the evaluation set, surrogate and hard;
- corruption:   surrogate and hard accuracy under each event corruption (sast_models.data.corruptions) at
                each severity, the corrupted events framed as in training.
Exit 0 when every measurement ran and every check held, 1 when a verification bound was violated.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sast_core.atomic import atomic_write_json, atomic_write_text
from sast_core.cli import CliParser, cli_entry
from sast_core.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError
from sast_core.flags import ListOf
from sast_models.data.corruptions import CORRUPTIONS, corrupted_frames, make_corruption
from sast_models.data.framing import FrameSpec
from sast_models.data.loading import has_split, load_frames, open_events
from sast_models.data.splits import run_subset
from sast_models.evaluation.measure import measure
from sast_models.evaluation.modes import EVALUATION_MODES

from .runs import Run, load_runs

MEASUREMENTS = ("evaluation", "theory", "verification", "membrane", "corruption")
ALL_MODES = ("surrogate", "hard", "int8", "int4", "fixed")
MEMBRANE_EDGES = (-6.0, 4.0, 200)  # u - theta histogram: low, high, bins (0.05 wide); outside counted apart
MAIN_FILES = {"evaluation": "eval.json", "theory": "theory.json", "verification": "summary.json",
              "membrane": "membrane.json", "corruption": "corruption.json"}


@dataclass(frozen=True)
class Budget:
    """How much each measurement measures (part of its key)."""

    name: str
    verify_samples: int
    verify_steps: int
    verify_budget_s: float  # verification.all --budget (wall seconds for all checks together)
    corruption_levels: dict[str, tuple[float, ...]] = field(default_factory=dict)


FULL = Budget("full", verify_samples=16, verify_steps=30, verify_budget_s=240.0, corruption_levels={
    "drop": (0.0, 0.25, 0.5, 0.75, 0.9), "noise": (0.0, 1.0, 2.0, 5.0, 10.0),
    "jitter": (0.0, 5e3, 1e4, 3e4, 1e5), "hot_pixels": (0.0, 5.0, 10.0, 20.0, 40.0),
    "polarity": (0.0, 0.1, 0.2, 0.3, 0.5)})
QUICK = Budget("quick", verify_samples=4, verify_steps=5, verify_budget_s=30.0, corruption_levels={
    "drop": (0.0, 0.5, 0.9), "noise": (0.0, 2.0, 10.0), "jitter": (0.0, 1e4, 1e5),
    "hot_pixels": (0.0, 10.0, 40.0), "polarity": (0.0, 0.2, 0.5)})
BUDGETS = {budget.name: budget for budget in (FULL, QUICK)}


def evaluation_split(data: str) -> tuple[str, str]:
    """(split, subset): the test split when the data has one, else the training run's validation part."""
    return ("test", "all") if has_split(data, "test") else ("train", "val")


def settings_of(name: str, run: Run, budget: Budget, modes: tuple[str, ...]) -> dict[str, Any]:
    """What the measurement `name` of `run` depends on besides the weights."""
    split, subset = evaluation_split(run.config["data"])
    common = {"split": split, "subset": subset}
    if name == "evaluation":
        return {**common, "modes": list(modes)}
    if name == "theory":
        return {}
    if name == "verification":
        return {**common, "samples": budget.verify_samples, "steps": budget.verify_steps,
                "budget_s": budget.verify_budget_s}
    if name == "membrane":
        return {**common, "edges": list(MEMBRANE_EDGES)}
    return {**common, "levels": {k: list(v) for k, v in budget.corruption_levels.items()}}


def model_sha256(run: Run) -> str:
    if "sha256" not in run.cache:
        run.cache["sha256"] = hashlib.sha256(run.checkpoint.read_bytes()).hexdigest()
    return run.cache["sha256"]


def _key(name: str, run: Run, settings: dict[str, Any]) -> str:
    text = json.dumps({"measurement": name, "model": model_sha256(run), "settings": settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def folder_of(run: Run, name: str) -> Path:
    return run.path / "measurements" / name


def stored(run: Run, name: str, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The stamp of a finished measurement that covers `settings`, else None."""
    stamp = folder_of(run, name) / "key.json"
    try:
        record = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    if name == "evaluation":  # an evaluation of more modes covers fewer
        have = record.get("settings", {})
        wanted = {k: v for k, v in settings.items() if k != "modes"}
        same = {k: v for k, v in have.items() if k != "modes"} == wanted
        covers = set(settings["modes"]) <= set(have.get("modes", []))
        return record if same and covers and record.get("model") == model_sha256(run) else None
    return record if record.get("key") == _key(name, run, settings) else None


def _cli(main: Callable[[list[str]], int], argv: list[str], folder: Path) -> int:
    """Run a toolkit command in-process (its stdout kept in folder/output.txt); exit 2 is an error."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(argv)
    atomic_write_text(folder / "output.txt", buffer.getvalue())
    if code not in (EXIT_OK, EXIT_CHECK_FAILED):
        raise InputError(f"{main.__module__} {' '.join(argv)}: exited with code {code}")
    return code


def _evaluation(run: Run, settings: dict[str, Any], folder: Path) -> int:
    from sast_models.cli import evaluate

    return _cli(evaluate.main, ["--model", str(run.checkpoint), "--modes", ",".join(settings["modes"]), "--split",
                                settings["split"], "--subset", settings["subset"], "--out", str(folder),
                                "--overwrite", "--no-progress"], folder)


def _theory(run: Run, settings: dict[str, Any], folder: Path) -> int:
    from sast_models.cli import report

    return _cli(report.main, ["--model", str(run.checkpoint), "--out", str(folder), "--overwrite"], folder)


def _verification(run: Run, settings: dict[str, Any], folder: Path) -> int:
    from verification import all as verification_all

    return _cli(verification_all.main, ["--model", str(run.checkpoint), "--split", settings["split"], "--subset",
                                        settings["subset"], "--samples", str(settings["samples"]), "--steps",
                                        str(settings["steps"]), "--budget", str(settings["budget_s"]),
                                        "--out", str(folder), "--overwrite",
                                        "--no-progress"], folder)


def evaluation_frames(run: Run, settings: dict[str, Any]):
    """(network, frames, labels, info, indices) of the evaluation set, framed as in training."""
    from sast_models.checkpoint import load_checkpoint

    net, header = load_checkpoint(run.checkpoint)
    hyper = header["hyperparameters"]
    data, split = hyper["data"], settings["split"]
    frames, labels, info = load_frames(data, time_bins=hyper["time_bins"], split=split,
                                       duration_us=hyper["duration_us"], mode=hyper["frame_mode"],
                                       downsample=hyper["downsample"])
    events = open_events(data, split=split)
    indices = run_subset(labels.numpy(), settings["subset"], hyper, data=data, split=split)
    chosen = torch.from_numpy(indices)
    return net.eval(), frames[chosen], labels[chosen], {**info, "hyper": hyper, "events": events}, indices


def _histogram(z: torch.Tensor, low: float, high: float, bins: int, band: float) -> dict[str, Any]:
    """Counts of z on `bins` equal bins of [low, high) (numpy int64), below low, at or above high, |z| < band."""
    z = z.double().flatten()
    inside = z[(z >= low) & (z < high)]
    index = ((inside - low) * (bins / (high - low))).long().clamp_(0, bins - 1)
    return {"counts": np.bincount(index.numpy(), minlength=bins), "below": int((z < low).sum()),
            "above": int((z >= high).sum()), "near": int((z.abs() < band).sum()), "total": z.numel()}


@torch.no_grad()
def _membrane(run: Run, settings: dict[str, Any], folder: Path) -> int:
    net, frames, labels, info, _ = evaluation_frames(run, settings)
    low, high, bins = settings["edges"]
    theta, band = net.spec.theta, info["hyper"].get("band", 0.1)
    result: dict[str, Any] = {"edges": np.linspace(low, high, bins + 1).tolist(), "theta": theta, "band": band,
                              "n_samples": len(labels), "modes": {}}
    for mode in ("surrogate", "hard"):
        totals: list[dict[str, Any]] | None = None
        for start in range(0, len(labels), 256):
            trace = net.trace(frames[start:start + 256].transpose(0, 1), mode)
            parts = [_histogram(layer.membranes - theta, low, high, bins, band) for layer in trace.layers[:-1]]
            totals = parts if totals is None else [{k: a[k] + b[k] for k in a} for a, b in zip(totals, parts,
                                                                                                  strict=True)]
        result["modes"][mode] = [{"counts": t["counts"].tolist(), "below": t["below"], "above": t["above"],
                                  "near_threshold_fraction": t["near"] / t["total"], "total": t["total"]}
                                 for t in totals or []]
    atomic_write_json(folder / "membrane.json", result)
    return EXIT_OK


def _corruption(run: Run, settings: dict[str, Any], folder: Path) -> int:
    net, _, labels, info, indices = evaluation_frames(run, settings)
    spec = FrameSpec(**info["frame"])
    n_classes, theta = net.spec.n_classes, net.spec.theta
    clean: dict[str, float] = {}  # severity 0 is the identity: measured once

    def accuracies(name: str, level: float) -> dict[str, float]:
        if level == 0 and clean:
            return clean
        frames = corrupted_frames(info["events"], indices, make_corruption(name, level), spec, seed=0)
        result = {mode: measure(EVALUATION_MODES[mode](net), frames, labels, n_classes=n_classes, theta=theta,
                                band=0.1)["accuracy"] for mode in ("surrogate", "hard")}
        if level == 0:
            clean.update(result)
        return result

    curves = {name: {"axis": CORRUPTIONS[name][1],
                     "points": [{"severity": level, **accuracies(name, level)} for level in levels]}
              for name, levels in settings["levels"].items()}
    atomic_write_json(folder / "corruption.json", {"n_samples": len(labels), "seed": 0, "curves": curves})
    return EXIT_OK


COMPUTE: dict[str, Callable[[Run, dict[str, Any], Path], int]] = {
    "evaluation": _evaluation, "theory": _theory, "verification": _verification, "membrane": _membrane,
    "corruption": _corruption,
}


def ensure(run: Run, name: str, budget: Budget = FULL, modes: tuple[str, ...] = ALL_MODES) -> dict[str, Any]:
    """The measurement `name` of `run`: {"result": its main JSON, "exit_code", "folder"}; computed if needed."""
    settings = settings_of(name, run, budget, modes)
    folder = folder_of(run, name)
    record = stored(run, name, settings)
    if record is None:
        (folder / "key.json").unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        code = COMPUTE[name](run, settings, folder)
        record = {"key": _key(name, run, settings), "model": model_sha256(run), "settings": settings,
                  "exit_code": code}
        atomic_write_json(folder / "key.json", record)
    cache_key = f"{name}:{folder}"
    if cache_key not in run.cache:
        run.cache[cache_key] = json.loads((folder / MAIN_FILES[name]).read_text())
    return {"result": run.cache[cache_key], "exit_code": record["exit_code"], "folder": folder}


def build_parser() -> CliParser:
    p = CliParser(prog="python -m paper_figures.measure", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="finished training run folders")
    p.add_argument("--what", type=ListOf(choices=MEASUREMENTS), default=list(MEASUREMENTS),
                   help="comma-separated measurements")
    p.add_argument("--modes", type=ListOf(choices=tuple(EVALUATION_MODES)), default=list(ALL_MODES),
                   help="comma-separated evaluation modes")
    p.add_argument("--budget", choices=sorted(BUDGETS), default="full", help="verification and corruption budget")
    return p


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    what, modes = args.what, tuple(args.modes)
    runs = load_runs(args.runs)
    codes = [ensure(run, name, BUDGETS[args.budget], modes)["exit_code"] for run in runs for name in what]
    summary = {str(run.path): {name: str(folder_of(run, name)) for name in what} for run in runs}
    print(json.dumps(summary, indent=2))
    return EXIT_CHECK_FAILED if any(codes) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
