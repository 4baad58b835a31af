"""`tack stub-model`: serve a scripted OpenAI-compatible model on a loopback port."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("stub-model")
    def stub_model(
        script: Path = typer.Option(..., "--script", help="YAML or JSON script to replay."),
        port: int = typer.Option(0, "--port", help="Port to listen on; 0 picks a free one."),
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
        record: Path | None = typer.Option(None, "--record", help="Append requests as JSONL."),
    ) -> None:
        """Serve a scripted model (OpenAI Chat Completions + Responses) until Ctrl-C."""
        from tack.testing.stub_model import StubModelServer, serve_forever

        def ready(server: StubModelServer) -> None:
            typer.echo(f"stub model server on {server.url}")

        serve_forever(script, host=host, port=port, record_path=record, on_ready=ready)
