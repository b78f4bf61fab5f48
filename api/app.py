"""The FastAPI app of `rlrec serve`: the seed's four endpoints and the run/recommend API.

Every endpoint is one engine use case: `generate_dataset` (POST /api/init),
`resolve_run_config` + `start_training` (POST /api/train, run in a background thread),
`list_runs` / `read_events` (runs and metrics, read from the run folders, so `rlrec-tui RUN`
can follow a run the server trains), `load_for_serving` + `recommend` (POST /api/recommend).
Clients name runs and datasets by a plain folder name (`check_run_name`), never by a path, so
no request reaches outside the server's runs and datasets folders. Nothing here unpickles.

Errors: request bodies are checked by pydantic (422 naming the field and its range); an
engine `RlrecError` is 400 with its structured fields, or 404 when it names an unknown user;
an unknown run or dataset is 404 naming it; a second training while one runs is 409 naming it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hmac
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rlrec.data.errors import RlrecError
from rlrec.data.jsonsafe import json_safe
from rlrec.engine.presets import PRESETS
from rlrec.engine.training.budget import Budget, BudgetKind
from rlrec.engine.training.run_folder import check_run_name

# Request bodies are a few numbers and names; anything bigger is refused before parsing.
MAX_BODY_BYTES = 64 * 1024
MAX_K = 1000
# A served run's checkpoint is looked at (has it been trained further?) at most this often:
# the stat and path resolution cost more than a top-K when done on every request.
RUN_RECHECK_SECONDS = 1.0
# How long shutting down waits for a training run to write its checkpoint.
SHUTDOWN_JOIN_SECONDS = 60.0
# Sizes a request may generate: a client must not be able to fill the server's memory or
# disk (200k × 20k at activity 1 is ~100 MB on disk); bigger ones are `rlrec generate`'s.
MAX_API_USERS = 200_000
MAX_API_ITEMS = 20_000
MAX_EPISODES = 10_000_000
Name = Annotated[str, Field(min_length=1, max_length=128)]
# FastAPI's HTTPBearer reads the Authorization header and puts the scheme in the OpenAPI
# document, so the docs' "Authorize" button sends the token.
BEARER = HTTPBearer(auto_error=False, description="the token `rlrec serve --token` set")


class InitBody(BaseModel):
    """POST /api/init: the seed's body. `n_interactions`: about that many in all (the
    generator's activity is set so that it is the expected count; the drawn count is
    returned beside the requested one)."""

    # strict: "5" is not 5 and true is not 1 (a client's type error is named, not guessed)
    model_config = ConfigDict(extra="forbid", strict=True)
    n_users: int = Field(500, ge=1, le=MAX_API_USERS)
    n_items: int = Field(100, ge=2, le=MAX_API_ITEMS)
    n_interactions: int | None = Field(None, ge=1, le=10**10)
    seed: int = Field(42, ge=0, le=2**63 - 1)
    name: Name | None = None


class TrainBody(BaseModel):
    """POST /api/train: the seed's `episodes`, or `steps`/`seconds` instead (one of them)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    episodes: int | None = Field(None, ge=1, le=MAX_EPISODES)
    steps: int | None = Field(None, ge=1, le=10**12)
    seconds: float | None = Field(None, gt=0, le=7 * 24 * 3600)
    preset: Name | None = None
    dataset: Name | None = None
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    name: Name | None = None

    @field_validator("preset")
    @classmethod
    def _a_shipped_preset(cls, preset: str | None) -> str | None:
        # The engine also reads a YAML file given as a preset: a client must not name a path.
        if preset is not None and preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r} (allowed: {', '.join(PRESETS)})")
        return preset

    @model_validator(mode="after")
    def _one_budget(self) -> TrainBody:
        given = [k for k in ("episodes", "steps", "seconds") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of episodes, steps, seconds (got {', '.join(given)})")
        return self

    def budget(self) -> Budget:
        if self.steps is not None:
            return Budget(BudgetKind.STEPS, self.steps)
        if self.seconds is not None:
            return Budget(BudgetKind.SECONDS, self.seconds)
        return Budget(BudgetKind.EPISODES, self.episodes if self.episodes is not None else 50)


class RecommendBody(BaseModel):
    """POST /api/recommend: the seed's `user_id` + `n_recommendations` (or `k`)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    user_id: int | Name
    n_recommendations: int | None = Field(None, ge=1, le=MAX_K)
    k: int | None = Field(None, ge=1, le=MAX_K)
    run: Name | None = None
    policy: Name = "agent"
    cold_start: bool = False

    @model_validator(mode="after")
    def _one_length(self) -> RecommendBody:
        if self.k is not None and self.n_recommendations is not None:
            raise ValueError("give one of k, n_recommendations (the seed's name for k)")
        return self


class ErrorAnswer(BaseModel):
    """A refusal (documentation of its shape): `detail` is a message, or an object with
    `message` and the culprit's fields (`run`, `dataset`, `key`, `value`, `allowed`)."""

    detail: str | dict[str, Any]


class RecommendedItemAnswer(BaseModel):
    """One item of a recommend answer (documentation of the answer's shape)."""

    model_config = ConfigDict(extra="allow")  # the catalogue's details: category, price, …
    item: str = Field(description="the item's original id")
    item_id: int = Field(description="its row in the run's catalogue")
    score: float | None = Field(description="the policy's score (Q-value for the agent)")
    true_preference: float | None = Field(
        None, description="the hidden truth's engagement probability (None if unknown)"
    )


class RecommendAnswer(BaseModel):
    """POST /api/recommend's answer (documentation of its shape)."""

    run: str
    user: str
    source: str = Field(description="what served the list: agent, a baseline, or a fallback")
    items: list[RecommendedItemAnswer]


@dataclasses.dataclass
class ServerState:
    """What the server holds between requests: its folders, the run it serves by default,
    the dataset the last /api/init made, and the run being trained (one at a time)."""

    runs_dir: Path
    datasets_dir: Path
    default_run: str | None = None
    config_file: Path | None = None
    dataset: Path | None = None
    training: Any = None  # the Trainer of the run being trained
    training_run: str | None = None
    training_dataset: Path | None = None  # the dataset folder it trains on
    training_thread: threading.Thread | None = None
    last_run: str | None = None
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    # One dataset built at a time: two requests writing one folder would race on its rename.
    init_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def error_detail(self, exc: RlrecError) -> dict[str, Any]:
        """The JSON detail of an engine error: its message, with the server's own folders
        left out (a client names runs and datasets by name), and its structured fields."""
        message = str(exc)
        for folder in (self.runs_dir, self.datasets_dir):
            for spelling in {str(folder.resolve()), str(folder)}:
                message = message.replace(spelling + "/", "")
        detail: dict[str, Any] = {"message": message}
        for key in ("option", "key", "value", "allowed"):
            value = getattr(exc, key, None)
            if value is not None:
                detail[key] = json_safe(value)
        return detail

    def checked_name(self, name: str, what: str, field: str) -> str:
        """`name` if it is a plain folder name; 422 naming the body `field` otherwise."""
        try:
            return check_run_name(name, what, field)
        except RlrecError as exc:
            raise HTTPException(422, self.error_detail(exc)) from None

    def run_dir(self, name: str) -> Path:
        """The folder of run `name` (a plain folder name: 422 otherwise; 404 if missing)."""
        path = self.runs_dir / self.checked_name(name, "run", "run")
        if not path.is_dir():
            raise HTTPException(404, {"message": f"no run {name!r}", "run": name})
        return path

    def served_run(self, name: str | None) -> Path:
        """The run to answer from: `name`, else the server's run, else the last trained one,
        else the newest run of the runs folder (404 if there is none)."""
        for candidate in (name, self.default_run, self.last_run):
            if candidate is not None:
                return self.run_dir(candidate)
        from rlrec.engine.training.runs import list_runs

        for summary in list_runs(self.runs_dir):
            if summary.path.name != self.training_run:
                return summary.path
        raise HTTPException(404, {"message": "no trained run: POST /api/train first"})


def _event_dict(event: Any) -> dict[str, Any]:
    """An event as JSON; a folder it names is given by its name (the server's paths are not
    the client's business)."""
    fields = json_safe(dataclasses.asdict(event))
    for key in ("run_dir", "path"):
        if isinstance(fields.get(key), str):
            fields[key] = Path(fields[key]).name
    return {"event": type(event).__name__, **fields}


def create_app(
    runs_dir: str | Path,
    datasets_dir: str | Path,
    run: str | None = None,
    token: str | None = None,
    config_file: str | Path | None = None,
) -> FastAPI:
    """The app serving `runs_dir` (default run `run`, a folder name in it) and making datasets
    in `datasets_dir`. With `token`, every /api request needs `Authorization: Bearer <token>`
    (401 otherwise). `config_file` is a run config YAML applied to runs trained through it."""
    state = ServerState(
        Path(runs_dir),
        Path(datasets_dir),
        run,
        None if config_file is None else Path(config_file),
    )
    if run is not None:
        check_run_name(run, "run", "run")

    # `async`: a plain def dependency would hop to a worker thread on every request.
    async def authorised(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> None:
        if token is None:
            return
        given = "" if credentials is None else credentials.credentials
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                401, "missing or wrong token", headers={"WWW-Authenticate": "Bearer"}
            )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # Shutting down (Ctrl+C, SIGTERM): a run in training checkpoints and ends as
        # "stopped", resumable with `rlrec resume`, rather than dying mid-write.
        trainer, thread = state.training, state.training_thread
        if trainer is not None and thread is not None:
            trainer.stop(evaluate=False)
            await run_in_threadpool(thread.join, SHUTDOWN_JOIN_SECONDS)

    app = FastAPI(
        title="rlrec",
        description="The deep-RL recommender lab over HTTP: datasets, training, recommendations.",
        dependencies=[Depends(authorised)],
        responses={status: {"model": ErrorAnswer} for status in (400, 401, 404, 409, 413)},
        lifespan=lifespan,
        # Starlette's limit: 413 from Content-Length, or once a chunked body passes it.
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.rlrec = state

    @app.exception_handler(RlrecError)
    async def rlrec_error(request: Request, exc: RlrecError) -> JSONResponse:
        # An unknown user is a missing resource; a value out of its allowed set (policy, k)
        # is a bad field like pydantic's; anything else the engine refuses is a bad request.
        status = 404 if exc.key == "user" else 422 if exc.allowed is not None else 400
        return JSONResponse({"detail": state.error_detail(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input, and fails (500) on the NaN or Infinity a
        # client may send: the echo is made strict-JSON-safe first.
        return JSONResponse({"detail": json_safe(exc.errors())}, status_code=422)

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "run": state.default_run or state.last_run,
            "training": state.training_run,
            "dataset": None if state.dataset is None else state.dataset.name,
            # How many recommend requests were ranked together: {batch size: times}.
            "recommend_batches": dict(sorted(app.state.recommend_batches.items())),
        }

    @app.get("/api/runs")
    def runs() -> dict[str, Any]:
        from rlrec.engine.training.runs import list_runs

        return {
            "runs": [
                {
                    "run": s.path.name,
                    "preset": s.preset,
                    "status": str(s.status),
                    "created": s.created.isoformat(),
                    "env_steps": s.env_steps,
                    "eval_return": s.eval_return,
                    "eval_normalised": s.eval_normalised,
                }
                for s in list_runs(state.runs_dir)
            ]
        }

    def metrics_of(path: Path, offset: int) -> dict[str, Any]:
        from rlrec.engine.training.runs import read_events

        events = read_events(path)
        latest = {
            kind: next((_event_dict(e) for e in reversed(events) if type(e).__name__ == kind), None)
            for kind in ("Progress", "Evaluation", "RunFinished")
        }
        return {
            "run": path.name,
            "training": path.name == state.training_run,
            # The newest of each kind, so a client needs not scan the events for them.
            "progress": latest["Progress"],
            "evaluation": latest["Evaluation"],
            "finished": latest["RunFinished"],
            "offset": len(events),  # pass back as ?offset= to get only newer events
            "events": [_event_dict(e) for e in events[offset:]],
        }

    @app.get("/api/runs/{run}/metrics")
    def run_metrics(run: str, offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
        return metrics_of(state.run_dir(run), offset)

    @app.get("/api/metrics")
    def metrics(offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
        name = state.training_run or state.last_run
        if name is None:
            raise HTTPException(404, {"message": "no run trained by this server yet"})
        return metrics_of(state.run_dir(name), offset)

    @app.post("/api/init")
    def init(body: InitBody) -> dict[str, Any]:
        from rlrec.engine.usecases.datasets import generate_dataset

        name = body.name or f"synthetic-u{body.n_users}-i{body.n_items}-s{body.seed}"
        if body.name is None and body.n_interactions is not None:
            name += f"-n{body.n_interactions}"
        folder = state.datasets_dir / state.checked_name(name, "dataset", "name")
        with state.lock:
            if state.training_run is not None and state.training_dataset == folder:
                raise HTTPException(
                    409, {"message": "a run is training on this dataset", "run": state.training_run}
                )
        with state.init_lock:
            state.datasets_dir.mkdir(parents=True, exist_ok=True)
            if folder.exists() and not (folder / "meta.yaml").is_file():
                raise HTTPException(409, {"message": f"{name!r} is taken", "dataset": name})
            try:
                # The same request again opens what it made: a dataset runs were trained on
                # is never replaced under them.
                built = generate_dataset(
                    body.n_users,
                    body.n_items,
                    body.seed,
                    n_interactions=body.n_interactions,
                    out=folder,
                    reuse=True,
                )
            except RlrecError as exc:
                if exc.option != "out":
                    raise
                raise HTTPException(
                    409,
                    {
                        "message": f"dataset {name!r} exists with other settings: "
                        "give another name",
                        "dataset": name,
                    },
                ) from None
            state.dataset = folder
        summary = {**built.summary(), "dataset": name, "created": built.what != "opened"}
        summary.pop("path", None)  # the server's folders are not the client's business
        if body.n_interactions is not None:
            summary["n_interactions_requested"] = body.n_interactions
        return summary

    @app.post("/api/train", status_code=202)
    def train(body: TrainBody) -> dict[str, Any]:
        from rlrec.engine.usecases.training import resolve_run_config, start_training

        dataset = None
        if body.dataset is not None:
            dataset = state.datasets_dir / state.checked_name(body.dataset, "dataset", "dataset")
            if not dataset.is_dir():
                raise HTTPException(
                    404, {"message": f"no dataset {body.dataset!r}", "dataset": body.dataset}
                )
        if body.name is not None:
            state.checked_name(body.name, "run", "name")
            if (state.runs_dir / body.name).exists():
                raise HTTPException(
                    409,
                    {"message": f"run {body.name!r} exists: give another name", "run": body.name},
                )
        with state.lock:
            if state.training_run is not None:
                raise HTTPException(
                    409, {"message": "a run is training already", "run": state.training_run}
                )
            state.training_run, state.training_dataset = "(starting)", dataset
        try:
            budget, seed = body.budget(), body.seed
            config = resolve_run_config(
                body.preset, state.config_file, dataset=dataset, budget=budget, seed=seed
            )
            if dataset is None and state.dataset is not None and config.takes_dataset:
                # The dataset the last /api/init made, for a preset that trains on one (the
                # seed-classic simulator has its own data).
                dataset = state.dataset
                config = resolve_run_config(
                    body.preset, state.config_file, dataset=dataset, budget=budget, seed=seed
                )
            state.training_dataset = dataset
            trainer = start_training(config, state.runs_dir, body.name)
        except BaseException:
            state.training_run = state.training_dataset = None
            raise
        state.training, state.training_run = trainer, trainer.run_dir.name
        state.training_thread = threading.Thread(
            target=_train_in_background, args=(state, trainer), name="rlrec-train", daemon=True
        )
        state.training_thread.start()
        return {"run": state.training_run, "status": "training", "budget": body.budget().as_dict()}

    @app.post("/api/train/stop")
    def stop() -> dict[str, Any]:
        trainer = state.training
        if trainer is None:
            raise HTTPException(409, {"message": "no run is training"})
        trainer.stop()
        return {"run": trainer.run_dir.name, "status": "stopping"}

    from rlrec.api.batching import RecommendBatcher
    from rlrec.engine.usecases.serving import POLICIES, load_for_serving

    scorers = set(POLICIES) - {"agent"}  # the reference policies, by name

    batcher = RecommendBatcher()
    app.state.recommend_batches = batcher.sizes

    # The run each requested name was served from (its folder and loaded run), and when
    # that was last checked (time.monotonic()): the folder still there, the checkpoint not
    # trained further since. A None name is the server's default choice.
    served: dict[str | None, tuple[float, Path, Any]] = {}

    async def serving_run(name: str | None) -> tuple[Path, Any]:
        name = name or state.default_run or state.last_run
        now = time.monotonic()
        hit = served.get(name)
        if hit is not None and now - hit[0] < RUN_RECHECK_SECONDS:
            return hit[1], hit[2]
        path = state.served_run(name)  # 422 for a name that is a path, 404 if missing
        if hit is not None and hit[1] == path:  # reloaded only if the checkpoint changed
            run = load_for_serving(path)
        else:  # the first load may build the serving arrays (seconds): not on the loop
            run = await run_in_threadpool(load_for_serving, path)
            # The loaded run is millions of long-lived objects (tables, the dataset): kept
            # out of the collector's full passes, which otherwise pause every request.
            gc.collect()
            gc.freeze()
        served[name] = (now, path, run)
        return path, run

    # `async`: a top-K of a loaded run takes a fraction of a millisecond, less than the hop
    # to a worker thread costs; requests that arrive together are ranked together
    # (`RecommendBatcher`). The answer is dumped once by orjson (NaN and infinity as null,
    # as `json_safe` does): FastAPI's own encoding of a returned dict walks it again, and
    # the standard library's encoder alone costs more than a user's share of the top-K.
    @app.post("/api/recommend", responses={200: {"model": RecommendAnswer}})
    async def recommend(body: RecommendBody) -> Response:
        k = body.k if body.k is not None else body.n_recommendations or 10
        path, run = await serving_run(body.run)
        if body.policy in scorers and run.dataset is not None and not run.scorer_ready(body.policy):
            # A reference policy's first fit on a run (LinUCB's warm-up, EASE's inverse) takes
            # seconds to a minute: in a worker thread, so other requests are answered meanwhile.
            await run_in_threadpool(run.scorer, body.policy)
        result = await batcher.recommend(run, str(body.user_id), k, body.policy, body.cold_start)
        answer = {"run": path.name, **result.to_dict()}
        return Response(orjson.dumps(answer), media_type="application/json")

    return app


def _train_in_background(state: ServerState, trainer: Any) -> None:
    """Run `trainer` to its end (the trainer logs its events and a failure to its folder)."""
    try:
        trainer.run()
    finally:
        with state.lock:
            state.last_run = trainer.run_dir.name
            state.training, state.training_run, state.training_dataset = None, None, None
