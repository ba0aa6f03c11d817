"""sast_models: LIF networks (surrogate-forward or hard spikes), SAM/SAST training, event data, hardware simulation.

The one LIF step lives in `sast_models.neuron`; networks in `sast_models.networks`; the contraction
parameterization in `sast_models.parameterization`; checkpoints in `sast_models.checkpoint`.
"""

from .spec import NetworkSpec

__all__ = ["NetworkSpec"]
