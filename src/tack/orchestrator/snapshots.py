"""JSON views of orchestrator state for the API and dashboard (SPEC §13.3, §13.7.2), built
from the state the orchestrator hands over (`SchedulerState`), never from its internals."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from tack.orchestrator.state import RetryEntry, RunningEntry, Totals
from tack.orchestrator.timefmt import iso
from tack.questions.store import QuestionStore

if TYPE_CHECKING:
    from tack.store import PublishRow, Store
    from tack.workflow import Workflow


class SchedulerState(Protocol):
    """The orchestrator's public state that the views read."""

    running: dict[str, RunningEntry]
    retrying: dict[str, RetryEntry]
    held: dict[str, tuple[str, str]]
    totals: Totals
    rate_limits: dict[str, Any] | None
    config_error: str | None
    dispatch_error: str | None
    reconcile_error: str | None
    last_tick_at: float | None
    tick_count: int
    store: Store

    @property
    def workflow(self) -> Workflow: ...


def state_snapshot(orch: SchedulerState, pending: list[PublishRow]) -> dict[str, Any]:
    now = time.time()
    running = [running_row(e, now) for e in orch.running.values()]
    retrying = [r.to_dict() for r in sorted(orch.retrying.values(), key=lambda r: r.due_at)]
    active_seconds = sum(now - e.started_at for e in orch.running.values())
    return {
        "generated_at": iso(now),
        "counts": {"running": len(running), "retrying": len(retrying)},
        "running": running,
        "retrying": retrying,
        "codex_totals": {
            "input_tokens": orch.totals.input_tokens,
            "output_tokens": orch.totals.output_tokens,
            "total_tokens": orch.totals.total_tokens,
            "seconds_running": round(orch.totals.ended_seconds + active_seconds, 3),
        },
        "rate_limits": orch.rate_limits,
        "health": {
            "config_error": orch.config_error,
            "dispatch_error": orch.dispatch_error,
            "reconcile_error": orch.reconcile_error,
            "last_tick_at": iso(orch.last_tick_at),
            "ticks": orch.tick_count,
        },
        "limits": {
            "max_concurrent_agents": orch.workflow.config.agent.max_concurrent_agents,
            "poll_interval_ms": orch.workflow.config.polling.interval_ms,
        },
        # Beyond SPEC §13.7.2, for the dashboard and `tack status`.
        "recent_handoffs": recent_handoffs_rows(orch),
        "recent_runs": recent_run_rows(orch),
        # Hand-offs whose publish failed and is tried again (pull_requests.retry_*).
        "pending_publishes": [{"identifier": p.identifier, "attempt": p.attempt,
                               "due_at": iso(p.due_at), "error": p.error}
                              for p in pending],
        # Canceled by an operator: not dispatched again until moved or retried.
        "held": [{"issue_id": issue_id, "issue_identifier": ident, "state": state}
                 for issue_id, (ident, state) in orch.held.items()],
        # Questions agents asked that wait for a person (docs/questions.md).
        "questions": [q.public() for q in QuestionStore(orch.store.db).where(
            status="open", limit=50)],
    }


def recent_handoffs_rows(orch: SchedulerState, limit: int = 10) -> list[dict[str, Any]]:
    from tack.store.metrics import recent_handoffs

    handoff_state = orch.workflow.config.tracker.handoff_state
    return [
        {
            "issue_identifier": h.identifier,
            "run_id": h.run_id,
            "at": iso(h.at),
            "state": handoff_state,
            "seconds_to_handoff": h.seconds_to_handoff,
        }
        for h in recent_handoffs(orch.store.db, handoff_state, limit=limit)
    ]


def recent_run_rows(orch: SchedulerState, limit: int = 10) -> list[dict[str, Any]]:
    return [
        {
            "run_id": r["id"],
            "issue_identifier": r["identifier"],
            "attempt": r["attempt"],
            "status": r["status"],
            "started_at": iso(r["started_at"]),
            "ended_at": iso(r["ended_at"]),
            "error": r["error"],
            "end_reason": r["end_reason"],
            "turn_count": r["turn_count"],
            "total_tokens": r["total_tokens"],
        }
        for r in orch.store.recent_runs(limit)
    ]

def running_row(e: RunningEntry, now: float) -> dict[str, Any]:
    return {
        "issue_id": e.issue.id,
        "issue_identifier": e.identifier,
        "issue_url": e.issue.url,
        "title": e.issue.title,
        "state": e.issue.state,
        "run_id": e.run_id,
        "attempt": e.attempt,
        "session_id": e.session_id,
        "turn_count": e.turn_count,
        "last_event": e.last_event,
        "last_message": e.last_message,
        "started_at": iso(e.started_at),
        "last_event_at": iso(e.last_event_at),
        "elapsed_seconds": round(now - e.started_at, 3),
        "workspace": e.workspace,
        "worker": e.worker,
        "tokens": e.tokens.to_dict(),
    }

def issue_detail(orch: SchedulerState, identifier: str) -> dict[str, Any] | None:
    """SPEC §13.7.2 GET /api/v1/<identifier>; None when the issue is unknown."""
    key = identifier.lower()
    entry = next((e for e in orch.running.values() if e.identifier.lower() == key), None)
    retry = next((r for r in orch.retrying.values() if r.identifier.lower() == key), None)
    runs = orch.store.runs_for(entry.identifier if entry else (retry.identifier if retry else identifier))
    if entry is None and retry is None and not runs:
        return None
    ident = entry.identifier if entry else retry.identifier if retry else runs[0]["identifier"]
    issue_id = entry.issue.id if entry else retry.issue_id if retry else runs[0]["issue_id"]
    # Held: canceled by an operator and not dispatched again until moved or retried.
    status = ("running" if entry else "retrying" if retry else "held" if issue_id in orch.held
              else "released")
    last_error = next((r["error"] for r in runs if r["error"]), None)
    workspace = entry.workspace if entry else next((r["workspace"] for r in runs if r["workspace"]), None)
    return {
        "issue_identifier": ident,
        "issue_id": issue_id,
        "status": status,
        "workspace": {"path": workspace},
        "attempts": {
            "restart_count": max(len(runs) - 1, 0),
            "current_retry_attempt": retry.attempt if retry else (entry.attempt if entry else None),
        },
        "running": running_row(entry, time.time()) if entry else None,
        "retry": retry.to_dict() if retry else None,
        "runs": [
            {
                "run_id": r["id"],
                "attempt": r["attempt"],
                "status": r["status"],
                "started_at": iso(r["started_at"]),
                "ended_at": iso(r["ended_at"]),
                "error": r["error"],
                "end_reason": r["end_reason"],
                "turn_count": r["turn_count"],
                "tokens": {
                    "input_tokens": r["input_tokens"],
                    "output_tokens": r["output_tokens"],
                    "total_tokens": r["total_tokens"],
                },
            }
            for r in runs
        ],
        "recent_events": [
            {"at": iso(ev["at"]), "event": ev["kind"], "message": ev["message"], "data": ev["data"]}
            for ev in orch.store.events_for(ident, limit=100)
        ],
        "last_error": last_error,
        "tracked": {},
    }
