"""The use cases every face calls: build or import a dataset, resolve a run config, train,
resume, evaluate online and offline, recommend, explain, A/B test.

Each takes plain values (paths, names, numbers, a progress callback) and returns a
dataclass; the CLI turns it into text or JSON, the TUI into widgets. No face computes a
number it shows.
"""
