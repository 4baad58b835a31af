"""What the server's pages read beyond the snapshot: an issue's runs, skills, lessons, pull
requests and diff from the store, the workspace and the tracker; the lessons folder; the
gc-report; and the plan decisions the issue page's buttons post."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tack.errors import TackError
from tack.eval.records import best_of_record
from tack.review import plan_gate
from tack.server import pages
from tack.server.feedback import with_feedback
from tack.tracker.base import Issue

if TYPE_CHECKING:
    from tack.orchestrator import Orchestrator

WEEK_SECONDS = 7 * 86400


def _rows(db: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> list[sqlite3.Row]:
    try:
        return db.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # a table another feature creates lazily is not there yet
        return []


def _skills(db: sqlite3.Connection, identifier: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in _rows(db, "SELECT run_id, data FROM events WHERE identifier = ? AND kind = 'skills' "
                     "ORDER BY id DESC LIMIT 5", (identifier,)):
        try:
            data = json.loads(row["data"] or "{}")
        except ValueError:
            continue
        for skill in data.get("skills") or []:
            if isinstance(skill, dict):
                out.append({**skill, "run_id": row["run_id"]})
    return out


def _prs(db: sqlite3.Connection, identifier: str) -> list[dict[str, Any]]:
    return [dict(r) for r in _rows(
        db, "SELECT p.number, p.url, p.state, (SELECT COUNT(*) FROM review_feedback f WHERE "
        "f.forge = p.forge AND f.repo = p.repo AND f.pr_number = p.number) AS findings "
        "FROM pull_requests p WHERE p.identifier = ? ORDER BY p.created_at DESC", (identifier,))]


def _lessons_given(orch: Orchestrator, identifier: str) -> list[dict[str, Any]]:
    ids = [r["lesson_id"] for r in _rows(
        orch.store.db, "SELECT DISTINCT g.lesson_id FROM lessons_given g JOIN runs r ON r.id = g.run_id "
        "WHERE r.identifier = ? ORDER BY g.lesson_id", (identifier,))]
    known = {lesson["id"]: lesson for lesson in lessons(orch)}
    return [known.get(i, {"id": i, "title": "(no longer in the lessons folder)"}) for i in ids]


async def _tracker_issue(orch: Orchestrator, identifier: str) -> Issue | None:
    try:
        found = await orch.tracker.fetch_issues_by_ids([identifier])
    except TackError:
        return None
    return found[0] if found else None


async def render(orch: Orchestrator, identifier: str) -> str:
    detail = orch.redactor.data(with_feedback(orch.issue_detail(identifier), orch.store.db)) or {}
    issue = await _tracker_issue(orch, identifier)
    config = orch.workflow.config
    plan = plan_gate.current_plan(issue) if issue else None
    waiting = bool(issue and issue.state.lower() == config.review.plan_review_state.lower())
    base = config.workspace.base_ref or "HEAD"
    # The repository's base, resolved in the repository (a worktree's HEAD is the branch).
    base_sha = (await pages._git(orch.workspaces.repo, "rev-parse", base)).strip() or base
    try:
        diff = await pages.branch_diff(orch.workspaces.path_for(identifier), base_sha)
    except TackError:  # an identifier that cannot name a workspace has no diff
        diff = ""
    return pages.issue_page(
        identifier, issue=issue, plan=plan, plan_waiting=waiting, runs=detail.get("runs") or [],
        skills=_skills(orch.store.db, identifier), lessons=_lessons_given(orch, identifier),
        prs=_prs(orch.store.db, identifier), diff=diff,
        best_of=orch.redactor.data(best_of_record(orch.workflow.tack_dir, identifier)))


def lessons(orch: Orchestrator) -> list[dict[str, Any]]:
    from tack.learning.lessons import LessonBook
    from tack.learning.synthesis import lessons_dir

    try:
        book = LessonBook(lessons_dir(orch.workflow.config, orch.workflow.repo_dir()))
        return [lesson.to_dict() for lesson in book.load()]
    except TackError:
        return []


def principles(orch: Orchestrator) -> tuple[list[dict[str, Any]], str | None]:
    from pathlib import Path

    from tack.principles.document import load_document

    config = orch.workflow.config
    path = Path(config.principles.path).expanduser()
    path = path if path.is_absolute() else orch.workflow.repo_dir() / path
    if not path.exists():
        return [], None
    try:
        return [p.to_dict() for p in load_document(path).principles], None
    except TackError as exc:
        return [], str(exc)


async def gc_report(orch: Orchestrator) -> tuple[str | None, str | None]:
    from tack.learning.gc_report import render_gc_report
    from tack.store.feedback import FeedbackStore

    try:
        FeedbackStore(orch.store.db)  # the report reads review feedback: make sure its tables exist
        return render_gc_report(orch.workflow.config, orch.workflow.repo_dir(), orch.store.db,
                                since_seconds=WEEK_SECONDS, now=time.time()), None
    except (TackError, sqlite3.Error) as exc:
        return None, f"The gc-report could not be built: {exc}"


async def plan_decision(orch: Orchestrator, request: Request, *, approve: bool) -> Response:
    """`POST /api/v1/<id>/plan/approve|reject` with `author` (and `comment`, the reason, to
    reject), JSON or form-encoded like the feedback route."""
    identifier = request.path_params["identifier"]
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            body = None
    else:
        body = dict(await request.form())
    if not isinstance(body, dict):
        return JSONResponse({"error": {"code": "invalid_body", "message":
                             "send a JSON object or a form with author (and comment)"}}, 400)
    author = str(body.get("author") or "").strip() or "reviewer"
    try:
        if approve:
            issue = await plan_gate.approve_plan(orch.workflow.config, orch.tracker, identifier,
                                                 author=author)
        else:
            issue = await plan_gate.reject_plan(orch.workflow.config, orch.tracker, orch.store.db,
                                                identifier, comment=str(body.get("comment") or ""),
                                                author=author)
    except TackError as exc:
        code = getattr(exc, "code", None) or "plan_decision"
        status = 404 if code == "issue_not_found" else 409 if code == "plan_not_in_review" else 400
        return JSONResponse({"error": {"code": code, "message": str(exc)}}, status)
    orch.request_refresh()
    return JSONResponse({"issue_identifier": issue.identifier, "state": issue.state,
                         "approved": approve}, 200)
