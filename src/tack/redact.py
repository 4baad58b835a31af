"""Secret redaction for everything Tack stores or shows.

Secrets are the values of environment variables whose names look secret (KEY, TOKEN, SECRET,
PASSWORD, ...) plus any value registered explicitly (e.g. a resolved `api_key: $VAR`).
"""

from __future__ import annotations

import os
import re
from typing import Any

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE|SESSION)", re.I)
_MIN_LEN = 6
MASK = "***"


class Redactor:
    def __init__(self, extra: list[str] | None = None, *, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        values = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_LEN}
        values.update(v for v in (extra or []) if v and len(v) >= _MIN_LEN)
        self._values = sorted(values, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(re.escape(v) for v in self._values)) if self._values else None
        )

    def add(self, value: str | None) -> None:
        if value and len(value) >= _MIN_LEN and value not in self._values:
            self.__init__(self._values + [value], environ={})  # type: ignore[misc]

    def text(self, value: str) -> str:
        if self._pattern is None or not value:
            return value
        return self._pattern.sub(MASK, value)

    def data(self, value: Any) -> Any:
        """Redact strings anywhere inside JSON-like data."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value


def secret_values(mapping: dict[str, Any]) -> list[str]:
    """String values under secret-looking keys (api_key, token, ...) of a config mapping."""
    out: list[str] = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            out.extend(secret_values(value))
        elif isinstance(value, str) and _SECRET_NAME.search(str(key)):
            out.append(value)
    return out


def service_redactor(config: Any) -> Redactor:
    """A redactor for every secret a `ServiceConfig` holds: the model key, the server and
    executor tokens, the tracker's and forge's keys and the tracker provider's secrets."""
    from tack.tracker.http import resolve_secret

    return Redactor(
        [config.builtin.api_key or "", config.server.token or "",
         config.executor.api_key or "", resolve_secret(config.tracker.api_key) or "",
         resolve_secret(config.pull_requests.api_key) or ""]
        + secret_values(config.tracker.provider)
    )
