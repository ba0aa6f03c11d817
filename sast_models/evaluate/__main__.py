"""`python -m sast_models.evaluate`: runs the command `sast_models.cli.evaluate` (docs/architecture.md)."""

import sys

if __name__ == "__main__":
    from sast_models.cli.evaluate import main

    sys.exit(main())
