"""The statistics a variant comparison needs, in plain math: Wilson score intervals, the
exact McNemar test (a two-sided binomial test on the discordant pairs) and a paired
bootstrap interval of the difference in resolved rates."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95% Wilson score interval of a proportion; (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact p-value for b pairs resolved only by A and c only by B."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = float(sum(math.comb(n, i) for i in range(k + 1))) / float(2 ** n)
    return min(1.0, 2 * tail)


@dataclass
class Paired:
    a: str
    b: str
    pairs: int
    both: int
    only_a: int
    only_b: int
    neither: int
    p_value: float
    diff: float  # rate(b) - rate(a)
    diff_low: float
    diff_high: float

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


def paired(a: str, b: str, outcomes: list[tuple[bool, bool]], *, resamples: int = 2000,
           seed: int = 20260101) -> Paired:
    """Compare two variants on the same (task, repeat) pairs: (resolved by a, resolved by b)."""
    both = sum(1 for x, y in outcomes if x and y)
    only_a = sum(1 for x, y in outcomes if x and not y)
    only_b = sum(1 for x, y in outcomes if y and not x)
    n = len(outcomes)
    deltas = [int(y) - int(x) for x, y in outcomes]
    diff = sum(deltas) / n if n else 0.0
    low = high = diff
    if n:
        rng = random.Random(seed)  # seeded: the same run always reports the same interval
        means = sorted(sum(rng.choices(deltas, k=n)) / n for _ in range(resamples))
        low = means[int(0.025 * (resamples - 1))]
        high = means[math.ceil(0.975 * (resamples - 1))]
    return Paired(a, b, n, both, only_a, only_b, n - both - only_a - only_b,
                  mcnemar_exact(only_a, only_b), diff, low, high)
