"""The documented name `python -m sast_models.evaluate` of the command `sast_models.cli.evaluate`
(`__main__.py` runs it)."""
