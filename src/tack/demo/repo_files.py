"""The demo repository: a tiny library with three real bugs, each caught by a failing test."""

from __future__ import annotations

FILES: dict[str, str] = {
    "README.md": "# textkit\n\nSmall text helpers. Run the tests with `python -m pytest -q` (or `python -m unittest`).\n",
    "textkit/__init__.py": '"""Small text helpers."""\n',
    "textkit/slug.py": '''"""URL slugs."""

import re


def slugify(title: str) -> str:
    """'Hello, World!' -> 'hello-world'."""
    words = re.findall(r"[A-Za-z0-9]+", title)
    return "-".join(words)
''',
    "textkit/stats.py": '''"""Descriptive statistics."""


def mean(values: list[float]) -> float:
    """The arithmetic mean of a non-empty list."""
    if not values:
        raise ValueError("mean() of an empty list")
    return sum(values) / (len(values) - 1)
''',
    "textkit/money.py": '''"""Money formatting."""


def format_cents(cents: int) -> str:
    """1234 -> '$12.34'; 5 -> '$0.05'."""
    dollars, rest = divmod(cents, 100)
    return f"${dollars}.{rest}"
''',
    "tests/__init__.py": "",
    "tests/test_slug.py": '''import unittest

from textkit.slug import slugify


class SlugifyTest(unittest.TestCase):
    def test_slugify_lowercases_and_joins_words(self):
        self.assertEqual(slugify("Hello, World!"), "hello-world")
''',
    "tests/test_stats.py": '''import unittest

from textkit.stats import mean


class MeanTest(unittest.TestCase):
    def test_mean_of_three_values(self):
        self.assertEqual(mean([1, 2, 3]), 2)
''',
    "tests/test_money.py": '''import unittest

from textkit.money import format_cents


class FormatCentsTest(unittest.TestCase):
    def test_format_cents_pads_to_two_digits(self):
        self.assertEqual(format_cents(1234), "$12.34")
        self.assertEqual(format_cents(5), "$0.05")
''',
}

# (title, description, priority, test file, file, old, new, explanation)
BUGS = [
    (
        "slugify keeps uppercase letters",
        "`slugify('Hello, World!')` returns `Hello-World`; slugs must be lowercase. "
        "tests/test_slug.py fails.",
        1,
        "tests/test_slug.py",
        "textkit/slug.py",
        'return "-".join(words)',
        'return "-".join(word.lower() for word in words)',
        "slugify joined the words without lowercasing them",
    ),
    (
        "mean() divides by n - 1",
        "`mean([1, 2, 3])` returns 3.0 instead of 2.0. tests/test_stats.py fails.",
        2,
        "tests/test_stats.py",
        "textkit/stats.py",
        "return sum(values) / (len(values) - 1)",
        "return sum(values) / len(values)",
        "mean divided by n - 1 (the sample-variance denominator) instead of n",
    ),
    (
        "format_cents drops the leading zero of the cents",
        "`format_cents(5)` returns `$0.5` instead of `$0.05`. tests/test_money.py fails.",
        3,
        "tests/test_money.py",
        "textkit/money.py",
        'return f"${dollars}.{rest}"',
        'return f"${dollars}.{rest:02d}"',
        "the cents were not zero-padded to two digits",
    ),
]
