"""The demo under random flag values: its training runs start only when every flag, every run it will start and
--out passed; otherwise exit 2 with one line and nothing written (tests/cli_fuzz.py)."""

from __future__ import annotations

import pytest
from cli_fuzz import FUZZ, INTEGERS, LISTS, NUMBERS, SIZES, accept, check_contract, flag_strategy, names, undocumented
from hypothesis import given
from hypothesis import strategies as st

from paper_figures import demo
from sast_models.data.synthetic import generate_synthetic

FLAGS = {"--epochs": INTEGERS, "--lr": NUMBERS, "--batch-size": INTEGERS, "--beta": NUMBERS, "--rho": NUMBERS,
         "--time-bins": INTEGERS, "--seeds": LISTS, "--modes": names("surrogate", "hard", "int8"),
         "--max-memory": SIZES, "--split": st.sampled_from(["test", "train", ""]),
         "--subset": st.sampled_from(["all", "val", "x"])}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    return f"nmnist:{generate_synthetic(tmp_path_factory.mktemp('demo-fuzz') / 'set', n_train=20, n_test=10)}"


@FUZZ
@given(drawn=flag_strategy(FLAGS))
def test_demo(data, tmp_path_factory, drawn, monkeypatch):
    monkeypatch.setenv("SAST_CACHE", str(tmp_path_factory.getbasetemp() / "demo-fuzz-cache"))

    def base(out):
        return ["--out", str(out), "--data", data, "--epochs", "1", "--seeds", "0", "--time-bins", "3",
                "--max-memory", "64M"]

    check_contract(demo.main, base, drawn, tmp_path_factory.getbasetemp(),
                   work=accept("paper_figures.demo._call"))


def test_help_documents_every_flag_with_its_default():
    assert undocumented(demo.build_parser()) == []
