"""The four panes of rlrec-tui: Dataset, Train, Explore, Runs."""
