"""`tack app` against the real fixture app and Debian's chromium (issue 14 §3, §4, §7, §8)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tack.app.home import AppHome
from tack.app.procs import group_alive, read_records, start_time, sweep_root
from tests.app.conftest import CHROMIUM, MakeWorkspace, needs_chromium
from tests.conftest import run_tack
from tests.e2e.harness import wait_for

pytestmark = [pytest.mark.slow, needs_chromium]


def tack_app(ws: Path, *args: str) -> str:
    result = run_tack("app", *args, cwd=ws)
    assert result.returncode == 0, result.stderr
    return result.stdout


def ref_of(digest: str, line_start: str) -> str:
    elements = digest.split("\nelements:\n", 1)[1]
    match = re.search(re.escape(line_start) + r".*?\[ref=(\w+)\]", elements)
    assert match, f"{line_start!r} not in:\n{digest}"
    return match.group(1)


def test_agent_sees_the_seeded_bug_then_verifies_the_fix(app_workspace: MakeWorkspace) -> None:
    ws = app_workspace()
    first = tack_app(ws, "snapshot")
    assert "title: Counter" in first and 'status' in first and "Count: 0" in first
    button = ref_of(first, 'button "Add one"')
    assert f"click {button}: done" in tack_app(ws, "click", button)
    second = tack_app(ws, "snapshot")
    assert "changed since previous snapshot:\n  (nothing)" in second  # the bug: no change

    counter = ws / "counter.js"
    counter.write_text(counter.read_text().replace("count += 0", "count += 1"))
    tack_app(ws, "open")
    tack_app(ws, "click", ref_of(tack_app(ws, "snapshot"), 'button "Add one"'))
    fixed = tack_app(ws, "snapshot")
    assert re.search(r'\+ status \[ref=\w+\]: "Count: 1"', fixed), fixed
    assert '- status: "Count: 0"' in fixed, fixed

    shot = Path(tack_app(ws, "screenshot").split()[1])
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.parent == AppHome(ws).artifacts

    full_tree = Path(re.search(r"full tree: (\S+)", fixed).group(1))  # type: ignore[union-attr]
    assert 'button "Add one"' in full_tree.read_text()
    as_json = json.loads(tack_app(ws, "snapshot", "--json"))
    assert as_json["refs"][ref_of(fixed, 'button "Add one"')] == 'button "Add one"'
    tack_app(ws, "fill", ref_of(fixed, 'textbox "Note"'), "hello")
    assert tack_app(ws, "eval", "document.getElementById('note').value").strip() == '"hello"'

    tack_app(ws, "record", "start")
    tack_app(ws, "click", "#add")
    stopped = tack_app(ws, "record", "stop")
    poster = Path(re.search(r"poster: (\S+)", stopped).group(1))  # type: ignore[union-attr]
    assert poster.read_bytes()[:2] == b"\xff\xd8" and poster.parent == AppHome(ws).artifacts

    unknown = run_tack("app", "click", "e999", cwd=ws)
    assert unknown.returncode == 2 and "unknown ref e999" in unknown.stderr

    records = read_records(AppHome(ws))
    assert {"daemon", "app", "browser"} <= set(records)
    tack_app(ws, "stop")
    for entry in records.values():
        assert not group_alive(int(entry["pgid"]))  # type: ignore[call-overload]


def test_a_crashed_browser_is_restarted_once_then_reported(app_workspace: MakeWorkspace) -> None:
    ws = app_workspace()
    tack_app(ws, "open")
    home = AppHome(ws)
    os.killpg(int(read_records(home)["browser"]["pgid"]), signal.SIGKILL)  # type: ignore[call-overload]
    assert "Count: 0" in tack_app(ws, "snapshot")  # restarted, back on the same page
    os.killpg(int(read_records(home)["browser"]["pgid"]), signal.SIGKILL)  # type: ignore[call-overload]
    again = run_tack("app", "snapshot", cwd=ws)
    assert again.returncode == 2 and "crashed again after one restart" in again.stderr
    assert "app: running" in tack_app(ws, "status")  # the daemon still answers


def test_an_app_with_its_own_devtools_endpoint_is_driven_through_cdp(
        app_workspace: MakeWorkspace) -> None:
    # What an Electron app does: it starts its own Chromium with --remote-debugging-port.
    # Its window opens once its own server listens (the daemon's start timeout bounds the wait),
    # else Chromium would show its error page for the first load.
    start = ("python3 server.py $TACK_APP_PORT & "
             "until python3 -c \"import socket, sys; socket.create_connection(('127.0.0.1', "
             "int(sys.argv[1])), 1)\" $TACK_APP_PORT 2>/dev/null; do sleep 0.05; done; "
             f"exec {CHROMIUM} --headless --no-sandbox "
             "--disable-gpu --no-first-run --remote-debugging-port=$TACK_CDP_PORT "
             "--user-data-dir=.tack/app/electron-profile http://127.0.0.1:$TACK_APP_PORT/")
    ws = app_workspace(start=start, ready=None, cdp=True)
    digest = tack_app(ws, "snapshot")
    assert 'button "Add one"' in digest
    records = read_records(AppHome(ws))
    assert "browser" not in records  # Tack launched no browser of its own
    tack_app(ws, "stop")
    assert not group_alive(int(records["app"]["pgid"]))  # type: ignore[call-overload]


OWNER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from tack.app.client import call, session_environment
    from tack.app.config import AppConfig
    import os
    ws = Path(sys.argv[1])
    os.environ.update(session_environment(ws, AppConfig(start="python3 server.py $TACK_APP_PORT",
                                                        ready="log:listening on")))
    call(ws, "open")
    print("ready", flush=True)
    time.sleep(600)
""")


def test_kill_9_of_tack_leaves_no_app_or_browser_after_the_next_start(
        app_workspace: MakeWorkspace) -> None:
    ws = app_workspace()
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(ws)], stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "ready"
        records = read_records(AppHome(ws))
        assert {"daemon", "app", "browser"} <= set(records)
    finally:
        owner.kill()
        owner.wait()
    sweep_root(ws.parent)  # what `tack up` does first
    for role, entry in records.items():
        pid, born = int(str(entry["pid"])), entry["start"]
        wait_for(lambda pid=pid, born=born: start_time(pid) != born, 15, f"{role} to end")
        assert not group_alive(int(str(entry["pgid"])))


def test_a_click_that_cannot_land_is_refused_at_once_with_the_reason(
        app_workspace: MakeWorkspace) -> None:
    from tack.app.client import call
    from tack.app.home import AppError

    ws = app_workspace()
    button = ref_of(call(ws, "snapshot").text, 'button "Add one"')
    page_js = {
        "disabled": "document.getElementById('add').disabled = true",
        "hidden": "document.getElementById('add').disabled = false; "
                  "document.getElementById('add').style.visibility = 'hidden'",
        "covered by #veil": "document.getElementById('add').style.visibility = 'visible'; "
                            "const v = document.createElement('div'); v.id = 'veil'; "
                            "v.style.cssText = 'position:fixed;inset:0;z-index:9'; "
                            "document.body.append(v)",
    }
    for why, script in page_js.items():
        call(ws, "eval", script=script)
        for verb in ("click", "hover"):
            with pytest.raises(AppError, match=f"cannot {verb} {button}: it is {why}"):
                call(ws, verb, target=button)
    call(ws, "eval", script="document.getElementById('veil').remove(); window.clicks = 0; "
                            "document.getElementById('add').onclick = () => window.clicks++; 0")
    assert f"click {button}: done" in call(ws, "click", target=button).text
    assert call(ws, "eval", script="window.clicks").text == "1"  # a real click landed
    call(ws, "hover", target=button)
    assert call(ws, "eval", script="document.querySelector('#add:hover') !== null").text == "true"
