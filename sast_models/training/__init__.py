"""Training machinery behind `python -m sast_models.train` (sast_models.cli.train) and `.sweep`.

loop (one baseline/SAM/SAST epoch), batches (per-epoch orders, minibatches, sharding), resume + state
(pickle-free resume checkpoints), distributed (torchrun/DDP). The optimizer itself is `sast_models.sam`; the
train/validation split is `sast_models.data.splits`; validation runs `sast_models.evaluation`.
"""
