"""The sweep command's grid, sharding, pass-through validation, table collection and configuration checks of
finished cells (cells are written with the run-folder machinery, no training), and one real sweep whose second
run with other training flags is refused instead of mixing configurations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_train import write_tiny_nmnist

from sast_core.errors import InputError
from sast_core.runs import Entry, RunFolder, read_entries
from sast_models.cli import sweep, train


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


def cell_configuration(extra: list[str], method: str, rho: float, beta: float, seed: int) -> dict:
    cell = {"method": method, "rho": rho, "beta": beta, "seed": seed, "cell": "x"}
    args = train.build_parser().parse_args(sweep.train_argv(cell, Path("unused"), extra, False))
    return train.make_config(args)


def fake_cell(out, extra, method="sast", rho=0.3, beta=1.0, seed=0, hard=80.0, complete=True):
    """A cell folder as a finished training run leaves it (manifest entry + summary.json)."""
    name = sweep.cell_name(method, rho, beta, seed)
    folder = out / "cells" / name
    summary = {"method": method, "rho": rho, "beta": beta, "seed": seed, "surrogate_acc": 95.0, "hard_acc": hard,
               "transfer_gap_pp": 95.0 - hard, "seconds_per_epoch": 2.0, "train_seconds": 4.0, "epochs": 2}
    entry = Entry(train.ENTRY, cell_configuration(extra, method, rho, beta, seed), train.OUTPUTS)
    with RunFolder(folder).session(entry, overwrite=False) as session:
        if complete:
            session.commit({"summary.json": json.dumps(summary)}, model_sha256="0" * 64)
        else:
            session.write("metrics.jsonl", "")
    return folder


EXTRA = ["--data", "synthetic", "--hidden", "16", "--epochs", "2"]


def test_collect_builds_rows_and_seed_statistics(tmp_path):
    for seed, hard in ((0, 80.0), (1, 90.0)):
        fake_cell(tmp_path, EXTRA, seed=seed, hard=hard)
    (tmp_path / "cells" / "unfinished").mkdir()
    fake_cell(tmp_path, EXTRA, seed=2, complete=False)
    table = sweep.collect(tmp_path)
    assert len(table["rows"]) == 2
    (group,) = table["groups"]
    assert group["hard_acc_mean"] == 85.0 and group["n_seeds"] == 2
    assert group["transfer_gap_pp_std"] == pytest.approx(7.0710678, rel=1e-6)
    assert table["configuration"]["hidden"] == [16] and "seed" not in table["configuration"]
    files = sweep.table_files(table)
    lines = files["sweep.csv"].splitlines()
    assert lines[0].split(",") == sweep.COLUMNS and len(lines) == 3


def test_collect_refuses_cells_of_another_configuration(tmp_path):
    fake_cell(tmp_path, EXTRA, seed=0)
    fake_cell(tmp_path, ["--data", "synthetic", "--hidden", "64", "--epochs", "2"], seed=1)
    with pytest.raises(InputError, match=r"cell sast_rho0.3_beta1_seed1 was trained with another configuration "
                                         r"\(--hidden: \[16\] -> \[64\]\)"):
        sweep.collect(tmp_path)


def test_cells_with_fewer_epochs_are_unfinished_for_a_longer_sweep(tmp_path):
    fake_cell(tmp_path, EXTRA, seed=0)
    fake_cell(tmp_path, [*EXTRA[:-1], "3"], seed=1)
    table = sweep.collect(tmp_path, sweep.common(cell_configuration([*EXTRA[:-1], "3"], "sast", 0.3, 1.0, 1)))
    assert [row["cell"] for row in table["rows"]] == ["sast_rho0.3_beta1_seed1"]


def test_a_finished_cell_of_another_configuration_is_refused_before_anything_runs(tmp_path, capsys, monkeypatch):
    folder = fake_cell(tmp_path, EXTRA, seed=0)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    monkeypatch.setattr(sweep, "run_cells", lambda *a, **k: pytest.fail("must not run"))
    argv = ["--out", str(tmp_path), "--methods", "sast", "--rhos", "0.3", "--betas", "1", "--seeds", "0",
            "--no-progress", "--", "--data", "synthetic", "--hidden", "64", "--epochs", "2"]
    assert sweep.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(folder) in err and "--hidden: [16] -> [64]" in err and "--overwrite" in err
    assert before == {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}


def test_a_finished_cell_of_this_configuration_is_skipped(tmp_path, capsys, monkeypatch):
    fake_cell(tmp_path, EXTRA, seed=0)
    ran = []
    monkeypatch.setattr(sweep, "run_cells", lambda todo, *a, **k: ran.extend(todo) or [])
    argv = ["--out", str(tmp_path), "--methods", "sast", "--rhos", "0.3", "--betas", "1", "--seeds", "0,1",
            "--no-progress", "--", *EXTRA]
    assert sweep.main(argv) == 0
    assert [cell["cell"] for cell in ran] == ["sast_rho0.3_beta1_seed1"]
    table = json.loads((tmp_path / "sweep.json").read_text())
    assert [row["cell"] for row in table["rows"]] == ["sast_rho0.3_beta1_seed0"]
    assert read_entries(tmp_path)[sweep.ENTRY].complete and json.loads(capsys.readouterr().out) == table


def test_corrupt_cell_summary_is_one_line(tmp_path, capsys):
    folder = fake_cell(tmp_path, EXTRA)
    (folder / "summary.json").write_text("{not json")
    assert sweep.main(["--out", str(tmp_path), "--collect-only", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "corrupt cell summary" in err and str(folder / "summary.json") in err


def test_collect_only_cli_writes_the_table(tmp_path, capsys):
    assert sweep.main(["--out", str(tmp_path), "--collect-only", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out) == {"rows": [], "groups": [], "configuration": None}
    assert (tmp_path / "sweep.csv").read_text().strip() == ",".join(sweep.COLUMNS)


def test_collect_only_into_a_missing_folder_is_refused(tmp_path, capsys):
    assert sweep.main(["--out", str(tmp_path / "nonexistent"), "--collect-only", "--no-progress"]) == 2
    assert "no such sweep folder" in capsys.readouterr().err and not (tmp_path / "nonexistent").exists()


@pytest.mark.parametrize(("flags", "needle"), [(["--rhos", "nan"], "--rhos"), (["--methods", "sgd"], "--methods"),
                                               (["--betas", "0"], "--betas"), (["--jobs", "0"], "--jobs"),
                                               (["--", "--lr", "inf"], "--lr inf")])
def test_bad_sweep_flags_are_refused_before_training(tmp_path, capsys, flags, needle):
    argv = ["--out", str(tmp_path / "sw"), "--no-progress", *flags]
    if "--" not in flags:
        argv += ["--", "--data", "synthetic"]
    assert sweep.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and not (tmp_path / "sw").exists()


def test_a_second_sweep_with_other_training_flags_is_refused_not_mixed(tmp_path):
    """Issue 14's first case, end to end: one real cell, then the same grid with other flags into the same --out."""
    data = write_tiny_nmnist(tmp_path / "nmnist", per_class=3)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SAST_CACHE": str(tmp_path / "cache")}
    base = [sys.executable, "-m", "sast_models.sweep", "--methods", "baseline", "--betas", "1", "--out",
            str(tmp_path / "sw"), "--no-progress", "--", "--data", f"nmnist:{data}", "--epochs", "1",
            "--val-fraction", "0.5", "--downsample", "2"]
    first = subprocess.run([*base, "--hidden", "8", "--time-bins", "3"], env=env, capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    table = (tmp_path / "sw" / "sweep.json").read_text()
    second = subprocess.run([*base, "--hidden", "12", "--time-bins", "4"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert second.returncode == 2 and second.stderr.count("\n") == 1
    assert "--hidden: [8] -> [12]" in second.stderr and "--time-bins: 3 -> 4" in second.stderr
    assert (tmp_path / "sw" / "sweep.json").read_text() == table  # nothing rewritten
    assert json.loads(table)["configuration"]["hidden"] == [8]
