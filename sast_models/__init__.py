"""sast_models: LIF networks (surrogate-forward or hard spikes), SAM/SAST training, event data, hardware simulation.

The one LIF step lives in `sast_models.neuron`; networks in `sast_models.networks`; the contraction
parameterization in `sast_models.parameterization`; the network description in `describe` (and back in
`from_description`); checkpoints in `sast_models.checkpoint`; the commands in `sast_models.cli`
(docs/architecture.md).
"""

from .spec import NetworkSpec

__all__ = ["NetworkSpec"]
