"""sast_theory: every constant of THEORY.md (docs/theory.md), symbolically (sympy) and numerically. Pure math:
numpy, scipy, sympy and sast_core's InputError; no torch, and no import of the packages above it.

Modules: description (the typed network description every consumer reads), geometry, surrogates (phi and r
as sympy), calculus (M1, M2, certified kappa, P1 state bound, A4), norms (certified operator norms), intervals
(per-neuron P1 intervals), providers/ (one per layer type), numeric and symbolic (the two independent
composition paths), combinator (composes the providers), theorems (P4, P5), registers (P6's integer bound),
feasibility (A4 region), report (the report of one description; its command is sast_models.cli.report).
"""
