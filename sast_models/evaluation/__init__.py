"""Evaluation machinery behind `python -m sast_models.evaluate` and the training's validation.

modes (EVALUATION_MODES: mode name -> runner factory: surrogate, hard, and the hardware modes), measure
(accuracy, loss, spike rates, near-threshold fraction and hardware statistics of one mode on a labelled set).
"""
