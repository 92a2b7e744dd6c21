"""`python -m impl ...` is `gan-spec ...`: the commands, `--help` and `--version`."""

import sys

from impl.console import main

if __name__ == "__main__":
    sys.exit(main())
