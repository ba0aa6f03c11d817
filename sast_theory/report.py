"""python -m sast_theory.report: every constant of THEORY.md for a checkpoint or a configuration.

    python -m sast_theory.report --model CKPT [--out DIR] [--latex]
    python -m sast_theory.report --arch mlp|conv --beta B --tau T [--theta ... --reset ... --hidden ...]

Writes DIR/theory.json (value, symbolic form as str and LaTeX, a priori and a posteriori, assumptions and
whether each holds), DIR/feasibility.png, optionally DIR/theory.tex, and prints a table. Exit 0: every
assumption holds and the two computation paths agree; 1: some check fails; 2: bad input.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from . import calculus, registers, theorems
from .atomic import atomic_write_json, atomic_write_text
from .combinator import Constants, compose
from .description import DEFAULT_CAPS, a_priori_description, has_caps, has_weights, validate
from .errors import EXIT_CHECK_FAILED, EXIT_OK, CliParser, InputError, cli_entry
from .feasibility import feasible_region, plot_region

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


def _assumptions(description: dict[str, Any], prior: Constants | None, post: Constants | None) -> dict[str, Any]:
    surrogate, beta = description["surrogate"]["name"], float(description["surrogate"]["beta"])
    m1, m2 = calculus.derivative_bounds(surrogate, beta)
    m1_expr, m2_expr = calculus.derivative_bounds_expr(surrogate)
    layers = []
    for index, record in enumerate(description["layers"]):
        row: dict[str, Any] = {"name": record["name"], "type": record["type"]}
        if post is not None:
            li = post.layers[index]
            row["norms"] = {"inf": li.c, "spectral": li.omega, "bias": li.bbar, "tau_max": li.taubar}
            caps = record.get("caps")
            if caps:
                row["A3_holds"] = bool(
                    li.c <= caps["inf"] * (1 + 1e-9)
                    and li.omega <= caps["spectral"] * (1 + 1e-9)
                    and li.bbar <= caps["bias"] * (1 + 1e-9)
                    and li.taubar <= record["taubar"] * (1 + 1e-12)
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
        "A1": {"input_bound": float(description["input"]["bound"]), "holds": True},
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
        rows.append(
            {
                "name": li.name,
                "low_min": float(lo.min()),
                "high_max": float(hi.max()),
                "bound": float(max(np.abs(lo).max(), np.abs(hi).max())),
                "certified_fraction": float(np.mean(li.detail["interval_certified"])),
            }
        )
    return rows


def build_report(
    description: dict[str, Any],
    sam_rho: float = 0.05,
    weight_bits: int = 8,
    frac_bits: int = 8,
    leak_shift: int | None = None,
    per_channel: bool = False,
    betas: tuple[float, ...] = FEASIBILITY_BETAS,
) -> dict[str, Any]:
    """The whole report as a JSON-ready dict (plus the feasibility region data)."""
    validate(description)
    prior = compose(description, posterior=False) if has_caps(description) else None
    post = compose(description, posterior=True) if has_weights(description) else None
    if prior is None and post is None:
        raise InputError("the description has neither caps (a priori) nor weights (a posteriori)")
    constants: dict[str, Any] = {
        key: {"a_priori": _side(prior, None, key), "a_posteriori": _side(post, None, key)} for key in NETWORK_KEYS
    }
    layers = []
    for index, record in enumerate(description["layers"]):
        layers.append(
            {
                "name": record["name"],
                "type": record["type"],
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
    if post is not None:
        statements["P6"] = {
            "weight_bits": weight_bits,
            "frac_bits": frac_bits,
            "leak_shift": leak_shift,
            "per_channel": per_channel,
            "layers": registers.register_widths(description, weight_bits, frac_bits, leak_shift, per_channel),
        }
    reference = prior or post
    spiking = [i for i, r in enumerate(description["layers"]) if r["type"] != "readout"]
    feasibility: dict[str, Any] = {}
    if spiking and prior is not None:
        first = description["layers"][spiking[0]]
        current = prior.layer_numeric[spiking[0]]["current_bound"]
        feasibility = {
            "current_bound": current,
            "largest_taubar": [
                {
                    "name": description["layers"][i]["name"],
                    "largest_taubar": calculus.largest_feasible_taubar(
                        reference.context.surrogate,
                        reference.context.beta,
                        float(description["layers"][i]["theta"]),
                        description["layers"][i]["reset"],
                        prior.layer_numeric[i]["current_bound"],
                    ),
                }
                for i in spiking
            ],
            "region": feasible_region(
                reference.context.surrogate, float(first["theta"]), [first["reset"]], current, betas
            ),
        }
    agreement = max(c.disagreement() for c in (prior, post) if c is not None)
    report = {
        "schema": SCHEMA,
        "source": {k: description.get(k) for k in ("arch", "parameterization", "surrogate", "input")},
        "assumptions": _assumptions(description, prior, post),
        "constants": constants,
        "layers": layers,
        "statements": statements,
        "feasibility": feasibility,
        "agreement": {"max_relative_gap": agreement, "tolerance": AGREEMENT, "holds": bool(agreement < AGREEMENT)},
    }
    if post is not None:
        report["p1_intervals"] = _intervals(post)
    if "checkpoint" in description:
        report["source"]["checkpoint"] = str(description["checkpoint"].get("path"))
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


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def parser() -> CliParser:
    p = CliParser(prog="python -m sast_theory.report", description=__doc__.split("\n\n")[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="checkpoint (a priori and a posteriori constants)")
    source.add_argument("--arch", choices=("mlp", "conv"), help="a priori constants for a configuration")
    p.add_argument("--out", default="theory_report", help="output folder (default: theory_report)")
    p.add_argument("--latex", action="store_true", help="also write theory.tex")
    p.add_argument("--seed", type=int, default=0, help="unused (the report is deterministic); kept for uniformity")
    p.add_argument("--beta", type=float, help="surrogate sharpness (with --arch)")
    p.add_argument("--tau", type=float, help="leak cap taubar of the spiking layers (with --arch)")
    p.add_argument("--readout-tau", type=float, default=None)
    p.add_argument("--theta", type=float, default=1.0)
    p.add_argument("--reset", choices=("zero", "subtract", "none"), default="zero")
    p.add_argument("--surrogate", choices=("sigmoid", "arctan"), default="sigmoid")
    p.add_argument("--hidden", type=_ints, default=(512,), help="dense widths, e.g. 512,256")
    p.add_argument("--channels", type=_ints, default=(), help="conv channels, e.g. 16,32 (--arch conv)")
    p.add_argument("--input-shape", type=_ints, default=(2, 34, 34))
    p.add_argument("--n-classes", type=int, default=10)
    p.add_argument("--input-bound", type=float, default=1.0, help="X of A1")
    # the caps' defaults are NetworkSpec's (sast_models.spec; tests/test_theory_report.py checks they agree)
    p.add_argument("--inf-cap", type=float, default=DEFAULT_CAPS["inf"], help="A3 cap c on ||W||_inf")
    p.add_argument("--spectral-cap", type=float, default=DEFAULT_CAPS["spectral"], help="A3 cap omega on ||W||_2")
    p.add_argument("--bias-cap", type=float, default=DEFAULT_CAPS["bias"], help="A3 cap bbar on ||b||_inf")
    p.add_argument("--kernel", type=int, default=3)
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--padding", type=int, default=1)
    p.add_argument("--pool", type=int, default=2)
    p.add_argument("--sam-rho", type=float, default=0.05, help="SAM radius for P4 (default 0.05)")
    p.add_argument("--weight-bits", type=int, default=8, help="P6 weight bits")
    p.add_argument("--frac-bits", type=int, default=8, help="P6 membrane fractional bits")
    p.add_argument("--leak-shift", type=int, default=None, help="P6 shift leak tau_q = 1 - 2^-k")
    p.add_argument("--per-channel", action="store_true", help="P6 per-output-channel weight quantization")
    return p


def _description(args: argparse.Namespace) -> dict[str, Any]:
    if args.model:
        from sast_models.checkpoint import load_description  # lazy: the only torch-side import of the package

        return load_description(args.model)
    if args.beta is None or args.tau is None:
        raise InputError("--arch needs --beta and --tau")
    for flag, value in (
        ("--beta", args.beta),
        ("--input-bound", args.input_bound),
        ("--inf-cap", args.inf_cap),
        ("--spectral-cap", args.spectral_cap),
    ):
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"{flag} {value}: expected a finite number > 0")
    if not 0 <= args.tau < 1 or (args.readout_tau is not None and not 0 <= args.readout_tau < 1):
        raise InputError(f"--tau {args.tau} / --readout-tau {args.readout_tau}: expected values in [0, 1)")
    if args.arch == "conv" and (not args.channels or len(args.input_shape) != 3):
        raise InputError("--arch conv needs --channels and a 3-entry --input-shape C,H,W")
    if min(args.hidden + args.channels + args.input_shape, default=1) < 1 or args.n_classes < 2:
        raise InputError("--hidden, --channels, --input-shape need entries >= 1 and --n-classes >= 2")
    return a_priori_description(
        args.arch,
        args.beta,
        args.tau,
        theta=args.theta,
        reset=args.reset,
        surrogate=args.surrogate,
        hidden=args.hidden,
        channels=args.channels if args.arch == "conv" else (),
        input_shape=args.input_shape,
        n_classes=args.n_classes,
        input_bound=args.input_bound,
        inf_cap=args.inf_cap,
        spectral_cap=args.spectral_cap,
        bias_cap=args.bias_cap,
        readout_tau=args.readout_tau,
        kernel=args.kernel,
        stride=args.stride,
        padding=args.padding,
        pool=args.pool,
    )


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.sam_rho <= 0 or args.frac_bits < 0:
        raise InputError("--sam-rho must be > 0 and --frac-bits >= 0")
    description = _description(args)
    report = build_report(
        description, args.sam_rho, args.weight_bits, args.frac_bits, args.leak_shift, args.per_channel
    )
    out = Path(args.out)
    if report["feasibility"]:
        plot_region(
            report["feasibility"]["region"],
            out / "feasibility.png",
            f"A4 feasible region ({report['assumptions']['A2']['surrogate']}, "
            f"I_max = {report['feasibility']['current_bound']:.3g})",
        )
    if args.latex:
        atomic_write_text(out / "theory.tex", latex(report))
    atomic_write_json(out / "theory.json", report)
    print(table(report))
    return EXIT_OK if report["all_hold"] else EXIT_CHECK_FAILED


if __name__ == "__main__":
    sys.exit(main())
