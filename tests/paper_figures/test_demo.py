"""The main job (`python -m paper_figures.demo`) end to end on a tiny generated set, and its bad input."""

import json

import pytest
from data_paths import REAL_NMNIST

from paper_figures import demo
from sast_models.data.synthetic import generate_synthetic


@pytest.fixture(scope="module")
def tiny_synthetic(tmp_path_factory):
    return generate_synthetic(tmp_path_factory.mktemp("demo") / "set", n_train=30, n_test=20, seed=1)


def test_demo_trains_evaluates_and_reports(tiny_synthetic, tmp_path, monkeypatch):
    monkeypatch.setenv("SAST_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    argv = ["--out", str(out), "--data", f"nmnist:{tiny_synthetic}", "--epochs", "1", "--seeds", "0,1",
            "--time-bins", "4", "--modes", "surrogate,hard,int8"]
    assert demo.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["summary"]) == {"baseline", "sast"}
    for method in ("baseline", "sast"):
        accuracy = results["summary"][method]["accuracy"]
        assert set(accuracy) == {"surrogate", "hard", "int8"}
        assert len(accuracy["hard"]["values"]) == 2 and 0 <= accuracy["hard"]["mean"] <= 100
        run = results["runs"][method]["0"]
        assert run["train"]["method"] == method and run["evaluate"]["n_samples"] == 20
        assert run["theory"]  # the theory report of the checkpoint is part of the result
    assert (out / "accuracy.png").stat().st_size > 0
    assert "| sast |" in (out / "results.md").read_text()
    assert demo.main(argv) == 0  # a rerun reuses the finished runs


def test_bad_seeds_exit_2_with_one_line(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path / "x"), "--seeds", "a,b"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("flags", "needle"), [
    (["--modes", "surrogate,int3"], "--modes"),
    (["--rho", "nan"], "--rho nan: expected a finite number >= 0"),
    (["--time-bins", "10000000"], "this run needs about"),
    (["--subset", "val"], "pass --split train"),
    (["--split", "nosuch"], "nosuch"),
])
def test_bad_input_is_refused_before_the_first_model_is_trained(tiny_synthetic, tmp_path, monkeypatch, capsys,
                                                                 flags, needle):
    from sast_models.cli import train

    monkeypatch.setenv("SAST_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(train, "run", lambda *a, **k: pytest.fail("trained before validating"))
    out = tmp_path / "demo"
    assert demo.main(["--out", str(out), "--data", f"nmnist:{tiny_synthetic}", "--epochs", "1", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and not out.exists()


def test_out_that_is_a_file_is_refused_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert demo.main(["--out", str(blocker), "--epochs", "1"]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err


@pytest.mark.skipif(not REAL_NMNIST.is_dir(), reason="genuine N-MNIST subset not present")
def test_the_genuine_subset_without_test_split_is_refused_with_the_way_to_evaluate_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SAST_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    assert demo.main(["--out", str(out), "--data", f"nmnist:{REAL_NMNIST}", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no Test/ folder" in err and "--split train --subset val" in err
    assert not out.exists()
