"""HTTP top-10 latency and throughput of `rlrec serve`, beside the in-process call it wraps.

Trains a short run into a temporary folder (or uses `--run`), starts the real server
(`rlrec serve`, uvicorn) on 127.0.0.1 at a free port, warms it up, then sends bounded load —
`--requests` POST /api/recommend calls per level, capped at `--seconds` each — at
concurrency 1, 16 and 64 (asyncio + httpx, one connection per concurrent client), cycling
over the users. Prints p50 / p99 latency in milliseconds and requests/s per level, and the
in-process p50 / p99 of the same `recommend` call for comparison. The client shares the
machine with the server, so the figures are for the pair.

    .venv/bin/python bench/serve.py
    .venv/bin/python bench/serve.py --run runs/my-run --requests 5000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _train(folder: Path, steps: int) -> Path:
    from rlrec.cli.main import main

    argv = ["train", "--preset", "default", "--steps", str(steps), "--seed", "0"]
    argv += ["--threads", "1", "--out", str(folder), "--name", "bench", "--json"]
    if main(argv) != 0:
        raise SystemExit("training the benchmark run failed")
    return folder / "bench"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _in_process(run_dir: Path, users: list[str], k: int, n: int) -> np.ndarray:
    from rlrec.engine.usecases.serving import load_for_serving, recommend

    run = load_for_serving(run_dir)
    recommend(run, users[0], k)  # warm
    times = np.empty(n)
    for i in range(n):
        began = time.perf_counter()
        recommend(run, users[i % len(users)], k)
        times[i] = time.perf_counter() - began
    return times


async def _load(
    url: str, users: list[str], k: int, concurrency: int, requests: int, cap: float
) -> tuple[np.ndarray, float, int]:
    """Latencies (s) of the calls that finished, the wall-clock seconds, and failures."""
    import httpx

    latencies: list[float] = []
    failures = 0
    sent = 0
    deadline = time.perf_counter() + cap

    async def client() -> None:
        nonlocal sent, failures
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            while sent < requests and time.perf_counter() < deadline:
                user = users[sent % len(users)]
                sent += 1
                began = time.perf_counter()
                answer = await http.post("/api/recommend", json={"user_id": user, "k": k})
                latencies.append(time.perf_counter() - began)
                failures += answer.status_code != 200

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return np.array(latencies), time.perf_counter() - began, failures


def _ms(times: np.ndarray) -> str:
    return f"p50 {np.percentile(times, 50) * 1e3:7.2f} ms   p99 {np.percentile(times, 99) * 1e3:7.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a trained run (default: train one)")
    parser.add_argument("--steps", type=int, default=5000, help="training steps if training")
    parser.add_argument("--requests", type=int, default=2000, help="requests per level")
    parser.add_argument("--seconds", type=float, default=30.0, help="time cap per level")
    parser.add_argument("--levels", default="1,16,64", help="concurrency levels")
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        run_dir = (args.run or _train(Path(scratch), args.steps)).resolve()
        from rlrec.engine.training.runs import load_run

        dataset = load_run(run_dir).dataset
        users = [str(u) for u in dataset.users["user_id"].to_numpy()[:1000]]

        local = _in_process(run_dir, users, args.k, min(args.requests, 2000))
        print(f"in-process recommend top-{args.k}: {_ms(local)}")

        port = _free_port()
        command = [sys.executable, "-m", "rlrec.cli.main", "serve", run_dir.name]
        command += ["--port", str(port), "--runs", str(run_dir.parent)]
        command += ["--datasets", str(Path(scratch) / "datasets")]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        server = subprocess.Popen(command, env=env)  # its stderr: the one serving line, or why not
        url = f"http://127.0.0.1:{port}"
        try:
            import httpx

            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(url + "/api/health")
                    break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.1)
            asyncio.run(_load(url, users, args.k, 4, 200, 10.0))  # load the run, warm up
            for level in (int(c) for c in args.levels.split(",")):
                times, wall, failed = asyncio.run(
                    _load(url, users, args.k, level, args.requests, args.seconds)
                )
                print(
                    f"HTTP concurrency {level:>3}: {_ms(times)}   "
                    f"{len(times) / wall:8.0f} requests/s   ({len(times)} requests, "
                    f"{failed} failed)"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
