"""Training: the DQN training loop and the run folders it writes.

- `trainer`: `Trainer`, the loop (collect → store → learn → callbacks), pause/resume/stop
  from any thread, checkpoints and resume.
- `callbacks`: the `Callback` protocol and the built-in Progress log, periodic evaluation and
  periodic checkpoint callbacks.
- `budget`: `Budget`, how long a run trains (env steps, sessions or seconds).
- `events`: the typed events a run publishes, `RunState` and `FinishReason`.
- `run_config`: `RunConfig`, everything a run is made of, from preset + YAML + overrides.
- `runs`: the run folder (its file names, writing and following `metrics.jsonl`, listing runs,
  loading a trained run).
- `run_folder`: claiming a run folder: names, new folders, one trainer per run (the lock).
- `checkpoint`: a checkpoint as data only (JSON, tensors, arrays), written crash-safely.

Faces do not drive these directly: they call `engine.usecases.training`.
"""
