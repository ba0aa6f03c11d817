"""The main job (`python -m paper_figures.demo`) end to end on a tiny generated set, and its bad input."""

import json

import pytest

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
