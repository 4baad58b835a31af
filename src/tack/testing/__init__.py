"""Test doubles that speak real wire protocols: the stub model server and its scripts.

Used by the test suite and by `tack demo`; see docs/agents.md for the script format.
"""

from __future__ import annotations

from tack.testing.script import Conversation, Script, ScriptError, Step, load_script
from tack.testing.stub_model import RecordedRequest, StubModelServer

__all__ = [
    "Conversation",
    "RecordedRequest",
    "Script",
    "ScriptError",
    "Step",
    "StubModelServer",
    "load_script",
]
