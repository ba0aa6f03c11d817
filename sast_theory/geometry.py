"""Operator geometry shared by the description, the norms, the torch layers and the hardware (defined once).

A convolution with kernel k, stride s and zero padding p on a length-n axis has (n + 2p - k) // s + 1 outputs;
k x k average pooling with stride k keeps n // k of them (floor, as torch's avg_pool2d).
"""

from __future__ import annotations


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Outputs of a convolution along one axis: (size + 2 padding - kernel) // stride + 1."""
    return (size + 2 * padding - kernel) // stride + 1
