"""`rlrec-tui` in a pseudo-terminal, as a user's terminal runs it: for the hang-up test and
the first-frame bench (`bench/tui.py`). Also the one place that asks whether importing the
app pulls in torch."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Printed by a fresh interpreter: "True" when importing the app module loaded torch.
TORCH_AT_IMPORT = "import sys, rlrec.tui.app; print('torch' in sys.modules)"


def launch_in_pty(
    runs_dir: Path, size: tuple[int, int], **env: str
) -> tuple[subprocess.Popen[bytes], int]:
    """Start `python -m rlrec.tui.app --runs-dir runs_dir` on a new pseudo-terminal of `size`
    (columns, rows), TERM=xterm-256color plus `env`. Returns the process and the terminal's
    master side (a file descriptor: the caller reads the app's output there and closes it)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlrec.tui.app", "--runs-dir", str(runs_dir)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=dict(os.environ, TERM="xterm-256color", **env),
        close_fds=True,
        cwd=ROOT,
    )
    os.close(slave)
    return proc, master


def torch_at_import() -> bool:
    """Whether importing the app module in a fresh interpreter loads torch (it must not: the
    first frame would wait for it)."""
    out = subprocess.run(
        [sys.executable, "-c", TORCH_AT_IMPORT], capture_output=True, text=True, cwd=ROOT
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout.strip() == "True"
