"""Starting a peer (a simulated device) in a child process and waiting for its ``READY ... <port>`` line."""

from __future__ import annotations

import os
from pathlib import Path
import select
import subprocess
import time

ROOT = Path(__file__).resolve().parent.parent


def start_peer(argv: list[str], what: str, timeout: float = 30.0) -> tuple[subprocess.Popen[str], int]:
    """Run ``argv`` from the repository root; returns the process and the port its READY line names."""
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        line = proc.stdout.readline() if ready else ""
        if line.startswith("READY"):
            return proc, int(line.split()[-1])
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
    proc.kill()
    raise TimeoutError(f"{what} did not start")
