"""Questions over the API: `GET /api/v1/questions` (open ones first),
`GET /api/v1/questions/kinds` (grouped by similarity, as `tack gc-report` does) and
`POST /api/v1/questions/{id}/answer` with `{"text": ...}` or `{"option": N}`.

A secret question's answer is masked in every response (docs/questions.md).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tack.questions.kinds import group_questions, kinds_view
from tack.questions.model import AnswerError
from tack.questions.park import record_answer
from tack.questions.store import QuestionStore

if TYPE_CHECKING:
    from tack.orchestrator import Orchestrator

MAX_ANSWER_CHARS = 10_000
FORM = "application/x-www-form-urlencoded"


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def question_kinds(orch: Orchestrator) -> list[dict[str, Any]]:
    """Every question on record grouped into kinds, most asked first."""
    return kinds_view(group_questions(QuestionStore(orch.store.db).where(limit=10_000)))


def question_routes(orch: Orchestrator) -> list[Route]:
    async def listing(request: Request) -> Response:
        status = request.query_params.get("status")
        rows = QuestionStore(orch.store.db).where(status=status)
        return JSONResponse({"questions": [orch.redactor.data(q.public()) for q in rows]})

    async def kinds(request: Request) -> Response:
        return JSONResponse({"kinds": orch.redactor.data(question_kinds(orch))})

    async def answer(request: Request) -> Response:
        try:
            question_id = int(request.path_params["question_id"])
        except ValueError:
            return _error(404, "question_not_found", "question ids are numbers")
        question = QuestionStore(orch.store.db).get(question_id)
        if question is None:
            return _error(404, "question_not_found", f"no question {question_id}")
        raw = await request.body()
        try:
            if request.headers.get("content-type", "").startswith(FORM):  # the dashboard
                body: Any = dict(parse_qsl(raw.decode()))
                if str(body.get("option", "")).isdigit():
                    body["option"] = int(body["option"])
            else:
                body = json.loads(raw or b"{}")
        except ValueError:
            return _error(400, "invalid_json", "send JSON: {\"text\": ...} or {\"option\": N}")
        if not isinstance(body, dict):
            return _error(400, "invalid_json", "send JSON: {\"text\": ...} or {\"option\": N}")
        option, text, by = body.get("option"), body.get("text"), body.get("by") or "api"
        if option is not None and not isinstance(option, int):
            return _error(400, "invalid_answer", "`option` is an option's number, from 1")
        if text is not None and (not isinstance(text, str) or len(text) > MAX_ANSWER_CHARS):
            return _error(400, "invalid_answer", f"`text` is a string of at most "
                                                 f"{MAX_ANSWER_CHARS} characters")
        try:
            record_answer(orch.store, question, text, option, f"api:{str(by)[:100]}")
        except AnswerError as exc:
            code = 409 if question.status != "open" else 400
            return _error(code, "invalid_answer", exc.message)
        orch.request_refresh()
        updated = QuestionStore(orch.store.db).get(question_id)
        assert updated is not None
        return JSONResponse(orch.redactor.data(updated.public()), status_code=202)

    return [
        Route("/api/v1/questions", listing, methods=["GET"]),
        Route("/api/v1/questions/kinds", kinds, methods=["GET"]),
        Route("/api/v1/questions/{question_id}/answer", answer, methods=["POST"]),
    ]
