"""`python -m rlrec`: the same as the `rlrec` command."""

import sys

from rlrec.cli.main import main

sys.exit(main())
