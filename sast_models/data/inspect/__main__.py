"""`python -m sast_models.data.inspect`: runs the command `sast_models.cli.inspect` (docs/architecture.md)."""

import sys

if __name__ == "__main__":
    from sast_models.cli.inspect import main

    sys.exit(main())
