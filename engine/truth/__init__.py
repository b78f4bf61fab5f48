"""The hidden user model a `default` simulator runs on, which agents never see.

`model` holds `HiddenTruth` (from a synthetic dataset's generator factors); `fit` fits one to
an imported log's train part (logistic MF + content similarity), `pairs` the labelled pairs it
learns from, `calibration` its decile calibration, `cf_features` the collaborative embeddings
an agent may observe, `sources` where a simulator's truth comes from (cached per process).
"""
