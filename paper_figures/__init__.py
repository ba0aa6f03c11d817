"""The reproduction of the paper's results and its figures and tables.

`python -m paper_figures.reproduce` (the main job; `--quick` for `make demo`) plans (plan.py, configs.py),
trains and measures (schedule.py, measure.py, estimate.py) and writes the report (report.py). Each figure or
table is a module that also runs alone on finished run folders (`python -m paper_figures.<name> RUN... --out
DIR`): transfer_gap, rho_sweep, beta_sweep (sweeps.py), hardware_table (published.py), membrane, corruption,
theory_table, bounds, certificates; runs.py reads run folders, section.py and plots.py are their plumbing.
"""
