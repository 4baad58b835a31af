"""Runs inside a sandbox as its first process: 127.0.0.1:PORT → the proxy's Unix socket.

The sandbox has its own network namespace with only a loopback device, so tools configured
with HTTP(S)_PROXY=http://127.0.0.1:PORT reach Tack's filtering proxy through the socket that
bubblewrap binds in, and nothing else. Standard library only, started with `python -I -S` so it
costs little; usage: forwarder.py PORT SOCKET COMMAND [ARG...].
"""

from __future__ import annotations

import os
import socket
import sys
import threading


def _copy(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _relay(client: socket.socket, path: str) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(path)
    except OSError:
        client.close()
        return
    threading.Thread(target=_copy, args=(upstream, client), daemon=True).start()
    _copy(client, upstream)


def _serve(listener: socket.socket, path: str) -> None:
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_relay, args=(client, path), daemon=True).start()


def main() -> None:
    port, path, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    if os.fork() == 0:
        # The relay must not hold the command's output pipes open.
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        _serve(listener, path)
        os._exit(0)
    listener.close()
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main()
