"""Session notes: one Markdown file per issue (goal, decisions, files touched, failing checks,
open questions), built from the agent's events and shown to the agent on continuation turns
and on the next attempt after a restart, so a long issue keeps its thread."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tack.agents.base import AgentEvent

MAX_DECISIONS = 12
MAX_QUESTIONS = 6
MAX_FILES = 60
LINE_MAX = 240
EDIT_TOOLS = {"write_file", "edit_file", "Edit", "Write", "MultiEdit", "NotebookEdit",
              "apply_patch"}
CHECK_TOOLS = {"shell", "Bash", "check", "commandExecution"}


@dataclass
class NotesState:
    identifier: str
    goal: str
    attempts: int = 0
    decisions: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    failing: dict[str, str] = field(default_factory=dict)
    questions: list[str] = field(default_factory=list)
    calls: dict[str, list[str]] = field(default_factory=dict)  # call id -> [tool, label]


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= LINE_MAX else line[:LINE_MAX - 1] + "…"


def _paths(name: str, args: Any) -> list[str]:
    if isinstance(args, list):  # codex apply_patch: the changed paths
        return [str(p) for p in args if p]
    if isinstance(args, dict):
        for key in ("path", "file_path", "notebook_path"):
            if args.get(key):
                return [str(args[key])]
    return []


def _label(name: str, args: Any) -> str:
    if isinstance(args, dict):
        for key in ("command", "profile"):
            if args.get(key):
                return _short(f"{name}: {args[key]}")
    if isinstance(args, str) and args:
        return _short(f"{name}: {args}")
    return name


class SessionNotes:
    """The notes of one issue under `<folder>/<identifier>.md` (+ `.json` state)."""

    def __init__(self, folder: Path, identifier: str, goal: str) -> None:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", identifier)
        self.markdown = folder / f"{safe}.md"
        self.state_file = folder / f"{safe}.json"
        self.state = NotesState(identifier, _short(goal))
        if self.state_file.is_file():
            try:
                self.state = NotesState(**json.loads(self.state_file.read_text()))
            except (ValueError, TypeError):
                pass  # a corrupt state file starts the notes afresh

    def start_attempt(self) -> str:
        """Count an attempt; the notes so far, for the first prompt ("" when none)."""
        previous = self.for_prompt()
        self.state.attempts += 1
        self.save()
        return previous

    def record(self, event: AgentEvent) -> None:
        s = self.state
        if event.kind == "tool_call":
            name = str(event.data.get("name") or "")
            args = event.data.get("arguments")
            for path in _paths(name, args) if name in EDIT_TOOLS else []:
                if path not in s.files:
                    s.files = [*s.files, path][-MAX_FILES:]
            if event.data.get("call_id"):
                s.calls[str(event.data["call_id"])] = [name, _label(name, args)]
        elif event.kind == "tool_result":
            name, label = s.calls.pop(str(event.data.get("call_id") or ""), ["", ""])
            if name in CHECK_TOOLS or name.startswith("shell"):
                if event.data.get("ok", True):
                    s.failing.pop(label, None)
                else:
                    output = str(event.data.get("output") or "").strip().splitlines()
                    s.failing[label] = _short(" / ".join(output[-3:]) or "failed")
        elif event.kind == "message" and event.message.strip():
            text = event.message.strip()
            s.decisions = [*s.decisions, _short(text.split("\n\n")[0])][-MAX_DECISIONS:]
            asked = [q.strip() for q in re.findall(r"[^.!?\n]*\?", text) if len(q.strip()) > 8]
            s.questions = [*s.questions, *map(_short, asked)][-MAX_QUESTIONS:]
        else:
            return
        self.save()

    def render(self) -> str:
        s = self.state
        out = [f"# Session notes: {s.identifier}", "", f"Goal: {s.goal}",
               f"Attempts so far: {s.attempts}", ""]
        sections = [("Decisions and progress", s.decisions), ("Files touched", s.files),
                    ("Failing checks", [f"{k} — {v}" for k, v in s.failing.items()]),
                    ("Open questions", s.questions)]
        for title, items in sections:
            out.append(f"## {title}")
            out += [f"- {i}" for i in items] or ["- (none)"]
            out.append("")
        return "\n".join(out)

    def for_prompt(self) -> str:
        s = self.state
        if not (s.decisions or s.files or s.failing or s.questions):
            return ""
        return ("\n\n---\nNotes Tack kept from your earlier turns and attempts on this issue "
                f"(also in {self.markdown}):\n\n" + self.render())

    def save(self) -> None:
        self.markdown.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(asdict(self.state)))
        self.markdown.write_text(self.render())
