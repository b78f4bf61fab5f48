"""`rlrec serve` as a client sees it: a real uvicorn process on 127.0.0.1, driven over HTTP.

The seed's four calls in the seed's order (init -> train 50 episodes -> metrics -> recommend
5 for user 42), then the refusals: 409 on a second training, 404 for unknown runs and users,
422 for bodies out of range and run names that are paths, 401 without the token, and a
non-loopback host without a token refused at start. Training uses a tiny agent and catalogue.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.engine.test_trainer import SMALL_AGENT, SMALL_TRAIN

TINY = {
    "preset": "default",
    "agent": SMALL_AGENT,
    "train": {**SMALL_TRAIN, "n_envs": 16, "eval_every": 0, "eval_episodes": 20},
}
TOKEN = "s3cret-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(*args: object) -> list[str]:
    return [sys.executable, "-m", "rlrec.cli.main", "serve", *map(str, args)]


def _start(folder: Path, *extra: object) -> Iterator[httpx.Client]:
    """A server over `folder`'s runs/ and datasets/, until the client is done with it."""
    config = folder / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    port = _free_port()
    args = ["--port", port, "--runs", folder / "runs", "--datasets", folder / "datasets"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        _command(*args, "--config", config, *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=folder,
    )
    headers = {"Authorization": f"Bearer {TOKEN}"} if TOKEN in map(str, extra) else {}
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                client.get("/api/health", headers=headers)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[httpx.Client]:
    yield from _start(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> Iterator[httpx.Client]:
    yield from _start(tmp_path_factory.mktemp("guarded"), "--token", TOKEN)


def _wait_until_idle(client: httpx.Client) -> dict:
    deadline = time.monotonic() + 120
    while True:
        health = client.get("/api/health").json()
        if health["training"] is None:
            return health
        assert time.monotonic() < deadline, "training did not end"
        time.sleep(0.1)


def test_the_seeds_four_calls_in_order(server):
    made = server.post("/api/init", json={"n_users": 500, "n_items": 100, "n_interactions": 10000})
    assert made.status_code == 200, made.text
    dataset = made.json()
    assert (dataset["n_users"], dataset["n_items"]) == (500, 100)
    # The generator's activity is set so that 10,000 is the expected count.
    assert dataset["n_interactions_requested"] == 10000
    assert abs(dataset["n_interactions"] - 10000) < 500
    assert "path" not in dataset

    started = server.post("/api/train", json={"episodes": 50})
    assert started.status_code == 202, started.text
    run = started.json()["run"]
    assert _wait_until_idle(server)["run"] == run

    metrics = server.get("/api/metrics")
    assert metrics.status_code == 200, metrics.text
    events = metrics.json()["events"]
    finished = [e for e in events if e["event"] == "RunFinished"]
    assert finished and finished[-1]["reason"] == "budget"
    progress = [e for e in events if e["event"] == "Progress"]
    assert progress and progress[-1]["episodes"] >= 50
    assert all(e.get("run_dir") in (None, run) for e in events)  # no server paths leak
    assert metrics.json()["progress"] == progress[-1]
    assert metrics.json()["finished"]["reason"] == "budget"

    following = server.get(f"/api/runs/{run}/metrics", params={"offset": len(events) - 1})
    assert [e["event"] for e in following.json()["events"]] == [events[-1]["event"]]

    answer = server.post("/api/recommend", json={"user_id": 42, "n_recommendations": 5})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["user"] == "42" and body["run"] == run and body["source"] == "agent"
    assert len(body["items"]) == 5
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert {"item", "item_id", "category", "price"} <= set(body["items"][0])

    listed = server.get("/api/runs").json()["runs"]
    assert [r["run"] for r in listed] == [run] and listed[0]["status"] == "finished"


def test_recommend_by_a_baseline_with_k(server):
    answer = server.post("/api/recommend", json={"user_id": 42, "k": 3, "policy": "popular"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["source"] == "popular" and len(answer.json()["items"]) == 3


def test_requests_sent_together_get_what_each_gets_alone(server):
    # The server ranks requests that arrive together in one pass: under concurrent load every
    # answer must still be that user's own, unknown users still 404 among known ones.
    import asyncio

    users = [*range(0, 120, 3), 99999]
    bodies = [{"user_id": u, "k": 4 + u % 3} for u in users] * 2

    def alone(body: dict) -> tuple[int, dict]:
        answer = server.post("/api/recommend", json=body)
        return answer.status_code, answer.json()

    expected = [alone(body) for body in bodies]
    assert {code for code, _ in expected} == {200, 404}

    async def together() -> list[tuple[int, dict]]:
        async with httpx.AsyncClient(base_url=str(server.base_url), timeout=60) as client:
            answers = await asyncio.gather(
                *(client.post("/api/recommend", json=body) for body in bodies)
            )
        return [(a.status_code, a.json()) for a in answers]

    before = server.get("/api/health").json()["recommend_batches"]
    for (code, got), (code_alone, want) in zip(asyncio.run(together()), expected, strict=True):
        assert code == code_alone
        if code != 200:
            assert got == want
            continue
        # A batched forward pass may round the last bits of a score differently.
        assert [i["item"] for i in got["items"]] == [i["item"] for i in want["items"]]
        assert [i["score"] for i in got["items"]] == pytest.approx(
            [i["score"] for i in want["items"]], rel=1e-5
        )
        assert {**got, "items": None} == {**want, "items": None}
    after = server.get("/api/health").json()["recommend_batches"]
    grew = {int(size) for size, n in after.items() if n > before.get(size, 0)}
    assert max(grew) > 1, after  # some of them were in fact ranked together


def test_a_second_training_is_refused_with_the_current_run(server):
    first = server.post("/api/train", json={"seconds": 60, "name": "long"})
    assert first.status_code == 202, first.text
    second = server.post("/api/train", json={"episodes": 50})
    assert second.status_code == 409
    assert second.json()["detail"]["run"] == "long"
    assert server.post("/api/train/stop").json() == {"run": "long", "status": "stopping"}
    _wait_until_idle(server)
    assert server.post("/api/train/stop").status_code == 409  # nothing left to stop


def test_unknown_user_and_run_are_404_naming_them(server):
    user = server.post("/api/recommend", json={"user_id": 99999, "k": 5})
    assert user.status_code == 404 and "99999" in user.text
    run = server.post("/api/recommend", json={"user_id": 42, "run": "no-such-run"})
    assert run.status_code == 404 and "no-such-run" in run.text
    assert server.get("/api/runs/no-such-run/metrics").status_code == 404
    cold = server.post("/api/recommend", json={"user_id": 99999, "k": 2, "cold_start": True})
    assert cold.status_code == 200 and "fallback" in cold.json()["source"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/recommend", {"user_id": 42, "k": 0}, "k"),
        ("/api/recommend", {"user_id": 42, "n_recommendations": 100000}, "n_recommendations"),
        ("/api/recommend", {"user_id": 42, "policy": "nope"}, "policy"),
        ("/api/init", {"n_users": 0}, "n_users"),
        ("/api/init", {"n_items": 10**9}, "n_items"),
        # more than activity 20 gives 500 users (230,000): named with the allowed counts
        ("/api/init", {"n_users": 500, "n_interactions": 10**7}, "n_interactions"),
        ("/api/train", {"episodes": -1}, "episodes"),
        ("/api/train", {"episodes": 5, "steps": 5}, "steps"),
        # the engine reads a YAML path given as a preset; a client may only name shipped ones
        ("/api/train", {"episodes": 5, "preset": "/etc/passwd"}, "preset"),
        ("/api/train", {"episodes": 5, "preset": "../tiny.yaml"}, "preset"),
    ],
)
def test_bodies_out_of_range_are_422_naming_the_field(server, path, body, field):
    answer = server.post(path, json=body)
    assert answer.status_code == 422, answer.text
    assert field in answer.text


@pytest.mark.parametrize("name", ["../outside", "..", "/etc", ".hidden", "a/../../b"])
def test_run_and_dataset_names_that_are_paths_are_refused(server, name, tmp_path):
    assert server.post("/api/recommend", json={"user_id": 42, "run": name}).status_code == 422
    assert server.post("/api/train", json={"episodes": 1, "name": name}).status_code == 422
    assert server.post("/api/train", json={"episodes": 1, "dataset": name}).status_code == 422
    assert server.post("/api/init", json={"n_users": 5, "name": name}).status_code == 422
    assert server.get("/api/health").json()["training"] is None  # nothing was started


def test_an_encoded_path_in_the_url_reaches_no_folder(server):
    for raw in ("%2E%2E", "..%2F..%2Fetc", "%2Fetc"):
        answer = server.get(f"/api/runs/{raw}/metrics")
        assert answer.status_code in (404, 422), (raw, answer.text)
        assert "events" not in answer.text


def test_the_token_is_required_when_set(guarded):
    assert guarded.get("/api/health").status_code == 401
    wrong = guarded.get("/api/health", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = guarded.get("/api/health", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200 and right.json()["status"] == "ok"


@pytest.mark.parametrize(
    ("host", "named"),
    [("0.0.0.0", "--token"), ("", "--host")],  # reachable without a token; no address
)
def test_a_host_it_cannot_serve_safely_is_refused_in_one_line(tmp_path, host, named):
    out = subprocess.run(
        _command("--host", host, "--port", _free_port()),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and named in out.stderr


def test_bodies_over_the_limit_are_refused(server):
    big = {"user_id": 42, "run": "x" * 100, "pad": "y" * 100_000}
    assert server.post("/api/recommend", json=big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts what it reads
        yield b'{"user_id": 42, "pad": "'
        for _ in range(100):
            yield b"z" * 1000
        yield b'"}'

    chunked = server.post(
        "/api/recommend", content=chunks(), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 413


def test_stopping_the_server_stops_its_training_resumably(tmp_path):
    from rlrec.engine.training.runs import RunStatus, summarise_run

    server = _start(tmp_path)
    client = next(server)
    assert client.post("/api/init", json={"n_users": 100, "n_items": 20}).status_code == 200
    assert client.post("/api/train", json={"seconds": 300, "name": "cut"}).status_code == 202
    run_dir = tmp_path / "runs" / "cut"
    deadline = time.monotonic() + 120
    while (
        not (run_dir / "metrics.jsonl").exists()
        or b"Progress" not in (run_dir / "metrics.jsonl").read_bytes()
    ):
        assert time.monotonic() < deadline, "training did not start"
        time.sleep(0.1)
    server.close()  # SIGTERM to the server process, then wait for it
    assert summarise_run(run_dir).status is RunStatus.STOPPED
    assert (run_dir / "checkpoint.json").exists()


def test_a_run_given_as_a_folder_outside_the_runs_folder_is_refused_in_one_line(tmp_path):
    (tmp_path / "runs").mkdir()
    out = subprocess.run(
        _command("elsewhere/run", "--runs", tmp_path / "runs", "--port", _free_port()),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "elsewhere/run" in out.stderr


def test_openapi_docs_are_served(server):
    assert server.get("/docs").status_code == 200
    schema = server.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/api/init", "/api/train", "/api/metrics", "/api/recommend"} <= set(paths)
    # The recommend answer is documented although the endpoint dumps it itself.
    answer = paths["/api/recommend"]["post"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"]["$ref"].endswith("/RecommendAnswer")
    assert {"run", "user", "source", "items"} <= set(
        schema["components"]["schemas"]["RecommendAnswer"]["properties"]
    )


@pytest.mark.parametrize(
    "raw",
    [
        b'{"seconds": NaN}',
        b'{"seconds": Infinity}',
        b'{"user_id": NaN}',
        b'{"n_users": 5, "n_interactions": -Infinity}',
    ],
)
def test_nan_and_infinity_in_a_body_are_422_not_a_crash(server, raw):
    path = "/api/train" if b"seconds" in raw else "/api/init" if b"n_users" in raw else None
    answer = server.post(
        path or "/api/recommend", content=raw, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    fields = {part for error in answer.json()["detail"] for part in error["loc"]}
    assert fields & {"seconds", "user_id", "n_interactions"}, answer.text


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": True},  # not user 1
        {"user_id": 42, "k": "5"},  # not 5
        {"user_id": 42, "cold_start": "yes"},
        {"user_id": 42, "k": 3, "n_recommendations": 7},  # which one? refused, not guessed
    ],
)
def test_wrong_types_are_refused_not_coerced(server, body):
    answer = server.post("/api/recommend", json=body)
    assert answer.status_code == 422, answer.text


def test_init_again_opens_what_it_made_and_never_replaces_a_dataset(server):
    body = {"n_users": 60, "n_items": 20, "seed": 3, "name": "kept"}
    first = server.post("/api/init", json=body)
    assert first.status_code == 200 and first.json()["created"] is True
    again = server.post("/api/init", json=body)
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["n_interactions"] == first.json()["n_interactions"]
    other = server.post("/api/init", json={**body, "n_users": 30})
    assert other.status_code == 409 and other.json()["detail"]["dataset"] == "kept"


def test_a_run_name_that_is_taken_is_409(server):
    taken = server.get("/api/runs").json()["runs"][0]["run"]
    answer = server.post("/api/train", json={"steps": 10, "name": taken})
    assert answer.status_code == 409 and answer.json()["detail"]["run"] == taken


def test_a_bad_dataset_name_is_named_as_the_dataset(server):
    answer = server.post("/api/train", json={"steps": 10, "dataset": "../runs"})
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert detail["key"] == "dataset" and detail["message"].startswith("dataset ")


def test_errors_never_show_the_servers_folders(server, tmp_path_factory):
    runs = server.get("/api/runs").json()["runs"]
    listed = {r["run"] for r in runs}
    answer = server.post("/api/recommend", json={"user_id": 1, "run": sorted(listed)[0], "k": 0})
    assert answer.status_code == 422
    blank = server.post(
        "/api/train", json={"steps": 10, "preset": "seed-classic", "dataset": "kept"}
    )
    assert blank.status_code == 400, blank.text
    assert "/" not in blank.json()["detail"]["message"], blank.text  # no absolute path


def test_seed_classic_trains_after_an_init_and_serves_its_agent_only(server):
    started = server.post("/api/train", json={"preset": "seed-classic", "steps": 2000})
    assert started.status_code == 202, started.text
    run = started.json()["run"]
    _wait_until_idle(server)
    agent = server.post("/api/recommend", json={"user_id": 42, "k": 3, "run": run})
    assert agent.status_code == 200 and agent.json()["source"] == "agent"
    baseline = server.post(
        "/api/recommend", json={"user_id": 42, "k": 3, "run": run, "policy": "popular"}
    )
    assert baseline.status_code == 422 and baseline.json()["detail"]["allowed"] == ["agent"]
    unknown = server.post("/api/recommend", json={"user_id": 99999, "run": run})
    assert unknown.status_code == 404 and "99999" in unknown.text


def test_the_docs_can_send_the_token(guarded):
    schema = guarded.get("/openapi.json").json()  # the schema itself is public
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    responses = schema["paths"]["/api/recommend"]["post"]["responses"]
    assert {"401", "404", "422"} <= set(responses)
