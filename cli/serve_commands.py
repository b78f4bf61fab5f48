"""`rlrec serve`: the HTTP API (FastAPI + uvicorn) over the same engine use cases.

The API is another face (`rlrec.api`); faces never import each other, so this module only
parses the flags and starts the server through `rlrec.api.server.serve`, looked up by name.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any


def register(commands: Any, bench: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="HTTP API: init, train, metrics, recommend (OpenAPI docs at /docs)",
        description="Serve the runs folder over HTTP. Binds 127.0.0.1 unless --host says "
        "otherwise; any other host needs --token (clients send Authorization: Bearer TOKEN).",
    )
    serve.add_argument(
        "run",
        nargs="?",
        default=None,
        metavar="RUN",
        help="run folder served by default (its parent is the runs folder unless --runs)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--token",
        default=os.environ.get("RLREC_TOKEN") or None,
        help="require Authorization: Bearer TOKEN (default $RLREC_TOKEN: a token on the "
        "command line is visible to other users in ps)",
    )
    serve.add_argument(
        "--runs",
        default=None,
        metavar="DIR",
        help="runs folder (default $RLREC_RUNS_DIR or ./runs)",
    )
    serve.add_argument(
        "--datasets",
        default="datasets",
        metavar="DIR",
        help="where POST /api/init writes datasets (default ./datasets)",
    )
    serve.add_argument(
        "--config", default=None, metavar="FILE", help="run config YAML for runs trained over HTTP"
    )
    serve.set_defaults(handler=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        print(f"rlrec: error: --port {args.port} is out of range (1..65535)", file=sys.stderr)
        return 2
    server = importlib.import_module("rlrec.api.server")
    # Refused before uvicorn is even imported, so the one-line error comes at once.
    server.check_exposure(args.host, args.token)
    return int(
        server.serve(
            args.run,
            args.host,
            args.port,
            args.token,
            runs_dir=args.runs,
            datasets_dir=args.datasets,
            config_file=args.config,
        )
    )
