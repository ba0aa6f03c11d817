"""Hardware-aware inference: the deployed (integer) network of a description, simulated bit-accurately.

formats (number formats), fold (pooling into the next operator), deploy (description -> IntNetwork; weight
quantization and THEORY.md P6's safe register width come from sast_theory.registers), simulator
(bit-accurate LIF via neuron.py), synops (exact SynOps), modes (int8 / int4 / fixed runners for the
evaluation), nir_export (optional NIR). See docs/hardware.md."""
