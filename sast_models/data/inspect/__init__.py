"""The documented name `python -m sast_models.data.inspect` of the command `sast_models.cli.inspect`
(`__main__.py` runs it)."""
