"""sast_core: the plumbing every package shares (standard library only; imports no other project package).

errors (InputError and the exit codes), cli (the argparse parser whose usage errors are InputErrors, the
`cli_entry` wrapper, comma-separated list flags), atomic (atomic file writes), outputs (output folders
checked before anything is written). Layering: docs/architecture.md.
"""
