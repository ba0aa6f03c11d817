"""The verification CLIs on a tiny checkpoint: outputs, verdicts (bound >= empirical), exit codes 0/1/2, budgets,
witnesses that `verification.replay` reproduces."""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from data_paths import REAL_NMNIST

from sast_models.checkpoint import save_checkpoint
from sast_models.networks import build_network
from sast_models.sam import SAM
from sast_models.spec import NetworkSpec
from verification import all as run_all
from verification import (
    check_contraction,
    check_convergence,
    check_lipschitz,
    check_sam,
    check_smoothness,
    check_state_bound,
    check_transfer,
    replay,
    theory,
)
from verification.report import Row, table

REAL = REAL_NMNIST
FAST = ["--data", "random", "--samples", "3", "--steps", "3", "--time-bins", "6", "--no-progress"]
CHECKS = {"state_bound": check_state_bound, "lipschitz": check_lipschitz, "contraction": check_contraction,
          "smoothness": check_smoothness, "sam": check_sam, "transfer": check_transfer,
          "convergence": check_convergence}
SMALL = {"state_bound": ["--mode", "surrogate,int8"], "lipschitz": ["--mode", "surrogate,int4"],
         "contraction": ["--mode", "surrogate,fixed"], "smoothness": ["--mode", "surrogate,int8"],
         "transfer": ["--mode", "hard,int8"], "convergence": ["--horizons", "3,5,8"]}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    """A tiny network trained for a few SAST steps on random binary frames."""
    spec = NetworkSpec(arch="mlp", input_shape=(6,), hidden=(5, 4), n_classes=3, beta=2.0, tau=0.5, init_gain=2.0)
    net = build_network(spec, seed=0)
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(6, 24, 6, generator=generator) < 0.3).float()
    y = torch.randint(3, (24,), generator=generator)
    sam = SAM(torch.optim.Adam(net.parameters(), lr=0.05), rho=0.05)

    def closure(index: torch.Tensor):
        def run() -> torch.Tensor:
            loss = F.cross_entropy(net(x[:, index]), y[index])
            loss.backward()
            return loss
        return run

    for step in range(20):
        sam.step(closure(torch.arange(12) + 12 * (step % 2)), closure(torch.arange(12) + 12 * (1 - step % 2)))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(path, net)
    return str(path)


@pytest.fixture(scope="module")
def full_run(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("all")
    return run_all.main(["--model", tiny, "--out", str(out), "--budget", "30", "--mode", "surrogate,hard,int8",
                         *FAST]), out


def test_all_checks_pass_and_write_outputs(full_run) -> None:
    code, out = full_run
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["passed"] and set(summary["checks"]) == set(CHECKS)
    assert summary["seconds"] > 0 and set(summary["check_seconds"]) == set(CHECKS)
    markdown = (out / "summary.md").read_text()
    assert markdown.startswith("# Verification") and "Run time" in markdown
    table_lines = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(table_lines) == 2 + len(summary["rows"])
    assert all(_cells(line) == 7 for line in table_lines)  # max|u| is escaped, so it never splits a row
    quantities = [row["quantity"] for row in summary["rows"]]
    for layer in (1, 2, 3):  # P6 at the certified width (claimed) and one bit less (reported)
        certified = [r for r in summary["rows"] if r["quantity"].startswith(f"int8 L{layer} saturation events at "
                                                                               "the P6 width")]
        assert len(certified) == 1 and certified[0]["bound_claimed"] and certified[0]["empirical"] == 0
        assert any(q.startswith(f"int8 L{layer} saturation events at B - 1") for q in quantities)
    assert any(q.startswith("int8 (deployed weights, surrogate) L_x") for q in quantities)
    assert any(q.startswith("int8 P7") for q in quantities) and any(q.startswith("P5 theorem") for q in quantities)
    assert not list(out.glob(".*.tmp"))
    for name in CHECKS:
        assert (out / f"{name}.png").read_bytes().startswith(b"\x89PNG")
        result = json.loads((out / f"{name}.json").read_text())
        assert result["passed"] and result["rows"]
        for row in result["rows"]:
            bounds = [b for b in (row["bound_a_priori"], row["bound_a_posteriori"]) if b is not None]
            if row["bound_claimed"] and bounds:
                assert row["empirical"] <= min(bounds) + 1e-9 * abs(min(bounds)), (name, row)


def test_single_check_cli(tiny, tmp_path, capsys) -> None:
    assert check_lipschitz.main(["--model", tiny, "--out", str(tmp_path), "--mode", "surrogate", *FAST]) == 0
    result = json.loads((tmp_path / "lipschitz.json").read_text())
    assert result["settings"]["modes"] == ["surrogate"] and result["property"] == "P2"
    assert "L_x" in capsys.readouterr().out


def _cells(line: str) -> int:
    """Cells of a markdown table row: the unescaped pipes minus one."""
    return sum(1 for k, c in enumerate(line) if c == "|" and (k == 0 or line[k - 1] != "\\")) - 1


def test_markdown_cells_are_escaped() -> None:
    rows = [Row("L1 max|u| vs uniform U", 1.0, 2.0, 1.5).to_dict() | {"check": "state_bound"}]
    lines = table(rows, markdown=True).splitlines()
    assert "max\\|u\\|" in lines[2] and all(_cells(line) == 7 for line in lines)


def _shrunk(pair: theory.Pair, factor: float) -> theory.Pair:
    return theory.Pair(*(None if v is None else v * factor for v in (pair.prior, pair.posterior)))


def _shrunk_transfer(bound, factor: float):
    return dataclasses.replace(bound, low=bound.low * factor, high=bound.high * factor,
                               pair_low=bound.pair_low * factor, pair_high=bound.pair_high * factor)


PLANTED = {
    "lipschitz": ("lipschitz_bound", lambda f: lambda d: _shrunk(f(d), 1e-6)),
    "contraction": ("contraction_bounds", lambda f: lambda d: [_shrunk(p, 0.5) for p in f(d)]),
    "smoothness": ("gradient_bound", lambda f: lambda d: _shrunk(f(d), 1e-6)),
    "sam": ("ball_smoothness", lambda f: lambda d, r: f(d, r) * 1e-9),
    "state_bound": ("state_bounds", lambda f: lambda d, m: [
        theory.StateBounds(b.name, _shrunk(b.uniform, 1e-3), b.low, b.high * 1e-3) for b in f(d, m)]),
    "transfer": ("transfer_bound", lambda f: lambda *a: _shrunk_transfer(f(*a), 1e-3)),
    "convergence": ("convergence_bound", lambda f: lambda *a: f(*a) * 1e-12),
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_a_wrong_bound_fails_and_its_witness_replays(name, tiny, tmp_path, monkeypatch, capsys) -> None:
    """Plant bounds far below what the attacks reach: the check must exit 1, say so in its JSON, and save a
    witness that `verification.replay` reproduces (the same value, still above the planted bound)."""
    attribute, wrap = PLANTED[name]
    monkeypatch.setattr(theory, attribute, wrap(getattr(theory, attribute)))
    args = ["--model", tiny, "--out", str(tmp_path), *FAST, *SMALL.get(name, [])]
    if name == "state_bound":
        args += ["--mode", "surrogate"]
    assert CHECKS[name].main(args) == 1
    result = json.loads((tmp_path / f"{name}.json").read_text())
    assert not result["passed"]
    violated = [row for row in result["rows"] if not row["holds"]]
    assert violated and all("witness_file" in row for row in violated)
    capsys.readouterr()
    for row in {id(r): r for r in (violated[0], violated[-1])}.values():  # the last one: another mode, if any
        assert row["replay_command"] == f"python -m verification.replay {row['witness_file']}"
        assert replay.main([row["witness_file"]]) == 1
        replayed = json.loads(capsys.readouterr().out)
        assert not replayed["holds"] and replayed["recorded_value"] == row["empirical"]
        assert np.isclose(replayed["value"], row["empirical"], rtol=1e-9, atol=1e-12)
        assert np.isclose(replayed["bound"], row["bound_a_posteriori"] if row["bound_a_priori"] is None
                          else min(row["bound_a_priori"], row["bound_a_posteriori"]), rtol=1e-9)


def test_the_budget_cuts_work_and_lists_it(tiny, tmp_path) -> None:
    args = ["--model", tiny, "--out", str(tmp_path), *FAST, "--mode", "surrogate,hard,int8", "--budget", "1e-6"]
    assert check_state_bound.main(args) == 0
    result = json.loads((tmp_path / "state_bound.json").read_text())
    assert result["skipped_by_budget"] and any("--budget" in note for note in result["notes"])


def test_convergence_runs_the_claim_first_and_lists_what_the_budget_cut(tiny, tmp_path) -> None:
    """A budget far below one run's cost: the first theorem-regime run (the claim) still runs; every other run is
    listed as skipped, none silently dropped, and the picture says why its panels are empty."""
    args = ["--model", tiny, "--out", str(tmp_path), *FAST, "--horizons", "3,5,8", "--budget", "1e-6"]
    assert check_convergence.main(args) == 0
    result = json.loads((tmp_path / "convergence.json").read_text())
    theorem = [row for row in result["rows"] if row["quantity"].startswith("P5 theorem regime")]
    assert len(theorem) == 1 and theorem[0]["holds"] and "horizon 3" in theorem[0]["quantity"]
    skipped = result["skipped_by_budget"]
    assert {"theorem regime, horizon 5", "theorem regime, horizon 8"} <= set(skipped)
    assert any(item.startswith("practical schedule") for item in skipped)
    assert sum(item.startswith("fixed-rho plateau") for item in skipped) == 4
    assert (tmp_path / "convergence.png").read_bytes().startswith(b"\x89PNG")


def test_transfer_check_reports_the_certificate(tiny, tmp_path) -> None:
    assert check_transfer.main(["--model", tiny, "--out", str(tmp_path), *FAST, "--modes", "hard,int4"]) == 0
    result = json.loads((tmp_path / "transfer.json").read_text())
    assert set(result["per_sample"]) == {"hard", "int4"}
    for mode, values in result["per_sample"].items():
        assert np.all(np.asarray(values["delta"]) >= np.asarray(values["measured"]))
        worst = next(row for row in result["rows"] if row["quantity"].startswith(f"{mode} P7 ||z_s"))
        assert worst["details"]["max_logit_gap_trajectory_vs_deployed"] < 1e-9
        assert set(worst["details"]["injected_errors"][0]) >= {"spike", "reset", "weight", "rounding"}


def test_summary_markdown_escapes_pipes_in_cells(full_run) -> None:
    _, out = full_run
    rows = [line for line in (out / "summary.md").read_text().splitlines() if line.startswith("|")]
    assert any("max\\|u\\|" in line for line in rows)  # the state-bound rows
    cells = {len(re.split(r"(?<!\\)\|", line)) for line in rows}
    assert len(cells) == 1  # every row has as many cells as the header


def test_another_models_check_is_not_mixed_into_a_verification_folder(full_run, tiny, tmp_path, capsys) -> None:
    """check_lipschitz --model B --out D, where D holds verification.all of model A: refused, D unchanged;
    with --overwrite the old summary (which would contradict the new lipschitz.json) goes with it."""
    _, source = full_run
    out = tmp_path / "all"
    shutil.copytree(source, out)
    other = tmp_path / "other.safetensors"
    spec = NetworkSpec(arch="mlp", input_shape=(6,), hidden=(5, 4), n_classes=3, beta=2.0, tau=0.5, init_gain=2.0)
    save_checkpoint(other, build_network(spec, seed=1))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    args = ["--model", str(other), "--out", str(out), "--mode", "surrogate", *FAST]
    assert check_lipschitz.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "verification.all results for another model" in err
    assert before == {p.name: p.read_bytes() for p in out.iterdir()}
    assert check_lipschitz.main([*args, "--overwrite"]) == 0
    assert not (out / "summary.md").exists() and not (out / "sam.json").exists()
    assert json.loads((out / "lipschitz.json").read_text())["settings"]["model"] == str(other)


def test_the_memory_of_samples_and_traces_is_checked_first(tiny, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    args = ["--model", tiny, "--out", str(out), "--data", "random", "--time-bins", "100000", "--samples", "100000",
            "--no-progress"]
    assert check_state_bound.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "this run needs about" in err and "--max-memory" in err and not out.exists()


@pytest.mark.skipif(not REAL.is_dir(), reason="genuine N-MNIST subset not present")
def test_a_dataset_without_test_split_says_how_to_verify_on_it(tiny, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert run_all.main(["--model", tiny, "--out", str(out), "--data", f"nmnist:{REAL}", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no Test/ folder" in err and "--split train --subset val" in err


@pytest.mark.parametrize("problem", ["missing", "pickle", "flag", "mode", "samples", "data"])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(problem, tiny, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    model = tiny
    extra: list[str] = []
    if problem == "missing":
        model = str(tmp_path / "absent.safetensors")
    elif problem == "pickle":
        model = str(tmp_path / "model.pkl")
        with open(model, "wb") as handle:
            pickle.dump({"weights": [1, 2, 3]}, handle)
    elif problem == "flag":
        extra = ["--no-such-flag"]
    elif problem == "mode":
        extra = ["--mode", "surrogate,int3"]
    elif problem == "samples":
        extra = ["--samples", "0"]
    else:
        extra = ["--data", "nosuchdataset"]
    args = ["--model", model, "--out", str(out), "--no-progress", *extra]
    assert check_lipschitz.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("problem", ["missing", "not_a_witness"])
def test_replay_bad_input_exits_2(problem, tiny, tmp_path, capsys) -> None:
    path = tmp_path / "w.safetensors"
    if problem == "not_a_witness":
        path = tiny  # a checkpoint, not a witness
    assert replay.main([str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1


def test_convergence_from_a_training_configuration(tmp_path) -> None:
    """--config FILE: the network of a training configuration at initialisation, and its recipe as the practical
    schedule; a file that is not a configuration is one error line, exit 2."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"data": "synthetic", "hidden": [6], "time_bins": 3, "downsample": 2, "beta": 2.0,
                                  "seed": 1, "method": "sast", "rho": 0.05, "lr": 0.01, "optimizer": "sgd"}))
    out = tmp_path / "out"
    args = ["--config", str(config), "--out", str(out), *FAST, "--samples", "4", "--horizons", "3,4,6"]
    assert check_convergence.main(args) == 0
    result = json.loads((out / "convergence.json").read_text())
    assert result["settings"]["config"] == str(config) and result["settings"]["model"] is None
    assert any(row["quantity"].startswith("rate: practical: sgd lr 0.01") for row in result["rows"])
    config.write_text("[1, 2]")
    assert check_convergence.main(["--config", str(config), "--out", str(tmp_path / "bad"), *FAST]) == 2
    assert not (tmp_path / "bad").exists()
