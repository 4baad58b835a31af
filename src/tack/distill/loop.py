"""The distillation loop: writer → implementer → grounding → judge, round after round.

Stops when a round reaches the target score, after the last round, or when the token budget
is spent. Every step is recorded in the state db first, so `resume=True` continues an
interrupted run from the last completed step instead of starting over.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from tack.agents import AgentBackend, AgentEvent, TokenUsage, build_backend
from tack.distill import roles
from tack.distill.grounding import ground
from tack.distill.report import build_report, render_markdown, write_json
from tack.distill.source import DistillError, SourceLayout, list_tree, resolve_source
from tack.distill.state import DistillState, RoundRow, RunRow
from tack.distill.verdict import read_verdict, round_score
from tack.errors import TackError
from tack.sandbox.policy import agent_policy
from tack.tracker.local import LocalTracker
from tack.workflow import Workflow

Progress = Callable[[str], None]


@dataclass
class DistillOptions:
    rounds: int = 3
    target_score: float = 0.9
    token_budget: int | None = None
    tests_command: str | None = None
    out: str | None = None

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise DistillError(f"--rounds must be at least 1, got {self.rounds}.")
        if not 0 < self.target_score <= 1:
            raise DistillError(f"--target-score must be in (0, 1], got {self.target_score}.")
        if self.token_budget is not None and self.token_budget <= 0:
            raise DistillError(f"--token-budget must be positive, got {self.token_budget}.")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> DistillOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in settings.items() if k in known and v is not None})


@dataclass
class DistillResult:
    run_id: str
    status: str  # completed | interrupted
    stop_reason: str | None
    best_score: float | None
    spec_path: Path | None
    report_md: Path
    report_json: Path
    report: dict[str, Any]


class _BudgetSpent(Exception):
    pass


class DistillRun:
    """One run's rounds, driven from the state db."""

    def __init__(self, workflow: Workflow, state: DistillState, run: RunRow,
                 layout: SourceLayout, options: DistillOptions, backend: AgentBackend,
                 on_progress: Progress | None = None) -> None:
        self.state = state
        self.run = run
        self.layout = layout
        self.options = options
        self.backend = backend
        self.say = on_progress or (lambda _line: None)
        self.dir = workflow.tack_dir / "distill" / run.id
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tracker = LocalTracker(self.dir / "roles.db", prefix="DISTILL")
        # Like an issue's agent: each role's commands see its own directory, not the other
        # roles' (nor the rest of Tack's state dir).
        self.sandbox = agent_policy(workflow, self.dir)

    def close(self) -> None:
        self.tracker.close_sync()

    def _done(self, number: int, role: str) -> bool:
        step = self.state.step(self.run.id, number, role)
        return step is not None and step.status == "completed"

    def _round(self, number: int) -> RoundRow:
        return next(r for r in self.state.rounds(self.run.id) if r.round == number)

    def _check_budget(self) -> None:
        budget = self.options.token_budget
        if budget is not None and self.state.tokens_used(self.run.id) >= budget:
            raise _BudgetSpent

    def _fail(self, number: int, role: str, error: str, outcome: roles.RoleOutcome | None
              ) -> DistillError:
        usage = outcome.usage if outcome else TokenUsage()
        self.state.end_step(self.run.id, number, role, ok=False, usage=usage,
                            session_id=outcome.session_id if outcome else None, error=error)
        return DistillError(
            f"round {number} {role} step failed: {error}. Run {self.run.id} is saved in the "
            f"state db; fix the cause and continue it with `tack distill "
            f"{self.run.source} --resume`.")

    async def _agent(self, number: int, role: str, workspace: Path, prompt: str
                     ) -> roles.RoleOutcome:
        self.say(f"round {number}: {role} …")

        def progress(event: AgentEvent) -> None:
            if event.kind == "tool_call":
                self.say(f"round {number}: {role}: {event.message[:100]}")

        try:
            outcome = await roles.run_role(
                self.backend, self.tracker, workspace, title=f"{role}, round {number}",
                prompt=prompt, events_path=workspace.parent / f"{role}.events.jsonl",
                on_event=progress, sandbox=self.sandbox)
        except DistillError:
            raise
        except (TackError, OSError) as exc:  # a backend that cannot start fails the step
            raise self._fail(number, role, f"{type(exc).__name__}: {exc}", None) from None
        if not outcome.ok:
            raise self._fail(number, role, outcome.error or "the agent turn failed", outcome)
        return outcome

    def _finish(self, number: int, role: str, outcome: roles.RoleOutcome | None) -> None:
        self.state.end_step(self.run.id, number, role, ok=True,
                            usage=outcome.usage if outcome else TokenUsage(),
                            session_id=outcome.session_id if outcome else None)

    async def _writer(self, number: int) -> None:
        previous = self._round(number - 1) if number > 1 else None
        workspace = self.dir / f"round-{number}" / "writer"
        self._check_budget()
        self.state.start_step(self.run.id, number, "writer")
        roles.seed_writer(workspace, self.layout, previous.spec if previous else None,
                          previous.findings if previous else None)
        if previous is None:
            prompt = roles.WRITER_NEW.format(round=number, name=self.layout.name)
        else:
            prompt = roles.WRITER_REVISE.format(round=number, name=self.layout.name,
                                                previous=number - 1, score=previous.score)
        outcome = await self._agent(number, "writer", workspace, prompt)
        spec_file = workspace / roles.SPEC_FILE
        spec = spec_file.read_text(encoding="utf-8") if spec_file.is_file() else ""
        if not spec.strip():
            raise self._fail(number, "writer", f"the writer left {spec_file} missing or empty",
                             outcome)
        self.state.update_round(self.run.id, number, spec=spec)
        self._finish(number, "writer", outcome)

    async def _implementer(self, number: int) -> None:
        workspace = self.dir / f"round-{number}" / "implementer"
        self._check_budget()
        self.state.start_step(self.run.id, number, "implementer")
        roles.seed_implementer(workspace, self._round(number).spec or "")
        outcome = await self._agent(number, "implementer", workspace,
                                    roles.IMPLEMENTER.format(round=number))
        if not [f for f in list_tree(workspace) if f != roles.SPEC_FILE]:
            raise self._fail(number, "implementer", f"the implementer wrote no files in "
                             f"{workspace}", outcome)
        self._finish(number, "implementer", outcome)

    def _grounding(self, number: int) -> None:
        base = self.dir / f"round-{number}"
        self.state.start_step(self.run.id, number, "grounding")
        self.say(f"round {number}: grounding (original tests, API surface) …")
        tests, api = ground(self.layout, base / "implementer", base / "grounding",
                            self.options.tests_command)
        self.state.update_round(self.run.id, number, tests=tests, api=api)
        self._finish(number, "grounding", None)

    async def _judge(self, number: int) -> None:
        base = self.dir / f"round-{number}"
        workspace = base / "judge"
        current = self._round(number)
        tests, api = current.tests or {}, current.api or {}
        self._check_budget()
        self.state.start_step(self.run.id, number, "judge")
        roles.seed_judge(workspace, self.layout, base / "implementer", current.spec or "",
                         {"tests": tests, "api": api})
        outcome = await self._agent(number, "judge", workspace,
                                    roles.judge_prompt(number, tests, api))
        try:
            verdict = read_verdict(workspace / roles.FINDINGS_FILE)
        except DistillError as exc:
            raise self._fail(number, "judge", exc.message, outcome) from None
        score = round_score(verdict.score, tests, api)
        self.state.update_round(self.run.id, number, findings=verdict.to_dict(),
                                judge_score=verdict.score, score=score, status="completed")
        self._finish(number, "judge", outcome)

    async def execute(self) -> str:
        """Run the remaining steps; returns why the run stopped."""
        try:
            for number in range(1, self.options.rounds + 1):
                self.state.ensure_round(self.run.id, number)
                if not self._done(number, "writer"):
                    await self._writer(number)
                if not self._done(number, "implementer"):
                    await self._implementer(number)
                if not self._done(number, "grounding"):
                    self._grounding(number)
                if not self._done(number, "judge"):
                    await self._judge(number)
                row = self._round(number)
                tests = row.tests or {}
                self.say(f"round {number}: score {row.score:.2f} (judge {row.judge_score:.2f}, "
                         f"tests {tests.get('passed', 0)}/{tests.get('total', 0)})")
                if row.score is not None and row.score >= self.options.target_score:
                    return "target score reached"
        except _BudgetSpent:
            return "token budget spent"
        return "round limit reached"


def _spec_outputs(run_dir: Path, report: dict[str, Any], out: str | None, base: Path
                  ) -> Path | None:
    best = report.get("best_round")
    if best is None:
        return None
    spec = next(r["spec"] for r in report["rounds"] if r["round"] == best)
    target = run_dir / "SPEC.md"
    target.write_text(spec, encoding="utf-8")
    if out:
        out_path = Path(out) if Path(out).is_absolute() else base / out
        out_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, out_path)
        return out_path
    return target


def _run_to_resume(state: DistillState, workflow: Workflow, source_key: str,
                   resume: bool | str) -> RunRow:
    unfinished = state.unfinished()
    if isinstance(resume, str):
        run = next((r for r in unfinished if r.id == resume), None)
        if run is None:
            known = ", ".join(f"{r.id} ({r.source})" for r in unfinished) or "none"
            raise DistillError(f"there is no unfinished distillation {resume!r} in "
                               f"{workflow.store_path()} (unfinished runs: {known}); pass one "
                               "of those to --run, or start a new run without --resume.")
        if run.source != source_key:
            raise DistillError(f"run {run.id} distils {run.source}, not {source_key}; run "
                               f"`tack distill {run.source} --resume --run {run.id}`.")
        return run
    run = next((r for r in unfinished if r.source == source_key), None)
    if run is None:
        others = ", ".join(f"{r.id} ({r.source})" for r in unfinished)
        hint = (f" Unfinished runs of other sources: {others}." if others else "")
        raise DistillError(f"there is no interrupted distillation of {source_key} to resume in "
                           f"{workflow.store_path()}; start one without --resume.{hint}")
    return run


async def distill(workflow: Workflow, source: Path, settings: Mapping[str, Any] | None = None,
                  *, resume: bool | str = False, on_progress: Progress | None = None
                  ) -> DistillResult:
    """Distill `source` (inside the workflow's repository) into a spec; see docs/distill.md.

    `resume` is True (the newest unfinished run of `source`) or a run id; `settings` holds
    `DistillOptions` fields, and on resume they override the stored ones.
    """
    repo = workflow.base_dir.resolve()
    layout = resolve_source(source, repo)
    source_key = str(layout.path.relative_to(repo))
    given = {k: v for k, v in (settings or {}).items() if v is not None}
    state = DistillState(workflow.store_path())
    try:
        if resume:
            run = _run_to_resume(state, workflow, source_key, resume)
            options = DistillOptions.from_settings({**run.options, **given})
            state.update_run(run.id, status="running", options=asdict(options))
            (on_progress or (lambda _l: None))(f"resuming run {run.id}")
        else:
            options = DistillOptions.from_settings(given)
            run = state.create_run(source_key, asdict(options))
        backend = build_backend(workflow)
        loop = DistillRun(workflow, state, run, layout, options, backend, on_progress)
        error: DistillError | None = None
        try:
            stop_reason: str | None = await loop.execute()
            state.update_run(run.id, status="completed", stop_reason=stop_reason)
        except DistillError as exc:
            error, stop_reason = exc, None
            state.update_run(run.id, status="interrupted", error=exc.message)
        finally:
            loop.close()
        report = build_report(state, state.run(run.id))
        spec_path = _spec_outputs(loop.dir, report, options.out, repo)
        report_json = write_json(loop.dir / "report.json", report)
        report_md = loop.dir / "report.md"
        report_md.write_text(render_markdown(report), encoding="utf-8")
        if error is not None:
            raise error
        return DistillResult(run.id, "completed", stop_reason, report.get("best_score"),
                             spec_path, report_md, report_json, report)
    finally:
        state.close()
