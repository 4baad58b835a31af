"""Best-of-N: several agents race one issue; the best attempt's branch is handed off.

Each attempt runs the project's own WORKFLOW.md (optionally with a variant's overrides:
another backend or model) in its own clone and local tracker, through the real
orchestrator, exactly like an eval trial. Each is then scored in a clean checkout of its
branch: the visible checks (`tack check`, from `feedback.checks`), then the principles scan
on the files it changed. The winner's branch becomes the issue's branch in the project's
repository, the issue moves to the hand-off state, and every attempt's score is recorded
in `.tack/best-of/<issue>.json` (read by the API, the dashboard and the PR body) and in a
comment on the issue.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tack.eval.records import best_of_markdown
from tack.eval.runner import drive, prepare_attempt
from tack.eval.sources import git
from tack.eval.store import TrialResult
from tack.eval.suite import EvalError, IssueSpec
from tack.eval.variants import BaseWorkflow, Variant, parse_variant

if TYPE_CHECKING:
    from tack.principles.judge import JudgeSettings
    from tack.workflow.config import ServiceConfig

_LABEL = re.compile(r"^best-of:(\d+)$", re.IGNORECASE)


@dataclass
class Attempt:
    index: int
    variant: str
    # The attempt's agent, from its own WORKFLOW.md (the variant's overrides applied).
    backend: str = ""
    model: str = ""
    branch: str | None = None
    handed_off: bool = False
    checks_passed: bool = False
    check_findings: int = 0
    principle_findings: int = 0
    changed_lines: int = 0
    tokens: int = 0
    seconds: float = 0.0
    error: str | None = None
    winner: bool = False
    # The judge model's pick among the attempts (None when no judge was asked).
    judge_pick: bool | None = None
    judge_score: float | None = None
    judge_reason: str = ""
    diff: str = field(default="", repr=False)

    @property
    def score(self) -> tuple[int, int, int, int, int, int]:
        """Higher is better: a committed, handed-off branch whose checks pass, then the
        judge's pick, then fewer findings, then the smaller diff; ties go to the earlier
        attempt."""
        return (int(self.branch is not None), int(self.checks_passed), int(self.handed_off),
                int(bool(self.judge_pick)), -(self.check_findings + self.principle_findings),
                -self.changed_lines)


@dataclass
class JudgeVerdict:
    """What the judge model was asked with and answered (its raw text, cut)."""

    model: str
    verdict: str = ""
    error: str | None = None


@dataclass
class BestOfResult:
    identifier: str
    branch: str
    winner: Attempt | None
    attempts: list[Attempt] = field(default_factory=list)
    why: str = ""
    judge: JudgeVerdict | None = None
    # The orchestrator's run that held the race (None for `tack eval best-of`).
    run_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"identifier": self.identifier, "branch": self.branch, "run_id": self.run_id,
                "winner": self.winner.index if self.winner else None, "why": self.why,
                "judge": asdict(self.judge) if self.judge else None,
                "attempts": [{**{k: v for k, v in asdict(a).items() if k != "diff"},
                              "score": list(a.score)} for a in self.attempts]}


def winner_reason(winner: Attempt, ranked: list[Attempt]) -> str:
    """Why `winner` (ranked first) beat the runner-up: the first score they differ on."""
    if len(ranked) < 2:
        return "the only attempt that committed a change"
    other = ranked[1]
    findings = (winner.check_findings + winner.principle_findings,
                other.check_findings + other.principle_findings)
    reasons = [
        "its visible tests pass and the others' fail" if winner.checks_passed else "",
        "it handed off and the others did not",
        f"the judge picked it: {winner.judge_reason}" if winner.judge_reason
        else "the judge picked it",
        f"fewer findings ({findings[0]} against {findings[1]})",
        f"the smallest diff ({winner.changed_lines} lines against {other.changed_lines})",
    ]
    for position, reason in enumerate(reasons, start=1):
        if winner.score[position] != other.score[position]:
            also = ("; the judge picked it too" if winner.judge_pick and position < 3 else "")
            return reason + also
    return f"tied with attempt {other.index}; the earlier attempt wins"


def attempts_for(labels: list[str], default: int) -> int:
    """N from a `best-of:N` label, else `default`."""
    for label in labels:
        match = _LABEL.match(label.strip())
        if match:
            return max(1, int(match.group(1)))
    return default


def _tack(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tack", *args], cwd=cwd, text=True, check=False,
                          capture_output=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
                          timeout=900)


def score_attempt(attempt: Attempt, root: Path, project_wf: Path, base_sha: str) -> None:
    """Visible checks and the principles scan in a fresh clone of the attempt's branch."""
    repo = root / "repo"
    branch = f"refs/heads/{attempt.branch}"
    if git(repo, "rev-parse", "-q", "--verify", branch, check=False).returncode or \
            git(repo, "rev-parse", branch).stdout.strip() == base_sha:
        attempt.branch = None  # nothing committed
        return
    checkout = root / "score"
    git(root, "clone", "-q", "--branch", str(attempt.branch), str(repo), str(checkout))
    stat = git(checkout, "diff", "--numstat", base_sha, "HEAD").stdout
    attempt.diff = git(checkout, "diff", base_sha, "HEAD").stdout
    attempt.changed_lines = sum(int(a) + int(d) for a, d, *_ in
                                (line.split("\t") for line in stat.splitlines())
                                if a.isdigit() and d.isdigit())
    check = _tack("check", "--json", "--no-history", "--workflow", str(project_wf), cwd=checkout)
    attempt.checks_passed = check.returncode == 0
    attempt.check_findings = _count(check.stdout, "findings")
    scan = _tack("scan", "--json", "--no-cache", "--since", base_sha, "--root", str(checkout),
                 "--workflow", str(project_wf), cwd=checkout)
    attempt.principle_findings = _count(scan.stdout, "findings")


def _count(output: str, key: str) -> int:
    try:
        data = json.loads(output)
    except json.JSONDecodeError:
        return 0
    items = data.get(key) if isinstance(data, dict) else data
    return len(items) if isinstance(items, list) else 0


async def best_of(project_wf: Path, identifier: str, n: int | None = None,
                  variants: list[Variant] | None = None, timeout_s: float = 1800,
                  jobs: int = 2, workdir: Path | None = None,
                  judge: bool = False, into_workspace: Path | None = None,
                  run_id: int | None = None) -> BestOfResult:
    """Run N attempts of `identifier` (a local-tracker issue) and hand off the best one.

    The winner's commit becomes the issue's branch in the project's repository, or, with
    `into_workspace` (the orchestrator's own run), the workspace's checked-out branch."""
    from tack.tracker.local import LocalTracker
    from tack.workflow import load_workflow
    from tack.workspace import WorkspaceManager

    wf = load_workflow(project_wf)
    if (wf.config.tracker.kind or "local") != "local":
        raise EvalError(f"{project_wf}: best-of-N runs on the local tracker for now "
                        f"(tracker.kind is {wf.config.tracker.kind}).")
    tracker = LocalTracker.from_config(wf.config.tracker, tack_dir=wf.tack_dir)
    issue = tracker.get(identifier)
    count = attempts_for(list(issue.labels), wf.config.agent.best_of) if n is None else n
    if count < 1:
        raise EvalError("best-of needs at least one attempt; pass -n 2 or more.")
    variants = variants or [Variant("base")]
    base_wf = BaseWorkflow.load(project_wf)
    repo = wf.repo_dir()
    base_sha = git(repo, "rev-parse", "HEAD").stdout.strip()
    spec = IssueSpec(title=issue.title, description=issue.description or "",
                     labels=[x for x in issue.labels if not _LABEL.match(x)])
    work = workdir or wf.tack_dir / "best-of" / identifier
    gate = asyncio.Semaphore(max(1, jobs))

    async def one(index: int) -> Attempt:
        variant = variants[index % len(variants)]
        attempt = Attempt(index, variant.name)
        root = work / f"attempt-{index}"
        async with gate:
            started = time.monotonic()  # the attempt's own time, not its wait for a slot
            try:
                await asyncio.to_thread(prepare_attempt, base_wf, {}, variant, spec,
                                        wf.config.hooks.after_create, repo, root)
                attempt.backend, attempt.model = _agent_of(root / "WORKFLOW.md")
                attempt.handed_off, attempt.error = await drive(root / "WORKFLOW.md", timeout_s)
                usage = TrialResult("", "", 0, "")
                from tack.eval.runner import read_usage

                read_usage(root / "WORKFLOW.md", usage)
                attempt.tokens = usage.input_tokens + usage.output_tokens
                attempt.branch = _attempt_branch(root)
                await asyncio.to_thread(score_attempt, attempt, root, project_wf.resolve(),
                                        base_sha)
            except Exception as exc:  # noqa: BLE001 - one broken attempt must not end the race
                attempt.error = f"{type(exc).__name__}: {exc}"
                attempt.branch = None
            attempt.seconds = time.monotonic() - started
        return attempt

    attempts = list(await asyncio.gather(*(one(i) for i in range(count))))
    verdict = None
    if judge and sum(1 for a in attempts if a.branch) >= 2:
        verdict = await asyncio.to_thread(judge_attempts, judge_settings(wf.config), spec,
                                          attempts)
    manager = WorkspaceManager(root=wf.workspace_root(), repo=repo, workspace=wf.config.workspace,
                               hooks=wf.config.hooks)
    branch = manager.branch_for(issue)
    ranked = sorted((a for a in attempts if a.branch), key=lambda a: (a.score, -a.index),
                    reverse=True)
    winner = ranked[0] if ranked else None
    result = BestOfResult(identifier, branch, winner, attempts, judge=verdict, run_id=run_id)
    if winner is not None:
        winner.winner = True
        result.why = winner_reason(winner, ranked)
        source = str(work / f"attempt-{winner.index}" / "repo")
        if into_workspace is not None:
            # The branch is checked out there, so git refuses to fetch into it: move it.
            git(into_workspace, "fetch", "-q", source, f"refs/heads/{winner.branch}")
            git(into_workspace, "reset", "-q", "--hard", "FETCH_HEAD")
        else:
            git(repo, "fetch", "-q", "--force", source,
                f"refs/heads/{winner.branch}:refs/heads/{branch}")
    record = wf.tack_dir / "best-of" / f"{identifier}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(result.to_dict(), indent=2), "utf-8")
    tracker.comment_sync(identifier, render_comment(result), author="tack")
    if winner is not None:
        tracker.move_sync(identifier, wf.config.tracker.handoff_state)
    return result


def best_of_wanted(config: ServiceConfig, labels: list[str]) -> int:
    """How many attempts the orchestrator should race for an issue (1: an ordinary run)."""
    if (config.tracker.kind or "local") != "local":
        return 1  # best_of drives the local tracker only
    return attempts_for(labels, config.agent.best_of)


async def race_in_workspace(project_wf: Path, identifier: str, count: int,
                            config: ServiceConfig, workspace: Path,
                            run_id: int | None = None) -> str | None:
    """The orchestrator's hook: race `count` attempts and leave the winner's commit in the
    run's workspace. Returns an error for the run, or None when an attempt was handed off."""
    variants = [parse_variant(v, cwd=project_wf.parent) for v in config.agent.best_of_variants]
    result = await best_of(project_wf, identifier, count, variants or None,
                           into_workspace=workspace, judge=config.agent.best_of_judge,
                           workdir=project_wf.parent / ".tack" / "best-of" / identifier,
                           run_id=run_id)
    return None if result.winner else f"best-of-{count}: no attempt committed anything"


def _attempt_branch(root: Path) -> str:
    from tack.tracker.local import LocalTracker
    from tack.workflow import load_workflow
    from tack.workspace import WorkspaceManager

    wf = load_workflow(root / "WORKFLOW.md")
    issue = LocalTracker.from_config(wf.config.tracker, tack_dir=wf.tack_dir).list_issues()[0]
    return WorkspaceManager(root=wf.workspace_root(), repo=wf.repo_dir(),
                            workspace=wf.config.workspace, hooks=wf.config.hooks).branch_for(issue)


def _agent_of(wf_path: Path) -> tuple[str, str]:
    """(backend, model) an attempt's WORKFLOW.md runs: what the race's table shows."""
    from tack.workflow import load_workflow

    config = load_workflow(wf_path).config
    backend = config.agent.backend
    # `builtin.model`, `claude.model`, or a pass-through `codex.model`; a plug-in backend's
    # section may have none.
    section = getattr(config, backend, None)
    model = getattr(section, "model", None) or (getattr(section, "model_extra", None) or {}).get(
        "model")
    return backend, str(model or "")


def render_comment(result: BestOfResult) -> str:
    return best_of_markdown(result.to_dict())


JUDGE_SYSTEM = ("You review competing patches for one issue. Score every attempt from 0 to 10 "
                "and name the best. Answer with one JSON object: "
                '{"scores": {"<attempt number>": <0-10>, ...}, "best": <attempt number>, '
                '"why": "<one sentence>"}.')


def judge_settings(config: ServiceConfig) -> JudgeSettings:
    """The `principles.judge` model (default: the built-in agent's endpoint and model)."""
    from tack.principles.judge import JudgeSettings

    judge, builtin = config.principles.judge, config.builtin
    api_key = os.environ.get(judge.api_key_env) if judge.api_key_env else builtin.api_key
    return JudgeSettings(base_url=judge.base_url or builtin.base_url,
                         model=judge.model or builtin.model, api_key=api_key,
                         max_file_chars=judge.max_file_chars,
                         timeout_s=judge.request_timeout_ms / 1000)


def judge_prompt(issue: IssueSpec, attempts: list[Attempt], max_chars: int) -> str:
    parts = [(f"Compare these attempts at the issue below, score each patch and pick the "
              f"best.\n\n"
             f"Issue: {issue.title}\n{issue.description}\n")]
    for a in attempts:
        if a.branch:
            diff = a.diff if len(a.diff) <= max_chars else a.diff[:max_chars] + "\n[cut]"
            parts.append(f"\n## Attempt {a.index}\n```diff\n{diff}\n```")
    return "".join(parts)


def judge_attempts(settings: JudgeSettings, issue: IssueSpec,
                   attempts: list[Attempt]) -> JudgeVerdict:
    """Ask the judge model to score the diffs and pick the best; a failed or unreadable
    answer picks none. Returns what was asked of whom and the answer, for the record."""
    import httpx

    from tack.agents.completion import CompletionError, complete

    prompt = judge_prompt(issue, attempts, settings.max_file_chars)
    asked = JudgeVerdict(model=settings.model)
    with httpx.Client(timeout=settings.timeout_s) as client:
        try:
            done = complete(client, base_url=settings.base_url, model=settings.model,
                            api_key=settings.api_key, system=JUDGE_SYSTEM, user=prompt,
                            temperature=0)
        except CompletionError as exc:
            asked.error = f"judge unavailable: {exc}"
            for a in attempts:
                a.judge_reason = asked.error
            return asked
    asked.verdict = done.text.strip()[:1000]
    verdict = _verdict(done.text)
    best = _number(verdict.get("best"))
    found = verdict.get("scores")
    scores: dict[str, Any] = found if isinstance(found, dict) else {}
    for a in attempts:
        if not a.branch:
            continue
        a.judge_pick = a.index == best
        a.judge_score = _score_value(scores.get(str(a.index)))
        a.judge_reason = str(verdict.get("why", ""))[:300] if a.index == best else ""
    return asked


def _verdict(text: str) -> dict[str, Any]:
    match = re.search(r"\{.*\}", text, re.DOTALL)
    try:
        found = json.loads(match.group(0)) if match else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _number(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return -1


def _score_value(value: Any) -> float | None:
    try:
        score = float(value)
    except (TypeError, ValueError):
        return None
    return min(10.0, max(0.0, score))
