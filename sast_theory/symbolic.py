"""The symbolic path: the same constants as sympy expressions in named symbols, composed layer by layer.

Symbols of layer l: taubar_l, c_l, omega_l, bbar_l, theta_l, kappa_l (sup|r'|), kappatilde_l (sup|r''|),
the provider's own (n_l; conv: m_l, P_l, h_l, k_l), X (input bound), beta; a posteriori also g_l (P2 gain),
mu_l, nu_l (slope and curvature bounds along trajectories; a priori these are M1(beta), M2(beta) from
`calculus.derivative_bounds_expr`). `evaluate` substitutes values through a cached lambdify.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

from .calculus import derivative_bounds_expr
from .providers import provider_for
from .providers.base import LayerInputs

X = sp.Symbol("X", positive=True)
BETA = sp.Symbol("beta", positive=True)


@dataclass(frozen=True)
class SymbolicFlow:
    scale: sp.Expr
    D: sp.Expr
    E: sp.Expr
    lip: sp.Expr
    out_gain: sp.Expr


def input_flow() -> SymbolicFlow:
    return SymbolicFlow(X, sp.Integer(0), sp.Integer(0), sp.Integer(1), sp.Integer(1))


def layer_symbols(index: int) -> dict[str, sp.Symbol]:
    names = ("taubar", "c", "omega", "bbar", "theta", "kappa", "kappatilde", "g", "mu", "nu")
    return {name: sp.Symbol(f"{name}_{index}", nonnegative=True) for name in names}


def layer_values(li: LayerInputs, surrogate: str, beta: float, input_bound: float) -> dict[str, float]:
    """Values of every symbol of layer li (by symbol name)."""
    k = li.index
    values = {
        f"taubar_{k}": li.taubar,
        f"c_{k}": li.c,
        f"omega_{k}": li.omega,
        f"bbar_{k}": li.bbar,
        f"theta_{k}": li.theta,
        f"kappa_{k}": li.kappa1,
        f"kappatilde_{k}": li.kappa2,
        f"mu_{k}": li.slope,
        f"nu_{k}": li.curvature,
        "X": input_bound,
        "beta": beta,
    }
    if li.gain is not None:
        values[f"g_{k}"] = li.gain
    values.update(provider_for(li.kind).values(li))
    return values


def layer_terms(
    li: LayerInputs, flow: SymbolicFlow, surrogate: str, posterior: bool
) -> tuple[SymbolicFlow, dict[str, sp.Expr]]:
    """Same recursion as numeric.layer_terms, in sympy."""
    sym = layer_symbols(li.index)
    provider = provider_for(li.kind)
    a, q = provider.param_factors(li.index, flow.scale)
    pool = provider.pool_expr(li.index)
    r0 = sym["theta"] / 2 if li.reset == "subtract" else sp.Integer(0)
    kappa1, kappa2 = (sym["kappa"], sym["kappatilde"]) if li.spiking else (sp.Integer(1), sp.Integer(0))
    current = sym["c"] * flow.scale + sym["bbar"]
    state = (current + sym["taubar"] * r0) / (1 - sym["taubar"])
    rho = sym["taubar"] * kappa1
    gain = sym["g"] if posterior else sym["omega"] * flow.out_gain
    lip = gain * flow.lip / (1 - rho)
    d_u = (a + sym["omega"] * flow.D) / (1 - rho)
    e_u = (sym["taubar"] * kappa2 * d_u**2 + 2 * q * flow.D + sym["omega"] * flow.E) / (1 - rho)
    if li.spiking:
        slope, curvature = (sym["mu"], sym["nu"]) if posterior else derivative_bounds_expr(surrogate)
        d_out, e_out = pool * slope * d_u, pool * (curvature * d_u**2 + slope * e_u)
        out = SymbolicFlow(sp.Integer(1), d_out, e_out, lip, slope * pool)
    else:
        out = SymbolicFlow(sp.Integer(0), d_u, e_u, lip, sp.Integer(1))
    terms = {
        "current_bound": current,
        "state_bound": state,
        "rho": rho,
        "gain": gain,
        "lipschitz": lip,
        "D_u": d_u,
        "E_u": e_u,
    }
    return out, terms


def network_terms(final: SymbolicFlow) -> dict[str, sp.Expr]:
    return {"L_x": final.lip, "G": sp.sqrt(2) * final.D, "L_theta": final.D**2 / 2 + sp.sqrt(2) * final.E}


@functools.lru_cache(maxsize=4096)
def _compiled(expr: sp.Expr) -> tuple[tuple[str, ...], object]:
    args = sorted(expr.free_symbols, key=str)
    return tuple(str(s) for s in args), sp.lambdify(args, expr, "math")


def evaluate(expr: sp.Expr, values: dict[str, float]) -> float:
    """expr at the given symbol values (lambdified once per expression)."""
    names, fn = _compiled(expr)
    return float(fn(*(values[n] for n in names)))
