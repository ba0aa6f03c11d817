"""The documented name `python -m sast_models.sweep` of the command `sast_models.cli.sweep`
(`__main__.py` runs it)."""
