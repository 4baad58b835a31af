from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tack.errors import WorkflowError
from tack.workflow import WorkflowWatcher
from tests.workflow.helpers import write_workflow


def test_unchanged_file_is_not_reloaded(tmp_path: Path) -> None:
    watcher = WorkflowWatcher(write_workflow(tmp_path, "polling:\n  interval_ms: 100"))
    first = watcher.current
    assert watcher.check() is False
    assert watcher.current is first


def test_touch_without_content_change_is_not_a_new_config(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, "polling:\n  interval_ms: 100")
    watcher = WorkflowWatcher(path)
    path.write_text(path.read_text())
    assert watcher.check() is False


def test_same_size_edit_is_detected(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, "polling:\n  interval_ms: 100")
    watcher = WorkflowWatcher(path)
    path.write_text(path.read_text().replace("100", "200"))
    assert watcher.check() is True
    assert watcher.current.config.polling.interval_ms == 200


def test_good_edit_applies_then_broken_edit_keeps_it_then_fix_recovers(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, "polling:\n  interval_ms: 100", body="v1")
    watcher = WorkflowWatcher(path)
    write_workflow(tmp_path, "polling:\n  interval_ms: 2500", body="v2 {{ issue.title }}")
    assert watcher.check() is True
    assert watcher.current.config.polling.interval_ms == 2500
    assert watcher.current.prompt_template == "v2 {{ issue.title }}"

    write_workflow(tmp_path, "polling:\n  interval_ms: -1", body="v3")
    with capture_logs() as logs:
        assert watcher.check() is False
    assert watcher.current.config.polling.interval_ms == 2500
    assert watcher.last_error is not None
    assert watcher.last_error.code == "workflow_config_invalid"
    assert [e["event"] for e in logs] == ["workflow_reload_failed"]
    assert logs[0]["log_level"] == "warning"

    write_workflow(tmp_path, "polling:\n  interval_ms: 700", body="v4")
    assert watcher.check() is True
    assert watcher.last_error is None
    assert watcher.current.config.polling.interval_ms == 700


def test_deleted_file_keeps_current_and_reports_missing(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, "polling:\n  interval_ms: 100")
    watcher = WorkflowWatcher(path)
    path.unlink()
    assert watcher.check() is False
    assert watcher.current.config.polling.interval_ms == 100
    assert watcher.last_error is not None and watcher.last_error.code == "missing_workflow_file"


def test_first_load_failure_raises(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError) as err:
        WorkflowWatcher(tmp_path / "WORKFLOW.md")
    assert err.value.code == "missing_workflow_file"
