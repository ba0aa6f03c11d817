"""Local, data-dependent constants over a parameter ball (docs/theory.md sec. 12): interval propagation of each
sample's membranes, per-neuron slope bounds, per-sample gradient and Hessian bounds, P4/P5 with them."""
