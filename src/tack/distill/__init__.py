"""Spec distillation: implementation → spec → fresh re-implementation → grounded judge.

`distill()` runs the loop through the workflow's agent backend and records every step in
the state db; `docs/distill.md` explains the roles, the score and the report.
"""

from __future__ import annotations

from tack.distill.loop import DistillOptions, DistillResult, distill
from tack.distill.source import DistillError
from tack.distill.verdict import WEIGHTS, round_score

__all__ = ["WEIGHTS", "DistillError", "DistillOptions", "DistillResult", "distill",
           "round_score"]
