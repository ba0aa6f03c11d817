"""P7: a per-sample bound on ||z_surrogate - z_deployed||_inf from the DEPLOYED trajectory (docs/theory.md sec. 11).

The deployed network (hard spikes; optionally quantized weights, biases, leaks, rounding and saturation) is
observed along its own trajectory: membranes u^[t] (float units) and spikes s^[t] of every layer. Against the
surrogate network of the description (same input x), with d = u - u^ per neuron, for t >= 1 (u[0] = u^[0] = 0):

    d[t] = tau (r_phi(u[t-1]) - r_phi(u^[t-1])) [t >= 2]  +  W P (phi(u_in[t] - theta) - s^_in[t])  -  q[t]
    q[t] = u^[t] - tau r_phi(u^[t-1]) [t >= 2] - W P s^_in[t] - b          (the injected error, exact)

q collects every error the deployment injects at this step (reset error tau (r_H - r_phi), leak error, weight
and bias quantization, register rounding, saturation), computed from the deployed trajectory and the surrogate
network's parameters alone. With e = phi(u^_in - theta) - s^_in (the spike error: sigma(-beta |u^ - theta|) in
magnitude for the sigmoid) and the mean value theorem on the segment between u and u^:

    r_phi(u) - r_phi(u^) = r'(xi) d,   phi(u_in - theta) - phi(u^_in - theta) = phi'(xi') d_in,

where xi lies in the segment, known to lie in [u^ + lo, u^ + hi] (the interval of d from the previous step)
intersected with the neuron's P1 interval (optional). The ranges of r' and phi' over each neuron's segment
enclose the unknown factors, so d[t] lies in

    tau [r'] [d[t-1]]  +  W P ([phi'] [d_in[t]])  +  (W P e[t] - q[t])

computed in interval arithmetic (W P over a box: its exact range), intersected with the Cauchy-Schwarz
bound ||(W P diag(mu))_i|| N_in per output i, where N bounds ||d||_2 by the better of the elementwise
interval and the norm recursion N[t] <= max(tau |r'|) N[t-1] + ||W P diag(mu)||_2 N_in[t] + ||W P e - q||.
The readout is linear (no reset, no spike): z - z^ = sum_s w_s (W P dphi[s] + c[s]) with
w_s = (1/T) sum_{t>=s} tau^(t-s), so the known part c is summed over time before any absolute value.
Pairwise: d_a - d_b through the row w_a W_a - w_b W_b, which certifies class agreement whenever
z_a - z_b > max(d_a - d_b) for all b (tighter than the margin > 2 Delta test).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sast_core.errors import InputError

from . import calculus
from .description import LayerRecord, NetworkDescription
from .layer_maps import LayerMap

FP_SLACK = 2.0**-32  # floating-point allowance per step, relative to the magnitudes of the summed terms
FINAL_SLACK = 2.0**-30  # relative inflation of the final bounds (rounding in the bound's own arithmetic)


@dataclass(frozen=True)
class DeployedLayer:
    """One layer of the deployed trajectory: membranes u^ (float units) and spikes s^ in {0, 1}, (T, B, n)."""

    membranes: np.ndarray
    spikes: np.ndarray


@dataclass(frozen=True)
class TransferBound:
    """Bounds on d = z_surrogate - z_deployed per sample: low <= d <= high (B, C); delta >= ||d||_inf;
    pair_high[b, a, c] >= d_a - d_c (pair_low likewise); known = the part of d computed exactly (first order)."""

    low: np.ndarray
    high: np.ndarray
    pair_low: np.ndarray
    pair_high: np.ndarray
    known: np.ndarray
    hidden_norms: list[np.ndarray]  # per spiking layer: (T, B) bounds on ||d^l[t]||_2

    @property
    def delta(self) -> np.ndarray:
        return np.maximum(np.abs(self.low), np.abs(self.high)).max(axis=1)

    def certified(self, logits: np.ndarray, pairwise: bool = False, side: str = "surrogate") -> np.ndarray:
        """Samples whose class provably agrees: margin(logits) > 2 delta, or the pairwise test.

        side 'surrogate': logits are z (the surrogate's); 'deployed': logits are z^ (what a device computes).
        """
        logits = np.asarray(logits, dtype=float)
        top = logits.argmax(axis=1)
        rows = np.arange(len(top))
        gaps = logits[rows, top][:, None] - logits  # z_a - z_c (or z^_a - z^_c)
        if not pairwise:
            gaps[rows, top] = np.inf
            return gaps.min(axis=1) > 2 * self.delta
        # z^_a - z^_c = z_a - z_c - (d_a - d_c) and z_a - z_c = z^_a - z^_c + (d_a - d_c)
        worst = -self.pair_high[rows, top] if side == "surrogate" else self.pair_low[rows, top]
        slack = gaps + worst
        slack[rows, top] = np.inf
        return slack.min(axis=1) > 0


def _product(a_lo, a_hi, b_lo, b_hi):
    """Interval product [a] [b] (elementwise)."""
    products = np.stack([a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi])
    return products.min(axis=0), products.max(axis=0)


def _segments(centre, lo, hi, interval):
    """The segment between u and u^ = centre when u in [centre + lo, centre + hi] (and in the P1 interval)."""
    top, bottom = centre + hi, centre + lo
    if interval is not None:
        bottom, top = np.maximum(bottom, interval[0]), np.minimum(top, interval[1])
    return np.minimum(centre, bottom), np.maximum(centre, top)


class _Spiking:
    """The surrogate calculus of one spiking layer: phi, the one-variable reset map r_phi and slope ranges."""

    def __init__(self, record: LayerRecord, surrogate: str, beta: float,
                 interval: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.record, self.surrogate, self.beta = record, surrogate, beta
        self.theta, self.reset = record.theta, record.reset
        self.hull = None if interval is None else (float(interval[0].min()), float(interval[1].max()))
        self._kappas: tuple[float, float] | None = None

    def kappa_caps(self) -> tuple[float, float]:
        """Certified sup |r_phi'| over the hull of the layer's P1 intervals and over R (calculus), computed once:
        caps that depend on no sample."""
        if self._kappas is None:
            everywhere = calculus.reset_slope_bounds(self.surrogate, self.beta, self.theta, self.reset,
                                                     -np.inf, np.inf)[0]
            inside = everywhere if self.hull is None else calculus.reset_slope_bounds(
                self.surrogate, self.beta, self.theta, self.reset, *self.hull)[0]
            self._kappas = (inside, everywhere)
        return self._kappas

    def phi(self, u: np.ndarray, order: int = 0) -> np.ndarray:
        return calculus.surrogate_values(self.surrogate, self.beta, order, u - self.theta)

    def reset_map(self, u: np.ndarray) -> np.ndarray:
        """r_phi(u) = r(u, phi(u - theta))."""
        if self.reset == "zero":
            return u * (1 - self.phi(u))
        if self.reset == "subtract":
            return u - self.theta * self.phi(u)
        return u

    def slope_range(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact range of phi'(u - theta) over [a, b]."""
        return calculus.derivative_range_on(self.surrogate, self.beta, 1, a - self.theta, b - self.theta)

    def reset_slope_range(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """An enclosure of r_phi'(u) over [a, b] (per segment: it never depends on the other samples).

        zero: r' = 1 - phi - u phi'. (i) Mean value form: with K >= sup |r''| = sup |2 phi' + u phi''| on [a, b],
        every value lies within K (b - a) / 2 of the mean of the end values (the two lines of slope K through the
        ends meet there). (ii) Interval extension: 1 - [phi(a), phi(b)] - [a, b] [phi'] (phi nondecreasing).
        The intersection of both. subtract: r' = 1 - theta phi', exact from the range of phi'. none: r' = 1.
        """
        if self.reset == "none":
            return np.ones_like(a), np.ones_like(b)
        slope_lo, slope_hi = self.slope_range(a, b)
        if self.reset == "subtract":
            return 1 - self.theta * slope_hi, 1 - self.theta * slope_lo
        ends = [1 - self.phi(u) - u * self.phi(u, 1) for u in (a, b)]
        curvature = calculus.derivative_sup_on(self.surrogate, self.beta, 2, a - self.theta, b - self.theta)
        lipschitz = 2 * slope_hi + np.maximum(np.abs(a), np.abs(b)) * curvature
        mid, half = (ends[0] + ends[1]) / 2, lipschitz * (b - a) / 2
        product_lo, product_hi = _product(a, b, slope_lo, slope_hi)
        inside, everywhere = self.kappa_caps()
        kappa = everywhere if self.hull is None else np.where((a >= self.hull[0]) & (b <= self.hull[1]), inside,
                                                              everywhere)
        low = np.maximum(np.maximum(mid - half, 1 - self.phi(b) - product_hi), -kappa)
        high = np.minimum(np.minimum(mid + half, 1 - self.phi(a) - product_lo), kappa)
        margin = 8 * np.finfo(float).eps * (1 + np.abs(mid) + half + np.abs(product_lo) + np.abs(product_hi))
        return low - margin, high + margin


@dataclass
class _Difference:
    """The interval [lo, hi] of d = u - u^ of one layer at one step, and N >= ||d||_2 per sample."""

    lo: np.ndarray
    hi: np.ndarray
    norm: np.ndarray


def _check(description: NetworkDescription, inputs: np.ndarray, layers: list[DeployedLayer]) -> None:
    if not description.has_weights:
        raise InputError("P7 needs a description with weights (a checkpoint)")
    if len(layers) != len(description.layers):
        raise InputError(f"P7: {len(layers)} deployed layers for a network of {len(description.layers)}")
    steps, batch = inputs.shape[:2]
    for record, layer in zip(description.layers, layers, strict=True):
        expected = (steps, batch, record.n_out)
        if layer.membranes.shape != expected or (record.spiking and layer.spikes.shape != expected):
            raise InputError(f"P7: layer {record.name}: deployed trajectory of shape {layer.membranes.shape}, "
                             f"expected {expected}")


def transfer_bound(description: NetworkDescription, inputs: np.ndarray, layers: list[DeployedLayer],
                   intervals: list[tuple[np.ndarray, np.ndarray] | None] | None = None) -> TransferBound:
    """P7 bounds for every sample of `inputs` (T, B, *input_shape) given the deployed trajectory `layers`.

    `intervals`: per spiking layer the surrogate-mode P1 interval (low, high) of each neuron (n,), or None.
    """
    inputs = np.asarray(inputs, dtype=float)
    _check(description, inputs, layers)
    steps, batch = inputs.shape[:2]
    records = description.layers
    intervals = list(intervals) if intervals is not None else [None] * len(records)
    source = inputs.reshape(steps, batch, -1)
    errors = None  # the input is exact: no spike error
    previous: list[_Difference] | None = None  # d of the layer before, per step (None: the raw input)
    slopes_in = None
    hidden_norms = []
    for index, (record, layer) in enumerate(zip(records, layers, strict=True)):
        linear = LayerMap(record, records[index - 1] if index else None)
        tau = np.broadcast_to(record.leaks, (record.n_out,))
        u_hat = np.asarray(layer.membranes, dtype=float)
        known = _known_parts(record, linear, tau, u_hat, source, errors, description)
        if not record.spiking:
            return _readout(linear, tau, known, previous, slopes_in, hidden_norms)
        interval = _inflated(intervals[index])
        calc = _Spiking(record, description.surrogate, description.beta, interval)
        current: list[_Difference] = []
        for t in range(steps):
            terms_lo, terms_hi, norm = known[t][0] - known[t][1], known[t][0] + known[t][1], known[t][2]
            if t > 0:
                last = current[-1]
                a, b = _segments(u_hat[t - 1], last.lo, last.hi, interval)
                r_lo, r_hi = calc.reset_slope_range(a, b)
                reset_lo, reset_hi = _product(tau * r_lo, tau * r_hi, last.lo, last.hi)
                terms_lo, terms_hi = terms_lo + reset_lo, terms_hi + reset_hi
                contraction = (tau * np.maximum(np.abs(r_lo), np.abs(r_hi))).max(axis=1)
                norm = norm + contraction * last.norm
            if previous is not None:
                w_lo, w_hi, w_norm = _through_weights(linear, previous[t], slopes_in[t])
                terms_lo, terms_hi, norm = terms_lo + w_lo, terms_hi + w_hi, norm + w_norm
            elementwise = np.sqrt((np.maximum(np.abs(terms_lo), np.abs(terms_hi)) ** 2).sum(axis=1))
            current.append(_Difference(terms_lo, terms_hi, np.minimum(norm, elementwise)))
        slopes_in = [calc.slope_range(*_segments(u_hat[t], d.lo, d.hi, interval)) for t, d in enumerate(current)]
        hidden_norms.append(np.stack([d.norm for d in current]))
        previous = current
        source = np.asarray(layer.spikes, dtype=float)
        errors = calc.phi(u_hat) - source
    raise InputError("P7: the description has no readout")  # unreachable: descriptions end with one


def _inflated(interval):
    if interval is None:
        return None
    low, high = (np.asarray(v, dtype=float) for v in interval)
    return low - 1e-9 * (1 + np.abs(low)), high + 1e-9 * (1 + np.abs(high))


def _known_parts(record, linear, tau, u_hat, source, errors, description):
    """Per step (c, slack, ||c|| + ||slack||) with c = W P e - q, q the injected error (module docstring)."""
    steps = u_hat.shape[0]
    calc = _Spiking(record, description.surrogate, description.beta) if record.spiking else None
    bias = _per_neuron(record)
    scale = np.abs(source).max(axis=(0, 2), initial=0.0)  # per sample: the allowance never mixes samples
    if errors is not None:
        scale = scale + np.abs(errors).max(axis=(0, 2), initial=0.0)
    out = []
    for t in range(steps):
        reset = np.zeros_like(u_hat[t])
        if t > 0:
            reset = tau * (calc.reset_map(u_hat[t - 1]) if calc is not None else u_hat[t - 1])
        injected = u_hat[t] - reset - linear(source[t]) - bias
        c = (linear(errors[t]) if errors is not None else 0.0) - injected
        slack = FP_SLACK * (np.abs(u_hat[t]) + np.abs(reset) + linear.abs_rows[None, :] * scale[:, None] + np.abs(bias))
        norm = np.sqrt((c**2).sum(axis=1)) + np.sqrt((slack**2).sum(axis=1))
        out.append((c, slack, norm))
    return out


def _through_weights(linear: LayerMap, d_in: _Difference, slopes):
    """Enclosure of W P (phi(u_in - theta) - phi(u^_in - theta)) and a bound on its 2-norm."""
    mu_lo, mu_hi = slopes
    lo, hi = _product(mu_lo, mu_hi, d_in.lo, d_in.hi)
    w_lo, w_hi = linear.box(lo, hi)
    cauchy = linear.row_norms(mu_hi) * d_in.norm[:, None]
    w_lo, w_hi = np.maximum(w_lo, -cauchy), np.minimum(w_hi, cauchy)
    spectral = linear.gain(mu_hi) * d_in.norm
    elementwise = np.sqrt((np.maximum(np.abs(w_lo), np.abs(w_hi)) ** 2).sum(axis=1))
    return w_lo, w_hi, np.minimum(spectral, elementwise)


def _readout(linear, tau, known, previous, slopes_in, hidden_norms) -> TransferBound:
    """z - z^ = sum_s w_s (W P dphi[s] + c[s]), w_s = (1/T) sum_{t >= s} tau^(t - s) (per class)."""
    steps = len(known)
    weights = np.zeros((steps, tau.size))
    acc = np.zeros(tau.size)
    for s in reversed(range(steps)):
        acc = 1.0 + tau * acc
        weights[s] = acc / steps
    batch, classes = known[0][0].shape
    low, high = np.zeros((batch, classes)), np.zeros((batch, classes))
    pair_low, pair_high = np.zeros((batch, classes, classes)), np.zeros((batch, classes, classes))
    exact = np.zeros((batch, classes))
    for s in range(steps):
        c, slack, _ = known[s]
        exact += weights[s] * c
        low -= weights[s] * slack
        high += weights[s] * slack
        pair_slack = weights[s][:, None] * slack[:, :, None] + weights[s][None, :] * slack[:, None, :]
        pair_low -= pair_slack
        pair_high += pair_slack
        if previous is None:
            continue
        w_lo, w_hi, _ = _through_weights(linear, previous[s], slopes_in[s])
        low += weights[s] * w_lo
        high += weights[s] * w_hi
        p_lo, p_hi = _pair_box(linear, weights[s], previous[s], slopes_in[s])
        pair_low += p_lo
        pair_high += p_hi
    pair_exact = exact[:, :, None] - exact[:, None, :]
    inflate = FINAL_SLACK * (np.abs(exact) + np.abs(low) + np.abs(high)) + 2.0**-60
    pair_inflate = FINAL_SLACK * (np.abs(pair_exact) + np.abs(pair_low) + np.abs(pair_high)) + 2.0**-60
    return TransferBound(exact + low - inflate, exact + high + inflate, pair_exact + pair_low - pair_inflate,
                         pair_exact + pair_high + pair_inflate, exact, hidden_norms)


def _pair_box(linear: LayerMap, weights: np.ndarray, d_in: _Difference, slopes):
    """Range of (w_a W_a - w_c W_c) P dphi over the box of dphi, and its Cauchy-Schwarz bound, (B, C, C)."""
    if linear.conv:  # no readout is a conv; kept explicit for the type
        raise InputError("P7: a conv readout is not supported")
    mu_lo, mu_hi = slopes
    lo, hi = _product(mu_lo, mu_hi, d_in.lo, d_in.hi)
    rows = weights[:, None] * linear.matrix  # (C, n)
    pair = rows[:, None, :] - rows[None, :, :]  # (C, C, n)
    pos, neg = np.maximum(pair, 0.0), np.minimum(pair, 0.0)
    flat_pos, flat_neg = pos.reshape(-1, pos.shape[2]), neg.reshape(-1, neg.shape[2])
    p_lo = lo @ flat_pos.T + hi @ flat_neg.T
    p_hi = hi @ flat_pos.T + lo @ flat_neg.T
    cauchy = np.sqrt(np.maximum(mu_hi**2 @ (pair**2).reshape(-1, pair.shape[2]).T, 0.0)) * d_in.norm[:, None]
    cauchy *= 1 + 4 * np.finfo(float).eps * pair.shape[2]
    shape = (lo.shape[0], *pair.shape[:2])
    return np.maximum(p_lo, -cauchy).reshape(shape), np.minimum(p_hi, cauchy).reshape(shape)


ERROR_KINDS = ("spike", "reset", "leak", "weight", "bias", "rounding")


def injected_errors(description: NetworkDescription, deployed: NetworkDescription, inputs: np.ndarray,
                    layers: list[DeployedLayer]) -> list[dict[str, dict[str, float]]]:
    """The injected error q of every layer split by kind (THEORY.md P7), mean and max |.| over steps, samples
    and neurons: spike phi(u^ - theta) - s^ (what the next layer receives), reset tau (r(u^, s^) - r_phi(u^)),
    leak (tau_q - tau) r(u^, s^), weight (Q(W) - W) P s^_in, bias b^ - b, rounding (the rest of q: register
    rounding and saturation). `deployed` holds the deployed values (Q(W), b^, tau_q) in float units."""
    inputs = np.asarray(inputs, dtype=float)
    _check(description, inputs, layers)
    steps, batch = inputs.shape[:2]
    source = inputs.reshape(steps, batch, -1)
    out = []
    for index, (record, quant, layer) in enumerate(zip(description.layers, deployed.layers, layers, strict=True)):
        before = description.layers[index - 1] if index else None
        exact, rounded = LayerMap(record, before), LayerMap(quant, before)
        tau, tau_q = (np.broadcast_to(r.leaks, (r.n_out,)) for r in (record, quant))
        u_hat, spikes = np.asarray(layer.membranes, dtype=float), np.asarray(layer.spikes, dtype=float)
        calc = _Spiking(record, description.surrogate, description.beta) if record.spiking else None
        parts = {kind: [] for kind in ERROR_KINDS}
        for t in range(steps):
            if t > 0 and calc is not None:
                hard = _hard_reset(record, u_hat[t - 1], spikes[t - 1])
                smooth = calc.reset_map(u_hat[t - 1])
            else:
                hard = smooth = u_hat[t - 1] if t > 0 else np.zeros_like(u_hat[t])
            weight_error = rounded(source[t]) - exact(source[t])
            bias_error = np.broadcast_to(_per_neuron(quant) - _per_neuron(record), u_hat[t].shape)
            injected = u_hat[t] - tau * smooth - exact(source[t]) - _per_neuron(record)
            pieces = {"reset": tau * (hard - smooth), "leak": (tau_q - tau) * hard, "weight": weight_error,
                      "bias": bias_error}
            pieces["rounding"] = injected - sum(pieces.values())
            pieces["spike"] = calc.phi(u_hat[t]) - spikes[t] if calc is not None else np.zeros_like(u_hat[t])
            for kind, value in pieces.items():
                parts[kind].append(np.abs(value))
        out.append({kind: {"mean": float(np.mean(v)), "max": float(np.max(v))} for kind, v in parts.items()})
        source = spikes
    return out


def _hard_reset(record: LayerRecord, u: np.ndarray, s: np.ndarray) -> np.ndarray:
    """r(u, s) with the deployed spike s (THEORY.md sec. 1)."""
    if record.reset == "zero":
        return u * (1 - s)
    if record.reset == "subtract":
        return u - record.theta * s
    return u


def _per_neuron(record: LayerRecord) -> np.ndarray:
    bias = np.asarray(record.bias, dtype=float).reshape(-1)
    return np.repeat(bias, record.n_out // bias.size)
