"""The verification CLIs on a tiny checkpoint: outputs, verdicts (bound >= empirical), exit codes 0/1/2."""

from __future__ import annotations

import json
import pickle
import re
import shutil

import pytest
from data_paths import REAL_NMNIST

from sast_models.checkpoint import save_checkpoint
from sast_models.networks import build_network
from sast_models.spec import NetworkSpec
from verification import all as run_all
from verification import check_contraction, check_lipschitz, check_sam, check_smoothness, check_state_bound, theory

REAL = REAL_NMNIST
FAST = ["--data", "random", "--samples", "3", "--steps", "3", "--time-bins", "6", "--no-progress"]
CHECKS = {"state_bound": check_state_bound, "lipschitz": check_lipschitz, "contraction": check_contraction,
          "smoothness": check_smoothness, "sam": check_sam}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    spec = NetworkSpec(arch="mlp", input_shape=(6,), hidden=(5, 4), n_classes=3, beta=2.0, tau=0.5, init_gain=2.0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(path, build_network(spec, seed=0))
    return str(path)


@pytest.fixture(scope="module")
def full_run(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("all")
    return run_all.main(["--model", tiny, "--out", str(out), *FAST]), out


def test_all_checks_pass_and_write_outputs(full_run) -> None:
    code, out = full_run
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["passed"] and set(summary["checks"]) == set(CHECKS)
    assert (out / "summary.md").read_text().startswith("# Verification")
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


def _shrunk(pair: theory.Pair, factor: float) -> theory.Pair:
    return theory.Pair(*(None if v is None else v * factor for v in (pair.prior, pair.posterior)))


@pytest.mark.parametrize("name", ["lipschitz", "contraction", "smoothness", "sam", "state_bound"])
def test_a_wrong_bound_fails_the_check(name, tiny, tmp_path, monkeypatch) -> None:
    """Plant bounds far below what the attacks reach: the check must exit 1 and say so in its JSON."""
    planted = {
        "lipschitz": ("lipschitz_bound", lambda f: lambda d: _shrunk(f(d), 1e-6)),
        "contraction": ("contraction_bounds", lambda f: lambda d: [_shrunk(p, 0.5) for p in f(d)]),
        "smoothness": ("gradient_bound", lambda f: lambda d: _shrunk(f(d), 1e-6)),
        "sam": ("ball_smoothness", lambda f: lambda d, r: f(d, r) * 1e-9),
        "state_bound": ("state_bounds", lambda f: lambda d, m: [
            theory.StateBounds(b.name, _shrunk(b.uniform, 1e-3), b.low, b.high * 1e-3) for b in f(d, m)]),
    }
    attribute, wrap = planted[name]
    monkeypatch.setattr(theory, attribute, wrap(getattr(theory, attribute)))
    args = ["--model", tiny, "--out", str(tmp_path), *FAST]
    if name == "state_bound":
        args += ["--mode", "surrogate"]
    assert CHECKS[name].main(args) == 1
    result = json.loads((tmp_path / f"{name}.json").read_text())
    assert not result["passed"] and any(not row["holds"] for row in result["rows"])


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
