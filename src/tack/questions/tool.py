"""The `ask_human` tool: how an agent raises a question to a person (docs/questions.md).

Apart from `model` so that `tack.agents.base` can name `Asked` without an import circle."""

from __future__ import annotations

from tack.agents.base import ToolSpec

ASK_HUMAN_TOOL = ToolSpec(
    "ask_human",
    "Ask a person a question when you are genuinely blocked (a decision only a person can "
    "make, missing access or information). Your session stops until someone answers; the "
    "answer comes back as this tool's result. Offer 2-3 options and mark the one you "
    "recommend; do not ask what you can find out yourself.",
    {
        "type": "object",
        "properties": {
            "question": {"type": "string", "description": "The question, self-contained."},
            "options": {"type": "array", "items": {"type": "string"},
                        "description": "Possible answers, most likely first."},
            "recommended": {"type": "integer",
                            "description": "1-based number of the option you recommend."},
            "allow_free_text": {"type": "boolean",
                                "description": "Whether an answer outside the options is fine."},
            "secret": {"type": "boolean",
                       "description": "The answer is a secret (kept out of logs and comments)."},
        },
        "required": ["question"],
        "additionalProperties": False,
    },
)
