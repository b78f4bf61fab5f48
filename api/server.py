"""Start the HTTP API: `serve(...)` builds the app and runs it under uvicorn (blocking).

`rlrec serve` calls this by module name (faces never import each other; the CLI only parses
flags and hands them over). A non-loopback host without a token is refused before binding.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

from rlrec.data.errors import Option, RlrecError


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None) -> None:
    """RlrecError (naming `token`) when `host` is reachable from other machines and no token
    guards it: anyone who can reach the port could train runs and fill the disk; (naming
    `host`) when it is empty."""
    if not host.strip():
        raise RlrecError(
            [Option("host", "''"), ": give an address to bind (127.0.0.1: this machine only)"],
            key="host",
            option="host",
        )
    if not is_loopback(host) and not token:
        raise RlrecError(
            [
                f"host {host} is reachable from other machines: give ",
                Option("token"),
                " (clients send Authorization: Bearer <token>), or bind 127.0.0.1",
            ],
            key="token",
            option="token",
        )


def serve(
    run: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    runs_dir: str | Path | None = None,
    datasets_dir: str | Path = "datasets",
    config_file: str | Path | None = None,
) -> int:
    """Serve the API until interrupted; returns the exit status. `run`: the run served by
    default, a run folder (its parent is the runs folder unless `runs_dir` is given) or a
    folder name under `runs_dir` (default `$RLREC_RUNS_DIR` or ./runs). RlrecError: a
    non-loopback host without a token, a run that is not in the runs folder."""
    check_exposure(host, token)
    from rlrec.engine.training.run_folder import default_runs_dir
    from rlrec.engine.training.runs import require_run

    runs = Path(runs_dir) if runs_dir is not None else None
    if run is not None:
        # A name in the runs folder first: `bench` must not be the ./bench folder.
        folder = runs / run if runs is not None and (runs / run).is_dir() else Path(run)
        folder = require_run(folder)
        if runs is not None and folder.resolve().parent != runs.resolve():
            raise RlrecError(
                [f"run {folder} is not in the runs folder {runs} (", Option("runs"), ")"],
                file=folder,
            )
        runs, run = folder.parent, folder.name
    import uvicorn

    from rlrec.api.app import create_app

    app = create_app(
        runs if runs is not None else default_runs_dir(),
        datasets_dir,
        run=run,
        token=token,
        config_file=config_file,
    )
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host  # IPv6
    print(f"rlrec: serving http://{shown}:{port} (docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
