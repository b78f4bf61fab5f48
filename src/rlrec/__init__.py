"""rlrec: a deep-reinforcement-learning recommender lab that lives in the terminal.

One installed package, one core, faces beside it (see README "Layout"):

- `rlrec.data`    datasets: schema, generator, importers, store, split, EDA (numpy + pandas)
- `rlrec.engine`  the core: truth, simulators, agents, policies, training, evaluation, serving
- `rlrec.cli`     the `rlrec` command line (argparse + rich)
- `rlrec.tui`     the `rlrec-tui` terminal app (Textual)

Imports only point down: faces -> engine -> data (import-linter contracts in pyproject.toml).
The sub-packages live in the repository's top-level folders `data/`, `engine/`, `cli/` and
`tui/`; packaging maps them into this namespace.
"""

__version__ = "0.1.0"
