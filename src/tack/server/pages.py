"""The dashboard's other pages, rendered on the server: the board, an issue's page, lessons,
the gc-report, questions and metrics. Every value is escaped by markupsafe; the live parts
(cards, the issue's timeline) are fragments pushed over `/ui/events` like the dashboard's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer

from tack.errors import TackError
from tack.eval.records import COLUMNS, attempt_rows
from tack.server import fragments
from tack.server.fragments import (
    _action,
    _describe,
    _fill,
    clock,
    duration,
    number,
    stamp,
    ticking,
)
from tack.tracker.base import Issue

if TYPE_CHECKING:
    from tack.orchestrator import Orchestrator

NAV = (("/", "Dashboard"), ("/board", "Board"), ("/metrics-page", "Metrics"),
       ("/lessons", "Lessons"), ("/principles", "Principles"), ("/gc-report", "GC report"),
       ("/questions", "Questions"))
NO_MARKUP = Markup("")
DIFF_CHARS = 400_000
BOARD_TTL_SECONDS = 10.0
# Terminal columns only: done work piles up, live work is always shown whole.
TERMINAL_CARDS = 50


def nav(current: str) -> Markup:
    links = Markup("").join(
        _fill('<a href="{}"{}>{}</a>', path,
              Markup(' aria-current="page"') if path == current else "", label)
        for path, label in NAV)
    return Markup('<nav class="top" aria-label="Pages">') + links + Markup("</nav>")


def layout(title: str, current: str, body: Markup, *, stream: str | None = None,
           scripts: Markup = NO_MARKUP) -> str:
    """A whole page; with `stream`, its `[sse-swap]` panels are fed by that `/ui/events` URL."""
    live = _fill(' hx-ext="sse" sse-connect="{}"', stream) if stream else Markup("")
    return str(_fill(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>{} · Tack</title><link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="/static/tack.css?v=2">'
        '<script src="/static/htmx.min.js?v=2.0.11"></script>'
        '<script src="/static/sse.min.js?v=2.2.4"></script>{}</head>'
        '<body><a class="skip" href="#main">Skip to content</a><div{}><header><h1>Tack</h1>{}'
        '<p id="notice" class="muted" role="status" aria-live="polite"></p></header>'
        '<main id="main" tabindex="-1"><h2>{}</h2>{}</main></div>{}</body></html>',
        title, scripts, live, nav(current), title, body, Markup(PAGE_SCRIPT)))


# Shared by every page: local times, ticking durations, and the notice after a button's POST.
PAGE_SCRIPT = """<script>
"use strict";
(function () {
const dur = s => { s = Math.max(0, Math.round(Number(s) || 0));
  return s < 60 ? s + " s" : s < 3600 ? Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s"
    : Math.floor(s / 3600) + "h " + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m"; };
function swapped(root) {
  for (const t of root.querySelectorAll("time[datetime]")) {
    const at = new Date(t.dateTime); if (isNaN(at)) continue;
    t.textContent = /[-/]/.test(t.textContent) ? at.toLocaleString([], {hour12: false}) : at.toLocaleTimeString([], {hour12: false});
  }
  const now = Date.now();
  for (const el of root.querySelectorAll("[data-since]")) el.textContent = dur((now - Date.parse(el.dataset.since)) / 1000);
  for (const el of root.querySelectorAll("[data-until]")) el.textContent = dur((Date.parse(el.dataset.until) - now) / 1000);
  if (window.tackFilter) window.tackFilter();
}
window.tackSwapped = swapped;
setInterval(() => swapped(document), 1000);
document.body.addEventListener("htmx:sseMessage", e => swapped(e.target));
document.body.addEventListener("htmx:afterRequest", e => {
  const elt = (e.detail.requestConfig && e.detail.requestConfig.elt) || e.detail.elt;
  const done = elt.dataset && elt.dataset.done;
  if (!done) return;
  const n = document.getElementById("notice");
  if (e.detail.successful) { n.textContent = done; if (elt.form) elt.form.reset(); return; }
  let message = "";
  try { message = JSON.parse(e.detail.xhr.responseText).error.message; } catch (err) { /* not ours */ }
  n.textContent = message || "Failed (" + (e.detail.xhr.status || "no connection") + ")";
});
swapped(document);
})();
</script>"""


def _table(caption: str, head: Iterable[str], rows: Iterable[Iterable[Any]], empty: str) -> Markup:
    body = Markup("").join(
        Markup("<tr>") + Markup("").join(_fill("<td>{}</td>", cell) for cell in row) + Markup("</tr>")
        for row in rows)
    if not body:
        return _fill('<p class="muted">{}</p>', empty)
    header = Markup("").join(_fill('<th scope="col">{}</th>', h) for h in head)
    return _fill("<table><caption class=\"muted\">{}</caption><thead><tr>{}</tr></thead><tbody>{}"
                 "</tbody></table>", caption, header, body)


# ------------------------------------------------------------------------------- the board

class BoardSource:
    """The tracker's issues in the workflow's states, fetched at most every BOARD_TTL_SECONDS
    whoever watches: the board must not poll a hosted tracker once per open page."""

    def __init__(self, orch: Orchestrator) -> None:
        self.orch = orch
        self.issues: list[Issue] = []
        self.error: str | None = None
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    def states(self) -> list[str]:
        c = self.orch.workflow.config
        seen: list[str] = []
        for state in [*c.tracker.active_states, c.review.plan_review_state,
                      c.tracker.handoff_state, *c.tracker.terminal_states]:
            if state and state.lower() not in {s.lower() for s in seen}:
                seen.append(state)
        return seen

    async def refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched < BOARD_TTL_SECONDS:
                return
            try:
                self.issues = await self.orch.tracker.fetch_issues_by_states(self.states())
                self.error = None
            except TackError as exc:
                self.error = f"tracker: {exc}"
            self._fetched = time.monotonic()


def _statuses(snapshot: dict[str, Any]) -> dict[str, tuple[str, Markup]]:
    """Identifier → the live agent status of its card, from the snapshot the dashboard shows."""
    out: dict[str, tuple[str, Markup]] = {}
    for h in snapshot.get("held") or []:
        out[str(h.get("issue_identifier"))] = ("held", Markup("<p>held after a cancel</p>"))
    for r in snapshot.get("retrying") or []:
        kind = r.get("kind") or ""
        label = "continuation check" if kind == "continuation" else f"{kind} retry"
        out[str(r.get("issue_identifier"))] = ("retrying", _fill(
            '<p>{} #{} in {}</p><p class="muted">{}</p>', label, r.get("attempt") or "",
            ticking(r.get("due_at"), (r.get("due_in_ms") or 0) / 1000, "data-until"),
            r.get("error") or ""))
    for r in snapshot.get("running") or []:
        out[str(r.get("issue_identifier"))] = ("running", _fill(
            '<p>turn {} · <code>{}</code> {}</p><p>{} tokens · {}</p>',
            r.get("turn_count") or 0, r.get("last_event") or "—", clock(r.get("last_event_at")),
            number((r.get("tokens") or {}).get("total_tokens")),
            ticking(r.get("started_at"), r.get("elapsed_seconds"), "data-since")))
    return out


def board(issues: list[Issue], states: list[str], snapshot: dict[str, Any], backend: str,
          plan_state: str, error: str | None, terminal: Iterable[str] = ()) -> Markup:
    columns = []
    capped = {t.lower() for t in terminal}
    statuses = _statuses(snapshot)
    idle = ("idle", Markup(""))
    for state in states:
        cards = []
        in_state = [i for i in issues if i.state.lower() == state.lower()]
        shown = in_state[:TERMINAL_CARDS] if state.lower() in capped else in_state
        for issue in shown:
            status, live = statuses.get(issue.identifier, idle)
            plan = Markup("<p><strong>Plan awaiting review</strong></p>") \
                if state.lower() == plan_state.lower() else Markup("")
            text = " ".join([issue.identifier, issue.title, *issue.labels]).lower()
            cards.append(_fill(
                '<li class="card" data-status="{}" data-labels="{}" data-backend="{}" data-text="{}">'
                '<a href="/issues/{}">{}</a> {}<p><span class="pill">{}</span> {}</p>{}{}</li>',
                status, ",".join(label.lower() for label in issue.labels), backend, text,
                quote(issue.identifier, safe=""), issue.identifier, issue.title, status,
                " ".join(issue.labels), live, plan))
        body = Markup("").join(cards) or Markup('<li class="muted">No issues.</li>')
        if len(shown) < len(in_state):
            body += _fill('<li class="muted">and {} more</li>', len(in_state) - len(shown))
        slug = "col-" + "".join(ch if ch.isalnum() else "-" for ch in state.lower())
        columns.append(_fill('<section aria-labelledby="{}"><h2 id="{}">{} <span class="muted">({})'
                             '</span></h2><ul>{}</ul></section>', slug, slug, state, len(in_state), body))
    problem = _fill('<p class="err" role="alert">{}</p>', error) if error else Markup("")
    return problem + Markup("").join(columns)


def board_page(backend: str, labels: list[str]) -> str:
    options = Markup("").join(_fill('<option value="{}">{}</option>', label.lower(), label)
                              for label in labels)
    body = _fill(
        '<div class="filters" role="search"><label for="board-text">Text</label>'
        '<input id="board-text" type="search" autocomplete="off">'
        '<label for="board-label">Label</label><select id="board-label"><option value="">any</option>{}'
        '</select><label for="board-backend">Backend</label><select id="board-backend">'
        '<option value="">any</option><option value="{}">{}</option></select></div>'
        '<div id="board" class="board" sse-swap="board"><p class="muted">Loading…</p></div>',
        options, backend, backend)
    script = Markup("""<script>
window.tackFilter = () => {
  const q = document.getElementById("board-text").value.trim().toLowerCase();
  const label = document.getElementById("board-label").value, backend = document.getElementById("board-backend").value;
  for (const card of document.querySelectorAll("#board .card"))
    card.hidden = !(card.dataset.text.includes(q) && (!label || card.dataset.labels.split(",").includes(label))
                    && (!backend || card.dataset.backend === backend));
};
document.addEventListener("input", e => { if (e.target.closest(".filters")) window.tackFilter(); });
</script>""")
    return layout("Board", "/board", body + script, stream="/ui/events?view=board")


# -------------------------------------------------------------------------- an issue's page

async def _git(cwd: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "git", "-C", str(cwd), *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    return out.decode(errors="replace") if proc.returncode == 0 else ""


async def branch_diff(workspace: Path, base: str) -> str:
    """The workspace's changes against the merge base with `base` (committed or not)."""
    if not (workspace / ".git").exists():
        return ""
    merge_base = (await _git(workspace, "merge-base", base, "HEAD")).strip()
    if not merge_base:
        return ""
    return await _git(workspace, "diff", merge_base)


def diff_html(diff: str) -> Markup:
    if not diff.strip():
        return Markup('<p class="muted">No changes against the base yet.</p>')
    cut = diff[:DIFF_CHARS]
    # Pygments escapes the text it highlights; its output is trusted HTML.
    html = highlight(cut, DiffLexer(), HtmlFormatter(cssclass="diff", wrapcode=True))
    more = _fill('<p class="muted">Diff cut at {} characters.</p>', number(DIFF_CHARS)) \
        if len(diff) > DIFF_CHARS else Markup("")
    # A focusable region: a wide diff scrolls sideways from the keyboard too.
    return Markup('<div class="diff-scroll" tabindex="0" role="region" aria-labelledby="diff-h">') \
        + Markup(html) + Markup("</div>") + more


def _transcript_item(ev: dict[str, Any]) -> Markup:
    kind = str(ev.get("event") or "")
    raw = ev.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    message = str(ev.get("message") or "")
    head = _fill('<span class="muted">{}</span> <span class="pill">{}</span> ', clock(ev.get("at")), kind)
    if kind == "tool_result":
        # The result as the agent saw it (check output included), folded: results are long.
        failed = data.get("ok") is False
        return _fill('<li data-kind="{}"{}>{}<details><summary>{}</summary><pre>{}</pre></details></li>',
                     kind, Markup(' class="err"') if failed else "", head, message or "result",
                     str(data.get("output") or ""))
    if kind == "tool_call":
        return _fill('<li data-kind="{}">{}{}</li>', kind, head, _describe(ev))
    return _fill('<li data-kind="{}">{}<pre>{}</pre></li>', kind, head, message)


def transcript(events: list[dict[str, Any]]) -> Markup:
    return Markup("").join(_transcript_item(ev) for ev in events) \
        or Markup('<li class="muted">No events yet.</li>')


def plan_actions(identifier: str) -> Markup:
    path = f"/api/v1/{quote(identifier, safe='')}"
    return _fill(
        '<form class="actions" hx-post="{}/plan/approve" hx-swap="none" data-done="Plan approved">'
        '<label for="plan-author">Your name</label><input id="plan-author" name="author" required>'
        '<button type="submit" id="plan-approve">Approve plan</button></form>'
        '<form class="actions" hx-post="{}/plan/reject" hx-swap="none" data-done="Plan rejected">'
        '<label for="plan-reason">Reason</label><input id="plan-reason" name="comment" required>'
        '<label for="plan-reject-author">Your name</label><input id="plan-reject-author" name="author" required>'
        '<button type="submit" id="plan-reject" class="danger">Reject plan</button></form>',
        path, path)


def issue_page(identifier: str, *, issue: Issue | None, plan: str | None, plan_waiting: bool,
               runs: list[dict[str, Any]], skills: list[dict[str, Any]],
               lessons: list[dict[str, Any]], prs: list[dict[str, Any]], diff: str,
               best_of: dict[str, Any] | None = None) -> str:
    path = quote(identifier, safe="")
    about = _fill('<p><strong>{}</strong> <span class="pill">{}</span> {}</p>',
                  issue.title if issue else "not in the tracker",
                  issue.state if issue else "unknown",
                  _fill('<a href="{}">in the tracker</a>', issue.url) if issue and issue.url else "")
    plan_html = Markup("")
    if plan:
        plan_html = _fill('<h3 id="plan-h">Plan{}</h3><pre>{}</pre>{}',
                          " awaiting review" if plan_waiting else "", plan,
                          plan_actions(identifier) if plan_waiting else "")
    run_rows = [(r["run_id"], r.get("attempt") or 1, r.get("status") or "", stamp(r.get("started_at")),
                 stamp(r.get("ended_at")), r.get("turn_count") or 0,
                 number((r.get("tokens") or {}).get("total_tokens")), r.get("error") or "")
                for r in runs]
    pr_rows = [(_fill('<a href="{}">#{}</a>', p["url"], p["number"]) if p.get("url") else p["number"],
                p.get("state") or "", p.get("findings") or 0) for p in prs]
    skill_rows = [(s.get("run_id"), s.get("name") or s.get("id") or "", s.get("version") or s.get("source") or "")
                  for s in skills]
    lesson_rows = [(_fill('<a href="/lessons#{}">{}</a>', lesson["id"], lesson["id"]), lesson["title"])
                   for lesson in lessons]
    body = _fill(
        '{}<div class="actions" id="issue-actions"><span id="timeline-head" sse-swap="timeline-head"></span></div>'
        '{}'
        '<h3 id="feedback-h">Runs and feedback</h3>'
        '<div id="feedback-form"><label for="feedback-comment">Comment (optional)</label>'
        '<textarea id="feedback-comment" name="comment" rows="2"></textarea>'
        '<label for="feedback-author">Your name (optional)</label>'
        '<input id="feedback-author" name="author" autocomplete="name"></div>'
        '<ul id="timeline-runs" aria-labelledby="feedback-h" sse-swap="feedback"></ul>'
        '<h3>Attempts and runs</h3>{}{}'
        '<h3>Pull request and review findings</h3>{}'
        '<h3>Artifacts</h3><div id="artifacts" data-runs="{}"><p class="muted">Screenshots and recordings '
        'of the runs appear here when a run stored any.</p></div>'
        '<h3>What the prompt carried</h3>{}{}'
        '<h3 id="diff-h">Diff against the base</h3>{}'
        '<h3 id="transcript-h">Transcript</h3>'
        '<div class="scroll" tabindex="0" role="region" aria-labelledby="transcript-h">'
        '<ol id="timeline-events" class="transcript" aria-labelledby="transcript-h" '
        'reversed sse-swap="transcript"></ol></div>'
        '<p><a href="/#issue={}">Follow on the dashboard</a></p>',
        about, plan_html,
        _table("Attempts", ("Run", "Attempt", "Status", "Started", "Ended", "Turns", "Tokens", "Error"),
               run_rows, "No runs yet."),
        best_of_table(best_of),
        _table("Pull requests", ("PR", "State", "Review findings"), pr_rows, "No pull request yet."),
        ",".join(str(r["run_id"]) for r in runs[:5]),
        _table("Skills", ("Run", "Skill", "Version"), skill_rows, "No skills recorded for these runs."),
        _table("Lessons", ("Lesson", "Title"), lesson_rows, "No lessons recorded for these runs."),
        diff_html(diff), path)
    script = Markup("""<script>
(async () => {
  const box = document.getElementById("artifacts");
  const shown = [];
  for (const run of (box.dataset.runs || "").split(",").filter(Boolean)) {
    try {
      const r = await fetch("/api/v1/runs/" + run + "/artifacts");
      if (!r.ok) continue;
      const body = await r.json();
      for (const a of (body.artifacts || [])) shown.push([run, a]);
    } catch (e) { /* artifacts are optional */ }
  }
  if (!shown.length) return;
  box.replaceChildren(...shown.map(([run, a]) => {
    const link = document.createElement("a");
    link.href = a.url || ("/api/v1/runs/" + run + "/artifacts/" + encodeURIComponent(a.name || ""));
    link.textContent = "run " + run + ": " + (a.name || a.path || "artifact");
    const p = document.createElement("p"); p.append(link); return p;
  }));
})();
</script>""")
    return layout(identifier, "", body + script, stream=f"/ui/events?view=issue&issue={path}")


def best_of_table(record: dict[str, Any] | None) -> Markup:
    """A best-of-N race's attempts (the PR body's table), under the issue's runs."""
    if record is None:
        return NO_MARKUP
    attempts = record.get("attempts") if isinstance(record.get("attempts"), list) else []
    run = record.get("run_id")
    head = _fill('<h4 id="best-of-h">Best of {}{}</h4>', len(attempts or []),
                 f" (run {run})" if run is not None else "")
    return head + _fill('<div id="best-of" class="scroll" tabindex="0" role="region" '
                        'aria-labelledby="best-of-h">{}</div>',
                        _table("Attempts raced for this issue; the winner was handed off",
                               COLUMNS, attempt_rows(record), "The race had no attempts."))


def issue_head(identifier: str, detail: dict[str, Any] | None) -> Markup:
    """The status pill and the cancel/retry buttons that fit the issue's status."""
    status = str((detail or {}).get("status") or "unknown")
    path = quote(identifier, safe="")
    cancel = _action("Cancel run", f"Cancel the run of {identifier}", f"/api/v1/{path}/cancel",
                     f"Cancel requested for {identifier}", ident="issue-cancel", cls="danger")
    retry = _action("Retry now", f"Retry {identifier} now", f"/api/v1/{path}/retry",
                    f"Retry requested for {identifier}", ident="issue-retry")
    return _fill('<span id="timeline-status" class="pill">{}</span> {}{}',
                 status if detail else "no runs yet", cancel if status == "running" else "",
                 retry if status in ("retrying", "held", "released") else "")


# ------------------------------------------------------------------------------ other pages

def lessons_page(lessons: list[dict[str, Any]]) -> str:
    def evidence(items: list[str]) -> Markup:
        links = []
        for item in items:
            kind, _, ref = item.partition(":")
            if kind == "run":
                links.append(_fill('<a href="/runs/{}" data-run="{}">{}</a>',
                                   quote(ref, safe=""), ref, item))
            else:
                links.append(escape(item))
        return Markup(", ").join(links)

    items = Markup("").join(
        _fill('<article id="{}"><h3>{} <span class="muted">{}</span></h3><p>{}</p>'
              '<p class="muted">seen {} times · tags: {} · evidence: {}</p></article>',
              lesson["id"], lesson["title"], lesson["id"], lesson["body"], lesson["occurrences"],
              ", ".join(lesson["tags"]) or "none", evidence(lesson["evidence"]))
        for lesson in lessons)
    return layout("Lessons", "/lessons",
                  items or Markup('<p class="muted">No lessons yet: <code>tack learn</code> '
                                  'writes them from feedback.</p>'))


def principles_page(principles: list[dict[str, Any]], error: str | None,
                    findings: list[Issue]) -> str:
    rows = [(p["id"], p["title"], p["severity"], (p.get("check") or {}).get("kind") or "judged",
             p["why"]) for p in principles]
    listed = _table("Principles", ("Id", "Principle", "Severity", "Check", "Why"), rows,
                    error or "No principles: PRINCIPLES.md is empty or missing (`tack init` writes a starter one).")
    filed = [(_fill('<a href="/issues/{}">{}</a>', quote(i.identifier, safe=""), i.identifier),
              i.title, i.state, ", ".join(label for label in i.labels if label.startswith("principle:")))
             for i in findings]
    body = listed + Markup('<h3>Scan findings</h3><p class="muted"><code>tack scan --file-issues</code> '
                           'files each violation cluster as an issue; the open ones:</p>') + \
        _table("Scan findings", ("Issue", "Title", "State", "Principle"), filed,
               "No scan findings filed as issues.")
    return layout("Principles", "/principles", body)


def gc_report_page(report: str | None, error: str | None) -> str:
    if error:
        body = _fill('<p class="err">{}</p>', error)
    else:
        body = _fill('<p class="muted">The last week, as <code>tack gc-report</code> writes it.</p>'
                     '<pre>{}</pre>', report or "")
    return layout("GC report", "/gc-report", body)


def questions_page(open_questions: list[dict[str, Any]],
                   answered: list[dict[str, Any]], kinds: list[dict[str, Any]]) -> str:
    """Questions agents parked for a person (docs/questions.md): the open ones with a button
    per option and a text answer where allowed, the recent answers, then where human time
    went (the questions grouped by kind, as `tack gc-report` does)."""
    waiting = Markup(
        '<table><caption>Open questions</caption><thead><tr><th scope="col">Issue</th>'
        '<th scope="col">Question</th><th scope="col">Answer</th></tr></thead>'
        '<tbody id="questions">{}</tbody></table>').format(
            fragments.questions({"questions": open_questions}))

    def took(q: dict[str, Any]) -> str:
        if q.get("answered_at") and q.get("asked_at"):
            return duration(float(q["answered_at"]) - float(q["asked_at"]))
        return ""

    rows = [(_fill('<a href="/issues/{}">{}</a>', quote(str(q["issue_identifier"]), safe=""),
                   q["issue_identifier"]), q.get("text") or "", q.get("answer") or "",
             q.get("answered_by") or "", took(q))
            for q in answered]
    done = _table("Answered", ("Issue", "Question", "Answer", "By", "Time to answer"), rows,
                  "No question has been answered yet.")
    grouped = _table(
        "Where human time went: questions by kind",
        ("Kind (first asked)", "Times", "Issues", "Median time to answer", "Proposal"),
        ((k["example"], k["count"],
          Markup(", ").join(_fill('<a href="/issues/{}">{}</a>', quote(str(i), safe=""), i)
                            for i in k["issues"][:5]),
          duration(k["median_answer_s"]) if k["median_answer_s"] is not None else "—",
          k["proposal"] or "") for k in kinds),
        "No agent has asked a person anything yet.")
    return layout("Questions", "/questions", waiting + done + grouped)


def metrics_page() -> str:
    body = Markup(
        '<label for="since">Window</label> <select id="since"><option value="24h">last 24 hours</option>'
        '<option value="7d" selected>last 7 days</option><option value="30d">last 30 days</option>'
        '<option value="365d">last year</option></select><div class="tiles" id="tiles"></div>'
        '<div class="charts">'
        '<figure><figcaption><h3>Tokens per day</h3></figcaption><div id="chart-days" class="chart"></div></figure>'
        '<figure><figcaption><h3>Tokens per issue (top 10)</h3></figcaption><div id="chart-issues" class="chart"></div></figure>'
        '<figure><figcaption><h3>Runs by status</h3></figcaption><div id="chart-status" class="chart"></div></figure>'
        '<figure><figcaption><h3>Failure reasons</h3></figcaption><div id="chart-failures" class="chart"></div></figure>'
        '<figure><figcaption><h3>Retries and continuations by kind</h3></figcaption><div id="chart-retries" class="chart"></div></figure>'
        '<figure><figcaption><h3>PRs merged per engineer per week</h3></figcaption><div id="prs"></div></figure>'
        '</div><script>document.getElementById("since").onchange = window.tackMetrics; window.tackMetrics();'
        '</script>')
    return layout("Metrics", "/metrics-page", body,
                  scripts=Markup('<script src="/static/charts.js?v=2"></script>'))
