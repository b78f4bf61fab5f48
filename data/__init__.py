"""rlrec data layer: synthetic generator, importers, dataset store, EDA.

Pure numpy + pandas. Never imports engine, tui, torch or textual (tests/test_import_hygiene.py).
"""
