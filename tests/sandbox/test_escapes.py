"""The escape suite: what an agent's commands try, through each way Tack runs them (the
built-in agent's shell, the command backend, a hook), and the reason the agent sees.

Everything lives under /var/tmp, not /tmp, so a blocked read proves the sandbox hides the
path rather than that the sandbox's private /tmp happens to cover it.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tack.agents.base import AgentEvent, SessionContext
from tack.agents.command import CommandBackend
from tack.agents.tools import run_tool
from tack.sandbox import SandboxPolicy, close_proxies, policy_from_config
from tack.tracker.local import LocalTracker
from tack.workflow.config import CommandConfig, SandboxConfig, SandboxLimits
from tack.workspace.hooks import run_hook

API_KEY = "sk-escape-suite-0123456789"
SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY----- escape-suite"
OTHER_SECRET = "other workspace secret"


@dataclass
class Scene:
    home: Path
    root: Path
    repo: Path
    ws: Path
    other: Path
    tack_dir: Path
    policy: SandboxPolicy
    tracker: LocalTracker


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    base = Path(tempfile.mkdtemp(prefix="tack-escape-", dir="/var/tmp"))
    home = base / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(SSH_KEY)
    (home / "notes.txt").write_text("mine\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    repo = base / "repo"
    repo.mkdir()
    _git("init", "-q", "-b", "main", cwd=repo)
    (repo / "README.md").write_text("hello\n")
    tack_dir = repo / ".tack"
    tack_dir.mkdir()
    (tack_dir / "state.db").write_text("tack state")
    _git("add", "README.md", cwd=repo)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init", cwd=repo)
    root = base / "workspaces"
    _git("worktree", "add", "-q", "-b", "tack/t-1", str(root / "T-1"), cwd=repo)
    other = root / "T-2"
    other.mkdir()
    (other / "secret.txt").write_text(OTHER_SECRET)
    config = SandboxConfig(limits=SandboxLimits(cpu_seconds=5, memory_mb=1024, processes=64))
    policy = policy_from_config(config, workspace_root=root, tack_dir=tack_dir,
                                base_dir=repo)
    with LocalTracker(tmp_path / "issues.db") as tracker:
        yield Scene(home, root, repo, root / "T-1", other, tack_dir, policy, tracker)
    shutil.rmtree(base, ignore_errors=True)


Runner = Callable[[Scene, str], Awaitable[str]]


async def via_shell(scene: Scene, script: str) -> str:
    ctx = SessionContext(workspace=scene.ws, issue=scene.tracker.add_issue("escape"),
                         tracker=scene.tracker, env=dict(os.environ), sandbox=scene.policy)
    outcome = await run_tool("shell", {"command": script, "timeout_ms": 60_000}, ctx)
    return outcome.output


async def via_command(scene: Scene, script: str) -> str:
    ctx = SessionContext(workspace=scene.ws, issue=scene.tracker.add_issue("escape"),
                         tracker=scene.tracker, env=dict(os.environ), sandbox=scene.policy)
    session = await CommandBackend(CommandConfig(command=script)).start_session(ctx)
    events: list[AgentEvent] = []

    async def sink(event: AgentEvent) -> None:
        events.append(event)

    try:
        result = await session.run_turn("escape, please", sink)
    finally:
        await session.stop()
    assert result.ok == (not any(e.kind == "turn_failed" for e in events))
    return "\n".join(e.message for e in events if e.kind in ("notification", "turn_failed"))


async def via_hook(scene: Scene, script: str) -> str:
    result = await run_hook("before_run", script, cwd=scene.ws,
                            env={"TACK_WORKSPACE": str(scene.ws)}, timeout_ms=60_000,
                            sandbox=scene.policy)
    return result.output


RUNNERS = pytest.mark.parametrize("run", [via_shell, via_command, via_hook],
                                  ids=["shell", "command", "hook"])


@RUNNERS
async def test_the_ssh_key_in_home_is_not_there(scene: Scene, run: Runner) -> None:
    out = await run(scene, f"cat {scene.home}/.ssh/id_rsa; cat ~/.ssh/id_rsa")
    assert SSH_KEY not in out
    assert f"{scene.home}/.ssh/id_rsa: No such file or directory" in out


@RUNNERS
async def test_another_workspace_and_tacks_state_are_not_there(scene: Scene,
                                                                run: Runner) -> None:
    out = await run(scene, f"cat {scene.other}/secret.txt; cat {scene.tack_dir}/state.db; "
                           "cat ../T-2/secret.txt")
    assert OTHER_SECRET not in out and "tack state" not in out
    assert out.count("No such file or directory") == 3


@RUNNERS
async def test_writing_outside_the_workspace_is_refused(scene: Scene, run: Runner) -> None:
    out = await run(scene, f"echo owned > {scene.home}/owned; echo owned > /etc/owned; "
                           "echo inside > inside.txt && echo wrote-inside")
    assert out.count("Read-only file system") == 2
    assert not (scene.home / "owned").exists() and not Path("/etc/owned").exists()
    assert "wrote-inside" in out and (scene.ws / "inside.txt").read_text() == "inside\n"


@RUNNERS
async def test_a_symlink_out_of_the_workspace_leads_nowhere(scene: Scene, run: Runner) -> None:
    out = await run(scene, f"ln -sf {scene.home}/.ssh/id_rsa key && cat key; "
                           f"ln -sf {scene.home}/notes.txt notes && echo owned > notes")
    assert SSH_KEY not in out
    assert "cat: key: No such file or directory" in out
    assert "notes: Read-only file system" in out
    assert (scene.home / "notes.txt").read_text() == "mine\n"


@RUNNERS
async def test_the_api_key_is_in_neither_the_environment_nor_tacks_proc(
        scene: Scene, run: Runner) -> None:
    out = await run(scene, f"env; echo ---; cat /proc/{os.getpid()}/environ; "
                           "cat /proc/1/environ | tr '\\0' '\\n'")
    assert API_KEY not in out
    assert f"/proc/{os.getpid()}/environ: No such file or directory" in out
    assert "HOME=/tmp/home" in out


@RUNNERS
async def test_tacks_own_process_cannot_be_signalled(scene: Scene, run: Runner) -> None:
    out = await run(scene, f"kill -TERM {os.getpid()}; kill -KILL {os.getppid()}")
    assert out.count("No such process") == 2


@RUNNERS
async def test_the_shared_git_dir_is_read_only(scene: Scene, run: Runner) -> None:
    hooks = scene.repo / ".git" / "hooks"
    out = await run(scene, "printf '#!/bin/sh\\necho pwned\\n' > "
                           "\"$(git rev-parse --git-common-dir)/hooks/post-checkout\"; "
                           "git config core.hooksPath /var/tmp; "
                           "git config --worktree core.fsmonitor 'echo pwned'; "
                           "echo 'gitdir: /var/tmp/evil' > .git; rm -f .git; "
                           "git status --short | head -3")
    assert "Read-only file system" in out
    assert not (hooks / "post-checkout").exists()
    config = _git("config", "--list", "--show-origin", cwd=scene.ws)
    assert "hookspath" not in config.lower() and "fsmonitor" not in config.lower()
    assert (scene.ws / ".git").read_text().startswith("gitdir: ")
    assert _git("rev-parse", "--abbrev-ref", "HEAD", cwd=scene.ws).strip() == "tack/t-1"


@RUNNERS
async def test_a_fork_bomb_ends_as_a_failed_command(scene: Scene, run: Runner) -> None:
    from tack.sandbox.limits import pids_parent

    by_cgroup = pids_parent() is not None
    if not by_cgroup and os.geteuid() == 0:
        pytest.skip("root without a writable pids cgroup: nothing can limit processes here "
                    "(tack doctor says so); a fork bomb would take the machine down")
    out = await run(scene, "bomb() { bomb | bomb & }; bomb; sleep 1; echo the-host-lives")
    assert "Resource temporarily unavailable" in out
    if by_cgroup:  # RLIMIT_NPROC, the fallback, does not say it was reached
        assert "reached sandbox.limits.processes (64)" in out


@RUNNERS
async def test_a_10_gb_allocation_fails(scene: Scene, run: Runner) -> None:
    out = await run(scene, "python3 -c 'b = bytearray(10 * 1024 ** 3); print(len(b))'")
    assert "MemoryError" in out
    assert "10737418240" not in out


async def test_cpu_time_is_limited(scene: Scene) -> None:
    scene.policy = replace(scene.policy, limits=replace(scene.policy.limits, cpu_seconds=1))
    out = await via_shell(scene, "while :; do :; done")
    assert "sandbox.limits.cpu_seconds" in out


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.server.hits += 1  # type: ignore[attr-defined]
        body = b"hello from the allowed host"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web_servers() -> Iterator[list[http.server.ThreadingHTTPServer]]:
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello) for _ in range(2)]
    for server in servers:
        server.hits = 0  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def web(web_servers: list[http.server.ThreadingHTTPServer]) -> tuple[int, int]:
    return web_servers[0].server_address[1], web_servers[1].server_address[1]


FETCH = ("python3 - <<'EOF'\n"
         "import sys, urllib.request\n"
         "for url in sys.argv[1:] or {urls}:\n"
         "    try:\n"
         "        print(url, urllib.request.urlopen(url, timeout=20).read().decode())\n"
         "    except Exception as exc:\n"
         "        print(url, 'failed:', exc, getattr(exc, 'read', lambda: b'')().decode())\n"
         "EOF\n")


@RUNNERS
async def test_only_allowed_hosts_are_reachable(scene: Scene, run: Runner,
                                                web: tuple[int, int]) -> None:
    allowed, other = web
    scene.policy = replace(scene.policy, allow_hosts=(f"127.0.0.1:{allowed}",))
    urls = [f"http://127.0.0.1:{allowed}/", f"http://127.0.0.1:{other}/"]
    try:
        out = await run(scene, FETCH.replace("{urls}", repr(urls))
                        + f"env -u http_proxy -u HTTP_PROXY curl -sS -m 5 {urls[0]}")
    finally:
        await close_proxies()
    assert f"{urls[0]} hello from the allowed host" in out
    assert (f"{urls[1]} failed: HTTP Error 403: Forbidden tack sandbox: 127.0.0.1:{other} is "
            "not on sandbox.allow_hosts") in out
    # Around the proxy there is no network at all.
    assert "Couldn't connect to server" in out or "Failed to connect" in out


async def test_without_allowed_hosts_there_is_no_network(scene: Scene,
                                                         web: tuple[int, int]) -> None:
    out = await via_shell(scene, f"curl -sS -m 5 http://127.0.0.1:{web[0]}/")
    assert "hello" not in out and "Failed to connect" in out


def test_the_agents_processes_die_with_tack(scene: Scene, tmp_path: Path) -> None:
    import psutil

    from tests.e2e.harness import wait_for

    marker = "4242.4242"  # `sleep` with this argument is ours
    tack = tmp_path / "tack_like.py"
    tack.write_text(
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from tack.sandbox import SandboxPolicy, prepare\n"
        "async def main():\n"
        f"    cmd = await prepare(['bash', '-c', 'sleep {marker} & sleep {marker}'],\n"
        "                        SandboxPolicy(env_names=('PATH',)), Path(sys.argv[1]), {'PATH': '/usr/bin:/bin'})\n"
        "    proc = await asyncio.create_subprocess_exec(*cmd.argv, env=cmd.env)\n"
        "    await proc.wait()\n"
        "asyncio.run(main())\n")
    parent = subprocess.Popen([os.sys.executable, str(tack), str(scene.ws)],
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                  p for p in os.sys.path if p)})

    def sleepers() -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            if proc.info["cmdline"] == ["sleep", marker]:
                found.append(proc)
        return found

    try:
        wait_for(lambda: len(sleepers()) == 2, what="the sandboxed sleeps to start")
    finally:
        parent.kill()  # SIGKILL: Tack gets no chance to clean up
        parent.wait()
    wait_for(lambda: not sleepers(), what="the sandboxed processes to die with their Tack")


async def test_the_check_tool_runs_its_command_in_the_sandbox(scene: Scene) -> None:
    ctx = SessionContext(workspace=scene.ws, issue=scene.tracker.add_issue("escape"),
                         tracker=scene.tracker, env=dict(os.environ), sandbox=scene.policy)
    script = f"cat {scene.home}/.ssh/id_rsa; test -z \"$OPENAI_API_KEY\" && echo no-key; exit 3"
    outcome = await run_tool("check", {"command": script}, ctx)
    assert not outcome.ok
    assert SSH_KEY not in outcome.output and API_KEY not in outcome.output
    assert "No such file or directory" in outcome.output and "no-key" in outcome.output


async def test_a_kept_alive_proxy_connection_cannot_reach_a_second_host(
        web_servers: list[http.server.ThreadingHTTPServer]) -> None:
    import asyncio

    from tack.sandbox import FilteringProxy

    allowed, other = (s.server_address[1] for s in web_servers)
    proxy = await FilteringProxy((f"127.0.0.1:{allowed}",)).start()
    try:
        reader, writer = await asyncio.open_unix_connection(str(proxy.socket_path))
        writer.write(f"GET http://127.0.0.1:{allowed}/ HTTP/1.1\r\nHost: a\r\n"
                     "Connection: keep-alive\r\n\r\n"
                     f"GET http://127.0.0.1:{other}/ HTTP/1.1\r\nHost: b\r\n\r\n".encode())
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(), 20)
        writer.close()
    finally:
        await proxy.close()
    assert b"hello from the allowed host" in reply
    assert web_servers[1].hits == 0  # type: ignore[attr-defined]


@RUNNERS
async def test_a_host_services_unix_socket_is_out_of_reach(scene: Scene, run: Runner) -> None:
    import socket

    if not os.access("/run", os.W_OK):
        pytest.skip("needs a writable /run to play a host service")
    path = f"/run/tack-escape-{os.getpid()}-{run.__name__}.sock"
    service = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    service.bind(path)
    service.listen(1)
    try:
        out = await run(scene, "python3 -c \"import socket, sys; s = socket.socket(socket.AF_UNIX);"
                               f" s.connect('{path}'); print('connected')\"")
    finally:
        service.close()
        os.unlink(path)
    assert "connected" not in out.replace("not connected", "")
    assert "FileNotFoundError" in out


async def test_configured_checks_run_in_the_sandbox_with_the_workflows_own_vars(
        scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESCAPE_MODEL_URL", "http://127.0.0.1:9/v1")
    (scene.ws / "WORKFLOW.md").write_text(
        "---\ntracker: {kind: local}\nbuiltin: {base_url: $ESCAPE_MODEL_URL}\n"
        "feedback:\n  checks:\n"
        f"    - {{name: peek, command: 'cat {scene.home}/.ssh/id_rsa; echo \"url=$ESCAPE_MODEL_URL\"; exit 4'}}\n"
        "---\nprompt\n")
    ctx = SessionContext(workspace=scene.ws, issue=scene.tracker.add_issue("escape"),
                         tracker=scene.tracker, env=dict(os.environ), sandbox=scene.policy)
    outcome = await run_tool("check", {}, ctx)
    assert not outcome.ok
    assert outcome.output.startswith("exit code: 4"), outcome.output
    assert "peek" in outcome.output and "No such file or directory" in outcome.output
    assert SSH_KEY not in outcome.output
    assert "\n   url=\n" in outcome.output  # the workflow's variable stayed outside


PTRACE = ("python3 -c \"import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); "
          "r = libc.ptrace(0, 0, 0, 0); "  # PTRACE_TRACEME: always allowed, unless filtered
          "print('ptrace:', 'ok' if r == 0 else os.strerror(ctypes.get_errno()))\"")


@RUNNERS
async def test_ptrace_and_new_user_namespaces_are_filtered(scene: Scene, run: Runner) -> None:
    out = await run(scene, f"{PTRACE}; unshare -U true; unshare -Ur true; "
                           "python3 -c 'import socket; socket.socket(socket.AF_NETLINK, "
                           "socket.SOCK_RAW)'")
    assert "ptrace: Operation not permitted" in out
    assert "unshare: unshare failed: Operation not permitted" in out
    assert "Address family not supported by protocol" in out
