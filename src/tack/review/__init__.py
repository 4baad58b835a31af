"""Reviewer agents and the plan gate: agents review code, people review plans.

`review_branch` asks a model to review a diff against the principles and lessons and stores
its findings as feedback; the plan gate holds labelled issues until a person approves a plan.
"""

from __future__ import annotations

from tack.review.plan_gate import (
    PLAN_APPROVED_MARKER,
    ApprovedPlan,
    approve_plan,
    approved_plan,
    approved_plan_for,
    current_plan,
    hold_for_plan,
    needs_plan,
    reject_plan,
    with_approved_plan,
    write_plan,
)
from tack.review.reviewer import ReviewFinding, review_diff, review_run, store_findings

__all__ = [
    "PLAN_APPROVED_MARKER", "ApprovedPlan", "ReviewFinding", "approve_plan", "approved_plan",
    "approved_plan_for", "current_plan", "hold_for_plan", "needs_plan", "reject_plan",
    "review_diff", "review_run", "store_findings", "with_approved_plan", "write_plan",
]
