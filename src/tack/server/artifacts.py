"""`GET /api/v1/runs/<id>/artifacts[/<name>]`: the evidence a run's agent recorded of the app
(screenshots, recordings, posters), stored by tack.app.artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from tack.app import artifacts

if TYPE_CHECKING:
    from tack.orchestrator import Orchestrator


def with_artifacts(detail: dict[str, Any] | None, tack_dir: Path) -> dict[str, Any] | None:
    """The issue detail with `runs[].artifacts` (names) added, for the API and dashboard."""
    if detail is None:
        return None
    runs = detail.get("runs") or []
    return {**detail, "runs": [{**r, "artifacts": artifacts.listing(tack_dir, int(r["run_id"]))}
                               for r in runs]}


def artifact_routes(orch: Orchestrator) -> list[Route]:
    def run_id(request: Request) -> int | None:
        raw = request.path_params["run_id"]
        return int(raw) if raw.isdigit() else None

    async def index(request: Request) -> Response:
        rid = run_id(request)
        if rid is None:
            return JSONResponse({"error": {"code": "not_found", "message": "no such run"}}, 404)
        names = artifacts.listing(orch.workflow.tack_dir, rid)
        return JSONResponse({"run_id": rid, "artifacts": [
            {"name": n, "url": f"/api/v1/runs/{rid}/artifacts/{n}",
             "media_type": artifacts.media_type(n)} for n in names]})

    async def one(request: Request) -> Response:
        rid = run_id(request)
        name = request.path_params["name"]
        path = artifacts.path_of(orch.workflow.tack_dir, rid, name) if rid is not None else None
        if path is None:
            return JSONResponse({"error": {"code": "not_found",
                                           "message": f"run {rid} has no artifact {name!r}"}}, 404)
        return FileResponse(path, media_type=artifacts.media_type(name))

    return [Route("/api/v1/runs/{run_id}/artifacts", index, methods=["GET"]),
            Route("/api/v1/runs/{run_id}/artifacts/{name}", one, methods=["GET"])]
