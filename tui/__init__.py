"""rlrec terminal app (`rlrec-tui`): renders engine state and sends it commands; no domain logic."""
