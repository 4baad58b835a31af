"""The judge's verdict (findings.json) and the grounded round score.

round score = weighted mean of the judge's score (0.4), the original tests' pass rate
against the re-implementation (0.4) and the public-API match (0.2); a part that does not
apply (no tests, no public surface) drops out and the other weights are scaled up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tack.distill.source import DistillError

WEIGHTS = {"judge": 0.4, "tests": 0.4, "api": 0.2}

FINDINGS_EXAMPLE = """{
  "score": 0.7,
  "findings": [{"kind": "gap", "detail": "the spec never says what happens to empty input"}],
  "spec_changes": ["State that slugify('') returns ''."],
  "over_specification": ["The spec prescribes a regex library; any implementation will do."]
}"""


@dataclass
class Verdict:
    score: float
    findings: list[Any] = field(default_factory=list)
    spec_changes: list[Any] = field(default_factory=list)
    over_specification: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "findings": self.findings,
                "spec_changes": self.spec_changes,
                "over_specification": self.over_specification}


def read_verdict(path: Path) -> Verdict:
    """Parse the judge's findings.json; a `DistillError` says what is wrong with it."""
    if not path.is_file():
        raise DistillError(f"the judge did not write {path.name} in {path.parent}; its "
                           f"prompt asks for a JSON file shaped like {FINDINGS_EXAMPLE}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DistillError(f"{path} is not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise DistillError(f"{path} must hold a JSON object with `score` and `findings`.")
    score = data.get("score")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
        raise DistillError(f"{path}: key `score` must be a number from 0 to 1, got {score!r}.")
    lists = {}
    for key in ("findings", "spec_changes", "over_specification"):
        value = data.get(key, [])
        if not isinstance(value, list):
            raise DistillError(f"{path}: key `{key}` must be a list, got {type(value).__name__}.")
        lists[key] = value
    return Verdict(float(score), **lists)


def round_score(judge: float, tests: dict[str, Any] | None, api: dict[str, Any] | None
                ) -> float:
    parts = {"judge": judge}
    if tests and tests.get("ran") and tests.get("total"):
        parts["tests"] = float(tests["pass_rate"])
    if api and api.get("match") is not None:
        parts["api"] = float(api["match"])
    weight = sum(WEIGHTS[k] for k in parts)
    return round(sum(WEIGHTS[k] * v for k, v in parts.items()) / weight, 3)
