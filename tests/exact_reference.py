"""An exact rational reference of the hard-spike network of a NetworkDescription (sast_theory.description): every
current, membrane and spike in `fractions.Fraction` arithmetic, average pooling count / k^2 exact. The float
network's parameters are dyadic floats, hence exact rationals; no rounding happens anywhere here.

THEORY.md sec. 1 in hard mode: I = W s_in + b, u[t] = tau r(u[t-1], s[t-1]) + I[t], s = [u > theta] (strict),
conv block output avgpool_k(s), readout u[t] = tau u[t-1] + W s + b, logits mean_t u[t]. Small networks only.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from sast_theory.description import ConvLIFRecord, NetworkDescription


def _fractions(array: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda v: Fraction(float(v)), otypes=[object])(np.asarray(array, dtype=np.float64))


def _conv(record: ConvLIFRecord, kernel: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Zero-padded cross-correlation of one sample (C_in, H, W) of Fractions -> (C_out, Ho, Wo) without bias."""
    c_out, c_in, kh, kw = kernel.shape
    stride, padding = record.stride, record.padding
    _, height, width = signal.shape
    padded = np.full((c_in, height + 2 * padding, width + 2 * padding), Fraction(0), dtype=object)
    padded[:, padding:padding + height, padding:padding + width] = signal
    h_out, w_out = record.lif_shape[1:]
    out = np.empty((c_out, h_out, w_out), dtype=object)
    for i in range(h_out):
        for j in range(w_out):
            patch = padded[:, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, i, j] = [sum((kernel[o] * patch).ravel(), Fraction(0)) for o in range(c_out)]
    return out


def _pool(spikes: np.ndarray, k: int) -> np.ndarray:
    """Exact k x k average pooling (stride k, floor) of (C, H, W) 0/1 spikes: count / k^2."""
    channels, height, width = spikes.shape
    out = np.empty((channels, height // k, width // k), dtype=object)
    for y in range(height // k):
        for x in range(width // k):
            block = spikes[:, y * k:(y + 1) * k, x * k:(x + 1) * k].reshape(channels, -1)
            out[:, y, x] = [Fraction(int(sum(row)), k * k) for row in block]
    return out


def _reset(reset: str, membrane: np.ndarray, spikes: np.ndarray, theta: Fraction) -> np.ndarray:
    if reset == "zero":
        return membrane * (1 - spikes)
    if reset == "subtract":
        return membrane - theta * spikes
    return membrane


def _strict_spikes(membrane: np.ndarray, theta: Fraction) -> np.ndarray:
    return np.vectorize(lambda v: int(v > theta), otypes=[object])(membrane)


def exact_hard_trace(description: NetworkDescription, x: np.ndarray) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
    """x (T, B, *input_shape) of exact values -> ([{currents, membranes, spikes}: (T, B, *lif_shape)], logits)."""
    steps, batch = x.shape[:2]
    signal = _fractions(x)
    layers = []
    for record in description.layers:
        weight, bias = _fractions(record.weight), _fractions(record.bias)
        lif_shape = record.lif_shape
        tau = _fractions(record.leaks).reshape(lif_shape)
        theta = Fraction(record.theta)
        conv = isinstance(record, ConvLIFRecord)
        currents = np.empty((steps, batch, *lif_shape), dtype=object)
        for t in range(steps):
            for b in range(batch):
                if conv:
                    sample = signal[t, b].reshape(record.in_shape)
                    currents[t, b] = _conv(record, weight, sample) + bias[:, None, None]
                else:
                    currents[t, b] = weight.dot(signal[t, b].reshape(-1)) + bias
        membranes = np.empty_like(currents)
        spikes = np.zeros(currents.shape, dtype=object)
        membrane = np.full(lif_shape, Fraction(0), dtype=object)
        fired = np.zeros(lif_shape, dtype=object)
        for t in range(steps):
            membrane = tau * _reset(record.reset, membrane, fired, theta)
            membrane = membrane + currents[t]
            fired = _strict_spikes(membrane, theta) if record.spiking else fired
            membranes[t] = membrane
            spikes[t] = fired
        layers.append({"currents": currents, "membranes": membranes, "spikes": spikes})
        if record.pool > 1:
            signal = np.empty((steps, batch, *record.out_shape), dtype=object)
            for t in range(steps):
                for b in range(batch):
                    signal[t, b] = _pool(spikes[t, b], record.pool)
        else:
            signal = spikes
    logits = layers[-1]["membranes"].sum(axis=0) / steps
    return layers, logits
