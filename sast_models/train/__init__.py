"""The documented name `python -m sast_models.train` of the command `sast_models.cli.train`
(`__main__.py` runs it)."""
