"""The dashboard's "Waiting for a person" panel: one button per option posting the option's
number, a text answer where free text is allowed (a password field for a secret)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from tack.server.fragments import questions, state_fragments


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, Any]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def parse(html: str) -> list[tuple[str, dict[str, Any]]]:
    parser = Elements()
    parser.feed(html)
    return parser.found


QUESTION = {"id": 7, "issue_identifier": "TACK-3", "text": "Which <db>?",
            "options": ["sqlite", "postgres"], "recommended": 2, "allow_free_text": False,
            "secret": False}


def test_each_option_is_a_button_posting_its_number() -> None:
    html = str(questions({"questions": [QUESTION]}))
    buttons = [a for tag, a in parse(html) if tag == "button"]
    assert [(b["hx-post"], b["hx-vals"]) for b in buttons] == [
        ("/api/v1/questions/7/answer", '{"option": 1}'),
        ("/api/v1/questions/7/answer", '{"option": 2}')]
    assert "2. postgres (recommended)" in html and "Which &lt;db&gt;?" in html
    assert not [a for tag, a in parse(html) if tag == "input"]  # options only


def test_free_text_gets_a_form_and_a_secret_one_a_password_field() -> None:
    secret = {**QUESTION, "options": [], "allow_free_text": True, "secret": True}
    inputs = [a for tag, a in parse(str(questions({"questions": [secret]}))) if tag == "input"]
    assert inputs == [{"name": "text", "type": "password", "aria-label":
                       "Your answer to question 7 of TACK-3", "required": None}]
    assert "No agent is waiting" in state_fragments({"questions": []})["questions"]
