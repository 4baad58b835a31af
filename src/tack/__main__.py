"""`python -m tack`: the same as the `tack` command."""

from __future__ import annotations

if __name__ == "__main__":  # not when something imports it (multiprocessing's `__mp_main__`)
    from tack.cli import main

    main()
