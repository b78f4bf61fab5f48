"""User simulators. `make_simulator` builds one from an `env` config section.

Owned by the simulator work (issue 3); `classic` exists, `default` (long-horizon, built
from a dataset) is added alongside.
"""
