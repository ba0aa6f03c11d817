"""The documented name `python -m sast_models.export` of the command `sast_models.cli.export`
(`__main__.py` runs it)."""
