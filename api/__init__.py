"""The HTTP face of rlrec (`rlrec serve`): a FastAPI app over the engine's use cases.

Like `rlrec.cli` and `rlrec.tui` it holds no domain logic: each endpoint turns a validated
request body into one use-case call and its dataclass result into JSON.
"""
