"""rlrec.cli: the headless `rlrec` command line, a face beside `rlrec.tui` (argparse + rich).

It turns arguments into calls of `rlrec.engine` and results into text or one JSON document;
each command family lives in its own module. Never imports `rlrec.tui` or Textual.
"""
