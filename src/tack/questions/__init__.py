"""Asking a person: the durable `Question` record, parking a run on it, and resuming the
same conversation with the answer (docs/questions.md)."""

from __future__ import annotations
