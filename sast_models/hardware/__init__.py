"""Hardware-aware inference: the deployed (integer) network of a description, simulated bit-accurately.

formats (number formats, the one leak rounding rule), quantize (weights to integers, values to membrane LSBs),
fold (pooling into the next operator), deploy (description -> IntNetwork, with THEORY.md P6's safe register
width from sast_theory.registers), simulator (bit-accurate LIF via neuron.py), synops (exact SynOps), modes
(int8 / int4 / fixed configs and runners), nir_export (optional NIR, mapped so that Norse and snnTorch
run our step) and nir_check (runs an exported graph in them and measures the agreement). See docs/hardware.md."""
