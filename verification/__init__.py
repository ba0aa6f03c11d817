"""Empirical checks of every bound of THEORY.md on trained and deployed networks.

`python -m verification.<check> --model CKPT ...` measures one property (bound a priori, bound a posteriori,
the largest value that data and attacks reach, their ratio) and writes DIR/<check>.json and DIR/<check>.png;
`python -m verification.all` runs them all. Bounds come from `sast_theory` (and, for P6, from
`sast_models.hardware`) through `verification.theory`; empirical values are what `verification.attacks`
finds, never a bound.
"""
