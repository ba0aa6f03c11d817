"""sast_theory: every constant of THEORY.md (docs/theory.md), symbolically (sympy) and numerically.

Modules: surrogates (phi and r as sympy), calculus (M1, M2, certified kappa, P1 state bound, A4),
norms (certified operator norms), intervals (per-neuron P1 intervals), providers/ (one per layer type),
numeric and symbolic (the two independent composition paths), combinator (composes the providers),
theorems (P4, P5), registers (P6), feasibility (A4 region), report (the CLI). Pure math: no torch import
(the report loads a checkpoint through sast_models lazily).
"""
