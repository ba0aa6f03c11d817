"""The commands of sast_models, one module each, and the theory report command (it loads checkpoints and deploys
them, so it sits above sast_theory and the models):

    module       documented command (a thin alias runs it: the package's __main__.py, or for the report
                 the __main__ block of sast_theory/report.py)
    train        python -m sast_models.train
    evaluate     python -m sast_models.evaluate
    sweep        python -m sast_models.sweep
    export       python -m sast_models.export
    inspect      python -m sast_models.data.inspect
    report       python -m sast_theory.report

A command parses flags, validates them (bad input: one InputError line, exit 2, nothing written), calls the
machinery and writes its outputs atomically; the machinery never imports a command. docs/architecture.md.
"""
