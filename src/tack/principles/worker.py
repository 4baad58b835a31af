"""A scan worker: `python -m tack.principles.worker`, started by `tack.principles.workers`.

Reads from stdin, pickled: the repository root and the catalog of checks, then chunks of
files (path, indexes into the catalog, whether to read suppressions); writes one pickled list
of outcomes per chunk to stdout, after its length (`FRAME_HEADER` bytes, little-endian). Ends at the end of stdin. Imports only what checking a file
needs, which is most of its memory.
"""

from __future__ import annotations

import pickle
import sys

from tack.principles.workers import FRAME_HEADER, check_chunk


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    root, catalog = pickle.load(stdin)
    while True:
        try:
            chunk = pickle.load(stdin)
        except EOFError:
            return
        reply = pickle.dumps(check_chunk(root, catalog, chunk))
        stdout.write(len(reply).to_bytes(FRAME_HEADER, "little"))
        stdout.write(reply)
        stdout.flush()


if __name__ == "__main__":
    main()
