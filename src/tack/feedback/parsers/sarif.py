"""SARIF 2.1.0, the interchange format of semgrep, CodeQL, ruff and many others.

Any tool that writes SARIF works without code here: rule ids, messages, levels and
physical locations are all the format defines.
"""

from __future__ import annotations

from typing import Any

from tack.feedback.model import Finding
from tack.feedback.paths import ParseContext

_LEVEL = {"error": "error", "warning": "warning", "note": "note", "none": "note"}


def looks_like_sarif(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("runs"), list) and (
        str(data.get("version", "")).startswith("2.1") or "sarif" in str(data.get("$schema", "")))


def parse_sarif(data: Any, ctx: ParseContext) -> list[Finding]:
    out: list[Finding] = []
    for run in data.get("runs", []):
        driver = ((run.get("tool") or {}).get("driver") or {})
        tool = str(driver.get("name") or "sarif").split()[0].lower()
        rule_list = [r for r in driver.get("rules", []) if isinstance(r, dict)]
        rules = {r.get("id"): r for r in rule_list}
        bases = {k: (v or {}).get("uri", "") for k, v in
                 (run.get("originalUriBaseIds") or {}).items()}
        for result in run.get("results", []):
            rule_id = result.get("ruleId") or (result.get("rule") or {}).get("id")
            index = result.get("ruleIndex", (result.get("rule") or {}).get("index"))
            if rule_id is None and isinstance(index, int) and 0 <= index < len(rule_list):
                rule_id = rule_list[index].get("id")  # a result may name its rule by index
            rule = rules.get(rule_id, {})
            level = result.get("level") or (rule.get("defaultConfiguration") or {}).get(
                "level", "warning")
            path, line, col = _location(result, bases)
            message = _message(result.get("message") or {}, rule)
            fixes = result.get("fixes") or []
            out.append(Finding(
                kind="lint", tool=tool, rule=rule_id, message=message.split("\n")[0],
                path=ctx.display(path) if path else None, line=line, col=col,
                severity=_LEVEL.get(level, "warning"),
                fix_hint=((fixes[0].get("description") or {}).get("text") if fixes else None),
            ))
    return out


def _location(result: dict[str, Any], bases: dict[str, str]
              ) -> tuple[str | None, int | None, int | None]:
    for loc in result.get("locations") or []:
        phys = loc.get("physicalLocation") or {}
        artifact = phys.get("artifactLocation") or {}
        uri = artifact.get("uri")
        if not uri:
            continue
        base = bases.get(artifact.get("uriBaseId", ""), "")
        if base and not uri.startswith(("file:", "/")):
            uri = base.rstrip("/") + "/" + uri
        region = phys.get("region") or {}
        return uri, region.get("startLine"), region.get("startColumn")
    return None, None, None


def _message(message: dict[str, Any], rule: dict[str, Any]) -> str:
    """The result's text, or its rule's message string with `{0}` arguments filled in."""
    if message.get("text"):
        return str(message["text"])
    template = ((rule.get("messageStrings") or {}).get(message.get("id") or "") or {}).get(
        "text") or (rule.get("shortDescription") or {}).get("text", "")
    for i, arg in enumerate(message.get("arguments") or []):
        template = template.replace(f"{{{i}}}", str(arg))
    return str(template)
