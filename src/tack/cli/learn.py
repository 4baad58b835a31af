"""`tack feedback`, `tack learn`, `tack lessons`, `tack gc-report`, `tack review`, `tack plan`.

Thin: parse, call tack.learning / tack.review, print. The workflow file gives the state db,
the repository (lessons live there), the tracker and the model endpoint.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tack.errors import TackError
from tack.forge import sync_feedback
from tack.learning import (
    LearningError,
    LessonBook,
    give_feedback,
    ingest_issue_comments,
    learn,
    lessons_dir,
    parse_since,
    render_gc_report,
)
from tack.store import Store
from tack.tracker import build_tracker
from tack.tracker.base import Tracker
from tack.workflow.config import ServiceConfig

WorkflowOption = Annotated[Path, typer.Option("--workflow", "-w", help="Workflow file.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
AuthorOption = Annotated[str, typer.Option("--author", help="Your name.")]


class _Context:
    def __init__(self, workflow: Path) -> None:
        from tack.workflow import load_workflow

        path = workflow.expanduser().absolute()
        if path.exists():
            wf = load_workflow(path)
            self.config: ServiceConfig = wf.config
            self.repo_root = wf.repo_dir()
            self.store_path = wf.store_path()
            self.tack_dir = wf.tack_dir
        else:
            self.config = ServiceConfig()
            self.repo_root = path.parent
            self.store_path = path.parent / ".tack" / "state.db"
            self.tack_dir = path.parent / ".tack"
        self.store = Store(self.store_path)

    @property
    def db(self) -> Any:
        return self.store.db

    def tracker(self) -> Tracker:
        return build_tracker(self.config.tracker, tack_dir=self.tack_dir)


def _echo_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


async def _local_issues(ctx: _Context) -> list[Any] | None:
    """Issues (with comments) of the local tracker that Tack ran; None for other trackers."""
    if (ctx.config.tracker.kind or "local").lower() != "local":
        return None
    ids = [str(r[0]) for r in ctx.db.execute("SELECT DISTINCT issue_id FROM runs")]
    tracker = ctx.tracker()
    try:
        return await tracker.fetch_issues_by_ids(ids) if ids else []
    finally:
        await tracker.close()


def _file_agreed_items(ctx: _Context, seconds: float) -> None:
    from tack.learning.gc_report import agreed_items
    from tack.tracker.local import LocalTracker

    if (ctx.config.tracker.kind or "local").lower() != "local":
        raise TackError("`tack gc-report --file-issues` files issues in the local tracker "
                        "only; copy the report's items into your tracker instead.")
    with LocalTracker.from_config(ctx.config.tracker, tack_dir=ctx.tack_dir) as tracker:
        filed = {i.title for i in tracker.list_issues() if "gc-report" in i.labels}
        for item in agreed_items(ctx.config, ctx.repo_root, ctx.db, since_seconds=seconds):
            if item.title in filed:
                continue
            issue = tracker.add_issue(item.title, description=item.description,
                                      labels=("gc-report",))
            typer.echo(f"Filed {issue.identifier}: {item.title}", err=True)


def register(app: typer.Typer) -> None:
    @app.command("feedback")
    def feedback(
        run: Annotated[int, typer.Argument(help="Run id (see `tack runs`).")],
        up: Annotated[bool, typer.Option("--up", help="Thumbs up.")] = False,
        down: Annotated[bool, typer.Option("--down", help="Thumbs down.")] = False,
        comment: Annotated[str | None, typer.Option("--comment", "-m")] = None,
        author: Annotated[str | None, typer.Option("--author")] = None,
        workflow: WorkflowOption = Path("WORKFLOW.md"),
    ) -> None:
        """Give a run a thumbs up or down, optionally with a comment."""
        if up == down:
            raise TackError("Give exactly one of --up or --down, e.g. "
                            "`tack feedback 12 --down --comment \"tests sleep\"`.")
        ctx = _Context(workflow)
        row = give_feedback(ctx.db, run, sentiment=1 if up else -1, comment=comment,
                            author=author)
        typer.echo(f"Recorded feedback {row} on run {run}. `tack learn` will learn from it.")

    @app.command("learn")
    def learn_cmd(
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, write nothing.")] = False,
        as_json: JsonOption = False,
        workflow: WorkflowOption = Path("WORKFLOW.md"),
    ) -> None:
        """Learn lessons from feedback not learned from yet (and new tracker comments)."""
        ctx = _Context(workflow)
        # Intake first (dry run included: it stores feedback, never lessons), so review left
        # on the forge since the last sync is learned from now.
        synced = asyncio.run(sync_feedback(ctx.config, ctx.db))
        for error in synced.errors:
            typer.echo(f"warning: review feedback not read: {error}", err=True)
        issues = asyncio.run(_local_issues(ctx))
        ingested = ingest_issue_comments(ctx.db, issues or [])
        result = learn(ctx.config, ctx.repo_root, ctx.db, dry_run=dry_run)
        if as_json:
            _echo_json({**result.to_dict(), "ingested_comments": ingested,
                        "synced_review_feedback": synced.new_items})
        else:
            verb = "would be" if dry_run else "were"
            typer.echo(f"{result.feedback_used} piece(s) of feedback {verb} learned from "
                       f"({result.feedback_skipped} needed no lesson; {synced.new_items} new "
                       f"from {synced.pull_requests} pull request(s), {ingested} new tracker "
                       "comment(s) ingested).")
            for lesson in result.added:
                typer.echo(f"  added        {lesson.id}: {lesson.title}")
            for lesson in result.strengthened:
                typer.echo(f"  strengthened {lesson.id}: {lesson.title} "
                           f"(seen {lesson.occurrences} times)")
            for lesson in result.proposed:
                typer.echo(f"  proposed as a principle: {lesson.id} "
                           "(lessons/PROPOSED_PRINCIPLES.md)")
        for error in result.errors:
            typer.echo(f"warning: {error}", err=True)
        if result.errors and not (result.added or result.strengthened):
            raise typer.Exit(1)

    lessons_app = typer.Typer(help="The lessons learned from review feedback.",
                              no_args_is_help=True)
    app.add_typer(lessons_app, name="lessons")

    @lessons_app.command("list")
    def lessons_list(as_json: JsonOption = False,
                     workflow: WorkflowOption = Path("WORKFLOW.md")) -> None:
        """Every lesson: id, times seen, title."""
        ctx = _Context(workflow)
        lessons = LessonBook(lessons_dir(ctx.config, ctx.repo_root)).load()
        if as_json:
            _echo_json([x.to_dict() for x in lessons])
            return
        if not lessons:
            typer.echo("No lessons yet. Give feedback (`tack feedback RUN --down -m ...`), "
                       "then run `tack learn`.")
        for x in lessons:
            mark = " (proposed as a principle)" if x.proposed else ""
            typer.echo(f"{x.id}  x{x.occurrences}  {x.title}{mark}")

    @lessons_app.command("show")
    def lessons_show(lesson_id: Annotated[str, typer.Argument()], as_json: JsonOption = False,
                     workflow: WorkflowOption = Path("WORKFLOW.md")) -> None:
        """One lesson in full, with its evidence."""
        ctx = _Context(workflow)
        lesson = LessonBook(lessons_dir(ctx.config, ctx.repo_root)).get(lesson_id)
        if as_json:
            _echo_json(lesson.to_dict())
            return
        typer.echo(f"{lesson.id}: {lesson.title}\nseen {lesson.occurrences} times; evidence: "
                   f"{', '.join(lesson.evidence) or 'none'}\n\n{lesson.body}")

    @app.command("gc-report")
    def gc_report(
        since: Annotated[str, typer.Option("--since", help="Window, e.g. 7d, 36h.")] = "7d",
        out: Annotated[Path | None, typer.Option("--out", "-o")] = None,
        file_issues: Annotated[bool, typer.Option(
            "--file-issues", help="File the suggested items as local tracker issues.")] = False,
        workflow: WorkflowOption = Path("WORKFLOW.md"),
    ) -> None:
        """Write the weekly garbage-collection report (markdown)."""
        seconds = parse_since(since)
        ctx = _Context(workflow)
        scan_issues = None
        if (ctx.config.tracker.kind or "local").lower() == "local":
            from tack.tracker.local import LocalTracker

            with LocalTracker.from_config(ctx.config.tracker, tack_dir=ctx.tack_dir) as local:
                scan_issues = [i for i in local.list_issues() if "tack-scan" in i.labels]
        text = render_gc_report(ctx.config, ctx.repo_root, ctx.db, since_seconds=seconds,
                                scan_issues=scan_issues)
        if file_issues:
            _file_agreed_items(ctx, seconds)
        if out:
            out.write_text(text, encoding="utf-8")
            typer.echo(f"Wrote {out}.")
        else:
            typer.echo(text, nl=False)

    _register_review(app)


def _register_review(app: typer.Typer) -> None:
    from tack.review import (
        approve_plan,
        reject_plan,
        review_diff,
        review_run,
        store_findings,
        write_plan,
    )
    from tack.review.reviewer import branch_diff

    @app.command("review")
    def review(
        target: Annotated[str, typer.Argument(
            help="A branch name, a run id, or a pull request Tack opened (#12).")],
        base: Annotated[str, typer.Option("--base", help="Diff against this ref.")] = "HEAD",
        as_json: JsonOption = False,
        workflow: WorkflowOption = Path("WORKFLOW.md"),
    ) -> None:
        """Run the reviewer agent on a branch or a run's change; store and print findings."""
        ctx = _Context(workflow)
        if target.startswith("#") and target[1:].isdigit():
            findings, new, subject = _review_pull_request(ctx, int(target[1:]), base)
        elif target.isdigit():
            subject = f"run {target}"
            findings, new = review_run(ctx.config, ctx.repo_root, ctx.db, int(target))
        else:
            subject = f"branch {target}"
            diff = branch_diff(ctx.repo_root, target, base)
            findings = review_diff(ctx.config, ctx.repo_root, diff, subject=subject)
            new = store_findings(ctx.db, findings, branch=target)
        if as_json:
            _echo_json({"findings": [f.to_dict() for f in findings], "new": new})
            return
        for finding in findings:
            typer.echo(str(finding))
        typer.echo(f"{len(findings)} finding(s) on {subject}; {new} new, stored as feedback.")

    def _review_pull_request(ctx: _Context, number: int, base: str) -> tuple[Any, int, str]:
        """Review a PR Tack opened: its branch against its base; findings tied to its run and
        posted on the PR as one review (GitHub)."""
        from tack.forge import Handoff
        from tack.review.posting import post_findings
        from tack.store.feedback import FeedbackStore

        found = [pr for pr in FeedbackStore(ctx.db).pull_requests() if pr.number == number]
        if not found:
            raise LearningError(
                f"No pull request #{number} is recorded in {ctx.store_path}: Tack only knows "
                "the PRs it opened at hand-off. Review its branch instead: "
                "`tack review BRANCH --base main`.")
        pr = found[-1]
        diff = branch_diff(ctx.repo_root, pr.branch, pr.base or base)
        subject = f"PR #{number} ({pr.branch})"
        findings = review_diff(ctx.config, ctx.repo_root, diff, subject=subject)
        new = store_findings(ctx.db, findings, run_id=pr.run_id, branch=pr.branch)
        handoff = Handoff(True, pr.branch, ctx.config.pull_requests.remote, commit=pr.head_sha,
                          forge=pr.forge, repo=pr.repo, number=pr.number, url=pr.url)
        posted = asyncio.run(post_findings(ctx.config, handoff, findings))
        if posted:
            typer.echo(f"review posted on {posted}")
        return findings, new, subject

    plan_app = typer.Typer(help="The plan gate: people review plans before implementation.",
                           no_args_is_help=True)
    app.add_typer(plan_app, name="plan")

    async def _with_tracker(ctx: _Context, action: Any) -> Any:
        tracker = ctx.tracker()
        try:
            return await action(tracker)
        finally:
            await tracker.close()

    @plan_app.command("write")
    def plan_write(issue: Annotated[str, typer.Argument()],
                   workflow: WorkflowOption = Path("WORKFLOW.md")) -> None:
        """Have the agent write the issue's plan and park it for review."""
        ctx = _Context(workflow)
        moved = asyncio.run(_with_tracker(ctx, lambda t: write_plan(ctx.config, t, issue)))
        typer.echo(f"Plan written on {moved.identifier}; it waits in {moved.state!r} for "
                   f"`tack plan approve {moved.identifier}`.")

    @plan_app.command("approve")
    def plan_approve(issue: Annotated[str, typer.Argument()],
                     author: AuthorOption = "reviewer",
                     comment: Annotated[str | None, typer.Option("--comment", "-m")] = None,
                     workflow: WorkflowOption = Path("WORKFLOW.md")) -> None:
        """Approve the plan: the issue goes back to an active state, plan attached."""
        ctx = _Context(workflow)
        moved = asyncio.run(_with_tracker(ctx, lambda t: approve_plan(
            ctx.config, t, issue, author=author, note=comment)))
        typer.echo(f"Plan approved; {moved.identifier} is {moved.state!r} and will be "
                   "implemented.")

    @plan_app.command("reject")
    def plan_reject(issue: Annotated[str, typer.Argument()],
                    comment: Annotated[str, typer.Option("--comment", "-m")] = "",
                    author: AuthorOption = "reviewer",
                    workflow: WorkflowOption = Path("WORKFLOW.md")) -> None:
        """Reject the plan with a reason (stored as feedback); the agent plans again."""
        ctx = _Context(workflow)
        moved = asyncio.run(_with_tracker(ctx, lambda t: reject_plan(
            ctx.config, t, ctx.db, issue, comment=comment, author=author)))
        typer.echo(f"Plan rejected; {moved.identifier} is {moved.state!r} and will be "
                   "planned again.")
