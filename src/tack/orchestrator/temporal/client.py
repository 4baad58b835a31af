"""Connecting to Temporal from `executor:` settings: address, namespace, TLS, API key.

Secrets and certificate paths may be `$VAR`; an unset variable or unreachable server is a
one-paragraph error naming the WORKFLOW.md key to fix.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from tack.errors import TackError
from tack.workflow.config import ExecutorConfig

_VAR = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")


def resolve_value(value: str | None, key: str, *, required: bool = False) -> str | None:
    """`$VAR` → the variable's value; a literal stays as it is."""
    if value is None:
        return None
    match = _VAR.match(value.strip())
    if not match:
        return value
    resolved = os.environ.get(match.group(1))
    if not resolved and required:
        raise TackError(
            f"WORKFLOW.md executor.{key} names ${match.group(1)}, which is not set. Export it "
            "in the environment of `tack up` and every `tack worker`.",
            code="executor_config",
        )
    return resolved or None


def _read(path_value: str | None, key: str, base: Path) -> bytes | None:
    path_str = resolve_value(path_value, key, required=True)
    if not path_str:
        return None
    path = Path(path_str).expanduser()
    path = path if path.is_absolute() else base / path
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TackError(
            f"WORKFLOW.md executor.{key}: cannot read {path} ({exc.strerror or exc}). Point it "
            "at a readable PEM file.",
            code="executor_config",
        ) from None


def tls_settings(cfg: ExecutorConfig, base: Path) -> bool | TLSConfig:
    cert = _read(cfg.tls_client_cert, "tls_client_cert", base)
    key = _read(cfg.tls_client_key, "tls_client_key", base)
    ca = _read(cfg.tls_server_ca, "tls_server_ca", base)
    if bool(cert) != bool(key):
        raise TackError(
            "WORKFLOW.md executor.tls_client_cert and executor.tls_client_key go together: "
            "set both (mTLS) or neither.",
            code="executor_config",
        )
    if cert or ca:
        return TLSConfig(client_cert=cert, client_private_key=key, server_root_ca_cert=ca)
    return cfg.tls


async def connect(cfg: ExecutorConfig, *, base: Path, identity: str | None = None,
                  runtime: Runtime | None = None) -> Client:
    """A client for `executor.address`/`namespace`; raises TackError when it cannot connect.

    `runtime`: the Temporal runtime to run on (default: the SDK's process-wide one)."""
    api_key = resolve_value(cfg.api_key, "api_key", required=True)
    tls = tls_settings(cfg, base)
    if api_key and tls is False:
        tls = True  # an API key never travels in clear text (Temporal Cloud requires TLS)
    try:
        if identity:
            return await Client.connect(cfg.address, namespace=cfg.namespace,
                                        api_key=api_key, tls=tls, identity=identity,
                                        runtime=runtime)
        return await Client.connect(cfg.address, namespace=cfg.namespace, api_key=api_key,
                                    tls=tls, runtime=runtime)
    except Exception as exc:  # the SDK raises RuntimeError for every connection failure
        raise TackError(
            f"Cannot reach Temporal at {cfg.address} (namespace {cfg.namespace!r}): {exc}. "
            "Check executor.address, executor.namespace and the TLS/API-key settings in "
            "WORKFLOW.md, or start a dev server with `temporal server start-dev`.",
            code="executor_unreachable",
        ) from None
