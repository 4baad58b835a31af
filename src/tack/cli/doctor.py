"""`tack doctor`: which agent backends work on this machine, and why not.

Checks binaries, versions, endpoints and the WORKFLOW.md here, with short timeouts and no
model calls, so it never hangs.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

import typer

from tack.errors import TackError
from tack.workflow.config import ServiceConfig

PROBE_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 1.0


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _version(argv: list[str]) -> str | None:
    try:
        done = subprocess.run([*argv, "--version"], capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (done.stdout or done.stderr).strip().splitlines()
    return out[0] if done.returncode == 0 and out else None


def _binary(label: str, command: str, hint: str) -> Check:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return Check(label, False, f"command {command!r} cannot be parsed: {exc}")
    program = argv[0] if argv else ""
    found = (program if os.access(program, os.X_OK) else None) if os.sep in program \
        else shutil.which(program)
    if not found:
        return Check(label, False, f"{program!r} not found{'' if os.sep in program else ' on PATH'}; "
                                   f"{hint}")
    version = _version([found])
    if version is None:
        return Check(label, False, f"{found} did not answer --version within "
                                   f"{PROBE_TIMEOUT_S:g}s")
    return Check(label, True, f"{found} ({version})")


def probe_cli(command: str) -> tuple[bool, str]:
    """Whether an agent CLI is installed and answers `--version` (for `tack init`)."""
    found = _binary(command, command, "see `tack doctor`")
    return found.ok, found.detail


def _builtin(config: ServiceConfig) -> Check:
    import httpx

    url = config.builtin.base_url
    key = config.builtin.api_key
    parsed = urlparse(url)
    try:
        # A dead address fails within the connect timeout; a server that accepted the
        # connection gets the probe timeout to answer (one second is short on a busy machine).
        timeout = httpx.Timeout(PROBE_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        with httpx.Client(timeout=timeout) as client:
            client.get(url.rstrip("/") + "/models",
                       headers={"Authorization": f"Bearer {key}"} if key else {})
    except httpx.HTTPError as exc:
        return Check("builtin", False, f"{url} is not reachable ({type(exc).__name__}); start "
                                       "a model server or set builtin.base_url")
    local = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    if not key and not local:
        return Check("builtin", False, f"{url} reachable, but builtin.api_key is not set")
    return Check("builtin", True, f"{url} reachable" + ("" if key else " (no API key)"))


def _workflow(path: Path | None) -> tuple[Check | None, ServiceConfig]:
    from tack.workflow import load_workflow

    file = path or Path("WORKFLOW.md")
    if not file.exists():
        if path is not None:
            return Check("workflow", False, f"{file} does not exist"), ServiceConfig()
        return None, ServiceConfig()
    try:
        wf = load_workflow(file)
    except TackError as exc:
        return Check("workflow", False, exc.message), ServiceConfig()
    return Check("workflow", True, f"{wf.path} is valid (agent.backend: "
                                   f"{wf.config.agent.backend})"), wf.config


def _command(command: str | None) -> Check:
    if not command or not command.strip():
        return Check("command", False, "command.command is not set in WORKFLOW.md")
    program = command.split()[0]
    if os.sep not in program and shutil.which(program) is None:
        return Check("command", False, f"{program!r} (from command.command) not found on PATH")
    return Check("command", True, f"configured: {command} (runs with bash -lc)")


def _sandbox(config: ServiceConfig, workflow: Path | None) -> list[Check]:
    """Whether bubblewrap works, what happens when not, and each backend's policy."""
    from tack.sandbox import policy_from_config, sandbox_support, seccomp
    from tack.sandbox.policy import claude_settings
    from tack.sandbox.limits import pids_parent

    cfg = config.sandbox
    support = sandbox_support()
    fallback = ("the built-in agent's shell and the command backend refuse to run commands "
                "until it is installed, or `sandbox.enabled: false` is set")
    checks = [Check("sandbox", support.ok or not (cfg.enabled or cfg.hooks),
                    f"bubblewrap works ({support.detail})" if support.ok
                    else f"{support.detail}; " + (fallback if cfg.enabled or cfg.hooks
                                                  else "sandbox is off in WORKFLOW.md"))]
    if cfg.limits.processes:
        parent = pids_parent()
        root = os.geteuid() == 0
        checks.append(Check(
            "sandbox limits", parent is not None or not root,
            f"process limit through the pids cgroup {parent}" if parent else
            "no writable pids cgroup: the process limit is RLIMIT_NPROC on top of this "
            "user's running tasks" if not root else
            "no writable pids cgroup (cgroup v1 `pids` or v2 with the pids controller) and "
            "running as root, which RLIMIT_NPROC does not bind: sandbox.limits.processes is "
            "not enforced; a fork bomb is contained only by memory and CPU limits"))
    if cfg.enabled or cfg.hooks:
        filtered = seccomp.filter_path() is not None
        checks.append(Check("sandbox seccomp", filtered, seccomp.describe()))
    policy = policy_from_config(cfg)
    boxed = policy.describe() if cfg.enabled else "none (sandbox.enabled: false): runs as Tack"
    net = "on" if cfg.allow_hosts else "off"
    codex = ("codex.turn_sandbox_policy from WORKFLOW.md" if config.codex.turn_sandbox_policy
             else f"Codex's own sandbox: workspaceWrite, network {'off' if cfg.enabled else 'as Codex defaults'}")
    claude = (f"permission mode {config.claude.permission_mode}, tools "
              f"{', '.join(config.claude.allowed_tools)}"
              + ("; WebFetch and WebSearch disallowed" if cfg.enabled and net == "off" else ""))
    if cfg.enabled:
        settings = claude_settings(policy)["sandbox"]
        domains = settings["network"]["allowedDomains"]
        claude = ("Claude Code's own sandbox for Bash (--settings): network "
                  f"{', '.join(domains) if domains else 'off'}, "
                  f"{len(settings['filesystem']['denyRead'])} paths hidden, no command outside "
                  "it" + ("" if shutil.which("socat") else
                          " (socat is missing: Claude Code then runs Bash UNSANDBOXED; "
                          "`apt-get install socat`)") + f"; {claude}")
    checks += [
        Check("policy: builtin", True, f"shell and check tools: {boxed}"),
        Check("policy: command", True, boxed),
        Check("policy: hooks", True, policy.describe() if cfg.hooks
              else "unsandboxed (sandbox.hooks: false); hooks are the workflow's own scripts"),
        Check("policy: codex", True, codex),
        Check("policy: claude", True, claude),
    ]
    return checks


def _overlay_checkouts(workflow: Path | None, config: ServiceConfig) -> list[Check]:
    """With `workspace.strategy: overlay`: the disk the shared checkouts hold."""
    if config.workspace.strategy != "overlay":
        return []
    from tack.workflow import load_workflow
    from tack.workspace.overlay import Layers
    from tack.workspace.overlay_gc import describe

    try:
        root = load_workflow(workflow or Path("WORKFLOW.md")).workspace_root()
    except TackError as exc:
        return [Check("overlay checkouts", False, exc.message)]
    return [Check("overlay checkouts", True, describe(Layers(root.expanduser().absolute())))]


def run_checks(workflow: Path | None) -> list[Check]:
    wf_check, config = _workflow(workflow)
    checks = [
        Check("python", sys.version_info >= (3, 11), sys.version.split()[0]),
        _binary("git", "git", "install git"),
        _builtin(config),
        _binary("codex", config.codex.command,
                "install with `npm install -g @openai/codex` or set codex.command"),
        _binary("claude", config.claude.command,
                "install with `npm install -g @anthropic-ai/claude-code` or set claude.command"),
    ]
    checks.append(_command(config.command.command))
    checks.append(_binary("chromium", config.app.chromium,
                          "`tack app` needs it: `apt-get install -y --no-install-recommends "
                          "chromium`, or set app.chromium in WORKFLOW.md"))
    checks.append(_binary("ffmpeg", "ffmpeg",
                          "`tack app record` needs it for a WebM video (without it only "
                          "JPEG frames are kept): `apt-get install -y --no-install-recommends "
                          "ffmpeg`"))
    checks += _sandbox(config, workflow)
    if wf_check is not None:
        checks.append(wf_check)
    checks += _overlay_checkouts(workflow, config)
    return checks


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(
        workflow: Path = typer.Option(None, "--workflow", "-w",
                                      help="WORKFLOW.md to check (default: ./WORKFLOW.md)."),
        as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
    ) -> None:
        """Show which agent backends are usable on this machine, and why not."""
        checks = run_checks(workflow)
        if as_json:
            typer.echo(json.dumps({"checks": [asdict(c) for c in checks]}, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title="tack doctor")
        table.add_column("check")
        table.add_column("status")
        table.add_column("detail")
        for c in checks:
            table.add_row(c.name, "[green]ok[/]" if c.ok else "[red]no[/]", c.detail)
        Console().print(table)
