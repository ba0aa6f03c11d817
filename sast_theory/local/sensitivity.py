"""Per-sample gradient and Hessian bounds over the parameter ball (docs/theory.md sec. 12.2-12.5).

Inputs: the boxes of propagate.py. With n_l = ||(dW^l, db^l)|| of a unit direction (sum n_l^2 = 1) and m_o the
norm of row o's part (sum_o m_o^2 = n_l^2):
- own drive: own_i[t] = sum_{t' <= t} G_ii[t, t'] (dW_row s[t'] + db_row) with |G_ii[t, t']| <= Gamma_i[t, t'] =
  prod_{t' < k <= t} alpha_i[k], alpha[k] = tau kappa1[k-1]; since s >= 0, |own_i[t]| <= m_row(i) beta_i[t] with
  beta_i[t]^2 = Gamma_i[t, .]^T K Gamma_i[t, .], K[t, t'] = <smax[t], smax[t']> + 1 (the input's Gram over time,
  per receptive field for a conv);
- upstream part: ||up^l[t]|| <= U^l[t] . n (a nonnegative linear form), through the gains
  ||W P diag(mu beta) E|| (own drive of the layer below) and ||W P diag(mu)|| (its upstream part);
- logits: ||dz|| <= D . n, the readout aggregating over time before the norm (Omega_i[t'] = sum_{t >= t'} c_t
  mu_i[t] Gamma_i[t, t'], gamma_i^2 = Omega_i^T K Omega_i); cross-entropy: eps = 1 - inf p_y from logit-difference
  bounds (the smaller of the interval bound and the mean-value bound z(theta0) + sqrt2 R ||D||),
  ||grad_z|| <= sqrt(eps^2 + sum p_c^2), ||hess_z|| <= h = min(1/2, eps (2 - eps));
- adjoints: Lambda_i^l[t] >= sup |dl/du_i^l[t]| (backward),
  Theta^l = P^T (|W^{l+1}|^T Lambda^{l+1} + R ||Lambda^{l+1}||);
- gradient: ||grad l||^2 = sum over layers and rows; a dense row i: Lambda_i^T K Lambda_i (over time); a conv
  row o: (sum over its positions p of sqrt(Lambda_op^T K_p Lambda_op))^2;
- Hessian: d^T H d <= n^T Q n, Q = h D D^T + curvature (reset r'', surrogate phi'') + cross terms (2 dW ds),
  a nonnegative symmetric L x L matrix; ||H|| <= lambda_max(Q).
Every quantity holds for every parameter in the ball (the boxes do); float rounding of these nonnegative
compositions (< 1e6 operations deep) is covered by the final factor 1 + 1e-9, the eigenvalues by their margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..norms import dense_spectral_norm
from ..rigorous import down, exp_point, up
from .network import LocalLayer, LocalNetwork
from .operators import Operator, pool, pool_transpose, pooled_weight, slack
from .propagate import LayerBox

_EPS = np.finfo(float).eps
_ROUNDING = 1.0 + 1e-9
_EXACT_GRAM = 64  # exact spectral norms through Gram matrices up to this side


@dataclass(frozen=True)
class SampleBounds:
    """Per-sample bounds (N,) over the ball, and the pieces they are made of."""

    gradient: np.ndarray  # G_i >= sup ||grad l_i||
    hessian: np.ndarray  # L_i >= sup ||hess l_i||
    eps: np.ndarray  # 1 - inf p_y over the ball
    logit_jacobian: np.ndarray  # (N, L) the linear form D: ||dz|| <= D . n
    parts: dict[str, np.ndarray]  # diagnostics, each (N,)


def time_weights(tau: np.ndarray, steps: int) -> np.ndarray:
    """c[t, c] = (1/T) sum_{t' >= t} tau_c^(t' - t): dz / dI[t] of the mean-over-time readout, (T, C)."""
    out = np.zeros((steps, tau.size))
    acc = np.zeros(tau.size)
    for t in range(steps - 1, -1, -1):
        acc = acc * tau + 1.0
        out[t] = acc / steps
    return out * (1 + slack(steps))


def _gram_norm(columns: np.ndarray) -> np.ndarray:
    """Certified spectral norms of a batch of matrices (..., rows, cols) via the smaller Gram matrix."""
    rows, cols = columns.shape[-2:]
    gram = (np.swapaxes(columns, -1, -2) @ columns) if cols <= rows else (columns @ np.swapaxes(columns, -1, -2))
    top = np.linalg.eigvalsh(gram)[..., -1]
    frob2 = np.sum(columns * columns, axis=(-2, -1))
    margin = (4 * min(rows, cols) * _EPS + slack(max(rows, cols))) * frob2
    return up(np.sqrt(np.maximum(top, 0.0) + margin))


class Gains:
    """Certified ||W P diag(w) [E]|| of the next layer's W over the previous layer's neurons, batched over w."""

    def __init__(self, prev: LocalLayer, nxt: LocalLayer) -> None:
        self.prev, self.next = prev, nxt
        self.full = pooled_weight(Operator(nxt).matrix(), prev)  # (n_next, n_prev_neurons)
        self.abs_full = np.abs(self.full)
        self.norm = dense_spectral_norm(self.full)
        self.column_norms2 = np.sum(self.full * self.full, axis=0)
        self.rows = prev.channel_of()
        self.q = np.sqrt(nxt.feeds)

    def weighted(self, w: np.ndarray) -> np.ndarray:
        """||W P diag(w)|| for w (..., n_prev) >= 0."""
        n_next, n_prev = self.full.shape
        frob = up(np.sqrt(up((w * w) @ self.column_norms2) * (1 + slack(n_prev))))
        bound = np.minimum(frob, up(self.norm * w.max(axis=-1)))
        if min(n_next, n_prev) <= _EXACT_GRAM:
            exact = _gram_norm(self.full * w[..., None, :])
            bound = np.minimum(bound, exact)
        return bound

    def own(self, w: np.ndarray) -> np.ndarray:
        """sup ||W P v|| over |v_j| <= w_j m_row(j), ||m|| <= 1 (docs: ||W P diag(w)|| for a dense layer below;
        ||W P diag(sqrt w)|| ||diag(sqrt w) E|| for a conv layer, whose rows are shared by positions)."""
        if not self.prev.conv:
            return self.weighted(w)
        root = np.sqrt(w)
        sums = w.reshape(*w.shape[:-1], self.prev.channels, -1).sum(axis=-1)
        return up(self.weighted(root) * up(np.sqrt(sums.max(axis=-1) * (1 + slack(w.shape[-1])))))



def pooled_own_norm(layer: LocalLayer, w: np.ndarray) -> np.ndarray:
    """sup ||P v|| over |v_j| <= w_j m_row(j), ||m|| <= 1, for the pooling P >= 0 of `layer` (w >= 0, (..., n)):
    max over parameter rows of ||P diag(w) e_row|| (the rows' images have disjoint supports)."""
    if not layer.conv:
        return w.max(axis=-1)
    per_row = np.zeros(w.shape[:-1])
    rows = layer.channel_of()
    for c in range(layer.channels):
        masked = np.where(rows == c, w, 0.0)
        pooled = pool(masked.reshape(-1, w.shape[-1]), layer).reshape(*w.shape[:-1], -1)
        per_row = np.maximum(per_row, np.sqrt(np.sum(pooled * pooled, axis=-1)))
    return up(per_row * (1 + slack(w.shape[-1])))


def pooled_norm(layer: LocalLayer, w: np.ndarray) -> np.ndarray:
    """||P diag(w)||: the rows of P have disjoint supports, so the largest row norm."""
    if layer.pool == 1:
        return w.max(axis=-1)
    squares = pool((w * w).reshape(-1, w.shape[-1]), layer).reshape(*w.shape[:-1], -1)
    return up(np.sqrt(squares.max(axis=-1) / layer.pool**2) * (1 + slack(layer.pool**2)))


def input_gram(layer: LocalLayer, box: LayerBox) -> np.ndarray:
    """K[n, i, t, t'] = <smax[t], smax[t']> over neuron i's receptive field, + 1 (bias): (N, 1 or n, T, T)."""
    smax = np.maximum(np.abs(box.in_lo), np.abs(box.in_hi))
    samples, steps = smax.shape[:2]
    if not layer.conv:
        gram = np.einsum("nti,nsi->nts", smax, smax)[:, None]
    else:
        op = Operator(layer)
        pairs = np.empty((samples, steps, steps, layer.n_neurons))
        for t in range(steps):
            for u in range(t, steps):
                pairs[:, t, u] = pairs[:, u, t] = op.patch_energy(smax[:, t] * smax[:, u])
        gram = np.moveaxis(pairs, 3, 1)
    return up((gram + 1.0) * (1 + slack(smax.shape[2] + 1)))


def _logit_bounds(readout: LocalLayer, box: LayerBox, labels: np.ndarray, c: np.ndarray, radius: float):
    """Upper bounds hi[n, c] of z_c - z_y over the ball (hi[n, y] = 0), and a_c = ||(sum_t c_tc smax[t], C_c)||."""
    samples, steps, n_in = box.in_lo.shape
    weight, bias = readout.weight, readout.bias
    center = 0.5 * (box.in_lo + box.in_hi)
    half = np.maximum(up(box.in_hi - center), up(center - box.in_lo))
    smax = np.maximum(np.abs(box.in_lo), np.abs(box.in_hi))
    total = c.sum(axis=0)  # C_c
    agg_max = np.einsum("tc,nti->nci", c, smax)  # sum_t c_tc smax[t]  (N, C, n_in)
    a = up(np.sqrt(np.sum(agg_max * agg_max, axis=-1) + total**2) * (1 + slack(n_in + steps)))  # (N, C)
    hi = np.zeros((samples, weight.shape[0]))
    for y in np.unique(labels):
        sel = labels == y
        coef = c[:, :, None] * weight[None, :, :] - c[:, y, None, None] * weight[y][None, None, :]  # (T, C, n_in)
        value = np.einsum("tci,nti->nc", coef, center[sel])
        spread = np.einsum("tci,nti->nc", np.abs(coef), half[sel])
        error = slack(steps * n_in) * np.einsum("tci,nti->nc", np.abs(coef), np.abs(center[sel]) + half[sel])
        offset = total * bias - total[y] * bias[y]
        perturb = radius * np.sqrt(a[sel] ** 2 + a[sel][:, [y]] ** 2)
        bound = up(value + offset + up(spread + error + perturb * (1 + 4 * slack(1))) + slack(1) * np.abs(offset))
        bound[:, y] = 0.0
        hi[sel] = bound
    return hi, a


def _confidence(hi: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """eps = 1 - inf p_y <= S / (1 + S), S = sum_{c != y} exp(hi_c); per-class |g_c| bounds G (N, C)."""
    expo = exp_point(hi).hi
    rows = np.arange(hi.shape[0])
    expo[rows, labels] = 0.0
    s = up(expo.sum(axis=1) * (1 + slack(hi.shape[1])))
    eps = np.minimum(up(s / down(1.0 + s)), 1.0)
    p_other = np.minimum(up(1.0 / down(1.0 + exp_point(-hi).lo)), 1.0)  # p_c <= sigma(z_c - z_y)
    g = np.minimum(p_other, eps[:, None])
    g[rows, labels] = eps
    return eps, g


@dataclass
class _Forward:
    """First-order forward quantities of one spiking layer, arrays (N, T, n) unless noted."""

    alpha: np.ndarray  # tau kappa1[t-1] (0 at t = 1)
    beta: np.ndarray  # own-drive coefficient
    upstream: np.ndarray  # (N, T, L) linear form of ||up[t]||
    gain: Gains | None  # from the layer below
    gram: np.ndarray  # input Gram over the ball (N, 1 or n, T, T)
    gram0: np.ndarray  # at the checkpoint
    delta_in: np.ndarray  # (N, T) sup ||d(input signal)[t]|| per unit direction
    delta_out: np.ndarray  # (N, T) sup ||d(pooled output)[t]|| per unit direction
    aggregate: np.ndarray  # (N, n, T) Omega of the readout's time aggregation


def _drive_norms(impulse: np.ndarray, gram: np.ndarray, gram0: np.ndarray, delta: np.ndarray,
                 radius: float) -> np.ndarray:
    """sup ||sum_t' w_t' (s[t'], 1)|| over |w| <= impulse (N, n, T), s >= 0 in the ball: the smaller of the box
    Gram form and the checkpoint's Gram form plus R sum_t' impulse_t' delta[t'] (mean value theorem)."""
    boxed = np.einsum("nis,nist,nit->ni", impulse, gram, impulse, optimize=True)
    near = np.einsum("nis,nist,nit->ni", impulse, gram0, impulse, optimize=True)
    moved = up(np.sqrt(near)) + radius * np.einsum("nit,nt->ni", impulse, delta)
    return np.minimum(up(np.sqrt(boxed)), up(moved))


def _forward(net: LocalNetwork, boxes: list[LayerBox], center: list[LayerBox], radius: float,
             c_max: np.ndarray) -> list[_Forward]:
    layers, depth = net.layers, len(net.layers)
    samples, steps = boxes[0].u_lo.shape[:2]
    out: list[_Forward] = []
    for index, (layer, box) in enumerate(zip(layers[:-1], boxes[:-1], strict=True)):
        mu = box.slopes["mu"]
        alpha = np.zeros_like(box.u_lo)
        alpha[:, 1:] = layer.tau * box.slopes["kappa1"][:, :-1]
        gram, gram0 = input_gram(layer, box), input_gram(layer, center[index])
        delta_in = out[-1].delta_out if out else np.zeros((samples, steps))
        beta = np.zeros_like(box.u_lo)
        impulse = np.zeros((samples, layer.n_neurons, steps))  # Gamma[t, .] at the current t
        aggregate = np.zeros_like(impulse)
        upstream = np.zeros((samples, steps, depth))
        gain = Gains(layers[index - 1], layer) if index > 0 else None
        for t in range(steps):
            impulse = alpha[:, t, :, None] * impulse
            impulse[:, :, t] = 1.0
            beta[:, t] = _drive_norms(impulse, gram, gram0, delta_in, radius)
            aggregate += (c_max[t] * mu[:, t])[:, :, None] * impulse
            if t:
                upstream[:, t] = alpha[:, t].max(axis=1)[:, None] * upstream[:, t - 1]
            if gain is not None:
                below = out[-1]
                mu_prev = boxes[index - 1].slopes["mu"][:, t]
                weights = mu_prev * below.beta[:, t]
                upstream[:, t, index - 1] += gain.own(weights) + gain.q * radius * pooled_own_norm(gain.prev, weights)
                via = gain.weighted(mu_prev) + gain.q * radius * pooled_norm(gain.prev, mu_prev)
                upstream[:, t] += via[:, None] * below.upstream[:, t]
        up_norm = np.sqrt(np.sum(upstream**2, axis=2))
        delta_out = np.stack([pooled_own_norm(layer, mu[:, t] * beta[:, t])
                              + pooled_norm(layer, mu[:, t]) * up_norm[:, t] for t in range(steps)], axis=1)
        out.append(_Forward(alpha, beta, upstream, gain, gram, gram0, delta_in, up(delta_out), aggregate))
    return out


def loss_upper(net: LocalNetwork, center: list[LayerBox], labels: np.ndarray) -> np.ndarray:
    """Upper bounds of the cross-entropy l_i = log(1 + sum_{c != y} exp(z_c - z_y)) at the checkpoint (N,): the
    float log1p, inflated, accepted where the rigorous exp proves exp(value) >= 1 + S, else S itself."""
    readout = net.layers[-1]
    c = time_weights(readout.tau, center[0].u_lo.shape[1])
    hi, _ = _logit_bounds(readout, center[-1], labels, c, 0.0)
    expo = exp_point(hi).hi
    expo[np.arange(hi.shape[0]), labels] = 0.0
    total = up(expo.sum(axis=1) * (1 + slack(hi.shape[1])))
    candidate = up(np.log1p(total) * (1 + 1e-12) + 1e-300)
    proven = exp_point(candidate).lo >= up(1.0 + total)
    return np.where(proven, candidate, total)


def sample_bounds(net: LocalNetwork, boxes: list[LayerBox], labels: np.ndarray, radius: float,
                  center: list[LayerBox] | None = None) -> SampleBounds:
    """G_i, L_i for every sample of the boxes over the ball of `radius` (docs/theory.md sec. 12); `center`: the
    same samples' boxes at radius 0 (the checkpoint itself; default: the boxes, valid but looser)."""
    center = boxes if center is None else center
    layers = net.layers
    depth = len(layers)
    samples, steps = boxes[0].u_lo.shape[:2]
    rows = np.arange(samples)
    readout = layers[-1]
    c = time_weights(readout.tau, steps)  # (T, C)
    c_max = c.max(axis=1)  # (T,)
    forward = _forward(net, boxes, center, radius, c_max)

    # the logits: the readout's own drive a_c, the linear form D, logit-difference bounds
    hi, a_read = _logit_bounds(readout, boxes[-1], labels, c, radius)
    hi0, a_read0 = _logit_bounds(readout, center[-1], labels, c, 0.0)
    if forward:
        a_read = np.minimum(a_read, up(a_read0 + radius * (forward[-1].delta_out @ c)))
    d_form = np.zeros((samples, depth))
    d_form[:, -1] = a_read.max(axis=1)
    read_gain = Gains(layers[-2], readout) if depth > 1 else None
    gamma = None
    if read_gain is not None:
        last = forward[-1]
        mu_last = boxes[-2].slopes["mu"]
        gamma = _drive_norms(last.aggregate, last.gram, last.gram0, last.delta_in, radius)
        d_form[:, -2] += read_gain.own(gamma) + radius * pooled_own_norm(read_gain.prev, gamma)
        for t in range(steps):
            via = read_gain.weighted(mu_last[:, t]) + radius * pooled_norm(read_gain.prev, mu_last[:, t])
            d_form += (c_max[t] * via)[:, None] * last.upstream[:, t]
    if radius > 0:  # z_c - z_y moves by <= R sup ||grad(z_c - z_y)|| <= sqrt2 R ||D|| over the ball
        reach = up(np.sqrt(2.0) * radius * up(np.sqrt(np.sum(d_form**2, axis=1))))
        hi = np.minimum(hi, up(hi0 + reach[:, None]))
        hi[rows, labels] = 0.0
    eps, g_class = _confidence(hi, labels)
    g_norm = np.minimum(up(np.sqrt(np.sum(g_class**2, axis=1))), up(np.sqrt(2.0) * eps))
    h = np.minimum(0.5, up(eps * (2.0 - eps)))

    # backward adjoints and the gradient
    lam_next = c[None, :, :] * g_class[:, None, :]  # readout: (N, T, C)
    grad_sq = np.sum(g_class**2 * a_read**2, axis=1)
    lams, thetas = [None] * (depth - 1), [None] * (depth - 1)
    for index in range(depth - 2, -1, -1):
        layer, box, nxt, fw = layers[index], boxes[index], layers[index + 1], forward[index]
        flat = lam_next.reshape(samples * steps, -1)
        spread = Operator(nxt).transpose_abs(flat) * (1 + slack(nxt.n_neurons))
        spread = spread + radius * np.linalg.norm(flat, axis=1)[:, None]
        theta_adj = pool_transpose(spread, layer).reshape(samples, steps, -1)
        lam = np.zeros_like(box.u_lo)
        for t in range(steps - 1, -1, -1):
            later = fw.alpha[:, t + 1] * lam[:, t + 1] if t + 1 < steps else 0.0
            lam[:, t] = up(box.slopes["mu"][:, t] * theta_adj[:, t] + later)
        per_neuron = _drive_norms(np.moveaxis(lam, 1, 2), fw.gram, fw.gram0, fw.delta_in, radius)
        grad_sq = grad_sq + np.sum(_row_totals(layer, per_neuron) ** 2, axis=1)
        lams[index], thetas[index] = lam, theta_adj
        lam_next = lam
    gradient = up(np.sqrt(grad_sq)) * _ROUNDING

    # second order: Q = h D D^T + curvature + cross terms
    q = h[:, None, None] * d_form[:, :, None] * d_form[:, None, :]
    curvature = np.zeros(samples)
    for index in range(depth - 1):
        layer, box, fw = layers[index], boxes[index], forward[index]
        omega = thetas[index] * box.slopes["nu"]
        omega[:, :-1] += lams[index][:, 1:] * layer.tau * box.slopes["kappa2"][:, :-1]
        own = _row_totals(layer, np.sum(omega * fw.beta**2, axis=1)).max(axis=1)
        if index == 0:  # no upstream part
            q[:, index, index] += own
        else:  # sum_i omega_i (own_i + up_i)^2 <= 2 (own part) + 2 max_i omega_i ||up||^2
            q[:, index, index] += 2 * own
            q += 2 * np.einsum("nt,nti,ntj->nij", omega.max(axis=2), fw.upstream, fw.upstream)
        curvature += own
        if index > 0:  # cross term 2 dW^l P ds^{l-1}[t] against the adjoint lambda^l[t]
            below = forward[index - 1]
            mu_prev = boxes[index - 1].slopes["mu"]
            coef = fw.gain.q * np.linalg.norm(lams[index], axis=2)
            psi = np.stack([pooled_own_norm(layers[index - 1], mu_prev[:, t] * below.beta[:, t])
                            for t in range(steps)], axis=1)
            pi = np.stack([pooled_norm(layers[index - 1], mu_prev[:, t]) for t in range(steps)], axis=1)
            _add_bilinear(q, index, index - 1, np.sum(coef * psi, axis=1))
            _add_form(q, index, np.einsum("nt,nti->ni", coef * pi, below.upstream))
    if read_gain is not None:  # readout cross term 2 g^T dW^L sum_t c_t P Phi' du[t]
        _add_bilinear(q, depth - 1, depth - 2, g_norm * pooled_own_norm(layers[-2], gamma))
        pis = np.stack([pooled_norm(layers[-2], boxes[-2].slopes["mu"][:, t]) for t in range(steps)], axis=1)
        _add_form(q, depth - 1, np.einsum("n,t,nt,nti->ni", g_norm, c_max, pis, forward[-1].upstream))
    top = np.linalg.eigvalsh(q)[:, -1]
    frob = np.sqrt(np.sum(q * q, axis=(1, 2)))
    hessian = up(top + 4 * depth * _EPS * frob) * _ROUNDING
    parts = {"gauss_newton": h * np.sum(d_form**2, axis=1), "h": h, "g_norm": g_norm, "own_curvature": curvature}
    return SampleBounds(gradient, hessian, eps, d_form, parts)


def _row_totals(layer: LocalLayer, values: np.ndarray) -> np.ndarray:
    """(N, n_neurons) -> (N, rows): sums over each parameter row's neurons (a conv channel's positions)."""
    if not layer.conv:
        return values
    return values.reshape(values.shape[0], layer.channels, -1).sum(axis=2)


def _add_bilinear(q: np.ndarray, i: int, j: int, value: np.ndarray) -> None:
    """q += value (e_i e_j^T + e_j e_i^T) / 2 * 2: the symmetric form of 2 value n_i n_j, halved per side."""
    q[:, i, j] += value
    q[:, j, i] += value


def _add_form(q: np.ndarray, i: int, form: np.ndarray) -> None:
    """The bilinear 2 n_i (form . n) as a symmetric matrix: form / 1 on row i and column i."""
    q[:, i, :] += form
    q[:, :, i] += form
