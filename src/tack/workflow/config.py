"""Typed view of WORKFLOW.md's front matter (Symphony SPEC §5.3, §6.4, plus Tack's sections).

Defaults follow the spec. Unknown keys inside a known section are errors (they are almost
always typos); unknown top-level sections are kept and warned about, because Symphony lets
extensions add sections.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from tack.app.config import AppConfig

DEFAULT_ACTIVE_STATES = ["Todo", "In Progress"]
DEFAULT_TERMINAL_STATES = ["Done", "Closed", "Cancelled", "Canceled", "Duplicate"]


def normalize_state(state: str | None) -> str:
    """States compare after trimming and lowercasing (SPEC §4.2)."""
    return (state or "").strip().lower()


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class TrackerConfig(Section):
    kind: str | None = None
    provider: dict[str, Any] = Field(default_factory=dict)
    required_labels: list[str] = Field(default_factory=list)
    active_states: list[str] = Field(default_factory=lambda: list(DEFAULT_ACTIVE_STATES))
    terminal_states: list[str] = Field(default_factory=lambda: list(DEFAULT_TERMINAL_STATES))
    # Tack: the state an agent moves an issue to when its work is ready for people.
    handoff_state: str = "Human Review"
    # Tack: where an issue waits while its agent's question to a person is open (questions.md).
    needs_input_state: str = "Needs Input"
    # Tack: where the tracker has no such state (GitHub/GitLab issues whose state labels do not
    # map it), the parked issue gets this label instead; issues with it are not dispatched.
    needs_input_label: str = "needs-input"
    # Symphony's top-level tracker keys (Linear profile); other adapters accept them too.
    # `$VAR` values are resolved by the adapter; adapter-owned keys live under `provider`.
    api_key: str | None = None
    project_slug: str | None = None
    endpoint: str | None = None

    def is_active(self, state: str | None) -> bool:
        s = normalize_state(state)
        return s in {normalize_state(x) for x in self.active_states} and not self.is_terminal(state)

    def is_terminal(self, state: str | None) -> bool:
        return normalize_state(state) in {normalize_state(x) for x in self.terminal_states}


class PollingConfig(Section):
    interval_ms: int = Field(default=30_000, gt=0)


class WorkspaceConfig(Section):
    # None means the per-repository default under the system temp directory.
    root: str | None = None
    # The repository worktrees are made from; default: the directory holding WORKFLOW.md.
    repo: str | None = None
    # auto: a git worktree when `repo` is a git repository, else an empty directory.
    strategy: Literal["auto", "worktree", "directory", "overlay"] = "auto"
    # Branch the worktree starts from; default: the repository's current HEAD.
    base_ref: str | None = None
    branch_prefix: str = "tack/"


class HooksConfig(Section):
    after_create: str | None = None
    before_run: str | None = None
    after_run: str | None = None
    before_remove: str | None = None
    timeout_ms: int = Field(default=60_000, gt=0)


# The names `agent.backend` accepts; plug-ins add theirs (`register_agent_backends`).
AGENT_BACKENDS = ["codex", "claude", "builtin", "command"]


class AgentConfig(Section):
    max_concurrent_agents: int = Field(default=10, gt=0)
    max_turns: int = Field(default=20, gt=0)
    max_retry_backoff_ms: int = Field(default=300_000, gt=0)
    max_concurrent_agents_by_state: dict[str, int] = Field(default_factory=dict)
    # Tack: which backend runs the agent. Symphony's default is codex.
    # One of AGENT_BACKENDS (docs/extending.md: plug-ins add more).
    backend: str = "codex"
    # Tack: how long a run whose issue reached tracker.handoff_state may finish its turn
    # (final message, token usage) before reconciliation stops it; 0 stops it at once.
    handoff_grace_ms: int = Field(default=30_000, ge=0)

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in AGENT_BACKENDS:
            quoted = [repr(n) for n in AGENT_BACKENDS]
            # Reported like a Literal's error: "must be 'codex', ... or 'command'".
            raise PydanticCustomError("literal_error", "Input should be {expected}",
                                      {"expected": ", ".join(quoted[:-1]) + " or " + quoted[-1]})
        return value
    # Tack: best-of-N. Race this many attempts per issue (or an issue's `best-of:N` label),
    # optionally cycling through variants (`NAME=KEY=VALUE,...`), and hand off the best.
    best_of: int = Field(default=1, ge=1)
    best_of_variants: list[str] = Field(default_factory=list)
    # Ask the principles.judge model to compare the attempts' diffs (costs tokens).
    best_of_judge: bool = False

    @field_validator("max_concurrent_agents_by_state", mode="before")
    @classmethod
    def _normalize_by_state(cls, value: Any) -> dict[str, int]:
        # SPEC §5.3.5: keys are normalized; non-positive or non-numeric entries are ignored.
        if not isinstance(value, dict):
            return {}
        out: dict[str, int] = {}
        for key, raw in value.items():
            if isinstance(raw, bool):
                continue
            try:
                n = int(raw)
            except (TypeError, ValueError):
                continue
            if n > 0 and str(key).strip():
                out[normalize_state(str(key))] = n
        return out

    def limit_for_state(self, state: str | None) -> int:
        return self.max_concurrent_agents_by_state.get(
            normalize_state(state), self.max_concurrent_agents
        )


class CodexConfig(Section):
    model_config = ConfigDict(extra="allow")  # pass-through Codex settings
    command: str = "codex app-server"
    approval_policy: Any = None
    thread_sandbox: Any = None
    turn_sandbox_policy: Any = None
    turn_timeout_ms: int = 3_600_000
    read_timeout_ms: int = 5_000
    stall_timeout_ms: int = 300_000

    @field_validator("command")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("codex.command must be a non-empty shell command")
        return value


class ServerConfig(Section):
    port: int | None = Field(default=None, ge=0, le=65535)
    host: str = "127.0.0.1"
    # Required when host is not loopback; `$VAR` allowed.
    token: str | None = None


class BuiltinConfig(Section):
    base_url: str = "http://127.0.0.1:8765/v1"
    model: str = "stub"
    api_key: str | None = None
    api: Literal["chat", "responses"] = "chat"
    max_steps_per_turn: int = Field(default=50, gt=0)
    request_timeout_ms: int = Field(default=120_000, gt=0)
    temperature: float | None = None
    shell_timeout_ms: int = Field(default=120_000, gt=0)
    system_prompt: str | None = None


class ClaudeConfig(Section):
    """`agent.backend: claude`: Claude Code driven with `claude -p` and stream-json."""

    command: str = "claude"
    model: str | None = None
    # bypassPermissions is refused when running as root; acceptEdits plus allowed_tools
    # works headless everywhere.
    permission_mode: str = "acceptEdits"
    allowed_tools: list[str] = Field(
        default_factory=lambda: ["Bash", "Edit", "Write", "Read", "Glob", "Grep",
                                 "mcp__tack__tracker", "mcp__tack__commit"]
    )
    extra_args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    # Where the run can park (docs/questions.md), a tool call the permission mode would ask
    # about becomes a question to a person (`--permission-prompt-tool`), with this option
    # recommended (what a deadline with `default_action: recommended` picks).
    ask_permissions: bool = True
    permission_recommended: Literal["allow", "deny"] | None = "deny"

    @field_validator("command")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("claude.command must be a non-empty command")
        return value


class CommandConfig(Section):
    """`agent.backend: command`: any CLI that takes a prompt (stdin / $TACK_PROMPT_FILE)."""

    command: str | None = None
    timeout_ms: int = Field(default=3_600_000, gt=0)
    success_exit_codes: list[int] = Field(default_factory=lambda: [0])


class StoreConfig(Section):
    # Default: `.tack/state.db` beside WORKFLOW.md.
    path: str | None = None


class PullRequestsConfig(Section):
    """`pull_requests:`: how a handed-off run becomes a PR/MR (tack.forge, docs/pull-requests.md)."""

    # tack: Tack pushes and opens the PR at handoff; agent: the agent does it; off: nobody.
    publish: Literal["tack", "agent", "off"] = "tack"
    remote: str = "origin"
    # Default: the tracker's repository default branch, else `main`.
    base: str | None = None
    draft: bool = False
    # Forge API settings when they differ from the tracker's (e.g. Linear issues, GitHub PRs).
    forge: Literal["github", "gitlab", "none"] | None = None
    repo: str | None = None
    api_key: str | None = None
    endpoint: str | None = None
    # GitHub App installation {app_id, private_key | private_key_path, installation_id}.
    app: dict[str, Any] | None = None
    # A failed publish is retried from the state db (it survives restarts): attempts in all,
    # the first wait doubling after each failure, capped at 10 minutes.
    retry_attempts: int = Field(default=6, ge=1)
    retry_backoff_ms: int = Field(default=30_000, gt=0)
    # `tack up` reads reviews, comments and reactions on Tack's open PRs/MRs this often
    # (and on POST /api/v1/refresh), for `tack learn`.
    feedback_sync_ms: int = Field(default=300_000, gt=0)


class ExecutorConfig(Section):
    """`executor:`: where runs execute (docs/scale-out.md). `local` needs nothing else."""

    kind: Literal["local", "temporal"] = "local"
    # Temporal frontend `host:port`, namespace and the task queue `tack worker`s poll.
    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    task_queue: str = "tack"
    # TLS for self-hosted mTLS or Temporal Cloud; file paths and `api_key` may be `$VAR`.
    tls: bool = False
    tls_client_cert: str | None = None
    tls_client_key: str | None = None
    tls_server_ca: str | None = None
    api_key: str | None = None
    # The git remote workers push each issue branch to, so a result outlives the worker.
    push_remote: str = "origin"
    # How long a worker lets the work before, and then after, an agent's turn run (fetching
    # the branch, hooks, starting and stopping the session, committing and pushing) before it
    # stops it as hung, kills its processes and fails the attempt, which Temporal retries.
    # Keep it above `hooks.timeout_ms`.
    step_timeout_ms: int = Field(default=300_000, gt=0)


class JudgeConfig(Section):
    """`principles.judge`: the model that answers model-judged principles (docs/principles.md)."""

    backend: Literal["builtin"] = "builtin"
    # Default: the `builtin` section's endpoint and model.
    base_url: str | None = None
    model: str | None = None
    # Name of the environment variable holding the API key (default: builtin.api_key).
    api_key_env: str | None = None
    # Cost cap: tokens one scan may spend on model-judged principles.
    max_tokens_per_scan: int = Field(default=200_000, gt=0)
    batch_files: int = Field(default=8, gt=0)
    max_file_chars: int = Field(default=20_000, gt=0)
    request_timeout_ms: int = Field(default=120_000, gt=0)


class PrinciplesConfig(Section):
    """`principles:`: the golden-principles document and `tack scan` (docs/principles.md)."""

    path: str = "PRINCIPLES.md"
    baseline: str = "principles-baseline.json"
    # false: prompts carry no principles (a harness variant for `tack eval`); scans still run.
    enabled: bool = True
    judge: JudgeConfig = Field(default_factory=JudgeConfig)


class FeedbackCheck(Section):
    """One entry of `feedback.checks`: a named command `tack check` runs (docs/feedback.md)."""

    name: str
    # A shell command line, or an argv list run without a shell.
    command: str | list[str]
    # Output format; default: detected from the output.
    format: Literal["junit", "pytest", "ruff", "eslint", "pyright", "sarif", "mypy", "tsc",
                    "generic"] | None = None
    # A file the tool writes (e.g. JUnit XML), relative to the repository; `{report}` in the
    # command is replaced with a temporary file instead.
    report: str | None = None
    # Profiles this check belongs to (`tack check --profile NAME`).
    profiles: list[str] = Field(default_factory=list)
    timeout_ms: int = Field(default=600_000, gt=0)


class FeedbackConfig(Section):
    """`feedback:`: the checks `tack check` runs, runbooks, and the output's token budget."""

    checks: list[FeedbackCheck] = Field(default_factory=list)
    runbooks: str = "runbooks"
    # Tokens of prose `tack check` prints at most (0: no limit). Failing tests always show.
    budget: int = Field(default=2000, ge=0)
    # Record findings in the state database to say "seen N times, last fixed on ...".
    history: bool = True


class LearningConfig(Section):
    """`learning:`: lessons from review feedback (docs/learning.md)."""

    # Lesson files, relative to the repository (WORKFLOW.md's directory).
    lessons_dir: str = "lessons"
    # false: prompts carry no lessons (a harness variant for `tack eval`).
    lessons: bool = True
    max_lessons_in_prompt: int = Field(default=5, ge=0)
    # TF-IDF cosine at or above which a new lesson merges into an existing one.
    similarity_threshold: float = Field(default=0.35, ge=0.0, le=1.0)
    # Occurrences after which a lesson is proposed as a golden principle.
    propose_after: int = Field(default=3, gt=0)
    max_log_chars: int = Field(default=12_000, gt=0)
    max_diff_chars: int = Field(default=20_000, gt=0)


class ReviewConfig(Section):
    """`review:`: reviewer agents and the plan gate (docs/learning.md)."""

    # Issues with any of these labels get a plan reviewed by a person before implementation.
    plan_labels: list[str] = Field(default_factory=lambda: ["plan", "milestone"])
    plan_review_state: str = "Plan Review"
    # Where an approved issue goes; default: the first of tracker.active_states.
    approved_state: str | None = None
    # Run the reviewer agent at every hand-off (orchestrator/handoff.py; docs/learning.md).
    on_handoff: bool = False
    max_diff_chars: int = Field(default=60_000, gt=0)


class SkillWhen(Section):
    """`skills.entries.NAME.when`: the issues that see a skill (any label, or any path)."""

    labels: list[str] = Field(default_factory=list)
    # Globs matched against the paths the issue's title and description mention.
    paths: list[str] = Field(default_factory=list)


class SkillEntry(Section):
    when: SkillWhen | None = None


class SkillsConfig(Section):
    """`skills:`: installed skills (skills.lock) and who sees them (docs/skills.md)."""

    # Source patterns (fnmatch) that may be installed at all, e.g. `git+https://github.com/acme/*`.
    allow: list[str] = Field(default_factory=lambda: ["*"])
    entries: dict[str, SkillEntry] = Field(default_factory=dict)
    # Characters of the built-in agent's skill catalog; default: 2% of `context_window`
    # tokens at 4 characters a token, as Codex does.
    catalog_budget: int | None = Field(default=None, ge=0)
    context_window: int = Field(default=128_000, gt=0)
    # Files bigger than this are flagged by the audit.
    max_file_bytes: int = Field(default=262_144, gt=0)

    def budget_chars(self) -> int:
        if self.catalog_budget is not None:
            return self.catalog_budget
        return self.context_window * 4 * 2 // 100


DEFAULT_SANDBOX_ENV = ["PATH", "LANG", "LC_ALL", "TERM", "TZ", "GIT_AUTHOR_NAME",
                       "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                       "GIT_TERMINAL_PROMPT", "PAGER", "GIT_PAGER"]
# Credentials and per-user state an agent has no business reading (docs/sandbox.md).
DEFAULT_SANDBOX_HIDE = ["~/.ssh", "~/.aws", "~/.config", "~/.gnupg", "~/.netrc",
                        "~/.git-credentials", "~/.docker", "~/.kube", "~/.azure", "~/.npmrc",
                        "~/.pypirc", "~/.codex", "~/.claude", "~/.claude.json", "~/.cache"]


class SandboxLimits(Section):
    """`sandbox.limits`: per command; 0 turns a limit off."""

    cpu_seconds: int = Field(default=600, ge=0)
    # Address space (RLIMIT_AS), so a runaway allocation fails instead of the host swapping.
    memory_mb: int = Field(default=4096, ge=0)
    # Processes and threads of one command (a cgroup's pids.max; docs/sandbox.md).
    processes: int = Field(default=1024, ge=0)


class SandboxConfig(Section):
    """`sandbox:`: what an agent's processes may reach (tack.sandbox, docs/sandbox.md)."""

    # The built-in agent's shell and the command backend run in bubblewrap.
    enabled: bool = True
    # Hooks are the workflow author's own scripts; sandbox them too when set.
    hooks: bool = False
    # Hosts reachable through Tack's filtering proxy (`pypi.org`, `*.npmjs.org`, `host:port`);
    # empty: no network at all.
    allow_hosts: list[str] = Field(default_factory=list)
    # Environment variable names passed in (the `TACK_*` ones always are).
    env: list[str] = Field(default_factory=lambda: list(DEFAULT_SANDBOX_ENV))
    # Paths made empty inside the sandbox (beside the other workspaces and Tack's state dir).
    hide: list[str] = Field(default_factory=lambda: list(DEFAULT_SANDBOX_HIDE))
    # Extra writable paths (the workspace and a private /tmp always are).
    writable: list[str] = Field(default_factory=list)
    limits: SandboxLimits = Field(default_factory=SandboxLimits)
    # Issues the tracker marks `untrusted` (issue.trust): run them as others, with the
    # network off, or refuse to dispatch them.
    untrusted: Literal["run", "offline", "refuse"] = "offline"


class ContextConfig(Section):
    """`context:`: the org-context sidecar (docs/context.md). Off unless `manifest` is set."""

    # The org manifest (context.yaml), relative to WORKFLOW.md.
    manifest: str | None = None
    # Where mirrors, the index and session notes live; default `.tack/context`.
    home: str | None = None
    # Seconds between scheduled `git fetch` cycles.
    interval_s: float = Field(default=300.0, gt=0)
    # Port of the sidecar's HTTP endpoint (MCP at /mcp) on 127.0.0.1; 0 picks a free one.
    port: int = Field(default=0, ge=0, le=65535)


KNOWN_SECTIONS = (
    "tracker",
    "polling",
    "workspace",
    "hooks",
    "agent",
    "codex",
    "server",
    "builtin",
    "store",
    "claude",
    "command",
    "principles",
    "pull_requests",
    "executor",
    "feedback",
    "learning",
    "review",
    "skills",
    "app",
    "sandbox",
    "context",
    "questions",
)
# Sections other Tack parts own; accepted without validation here so later parts can grow.
RESERVED_SECTIONS: tuple[str, ...] = ()


class QuestionsConfig(Section):
    """`questions:` — what happens to a question an agent asks a person (docs/questions.md)."""

    # What a passing deadline does: answer with the recommended option, fail the question,
    # or keep waiting.
    default_action: Literal["recommended", "fail", "wait"] = "wait"
    deadline_ms: int | None = Field(default=None, gt=0)
    max_open_per_issue: int = Field(default=1, ge=1)


class ServiceConfig(BaseModel):
    """The whole typed configuration. Unknown top-level sections land in `extensions`."""

    model_config = ConfigDict(extra="forbid")

    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    polling: PollingConfig = Field(default_factory=PollingConfig)
    workspace: WorkspaceConfig = Field(default_factory=WorkspaceConfig)
    hooks: HooksConfig = Field(default_factory=HooksConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    codex: CodexConfig = Field(default_factory=CodexConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    builtin: BuiltinConfig = Field(default_factory=BuiltinConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    claude: ClaudeConfig = Field(default_factory=ClaudeConfig)
    command: CommandConfig = Field(default_factory=CommandConfig)
    pull_requests: PullRequestsConfig = Field(default_factory=PullRequestsConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    principles: PrinciplesConfig = Field(default_factory=PrinciplesConfig)
    feedback: FeedbackConfig = Field(default_factory=FeedbackConfig)
    learning: LearningConfig = Field(default_factory=LearningConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    skills: SkillsConfig = Field(default_factory=SkillsConfig)
    app: AppConfig = Field(default_factory=AppConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    context: ContextConfig = Field(default_factory=ContextConfig)
    questions: QuestionsConfig = Field(default_factory=QuestionsConfig)
    extensions: dict[str, Any] = Field(default_factory=dict)
