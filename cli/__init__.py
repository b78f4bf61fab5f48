"""The headless `rlrec` command line. Each command family lives in its own module."""
