"""The composed constants: two independent paths agree, a posteriori <= a priori, golden values, registry,
P6 register widths against an integer simulation, P4/P5 formulas."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from theory_strategies import descriptions, make_description

from sast_core.errors import InputError
from sast_models.from_description import network_from_description
from sast_models.hardware.deploy import deploy
from sast_models.hardware.formats import HardwareConfig, LeakFormat
from sast_models.hardware.quantize import quantize_weights
from sast_theory import calculus, registers, theorems
from sast_theory.combinator import compose
from sast_theory.description import NetworkDescription, a_priori_description
from sast_theory.providers import PROVIDERS, provider_for


@settings(max_examples=15, deadline=None)
@given(description=descriptions())
def test_symbolic_and_numeric_paths_agree(description) -> None:
    for posterior in (False, True):
        constants = compose(description, posterior)
        assert constants.disagreement() < 1e-9


@settings(max_examples=10, deadline=None)
@given(description=descriptions())
def test_a_posteriori_never_exceeds_a_priori(description) -> None:
    """Caps equal to the actual norms: the a posteriori constants (tighter intervals, slopes, gains) are smaller."""
    prior, post = compose(description, False), compose(description, True)
    for key in ("L_x", "G", "L_theta"):
        if math.isfinite(prior.network_numeric[key]):
            assert post.network_numeric[key] <= prior.network_numeric[key] * (1 + 1e-9)
    for p, q in zip(prior.layer_numeric, post.layer_numeric, strict=True):
        assert q["rho"] <= p["rho"] * (1 + 1e-12)
        assert q["state_bound"] <= p["state_bound"] * (1 + 1e-12)


def test_golden_a_priori_mlp() -> None:
    """Fixed configuration; the numbers below were checked against the hand-written formula in this test."""
    caps = dict(inf_cap=8.0, spectral_cap=8.0, bias_cap=1.0)  # pinned: independent of the defaults
    constants = compose(
        a_priori_description("mlp", 5.0, 0.5, hidden=(16,), input_shape=(10,), n_classes=3, **caps), False
    )
    kappa = 1.0009093971915501
    assert constants.layers[0].kappa1 == pytest.approx(kappa, rel=1e-13)
    rho, m1 = 0.5 * kappa, 1.25
    lip = 8 * m1 * (8 / (1 - rho)) / 0.5
    d_u1 = math.sqrt(11) / (1 - rho)
    d_z = (math.sqrt(17) + 8 * m1 * d_u1) / 0.5
    expected = {"L_x": 320.2912719832196, "G": 199.4493075201888, "L_theta": 17191.13892953444}
    assert expected["L_x"] == pytest.approx(lip, rel=1e-12)
    assert expected["G"] == pytest.approx(math.sqrt(2) * d_z, rel=1e-12)
    for key, value in expected.items():
        assert constants.network_numeric[key] == pytest.approx(value, rel=1e-10)
    assert constants.layer_numeric[0]["state_bound"] == 18.0


def test_golden_a_posteriori() -> None:
    mlp = compose(
        make_description(np.random.default_rng(2024), "mlp", "subtract", "sigmoid", 4.0, 1.0, 0.6, (6, 5, 4)), True
    )
    conv = compose(make_description(np.random.default_rng(2024), "conv", "zero", "arctan", 3.0, 1.0, 0.6, (2, 5)), True)
    golden = {
        "mlp": (mlp, {"L_x": 12.132732382569115, "G": 45.47538667346197, "L_theta": 1501.039391235234}),
        "conv": (conv, {"L_x": 163.16826339841444, "G": 2148.3146462545647, "L_theta": 9173641.401173444}),
    }
    for constants, values in golden.values():
        for key, value in values.items():
            assert constants.network_numeric[key] == pytest.approx(value, rel=1e-8), key


def test_symbolic_forms_are_latex_printable() -> None:
    constants = compose(
        a_priori_description("conv", 5.0, 0.5, channels=(4,), hidden=(8,), input_shape=(2, 8, 8)), False
    )
    expr = constants.network_symbolic["L_x"]
    assert {"omega_1", "kappa_1", "taubar_1", "k_1", "beta"} <= {str(s) for s in expr.free_symbols}
    assert "\\omega_{1}" in sp.latex(expr)


def test_registry_and_unknown_layer_type() -> None:
    assert set(PROVIDERS) == {"dense_lif", "conv_lif", "readout"}
    with pytest.raises(InputError):
        provider_for("transformer")
    description = a_priori_description("mlp", 5.0, 0.5, hidden=(4,), input_shape=(3,)).to_dict()
    description["layers"][0]["type"] = "lstm"
    with pytest.raises(InputError):
        compose(NetworkDescription.from_dict(description), False)


@pytest.mark.parametrize("hidden", [(4,), (4, 3)])
@pytest.mark.parametrize("posterior", [False, True])
def test_infeasible_layer_gives_infinite_downstream_constants(hidden, posterior) -> None:
    """A4 failing upstream makes every downstream constant inf, never NaN (regression: issue 10, defect 4: the
    readout's taubar kappa2 D_u^2 with kappa2 = 0 and D_u = inf was 0 * inf)."""
    description = a_priori_description("mlp", 10.0, 0.9, hidden=hidden, input_shape=(3,))
    if posterior:
        rng = np.random.default_rng(0)
        layers = tuple(dataclasses.replace(layer, weight=rng.normal(size=layer.weight_shape) * 3,
                                           bias=rng.normal(size=layer.n_out)) for layer in description.layers)
        description = dataclasses.replace(description, layers=layers)
    constants = compose(description, posterior)
    assert constants.layer_numeric[0]["rho"] >= 1
    for key in ("L_x", "G", "L_theta"):
        assert math.isinf(constants.network_numeric[key]), (key, constants.network_numeric[key])
    for terms in constants.layer_numeric[1:]:
        assert not any(math.isnan(value) for value in terms.values()), terms
    assert constants.disagreement() < 1e-9


def test_register_widths_against_integer_simulation() -> None:
    """Hard spikes, quantized weights, membranes on the LSB grid: |u| / LSB + 1 <= U_q (in LSBs), no saturation."""
    frac, bits = 6, 6
    description = make_description(np.random.default_rng(11), "mlp", "subtract", "sigmoid", 4.0, 1.0, 0.75, (6, 8, 5))
    deployed = deploy(description, HardwareConfig(weight_bits=bits, frac=frac, leak=LeakFormat("shift", 2)))
    layers = []
    for layer, record in zip(deployed.layers, description.layers, strict=True):
        dequantized = {"weight": layer.weight * layer.scale[:, None], "bias": layer.bias * layer.lsb}
        layers.append(dataclasses.replace(record, **dequantized, tau=0.75))
    net = network_from_description(dataclasses.replace(description, layers=tuple(layers)))
    x = (torch.rand(30, 64, 6, generator=torch.Generator().manual_seed(0)) < 0.5).double()
    with torch.no_grad():
        trace = net.trace(x, "hard")
    for layer, bound, record in zip(deployed.layers, deployed.register_bounds(), trace.layers, strict=True):
        assert np.all(layer.tau_q() == 0.75)
        rounding = 1  # the float simulation has no rounding; add its worst case (one LSB) to the observed value
        assert float(record.membranes.abs().max()) / float(layer.lsb.max()) + rounding <= bound
        bits_needed = registers.smallest_safe_bits(bound, frac)
        assert layer.register.bits == bits_needed and 2 ** (bits_needed - 1) > bound >= 2 ** (bits_needed - 2)


@pytest.mark.parametrize(("bound", "frac", "expected"), [(0.5, 8, 9), (1.0, 8, 10), (3.99, 8, 11), (4.0, 0, 4)])
def test_register_bits(bound: float, frac: int, expected: int) -> None:
    """Smallest B with 2^(B-1-f) > U (U in weight quanta; the register counts 2^f LSBs per quantum)."""
    assert registers.smallest_safe_bits(Fraction(bound) * 2**frac, frac) == expected


def test_quantizer_is_symmetric_and_bounded() -> None:
    w = np.random.default_rng(0).normal(size=(5, 7))
    q, step = quantize_weights(w, 4, per_channel=False)
    assert np.all(step == np.abs(w).max() / 7)
    assert np.all(np.abs(q * step[:, None] - w) <= step[0] / 2 + 1e-15)
    assert len(np.unique(q)) <= 15


def test_p4_p5_formulas_and_scope() -> None:
    assert theorems.sam_gap_bound(3.0, 0.1) == pytest.approx(0.03)
    assert theorems.sast_convergence_bound(2.0, 0.1, 100, 1.0, 0.5, 0.01) == pytest.approx(
        4 / 10 + 3 * 4 * 1e-4 + 2 * 2 * 0.1 * 0.5
    )
    with pytest.raises(InputError):
        theorems.sast_convergence_bound(2.0, 0.2, 100, 1.0, 0.5, 0.01)
    assert "NOT covered" in theorems.P5_SCOPE
    assert theorems.sast_convergence_expr().subs(
        {
            theorems.L: 2,
            theorems.ETA: sp.Rational(1, 10),
            theorems.K: 100,
            theorems.GAP: 1,
            theorems.SIGMA2: sp.Rational(1, 2),
            theorems.RHO: sp.Rational(1, 100),
        }
    ) == sp.Rational(4, 10) + sp.Rational(12, 10**4) + sp.Rational(2, 10)


def test_subtract_offset_is_valid_for_both_modes() -> None:
    """|r(u)| <= |u| + r0 with r0 = theta/2 (surrogate, any phi with phi(0) = 1/2) and 0 (hard spikes)."""
    us = np.linspace(-30, 30, 200_001)
    for name in ("sigmoid", "arctan"):
        for beta in (0.3, 2.0, 12.0):
            phi = calculus.surrogate_values(name, beta, 0, us - 1.5)
            assert np.all(np.abs(us - 1.5 * phi) <= np.abs(us) + 0.75 + 1e-12)
    hard = us - 1.5 * (us > 1.5)
    assert np.all(np.abs(hard) <= np.abs(us))


def test_invalid_descriptions_are_input_errors() -> None:
    good = make_description(np.random.default_rng(0), "mlp", "zero", "sigmoid", 2.0, 1.0, 0.5, (3, 4, 2)).to_dict()
    broken = [
        lambda d: d["layers"][0].update(weight=np.ones((2, 2))),
        lambda d: d["layers"][0].update(bias=np.array([np.nan] * 4)),
        lambda d: d["layers"][0].update(taubar=1.0),
        lambda d: d["layers"][0].update(reset="reboot"),
        lambda d: d["surrogate"].update(beta=0.0),
        lambda d: d["layers"].pop(),
        lambda d: d.update(schema="other/1"),
    ]
    for breaker in broken:
        description = {**good, "surrogate": dict(good["surrogate"]), "layers": [dict(rec) for rec in good["layers"]]}
        breaker(description)
        with pytest.raises(InputError):
            compose(NetworkDescription.from_dict(description), True)
