"""The numeric path: every constant composed in plain float arithmetic (no sympy), layer by layer.

Per layer l (spiking or readout; the readout has kappa1 = 1, kappa2 = 0, r0 = 0, so rho = taubar), with the
incoming flow (S, D, E, Lip, gain factor) of the layer before:
    I_max = c S + bbar,  U = (I_max + taubar r0) / (1 - taubar)                          (P1)
    rho = taubar kappa1                                                                   (A4)
    Lip_u = g Lip_in / (1 - rho),  g = ||W P diag(slopes)|| (a posteriori) or omega M1 ||P|| (a priori)  (P2)
    D_u = (a + omega D_in) / (1 - rho),  E_u = (taubar kappa2 D_u^2 + 2 q D_in + omega E_in) / (1 - rho)  (P3)
    spiking: D_out = ||P|| M1 D_u,  E_out = ||P|| (M2 D_u^2 + M1 E_u);  readout: D_z = D_u, E_z = E_u.
Network: L_x = Lip_z, G = sqrt2 D_z, L_theta = D_z^2 / 2 + sqrt2 E_z. A layer with rho >= 1 makes every
constant downstream infinite, never NaN (A4 fails: no bound is claimed; `unbounded` keeps a zero factor such as
the readout's kappa2 = 0 from turning inf into 0 * inf).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .providers.base import LayerInputs


@dataclass(frozen=True)
class NumericFlow:
    scale: float  # S: entries of the signal in [0, S]
    D: float  # sup_t ||first directional derivative|| of the signal (P3)
    E: float  # sup_t ||second directional derivative|| (P3)
    lip: float  # Lipschitz constant w.r.t. ||x||_{2,inf} of the previous membrane (1 for the raw input)
    out_gain: float  # a priori factor M1 ||P|| between the previous membrane and this signal (1 for x)


def input_flow(input_bound: float) -> NumericFlow:
    return NumericFlow(input_bound, 0.0, 0.0, 1.0, 1.0)


def unbounded(*values: float) -> bool:
    """True when a bound upstream is infinite: everything computed from it is infinite too."""
    return any(math.isinf(value) for value in values)


def layer_terms(li: LayerInputs, flow: NumericFlow) -> tuple[NumericFlow, dict[str, float]]:
    """This layer's constants and the flow handed to the next layer."""
    current = li.c * flow.scale + li.bbar
    state = (current + li.taubar * li.r0) / (1.0 - li.taubar)
    rho = li.taubar * li.kappa1
    gain = li.gain if li.gain is not None else li.omega * flow.out_gain
    margin = 1.0 - rho
    if margin <= 0 or unbounded(flow.lip, flow.D, flow.E):
        lip = d_u = e_u = math.inf
    else:
        lip = gain * flow.lip / margin
        d_u = (li.a + li.omega * flow.D) / margin
        e_u = (li.taubar * li.kappa2 * d_u**2 + 2 * li.q * flow.D + li.omega * flow.E) / margin
    if li.spiking:
        d_out = math.inf if unbounded(d_u) else li.pool_gain * li.slope * d_u
        e_out = math.inf if unbounded(d_u, e_u) else li.pool_gain * (li.curvature * d_u**2 + li.slope * e_u)
        out = NumericFlow(1.0, d_out, e_out, lip, li.slope * li.pool_gain)
    else:
        out = NumericFlow(0.0, d_u, e_u, lip, 1.0)
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


def network_terms(final: NumericFlow) -> dict[str, float]:
    """P2 L_x, P3 G and L_theta from the readout's flow (cross-entropy: ||grad|| <= sqrt2, ||hess|| <= 1/2)."""
    if unbounded(final.D, final.E):
        return {"L_x": final.lip, "G": math.inf, "L_theta": math.inf}
    return {"L_x": final.lip, "G": math.sqrt(2.0) * final.D, "L_theta": 0.5 * final.D**2 + math.sqrt(2.0) * final.E}
