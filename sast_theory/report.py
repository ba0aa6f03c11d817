"""The theory report of one description: every constant of THEORY.md, a priori and a posteriori, as a JSON-ready
dict (value, symbolic form as str and LaTeX), the assumptions and whether each holds, the feasibility region
of A4, P6 when the caller supplies the deployed network's register bounds, and the local constants of
parameter balls when the caller adds them (`report["local"]`, rows of `sast_theory.local.statements.local_section`);
plus a text table and LaTeX.

The command `python -m sast_theory.report` lives in the commands layer (`sast_models.cli.report`, which loads
checkpoints and deploys them); this module's `__main__` block only hands the command line over to it
(docs/architecture.md).
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
import sympy as sp

from sast_core.errors import InputError

from . import calculus, theorems
from .combinator import Constants, compose
from .description import NetworkDescription
from .feasibility import feasible_region

SCHEMA = "sast.theory/1"
AGREEMENT = 1e-9
LAYER_KEYS = ("current_bound", "state_bound", "rho", "gain", "lipschitz", "D_u", "E_u")
NETWORK_KEYS = ("L_x", "G", "L_theta")
FEASIBILITY_BETAS = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 16.0, 20.0)
PARAMETER_NOTE = (
    "G and L_theta refer to the explicit parameters (W, b) of every layer, with tau, theta, beta fixed; for a "
    "contractive parameterization W = P(V) the raw-parameter constants pick up ||DP|| and ||D^2 P||. A "
    "posteriori G and L_theta bound the gradient and the Hessian AT the checkpoint (local); only the a priori "
    "L_theta is a smoothness constant over the whole parameter set of A3, the form P4 and P5 need."
)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _entry(constants: Constants | None, value: float | None, expr: sp.Expr | None) -> dict[str, Any] | None:
    if constants is None or value is None:
        return None
    return {"value": _finite(value), "symbolic": str(expr), "latex": sp.latex(expr)}


def _side(constants: Constants | None, layer: int | None, key: str) -> dict[str, Any] | None:
    if constants is None:
        return None
    if layer is None:
        return _entry(constants, constants.network_numeric[key], constants.network_symbolic[key])
    return _entry(constants, constants.layer_numeric[layer][key], constants.layer_symbolic[layer][key])


def _assumptions(
    description: NetworkDescription, prior: Constants | None, post: Constants | None
) -> dict[str, Any]:
    surrogate, beta = description.surrogate, description.beta
    m1, m2 = calculus.derivative_bounds(surrogate, beta)
    m1_expr, m2_expr = calculus.derivative_bounds_expr(surrogate)
    layers = []
    for index, record in enumerate(description.layers):
        row: dict[str, Any] = {"name": record.name, "type": record.kind}
        if post is not None:
            li = post.layers[index]
            row["norms"] = {"inf": li.c, "spectral": li.omega, "bias": li.bbar, "tau_max": li.taubar}
            caps = record.caps
            if caps is not None:
                row["A3_holds"] = bool(
                    li.c <= caps.inf * (1 + 1e-9)
                    and li.omega <= caps.spectral * (1 + 1e-9)
                    and li.bbar <= caps.bias * (1 + 1e-9)
                    and li.taubar <= record.taubar * (1 + 1e-12)
                )
        for label, constants in (("a_priori", prior), ("a_posteriori", post)):
            if constants is not None:
                rho = constants.layer_numeric[index]["rho"]
                row[f"A4_{label}"] = {
                    "rho": rho,
                    "kappa1": constants.layers[index].kappa1,
                    "kappa2": constants.layers[index].kappa2,
                    "holds": bool(rho < 1),
                }
        layers.append(row)
    return {
        "A1": {"input_bound": description.input_bound, "holds": True},
        "A2": {
            "surrogate": surrogate,
            "beta": beta,
            "M1": m1,
            "M2": m2,
            "M1_symbolic": str(m1_expr),
            "M2_symbolic": str(m2_expr),
            "M1_latex": sp.latex(m1_expr),
            "M2_latex": sp.latex(m2_expr),
            "holds": True,
        },
        "layers": layers,
    }


def _intervals(post: Constants) -> list[dict[str, Any]]:
    rows = []
    for li in post.layers:
        lo, hi = li.detail["interval_low"], li.detail["interval_high"]
        row = {
            "name": li.name,
            "low_min": float(lo.min()),
            "high_max": float(hi.max()),
            "bound": float(max(np.abs(lo).max(), np.abs(hi).max())),
            "certified_fraction": float(np.mean(li.detail["interval_certified"])),
        }
        for mode in ("hard", "surrogate"):
            if f"{mode}_low" in li.detail:
                row[mode] = {"low_min": float(li.detail[f"{mode}_low"].min()),
                             "high_max": float(li.detail[f"{mode}_high"].max())}
        rows.append(row)
    return rows


def build_report(
    description: NetworkDescription,
    sam_rho: float = 0.05,
    p6: dict[str, Any] | None = None,
    checkpoint: str | None = None,
    betas: tuple[float, ...] | None = None,
) -> dict[str, Any]:
    """The whole report as a JSON-ready dict (plus the feasibility region data).

    `p6`: the P6 statement of the deployed network (formats and, per layer, U_q and the safe register width),
    computed by the caller from `sast_models.hardware.deploy`; included when the description has weights.
    """
    betas = FEASIBILITY_BETAS if betas is None else betas
    prior = compose(description, posterior=False) if description.has_caps else None
    post = compose(description, posterior=True) if description.has_weights else None
    if prior is None and post is None:
        raise InputError("the description has neither caps (a priori) nor weights (a posteriori)")
    constants: dict[str, Any] = {
        key: {"a_priori": _side(prior, None, key), "a_posteriori": _side(post, None, key)} for key in NETWORK_KEYS
    }
    layers = []
    for index, record in enumerate(description.layers):
        layers.append(
            {
                "name": record.name,
                "type": record.kind,
                **{
                    key: {"a_priori": _side(prior, index, key), "a_posteriori": _side(post, index, key)}
                    for key in LAYER_KEYS
                },
            }
        )
    statements: dict[str, Any] = {"parameters": PARAMETER_NOTE}
    smooth = {
        label: c.network_numeric["L_theta"]
        for label, c in (("a_priori", prior), ("a_posteriori", post))
        if c is not None
    }
    statements["P4"] = {
        "rho": sam_rho,
        "symbolic": str(theorems.sam_gap_expr()),
        "latex": sp.latex(theorems.sam_gap_expr()),
        **{label: _finite(theorems.sam_gap_bound(value, sam_rho)) for label, value in smooth.items()},
    }
    statements["P5"] = {
        "symbolic": str(theorems.sast_convergence_expr()),
        "latex": sp.latex(theorems.sast_convergence_expr()),
        "scope": theorems.P5_SCOPE,
        "eta_max": {label: _finite(1 / (4 * value)) for label, value in smooth.items()},
    }
    if post is not None and p6 is not None:
        statements["P6"] = p6
    spiking = [i for i, record in enumerate(description.layers) if record.spiking]
    feasibility: dict[str, Any] = {}
    if spiking and prior is not None:
        first = description.layers[spiking[0]]
        current = prior.layer_numeric[spiking[0]]["current_bound"]
        feasibility = {
            "current_bound": current,
            "largest_taubar": [
                {
                    "name": description.layers[i].name,
                    "largest_taubar": calculus.largest_feasible_taubar(
                        description.surrogate,
                        description.beta,
                        description.layers[i].theta,
                        description.layers[i].reset,
                        prior.layer_numeric[i]["current_bound"],
                    ),
                }
                for i in spiking
            ],
            "region": feasible_region(description.surrogate, first.theta, [first.reset], current, betas),
        }
    agreement = max(c.disagreement() for c in (prior, post) if c is not None)
    plain = description.to_dict(arrays=False)
    report = {
        "schema": SCHEMA,
        "source": {key: plain[key] for key in ("arch", "parameterization", "surrogate", "input")},
        "assumptions": _assumptions(description, prior, post),
        "constants": constants,
        "layers": layers,
        "statements": statements,
        "feasibility": feasibility,
        "agreement": {"max_relative_gap": agreement, "tolerance": AGREEMENT, "holds": bool(agreement < AGREEMENT)},
    }
    if post is not None:
        report["p1_intervals"] = _intervals(post)
    if checkpoint is not None:
        report["source"]["checkpoint"] = str(checkpoint)
    report["all_hold"] = _all_hold(report)
    return report


def _all_hold(report: dict[str, Any]) -> bool:
    checks = [report["agreement"]["holds"]]
    for row in report["assumptions"]["layers"]:
        checks += [row[key]["holds"] for key in ("A4_a_priori", "A4_a_posteriori") if key in row]
        checks += [row["A3_holds"]] if "A3_holds" in row else []
    return all(checks)


def _format(value: Any) -> str:
    if value is None:
        return "-"
    number = value["value"] if isinstance(value, dict) else value
    return "inf (A4 fails)" if number is None else f"{number:.6g}"


def table(report: dict[str, Any]) -> str:
    lines = [f"{'constant':<34}{'a priori':>18}{'a posteriori':>18}"]
    for key, sides in report["constants"].items():
        lines.append(f"{key:<34}{_format(sides['a_priori']):>18}{_format(sides['a_posteriori']):>18}")
    for layer in report["layers"]:
        for key in ("state_bound", "rho", "lipschitz"):
            label = f"{layer['name']} {key}"
            lines.append(f"{label:<34}{_format(layer[key]['a_priori']):>18}{_format(layer[key]['a_posteriori']):>18}")
    for row in report.get("p1_intervals", []):
        lines.append(f"{row['name'] + ' P1 interval':<34}{'':>18}{row['low_min']:>9.4g},{row['high_max']:<8.4g}")
    for row in report.get("local", []):
        label = f"local R={row['radius']:g} ({row['samples']} samples)"
        lines.append(f"{label + ' L_theta mean, max':<34}{row['L_theta_mean']:>18.6g}{row['L_theta_max']:>18.6g}")
        lines.append(f"{label + ' G mean, max':<34}{row['G_mean']:>18.6g}{row['G_max']:>18.6g}")
        lines.append(f"{label + ' P4 L rho^2':<34}{'':>18}{row['P4']['L_rho2']:>18.6g}")
    for row in report["statements"].get("P6", {}).get("layers", []):
        lines.append(f"{row['name'] + ' P6 register bits':<34}{'':>18}{row['bits']:>18d}")
    lines.append(f"paths agree to {report['agreement']['max_relative_gap']:.2e} (tolerance {AGREEMENT:g})")
    lines.append(theorems.P5_SCOPE)
    lines.append("all assumptions and checks hold" if report["all_hold"] else "SOME ASSUMPTION OR CHECK FAILS")
    return "\n".join(lines)


def latex(report: dict[str, Any]) -> str:
    rows = []
    for key, sides in report["constants"].items():
        for label, side in sides.items():
            if side is not None:
                rows.append(
                    f"{key.replace('_', ' ')} ({label.replace('_', ' ')}) &= {side['latex']} "
                    f"\\approx {_format(side)} \\\\"
                )
    body = "\n".join(rows)
    return (
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n\\section*{SAST constants}\n"
        f"\\begin{{align*}}\n{body}\n\\end{{align*}}\n{theorems.P5_SCOPE}\n\\end{{document}}\n"
    )


if __name__ == "__main__":  # the documented command; its implementation is in the commands layer
    from sast_models.cli.report import main

    sys.exit(main())
