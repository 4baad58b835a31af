"""What a run found: resolved rate per variant with Wilson intervals, paired comparisons on
the same tasks, cost in tokens, time and turns, and the tasks that flipped. Rendered as a
rich table, JSON, or a self-contained HTML page with inline SVG plots."""

from __future__ import annotations

import html
import itertools
import statistics
from dataclasses import asdict
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from tack.eval.stats import paired, wilson
from tack.eval.store import TrialResult

Prices = dict[str, tuple[float, float]]  # variant (or "*") -> USD per million in/out tokens


def summarize(results: list[TrialResult], prices: Prices | None = None,
              order: list[str] | None = None) -> dict[str, Any]:
    """`order`: the variants as the run named them (comparisons read A vs B in that order)."""
    prices = prices or {}
    seen = list(dict.fromkeys(r.variant for r in results))
    variants = [v for v in order or [] if v in seen] + [v for v in seen if v not in (order or [])]
    by_variant: dict[str, list[TrialResult]] = {v: [] for v in variants}
    for r in results:
        by_variant[r.variant].append(r)
    rows = []
    for name, trials in by_variant.items():
        scored = [t for t in trials if t.status == "scored"]
        k = sum(1 for t in scored if t.resolved)
        low, high = wilson(k, len(scored))
        price = prices.get(name) or prices.get("*")
        row: dict[str, Any] = {
            "variant": name, "trials": len(trials), "scored": len(scored),
            "errors": len(trials) - len(scored), "resolved": k,
            "rate": k / len(scored) if scored else 0.0, "ci_low": low, "ci_high": high,
            "tokens_per_task": _mean([t.input_tokens + t.output_tokens for t in scored]),
            "wall_s_per_task": _mean([t.wall_s for t in scored]),
            "agent_s_per_task": _mean([t.agent_s for t in scored]),
            "overhead_s_per_task": _mean([t.setup_s + t.verify_s for t in scored]),
            "turns_per_task": _mean([t.turns for t in scored]),
            "cost_usd": None,
        }
        if price:
            row["cost_usd"] = sum(t.input_tokens * price[0] + t.output_tokens * price[1]
                                  for t in scored) / 1e6
        rows.append(row)
    comparisons = []
    flips = []
    for a, b in itertools.combinations(variants, 2):
        outcome_a = {(t.task_id, t.repeat): t.resolved for t in by_variant[a]
                     if t.status == "scored"}
        outcome_b = {(t.task_id, t.repeat): t.resolved for t in by_variant[b]
                     if t.status == "scored"}
        keys = sorted(outcome_a.keys() & outcome_b.keys())
        result = paired(a, b, [(outcome_a[k], outcome_b[k]) for k in keys])
        comparisons.append({**asdict(result), "significant": result.significant})
        for key in keys:
            if outcome_a[key] != outcome_b[key]:
                flips.append({"task": key[0], "repeat": key[1], "a": a, "b": b,
                              "resolved_by": a if outcome_a[key] else b})
    return {"variants": rows, "comparisons": comparisons, "flips": flips,
            "trials": [asdict(t) for t in results]}


def _mean(values: list[float] | list[int]) -> float:
    return float(statistics.fmean(values)) if values else 0.0


def print_report(summary: dict[str, Any], console: Console) -> None:
    table = Table(title="Resolved rate per variant (95% Wilson interval); per task: tokens, "
                        "turns, agent seconds, Tack's seconds", box=box.SIMPLE_HEAD, pad_edge=False)
    # Per task: tokens, turns, the agent's seconds and Tack's own (set-up + hidden tests).
    for col in ("variant", "resolved", "rate", "95% CI", "tokens", "turns", "agent s",
                "tack s", "cost", "errors"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    for row in summary["variants"]:
        cost = row["cost_usd"]
        table.add_row(row["variant"], f"{row['resolved']}/{row['scored']}",
                      f"{row['rate']:.0%}", f"{row['ci_low']:.0%}–{row['ci_high']:.0%}",
                      f"{row['tokens_per_task']:.0f}", f"{row['turns_per_task']:.1f}",
                      f"{row['agent_s_per_task']:.1f}", f"{row['overhead_s_per_task']:.2f}",
                      "-" if cost is None else f"${cost:.2f}", str(row["errors"]))
    console.print(table)
    if summary["comparisons"]:
        comp = Table(title="Paired comparison on the same tasks (exact McNemar, bootstrap)",
                     box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("A", "B", "pairs", "only A", "only B", "B − A", "95% CI", "p", "verdict"):
            comp.add_column(col)
        for c in summary["comparisons"]:
            comp.add_row(c["a"], c["b"], str(c["pairs"]), str(c["only_a"]), str(c["only_b"]),
                         f"{c['diff']:+.0%}", f"{c['diff_low']:+.0%}..{c['diff_high']:+.0%}",
                         f"{c['p_value']:.3g}",
                         "[bold]significant[/]" if c["significant"] else "not significant")
        console.print(comp)
    if summary["flips"]:
        console.print("Tasks that flipped: " + ", ".join(
            f"{f['task']}#{f['repeat']} (only {f['resolved_by']})" for f in summary["flips"][:40]))


# --- HTML ------------------------------------------------------------------------------------


def _bar_chart(title: str, rows: list[dict[str, Any]], key: str, *, fmt: str,
               interval: bool = False) -> str:
    width, bar_h, gap, left = 560, 22, 10, 140
    height = 40 + len(rows) * (bar_h + gap)
    top = max([r.get("ci_high", 0) if interval else r[key] for r in rows] + [1e-9])
    top = 1.0 if interval else top
    scale = (width - left - 60) / top
    parts = [(f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="{html.escape(title)}">'),
             f'<text x="0" y="16" font-weight="bold">{html.escape(title)}</text>']
    for n, row in enumerate(rows):
        y = 30 + n * (bar_h + gap)
        w = row[key] * scale
        parts.append(f'<text x="0" y="{y + 15}">{html.escape(row["variant"])}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                     'fill="#4c78a8"/>')
        if interval:
            lo, hi = left + row["ci_low"] * scale, left + row["ci_high"] * scale
            mid = y + bar_h / 2
            parts.append(f'<line x1="{lo:.1f}" y1="{mid}" x2="{hi:.1f}" y2="{mid}" '
                         'stroke="#222" stroke-width="2"/>')
            for x in (lo, hi):
                parts.append(f'<line x1="{x:.1f}" y1="{y + 4}" x2="{x:.1f}" '
                             f'y2="{y + bar_h - 4}" stroke="#222" stroke-width="2"/>')
        label = format(row[key], fmt)
        parts.append(f'<text x="{left + w + 6:.1f}" y="{y + 15}">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:.2f}"


def render_html(summary: dict[str, Any], title: str) -> str:
    rows = summary["variants"]
    esc = html.escape
    charts = [
        _bar_chart("Resolved rate (95% Wilson interval)", rows, "rate", fmt=".0%",
                   interval=True),
        _bar_chart("Tokens per task", rows, "tokens_per_task", fmt=".0f"),
        _bar_chart("Agent seconds per task", rows, "agent_s_per_task", fmt=".1f"),
        _bar_chart("Turns per task", rows, "turns_per_task", fmt=".1f"),
    ]
    head = ("<tr><th>variant</th><th>resolved</th><th>rate</th><th>95% CI</th>"
            "<th>tokens/task</th><th>turns/task</th><th>agent s/task</th><th>Tack s/task</th>"
            "<th>cost</th><th>errors</th></tr>")
    body = "".join(
        f"<tr><td>{esc(r['variant'])}</td><td>{r['resolved']}/{r['scored']}</td>"
        f"<td>{r['rate']:.0%}</td><td>{r['ci_low']:.0%}–{r['ci_high']:.0%}</td>"
        f"<td>{r['tokens_per_task']:.0f}</td><td>{r['turns_per_task']:.1f}</td>"
        f"<td>{r['agent_s_per_task']:.1f}</td><td>{r['overhead_s_per_task']:.2f}</td>"
        f"<td>{_money(r['cost_usd'])}</td><td>{r['errors']}</td></tr>"
        for r in rows)
    comps = "".join(
        f"<tr><td>{esc(c['a'])}</td><td>{esc(c['b'])}</td><td>{c['pairs']}</td>"
        f"<td>{c['only_a']}</td><td>{c['only_b']}</td><td>{c['diff']:+.0%} "
        f"({c['diff_low']:+.0%} to {c['diff_high']:+.0%})</td><td>{c['p_value']:.3g}</td>"
        f"<td>{'significant' if c['significant'] else 'no significant difference'}</td></tr>"
        for c in summary["comparisons"])
    flips = "".join(f"<li>{esc(f['task'])} #{f['repeat']}: only {esc(f['resolved_by'])} "
                    f"({esc(f['a'])} vs {esc(f['b'])})</li>" for f in summary["flips"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}}
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;
text-align:right}}td:first-child,th:first-child{{text-align:left}}svg{{display:block;
margin:1rem 0;font-size:13px}}</style></head><body>
<h1>{esc(title)}</h1>
<h2>Variants</h2><table>{head}{body}</table>
{''.join(charts)}
<h2>Paired comparisons (exact McNemar test, bootstrap 95% interval of B − A)</h2>
<table><tr><th>A</th><th>B</th><th>pairs</th><th>only A</th><th>only B</th><th>B − A</th>
<th>p</th><th>verdict</th></tr>{comps}</table>
<h2>Tasks that flipped</h2><ul>{flips or '<li>none</li>'}</ul>
</body></html>
"""
