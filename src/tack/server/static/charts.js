/* Metrics tiles and charts (dashboard and /metrics-page): inline SVG with a <title> tooltip on
   every bar, labels drawn at 12 px at the chart's own size, and a table behind every chart. */
(function () {
"use strict";
const $ = id => document.getElementById(id);
const esc = s => String(s ?? "").replace(/[&<>"']/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
const num = n => Number(n || 0).toLocaleString("en");
function dur(s) {
  s = Math.max(0, Math.round(Number(s) || 0));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h " + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m";
  return Math.floor(s / 86400) + "d " + Math.floor(s % 86400 / 3600) + "h";
}
function bars(items, opts) {
  /* Horizontal bars: one row per item, label left, value right. */
  if (!items.length) return `<p class="muted">No data in this window.</p>`;
  const max = Math.max(...items.map(i => i.value), 1), row = 20, w = 460, lw = 170, vw = 80;
  const body = items.map((it, k) => {
    const bw = Math.max(1, (w - lw - vw) * it.value / max);
    return `<g transform="translate(0 ${k * row})"><text x="0" y="14">${esc(String(it.label).slice(0, 28))}</text>
      <rect class="${opts.cls || "bar"}" x="${lw}" y="3" width="${bw.toFixed(1)}" height="${row - 6}"><title>${esc(it.label)}: ${num(it.value)}</title></rect>
      <text x="${lw + bw + 4}" y="14">${esc(opts.fmt ? opts.fmt(it.value) : num(it.value))}</text></g>`;
  }).join("");
  return `<svg role="img" aria-label="${esc(opts.title)}" viewBox="0 0 ${w} ${items.length * row}" width="${w}" height="${items.length * row}"><title>${esc(opts.title)}</title>${body}</svg>` + table(items, opts.title, opts.head);
}
function table(items, title, head) {
  /* The numbers behind every chart, as a table (screen readers, copying, exact values). */
  head = head || ["Label", "Value"];
  return `<details class="data"><summary>Table: ${esc(title)}</summary><table><thead><tr><th scope="col">${esc(head[0])}</th>` +
    `<th scope="col" class="num">${esc(head[1])}</th></tr></thead><tbody>` +
    items.map(it => `<tr><td>${esc(it.label)}</td><td class="num">${num(it.value)}</td></tr>`).join("") + `</tbody></table></details>`;
}
function columns(items, title) {
  /* Vertical bars for a time series (tokens per day). */
  if (!items.length) return `<p class="muted">No data in this window.</p>`;
  const max = Math.max(...items.map(i => i.value), 1), h = 160, w = 460, pad = 22, cw = (w - 10) / items.length;
  const body = items.map((it, k) => {
    const bh = (h - pad * 2) * it.value / max, x = 5 + k * cw;
    const label = items.length <= 10 || k % Math.ceil(items.length / 10) === 0
      ? `<text x="${x + cw / 2}" y="${h - 6}" text-anchor="middle">${esc(it.label.slice(5))}</text>` : "";
    return `<rect class="bar" x="${(x + 1).toFixed(1)}" y="${(h - pad - bh).toFixed(1)}" width="${Math.max(cw - 2, 1).toFixed(1)}" height="${bh.toFixed(1)}"><title>${esc(it.label)}: ${num(it.value)} tokens</title></rect>${label}`;
  }).join("");
  return `<svg role="img" aria-label="${esc(title)}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}"><title>${esc(title)}</title>
    <line class="axis" x1="0" x2="${w}" y1="${h - pad}" y2="${h - pad}"></line>
    <text x="4" y="12">max ${num(max)}</text>${body}</svg>` + table(items, title, ["Day", "Tokens"]);
}
async function loadMetrics() {
  try {
    const since = $("since").value;
    const r = await fetch("/api/v1/metrics?since=" + encodeURIComponent(since));
    if (!r.ok) return;
    const m = await r.json();
    const tiles = [["Runs", num(m.runs_total)], ["Success rate", m.success_rate == null ? "—" : Math.round(m.success_rate * 100) + "%"],
      ["Tokens", num(m.tokens_total)], ["Hand-offs", num(m.handoffs_total)],
      ["Median time to hand-off", m.median_seconds_to_handoff == null ? "—" : dur(m.median_seconds_to_handoff)],
      ["Retries (failures)", num(m.retries_total)], ["Continuations", num(m.continuations_total)]];
    $("tiles").innerHTML = tiles.map(([k, v]) => `<div class="tile"><span class="muted">${esc(k)}</span><strong>${esc(v)}</strong></div>`).join("");
    $("chart-days").innerHTML = columns(m.tokens_per_day.map(d => ({label: d.day, value: d.tokens})), "Tokens per day");
    $("chart-issues").innerHTML = bars(m.tokens_per_issue.slice(0, 10).map(d => ({label: d.issue_identifier, value: d.tokens})), {title: "Tokens per issue", head: ["Issue", "Tokens"]});
    $("chart-status").innerHTML = bars(Object.entries(m.runs_by_status).map(([k, v]) => ({label: k, value: v})), {title: "Runs by status", cls: "bar2", head: ["Status", "Runs"]});
    $("chart-failures").innerHTML = bars(m.failure_reasons.slice(0, 8).map(d => ({label: d.reason, value: d.count})), {title: "Failure reasons", cls: "bar2", head: ["Reason", "Runs"]});
    $("chart-retries").innerHTML = bars(Object.entries(m.retries_by_kind).map(([k, v]) => ({label: k, value: v})), {title: "Retries and continuations by kind", head: ["Kind", "Scheduled"]});
    $("prs").innerHTML = m.prs_per_engineer_week.length ? `<table><thead><tr><th scope="col">Week</th><th scope="col">Engineer</th><th scope="col" class="num">PRs</th></tr></thead><tbody>` +
      m.prs_per_engineer_week.map(p => `<tr><td>${esc(p.week)}</td><td>${esc(p.engineer)}</td><td class="num">${num(p.prs)}</td></tr>`).join("") + `</tbody></table>`
      : `<p class="muted">No merged agent branches in this window.</p>`;
    document.body.dataset.metricsLoaded = "1";
  } catch (e) { /* metrics are best effort; the live view keeps going */ }
}

window.tackMetrics = loadMetrics;
})();
