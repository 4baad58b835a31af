"""Workspace keys and root containment (Symphony SPEC §4.2, §9.5).

A key is the issue identifier made safe for a directory name; when sanitising changes it, a
hash of the original keeps distinct identifiers apart (`a/b` and `a_b` never share a workspace).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from tack.errors import WorkspaceError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def workspace_key(identifier: str) -> str:
    """`identifier` with unsafe characters as `_`, plus a 64-bit hash suffix if any changed."""
    key = _UNSAFE.sub("_", identifier)
    if key != identifier:
        key += "-" + hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:16]
    return key


def contained_path(root: Path, key: str) -> Path:
    """`root/key`, refusing anything that resolves (through `..` or symlinks) outside root."""
    real_root = Path(os.path.realpath(root))
    candidate = real_root / key
    real = Path(os.path.realpath(candidate))
    if real == real_root or real_root not in real.parents:
        raise WorkspaceError(
            f"Workspace {key!r} resolves to {real}, which is not inside the workspace root "
            f"{real_root}. Remove the stray path (or symlink) at {candidate}, or fix "
            "workspace.root in WORKFLOW.md.",
            code="workspace_outside_root",
        )
    return candidate
