"""The `tack` command: a thin adapter over the library. Parse, call, print.

`main` is the entry point. A plain `tack scan` runs before the CLI framework is imported
(`tack.scan_lean`, and `tack.scan_replay` for an unchanged tree): typer, rich and the rest of
the commands are most of a scan's start-up and of its scanning process's memory. Everything
else goes to the typer app in `tack.cli.root`.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["scan"]:
        from tack.scan_lean import run

        code = run(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    from tack.cli.root import run_app

    run_app()
