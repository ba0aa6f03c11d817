"""Training machinery behind `python -m sast_models.train`, `.evaluate` and `.sweep`.

splits (seeded stratified split, per-epoch orders, sharding), loop (one baseline/SAM/SAST epoch), measure
(accuracy, spike rate, near-threshold fraction of one mode), modes (mode name -> runner factory),
resume + state (pickle-free resume checkpoints), distributed (torchrun/DDP), outputs and cli (bad input).
The optimizer itself is `sast_models.sam`.
"""
