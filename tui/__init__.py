"""rlrec.tui: the `rlrec-tui` terminal app (Textual), a face beside `rlrec.cli`.

It renders engine results and events and sends the engine commands; no domain logic, and it
never imports `rlrec.cli`.
"""
