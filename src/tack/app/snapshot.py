"""Snapshots that respect an agent's context: the full accessibility tree goes to a file,
the agent reads a digest within a token budget.

The tree is Playwright's AI-mode aria snapshot: indented YAML-like lines whose elements
carry stable refs (`[ref=e12]`) that the action commands accept.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from tack.feedback.tokens import count_tokens

REF = re.compile(r"\[ref=((?:f\d+)?e\d+)\]")
_REF_MARK = re.compile(r" ?\[ref=(?:f\d+)?e\d+\]")
_ROLE = re.compile(r"^\s*-\s+([a-z]+)")
INTERACTIVE = frozenset({
    "button", "link", "textbox", "searchbox", "checkbox", "radio", "combobox", "listbox",
    "option", "menuitem", "menuitemcheckbox", "menuitemradio", "tab", "switch", "slider",
    "spinbutton", "treeitem",
})
# Landmarks that tell an agent where it is, kept in the digest beside the controls.
ORIENTING = frozenset({"heading", "alert", "dialog", "alertdialog", "status"})


def refs_in(tree: str) -> set[str]:
    return set(REF.findall(tree))


def ref_map(tree: str) -> dict[str, str]:
    """Each ref with its element (`button "Add one"`), for `--json` readers."""
    out = {}
    for line in tree.splitlines():
        match = REF.search(line)
        if match:
            element = _REF_MARK.sub("", line[:match.start()]).strip().removeprefix("- ")
            out[match.group(1)] = re.sub(r" \[[a-z]+(=[^\]]*)?\]", "", element).strip()
    return out


def role_of(line: str) -> str | None:
    match = _ROLE.match(line)
    return match.group(1) if match else None


def _compact(line: str) -> str:
    return line.strip().removeprefix("- ").rstrip(":")


def _bare(line: str) -> str:
    return _REF_MARK.sub("", line).replace(" [active]", "").rstrip()


def changes(previous: str | None, current: str) -> list[str]:
    """Lines added (+) and removed (-) since the previous snapshot.

    Compared without refs and focus marks: a navigation renumbers refs (`e5` becomes `f1e5`)
    and every click moves focus, neither of which is a change an agent needs to read. Added
    lines keep their refs, so they can be acted on; removed lines show none.
    """
    if previous is None:
        return []
    old, new = previous.splitlines(), current.splitlines()
    matcher = difflib.SequenceMatcher(None, [_bare(x) for x in old], [_bare(x) for x in new],
                                      autojunk=False)
    out: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        out += ["- " + _compact(_bare(x)) for x in old[i1:i2] if x.strip()]
        out += ["+ " + _compact(x.replace(" [active]", "")) for x in new[j1:j2] if x.strip()]
    return out


@dataclass
class Digest:
    url: str
    title: str
    tree: str
    path: str
    previous: str | None = None
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def render(self, budget: int) -> str:
        lines = self.tree.splitlines()
        head = [f"url: {self.url}", f"title: {self.title}",
                f"full tree: {self.path} ({len(lines)} lines, ~{count_tokens(self.tree)} tokens)"]
        sections: list[tuple[str, list[str]]] = []
        if self.errors:
            sections.append(("console errors since last call", self.errors))
        if self.failed:
            sections.append(("failed requests since last call", self.failed))
        if self.previous is not None:
            diff = changes(self.previous, self.tree)
            sections.append(("changed since previous snapshot", diff or ["(nothing)"]))
        marks = [_compact(x) for x in lines
                 if role_of(x) in INTERACTIVE or role_of(x) in ORIENTING]
        sections.append(("elements", marks or ["(no interactive elements)"]))
        return _fit(head, sections, budget)


def _fit(head: list[str], sections: list[tuple[str, list[str]]], budget: int) -> str:
    """Whole sections in order while they fit; the section that overflows is cut with a count."""
    out = list(head)
    used = count_tokens("\n".join(out))
    for title, items in sections:
        block = [f"{title}:"]
        shown = 0
        for item in items:
            cost = count_tokens("  " + item) + 1
            if used + cost + count_tokens(title) + 12 > budget:
                break
            block.append("  " + item)
            used += cost
            shown += 1
        if shown < len(items):
            block.append(f"  … {len(items) - shown} more in the full tree")
        used += count_tokens(block[0]) + 12
        out += block
    return "\n".join(out)
