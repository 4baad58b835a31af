"""`tack up`, `tack demo`, `tack version`."""

from __future__ import annotations

import typer

import tack


def register(app: typer.Typer) -> None:
    @app.command()
    def version() -> None:
        """Print Tack's version."""
        typer.echo(tack.__version__)
