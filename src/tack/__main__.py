"""`python -m tack`: the CLI, after a warm `tack scan --json` had its chance to replay."""

from __future__ import annotations

import sys

if __name__ == "__main__":  # not when something imports it (multiprocessing's `__mp_main__`)
    if sys.argv[1:2] == ["scan"]:
        # Before the CLI's imports: an unchanged tree's report is printed straight from disk.
        from tack.scan_replay import replay

        code = replay(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    from tack.cli import main

    main()
