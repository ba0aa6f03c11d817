"""`python -m sast_models.train`: runs the command `sast_models.cli.train` (docs/architecture.md)."""

import sys

if __name__ == "__main__":
    from sast_models.cli.train import main

    sys.exit(main())
