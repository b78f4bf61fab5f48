"""Hyperparameter search over run configs: a search space (`space`), one trial = one or more
normal training runs measured on an objective (`objective`), a study of trials kept in an
embedded SQLite database beside the trials' run folders (`storage`, `study`), read back for
the faces (`report`), and the same search on a Ray cluster (`ray_backend`).

Optuna does the sampling (grid, TPE, random), the pruning (median, Hyperband) and keeps the
study; Ray Tune runs trials on a cluster. rlrec's own code here is what a trial is: which
config, which objective, measured where (never on the test part)."""
