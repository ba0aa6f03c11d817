"""The sweep command's grid, sharding, pass-through validation and table collection (no training here)."""

from __future__ import annotations

import json

import pytest

from sast_core.errors import InputError
from sast_models.cli import sweep


def test_grid_order_and_baseline_collapse():
    cells = sweep.grid(["baseline", "sast"], [0.1, 0.3], [1.0, 5.0], [0, 1])
    assert len(cells) == 2 * 2 * 1 + 2 * 2 * 2
    assert [c["cell"] for c in cells[:2]] == ["baseline_rho0_beta1_seed0", "baseline_rho0_beta1_seed1"]
    assert {c["rho"] for c in cells if c["method"] == "baseline"} == {0.0}
    assert len({c["cell"] for c in cells}) == len(cells)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_shards_cover_the_grid_exactly_once(n):
    cells = sweep.grid(["baseline", "sam", "sast"], [0.1, 0.3], [1.0, 5.0], [0, 1, 2])
    names = [c["cell"] for i in range(n) for c in cells[i::n]]
    assert sorted(names) == sorted(c["cell"] for c in cells)


@pytest.mark.parametrize("text", ["2/2", "1", "a/b", "-1/3"])
def test_bad_shard_is_refused(text):
    with pytest.raises(InputError, match="--shard"):
        sweep.parse_shard(text)


def test_flags_the_sweep_sets_cannot_be_passed_through():
    with pytest.raises(InputError, match="--rho"):
        sweep.check_train_args(["--", "--epochs", "2", "--rho", "0.5"])
    assert sweep.check_train_args(["--", "--epochs", "2"]) == ["--epochs", "2"]


def test_collect_builds_rows_and_seed_statistics(tmp_path):
    for seed, hard in ((0, 80.0), (1, 90.0)):
        cell = tmp_path / "cells" / sweep.cell_name("sast", 0.3, 1.0, seed)
        cell.mkdir(parents=True)
        (cell / "summary.json").write_text(json.dumps(
            {"method": "sast", "rho": 0.3, "beta": 1.0, "seed": seed, "surrogate_acc": 95.0, "hard_acc": hard,
             "transfer_gap_pp": 95.0 - hard, "seconds_per_epoch": 2.0, "train_seconds": 4.0, "epochs": 2}))
    (tmp_path / "cells" / "unfinished").mkdir()
    table = sweep.collect(tmp_path)
    assert len(table["rows"]) == 2
    (group,) = table["groups"]
    assert group["hard_acc_mean"] == 85.0 and group["n_seeds"] == 2
    assert group["transfer_gap_pp_std"] == pytest.approx(7.0710678, rel=1e-6)
    sweep.write_table(tmp_path, table)
    lines = (tmp_path / "sweep.csv").read_text().splitlines()
    assert lines[0].split(",") == sweep.COLUMNS and len(lines) == 3


def test_collect_only_cli_writes_the_table(tmp_path, capsys):
    assert sweep.main(["--out", str(tmp_path), "--collect-only", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out) == {"rows": [], "groups": []}
    assert (tmp_path / "sweep.csv").read_text().strip() == ",".join(sweep.COLUMNS)
