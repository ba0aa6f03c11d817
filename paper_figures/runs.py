"""Finished training runs as the figures see them, their grouping over seeds, and mean +- sd.

A run folder is what `python -m sast_models.train --out RUN` writes (summary.json, model.safetensors); the
figures add their measurements under RUN/measurements/ (paper_figures.measure). Runs whose configurations
differ only in the seed form one group; a group's label is its method plus the keys in which the groups
differ (e.g. "baseline", "baseline, epochs 30", "sast, rho 0.5"), unless the caller names it.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sast_core.errors import InputError
from sast_models.checkpoint import read_header

IGNORED_KEYS = ("seed",)  # what varies inside a group


@dataclass
class Run:
    path: Path
    summary: dict[str, Any]
    config: dict[str, Any]  # the checkpoint's recorded hyperparameters
    label: str = ""
    cache: dict[str, Any] = field(default_factory=dict)  # measurements already read

    @property
    def checkpoint(self) -> Path:
        return self.path / "model.safetensors"

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    def group_key(self) -> str:
        return json.dumps({k: v for k, v in self.config.items() if k not in IGNORED_KEYS}, sort_keys=True)


def load_run(path: str | Path) -> Run:
    """A finished run folder (InputError naming it when summary.json or model.safetensors is missing)."""
    folder = Path(path)
    summary_path, model = folder / "summary.json", folder / "model.safetensors"
    if not summary_path.is_file() or not model.is_file():
        raise InputError(f"{folder}: not a finished training run (needs summary.json and model.safetensors)")
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, ValueError) as err:
        raise InputError(f"{summary_path}: cannot read it as JSON ({err})") from None
    return Run(folder, summary, read_header(model).get("hyperparameters", {}))


def label_groups(runs: list[Run]) -> None:
    """Give every unlabelled run its group's label: the method and the keys that differ between groups."""
    configs = {run.group_key(): run.config for run in runs}
    varying = sorted(k for k in set().union(*map(set, configs.values())) - {"method", *IGNORED_KEYS}
                     if len({json.dumps(c.get(k)) for c in configs.values()}) > 1)
    for run in runs:
        if not run.label:
            extra = [f"{k} {_short(run.config.get(k))}" for k in varying
                     if not (k == "rho" and run.config.get("method") == "baseline")]
            run.label = ", ".join([str(run.config.get("method", "run")), *extra])


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def load_runs(paths: list[str | Path]) -> list[Run]:
    """The finished runs at `paths`, labelled by group."""
    if not paths:
        raise InputError("no run folders given")
    runs = [load_run(path) for path in paths]
    label_groups(runs)
    return runs


def group(runs: list[Run]) -> dict[str, list[Run]]:
    """label -> runs (sorted by seed), in first-appearance order."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.label, []).append(run)
    return {label: sorted(members, key=lambda r: r.seed) for label, members in groups.items()}


def mean_sd(values: list[float]) -> dict[str, Any]:
    """mean, sample sd (n - 1; 0 for one value), n and the values."""
    values = [float(v) for v in values]
    return {"mean": statistics.fmean(values) if values else math.nan,
            "sd": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values), "values": values}


def scaled(stat: dict[str, Any], factor: float) -> dict[str, Any]:
    """The statistics of the values times `factor` (e.g. 100 for percent)."""
    return {**stat, "mean": stat["mean"] * factor, "sd": stat["sd"] * abs(factor),
            "values": [v * factor for v in stat["values"]]}


def pooled_sd(*stats: dict[str, Any]) -> float:
    """sqrt of the mean of the variances (equal group sizes)."""
    return math.sqrt(sum(s["sd"] ** 2 for s in stats) / len(stats))


def fmt(stat: dict[str, Any] | None, digits: int = 1) -> str:
    """'mean +- sd' (or '-')."""
    if stat is None or stat["n"] == 0 or not math.isfinite(stat["mean"]):
        return "-"
    return f"{stat['mean']:.{digits}f} +- {stat['sd']:.{digits}f}" if stat["n"] > 1 else f"{stat['mean']:.{digits}f}"
