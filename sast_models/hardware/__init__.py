"""Hardware-aware inference: the deployed (integer) network of a description, simulated bit-accurately.

formats (number formats), quantize (weights, thresholds, biases), fold (pooling into the next operator),
deploy (description -> IntNetwork), safe_width (THEORY.md P6), simulator (bit-accurate LIF via neuron.py),
synops (exact SynOps), modes (int8 / int4 / fixed runners for the evaluation), nir_export (optional NIR).
See docs/hardware.md.
"""
