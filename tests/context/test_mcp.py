"""The context tools over MCP with the SDK's real client: stdio (one per agent session) and
streamable HTTP from the long-lived `tack context serve`, which picks up a pushed commit
within one fetch cycle and forgets a deleted file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from tack.context.home import ContextHome
from tack.context.service import notify
from tests.conftest import GIT_ENV, git, run_tack
from tests.context.org import make_org

TOOLS = {"search", "symbol", "refs", "read", "map", "catalog"}
CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("search", {"query": "qz-invoice-77"}, "billing/invoices.py"),
    ("symbol", {"name": "RateLimiter"}, "src/lib.rs"),
    ("refs", {"name": "Money"}, '"path": "billing/invoices.py",\n  "line": 8'),
    ("read", {"ref": "billing:billing/money.py:1-2"}, "class Money"),
    ("map", {"repo": "billing", "budget": 200}, "billing/money.py:"),
    ("catalog", {"query": "weekly_revenue"}, "Revenue summed per ISO week"),
]


def _text(result: Any) -> str:
    assert not result.isError, result.content
    return "\n".join(getattr(c, "text", "") for c in result.content)


async def _exercise(session: ClientSession) -> None:
    await session.initialize()
    listed = await session.list_tools()
    assert {t.name for t in listed.tools} == TOOLS
    for name, args, expected in CALLS:
        assert expected in _text(await session.call_tool(name, args)), name
    bad = await session.call_tool("read", {"ref": "nowhere"})
    assert bad.isError and "REPO:PATH" in _text_any(bad)


def _text_any(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


@pytest.fixture
def synced(tmp_path: Path) -> tuple[Path, Path]:
    manifest = make_org(tmp_path / "org")
    home = tmp_path / "home"
    done = run_tack("context", "sync", "--manifest", str(manifest), "--home", str(home))
    assert done.returncode == 0, done.stderr
    return manifest, home


async def test_the_stdio_server_lists_and_calls_every_tool(synced: tuple[Path, Path]) -> None:
    _, home = synced
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "tack.context.mcp_server", "--home", str(home)],
        env={**os.environ})
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await _exercise(session)


@pytest.fixture
def sidecar(synced: tuple[Path, Path]) -> Iterator[tuple[Path, ContextHome, str]]:
    manifest, home_path = synced
    # Its output goes to a file: a pipe nobody reads could fill and block the sidecar.
    output = home_path.parent / "serve.out"
    with output.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tack", "context", "serve", "--manifest", str(manifest),
             "--home", str(home_path), "--interval", "1"],
            env={**os.environ, **GIT_ENV}, stdout=sink, stderr=subprocess.STDOUT)
    home = ContextHome(home_path)
    try:
        deadline = time.monotonic() + 60
        while (info := home.service()) is None:
            assert proc.poll() is None, output.read_text()
            assert time.monotonic() < deadline, "the sidecar did not start"
            time.sleep(0.05)
        yield manifest, home, str(info["mcp_url"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(f"the sidecar outlived SIGTERM by 30 s:\n{output.read_text()}")
    assert not home.service_file.exists()


async def _search(url: str, query: str) -> list[dict[str, Any]]:
    async with streamable_http_client(url) as (read, write, _), \
            ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("search", {"query": query})
        assert not result.isError, result.content
        data = result.structuredContent or {}
        hits: list[dict[str, Any]] = data.get("result", [])
        return hits


async def _until(check: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def test_the_sidecar_serves_http_and_follows_pushes_and_deletes(
        sidecar: tuple[Path, ContextHome, str]) -> None:
    manifest, home, url = sidecar
    assert url.startswith("http://127.0.0.1:")
    async with streamable_http_client(url) as (read, write, _), \
            ClientSession(read, write) as session:
        await _exercise(session)
    billing = manifest.parent / "billing"
    (billing / "billing" / "tax.py").write_text("def vat_rate_marker_qq42() -> float:\n"
                                                "    return 0.2\n")
    git(billing, "add", "-A")
    git(billing, "commit", "-qm", "tax")
    head = git(billing, "rev-parse", "HEAD").strip()
    # No event: the scheduled fetch cycle alone picks the commit up.
    hits = await _until(lambda: _search(url, "vat_rate_marker_qq42"), "the scheduled fetch")
    assert hits[0]["path"] == "billing/tax.py" and hits[0]["commit"] == head
    git(billing, "rm", "-q", "billing/tax.py")
    git(billing, "commit", "-qm", "no tax")
    assert notify(home, ["billing"])  # what a hand-off push does

    async def gone() -> bool:
        return await _search(url, "vat_rate_marker_qq42") == []

    await _until(gone, "the deleted file to leave the index")
    status = json.loads(run_tack("context", "status", "--home", str(home.path)).stdout)
    assert status["service"]["mcp_url"] == url
    billing_state = next(s for s in status["sources"] if s["name"] == "billing")
    assert billing_state["commit"] == git(billing, "rev-parse", "HEAD").strip()


def test_tack_up_starts_one_sidecar_per_home_and_stops_it(tmp_path: Path) -> None:
    from tack.context.wiring import start_sidecar, stop_sidecar
    from tack.workflow import load_workflow

    manifest = make_org(tmp_path / "org")
    workflow = tmp_path / "WORKFLOW.md"
    workflow.write_text(f"---\ntracker: {{kind: local}}\ncontext: {{manifest: {manifest}, "
                        "interval_s: 3600}\n---\nWork on {{ issue.title }}\n")
    wf = load_workflow(workflow)
    proc = start_sidecar(wf)
    assert proc is not None
    home = ContextHome(tmp_path / ".tack" / "context")
    try:
        deadline = time.monotonic() + 60
        while home.service() is None:
            assert proc.poll() is None, (home.path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the sidecar did not start"
            time.sleep(0.05)
        assert start_sidecar(wf) is None  # one per home: the running one is reused
    finally:
        stop_sidecar(proc)
    assert proc.returncode is not None and home.service() is None
