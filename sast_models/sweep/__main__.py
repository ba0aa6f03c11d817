"""`python -m sast_models.sweep`: runs the command `sast_models.cli.sweep` (docs/architecture.md)."""

import sys

if __name__ == "__main__":
    from sast_models.cli.sweep import main

    sys.exit(main())
