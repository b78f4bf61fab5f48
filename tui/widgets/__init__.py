"""Reusable widgets of rlrec-tui: charts, forms, fields, dialogs, lists."""
