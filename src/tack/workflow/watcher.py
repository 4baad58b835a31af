"""Hot reload of WORKFLOW.md (Symphony SPEC §6.2): detect changes cheaply, apply a good edit,
and keep the last good workflow when an edit is broken.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import structlog

from tack.errors import WorkflowError
from tack.workflow.loader import Workflow, load_workflow

log = structlog.get_logger(__name__)

# A file written within this window of our last stat may change again without changing its
# mtime or size (coarse filesystem clocks), so such files are hashed on every check.
_RACY_NS = 2_000_000_000


def _fingerprint(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class WorkflowWatcher:
    """Holds the current workflow and reloads it when the file changes.

    Call `check()` from the poll loop (and before dispatch, in case a change was missed).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().absolute()
        self._stat = _fingerprint(self.path)
        self._digest = _digest(self.path)
        self.current: Workflow = load_workflow(self.path)
        self.last_error: WorkflowError | None = None

    def _unchanged(self, stat: tuple[int, int] | None) -> bool:
        if stat != self._stat:
            return False
        if stat is None:
            return True
        return time.time_ns() - stat[0] > _RACY_NS

    def check(self) -> bool:
        """Reload if the file changed; True only when a new good workflow was applied."""
        try:
            stat = _fingerprint(self.path)
            if self._unchanged(stat):
                return False
            self._stat = stat
            digest = _digest(self.path)
            if digest is not None and digest == self._digest:
                return False
            self._digest = digest
            try:
                workflow = load_workflow(self.path)
            except WorkflowError as exc:
                self.last_error = exc
                log.warning(
                    "workflow_reload_failed",
                    path=str(self.path),
                    code=exc.code,
                    error=exc.message,
                    keeping="last known good workflow",
                )
                return False
            self.current = workflow
            self.last_error = None
            log.info("workflow_reloaded", path=str(self.path), warnings=list(workflow.warnings))
            return True
        except Exception as exc:  # noqa: BLE001 — a reload must never take the service down
            self.last_error = WorkflowError(
                f"{self.path}: reloading the workflow failed unexpectedly: {exc}",
                code="workflow_parse_error",
            )
            log.warning("workflow_reload_failed", path=str(self.path), error=str(exc))
            return False
