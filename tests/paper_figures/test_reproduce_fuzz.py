"""The reproduction under random flag values: its work (framing the data, then the trainings) starts only when
every flag, every configuration it will train and --out passed; otherwise exit 2 with one line and nothing
written (tests/cli_fuzz.py). The same for `paper_figures.measure` and a figure module's command."""

from __future__ import annotations

import pytest
from cli_fuzz import FUZZ, INTEGERS, NUMBERS, accept, check_contract, flag_strategy, names, undocumented
from hypothesis import given
from hypothesis import strategies as st

from paper_figures import measure, reproduce, transfer_gap
from paper_figures.section import figure_parser
from sast_models.data.synthetic import generate_synthetic

SETTINGS = st.one_of(st.builds("{}={}".format, st.sampled_from(["epochs", "lr", "hidden", "rho", "tau",
                                                                 "sast.rho", "baseline.epochs", "no-such-key", ""]),
                               st.one_of(NUMBERS, INTEGERS)),
                     st.sampled_from(["epochs", "=3", "hidden=[8, 4]", "sast.=1", "surrogate=arctan"]))
FLAGS = {"--seeds": INTEGERS, "--jobs": INTEGERS, "--set": SETTINGS,
         "--data": st.sampled_from(["synthetic", "imagenet", "nmnist:", "nmnist:/nonexistent", "", "dvsgesture"]),
         "--config-dir": st.sampled_from(["", "/nonexistent/configs", "."])}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    return f"nmnist:{generate_synthetic(tmp_path_factory.mktemp('reproduce-fuzz') / 'set', n_train=20, n_test=10)}"


@FUZZ
@given(drawn=flag_strategy(FLAGS))
def test_reproduce(data, tmp_path_factory, drawn, monkeypatch):
    monkeypatch.setenv("SAST_CACHE", str(tmp_path_factory.getbasetemp() / "reproduce-fuzz-cache"))

    def base(out):
        return ["--quick", "--out", str(out), "--data", data, "--no-progress", "--set", "epochs=1"]

    check_contract(reproduce.main, base, drawn, tmp_path_factory.getbasetemp(),
                   work=accept("paper_figures.reproduce.sizes"))


@FUZZ
@given(drawn=flag_strategy({"--what": names(*measure.MEASUREMENTS), "--modes": names("surrogate", "hard", "int8"),
                            "--budget": st.sampled_from(["quick", "full", "", "huge"])}))
def test_measure(tmp_path_factory, drawn):
    def base(out):  # no such run folder: every flag is checked before the folder is read
        return [str(out)]

    check_contract(measure.main, base, drawn, tmp_path_factory.getbasetemp(),
                   work=accept("paper_figures.measure.load_runs"))


PARSERS = {"reproduce": reproduce.build_parser(), "measure": measure.build_parser(),
           "figure": figure_parser(transfer_gap.NAME, transfer_gap.__doc__)}


@pytest.mark.parametrize("parser", PARSERS.values(), ids=PARSERS.keys())
def test_help_documents_every_flag_with_its_default(parser):
    assert undocumented(parser) == []
