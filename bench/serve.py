"""HTTP top-10 latency and throughput of `rlrec serve`, beside the in-process call it wraps.

Trains a short run into a temporary folder (or uses `--run`), starts the real server
(`rlrec serve`, uvicorn) on 127.0.0.1 at a free port, warms it up, then sends bounded load —
at most `--requests` POST /api/recommend calls per level, and at most `--seconds` — at
concurrency 1, 16 and 64 (one keep-alive connection per concurrent client), cycling over
the dataset's users. Prints p50 / p99 latency in milliseconds, requests/s and the mean
number of requests the server ranked together per pass, per level; and, measured in the
same run, two peers: the in-process p50 / p99 of the same `recommend` call (what HTTP adds)
and a FastAPI endpoint that answers a fixed body under the same load (the framework's floor
on this machine).

The load comes from wrk (Debian/Ubuntu: `apt-get install wrk`; macOS: `brew install wrk`),
an event-driven C client: a Python client would spend more CPU than the server it measures,
on the same cores. wrk's time cap is `-d`; the request cap is a Lua `response` hook that
tells this script when `--requests` answers came back, and this script stops it (SIGINT: wrk
prints its figures for the requests so far). The client shares the machine with the server, so the
figures are for the pair.

    .venv/bin/python bench/serve.py
    .venv/bin/python bench/serve.py --run runs/my-run --requests 20000 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from trained_run import train_bench_run  # bench/, beside this script

# wrk script: POST /api/recommend cycling over USERS, say when LIMIT answers came back,
# print the figures as one JSON line at the end (latencies in microseconds).
WRK_SCRIPT = """
local users = {%(users)s}
local limit = %(limit)d
local k = %(k)d
local sent, answered = 0, 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  sent = sent + 1
  local body = '{"user_id": "' .. users[(sent %% #users) + 1] .. '", "k": ' .. k .. '}'
  return wrk.format(nil, "/api/recommend", nil, body)
end
response = function(status, headers, body)
  answered = answered + 1
  if answered == limit then io.write("limit reached\\n"); io.flush() end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"failed": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""

# The floor: FastAPI, uvicorn and the same request body model, answering a fixed body.
FLOOR_APP = """
from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel

app = FastAPI()


class Body(BaseModel):
    user_id: int | str
    k: int = 10


@app.post("/api/recommend")
async def recommend(body: Body) -> Response:
    return Response(b'{"items": []}', media_type="application/json")
"""


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


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:  # 127.0.0.1 only
        return dict(json.load(answer))


def _wait_for(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return
        except urllib.error.HTTPError:  # answering (the floor has no health endpoint)
            return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start") from None
            time.sleep(0.1)


def _wrk(url: str, script: Path, concurrency: int, seconds: float) -> dict:
    """Run wrk until the script's request cap or `seconds`, whichever comes first; its
    figures, with `rate` (requests/s over the time it ran)."""
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s"]
    command += ["--timeout", "10s", "-s", str(script), url]
    wrk = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert wrk.stdout is not None
    lines = []
    for line in wrk.stdout:
        if line.startswith("limit reached"):
            wrk.send_signal(signal.SIGINT)  # wrk stops and prints what it measured
        lines.append(line)
    measured = [line for line in lines if line.startswith("{")]
    if wrk.wait() != 0 or not measured:
        raise SystemExit(f"wrk failed: {''.join(lines)}")
    figures = json.loads(measured[0])
    figures["rate"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return dict(figures)


def _line(label: str, figures: dict) -> str:
    return (
        f"{label}: p50 {figures['p50_us'] / 1e3:7.2f} ms   p99 {figures['p99_us'] / 1e3:7.2f} ms"
        f"   {figures['rate']:7.0f} requests/s   ({figures['requests']} requests, "
        f"{figures['failed']} failed)"
    )


def _batches(health_before: dict, health_after: dict) -> float:
    """Mean number of requests ranked per pass between two /api/health answers."""
    before, after = health_before["recommend_batches"], health_after["recommend_batches"]
    passes = {int(s): n - before.get(s, 0) for s, n in after.items() if n > before.get(s, 0)}
    total = sum(passes.values())
    return sum(size * n for size, n in passes.items()) / total if total else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a trained run (default: train one)")
    parser.add_argument("--steps", type=int, default=5000, help="training steps if training")
    parser.add_argument("--requests", type=int, default=20000, help="requests per level (cap)")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds per level (cap)")
    parser.add_argument("--levels", default="1,16,64", help="concurrency levels")
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print(
            "bench/serve.py: wrk is not installed (apt-get install wrk, brew install wrk)",
            file=sys.stderr,
        )
        return 2
    levels = [int(c) for c in args.levels.split(",")]

    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        run_dir = (args.run or train_bench_run(scratch, args.steps)).resolve()
        from rlrec.engine.training.runs import load_run

        dataset = load_run(run_dir).dataset
        users = [str(u) for u in dataset.users["original_id"].to_numpy()[:1000]]
        script = scratch / "recommend.lua"
        quoted = ", ".join(json.dumps(u) for u in users)
        script.write_text(WRK_SCRIPT % {"users": quoted, "limit": args.requests, "k": args.k})
        warm_script = scratch / "warm.lua"
        warm_script.write_text(WRK_SCRIPT % {"users": quoted, "limit": 500, "k": args.k})

        local = _in_process(run_dir, users, args.k, 2000) * 1e3
        print(
            f"in-process recommend top-{args.k}: p50 {np.percentile(local, 50):7.2f} ms"
            f"   p99 {np.percentile(local, 99):7.2f} ms   (one user a call)"
        )
        env = {**os.environ, "OMP_NUM_THREADS": "1"}

        port = _free_port()
        command = [sys.executable, "-m", "rlrec.cli.main", "serve", run_dir.name]
        command += ["--port", str(port), "--runs", str(run_dir.parent)]
        command += ["--datasets", str(scratch / "datasets")]
        server = subprocess.Popen(command, env=env)  # its stderr: the serving line, or why not
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_for(url + "/api/health", server)
            _wrk(url, warm_script, 4, 10)  # loads the run, warms the caches
            for level in levels:
                before = _get(url + "/api/health")
                figures = _wrk(url, script, level, args.seconds)
                batch = _batches(before, _get(url + "/api/health"))
                print(
                    _line(f"rlrec serve  concurrency {level:>3}", figures)
                    + f"   {batch:4.1f} ranked a pass"
                    + f"   p50 {figures['p50_us'] / 1e3 / np.percentile(local, 50):4.1f}x"
                    " in-process"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)

        (scratch / "floor.py").write_text(FLOOR_APP)
        port = _free_port()
        command = [sys.executable, "-m", "uvicorn", "floor:app", "--app-dir", str(scratch)]
        command += ["--port", str(port), "--log-level", "warning"]
        floor = subprocess.Popen(command, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_for(url + "/", floor)
            _wrk(url, warm_script, 4, 10)
            for level in levels:
                print(_line(f"FastAPI floor concurrency {level:>3}", _wrk(url, script, level, 5)))
        finally:
            floor.terminate()
            floor.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
