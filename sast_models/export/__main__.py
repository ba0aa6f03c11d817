"""`python -m sast_models.export`: runs the command `sast_models.cli.export` (docs/architecture.md)."""

import sys

if __name__ == "__main__":
    from sast_models.cli.export import main

    sys.exit(main())
