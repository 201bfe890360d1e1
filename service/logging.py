"""Structured logs (structlog) that never carry secrets.

Redaction happens in the processor chain, so it covers every call site: values under sensitive keys are
masked, and any string that looks like a Backhaul API key, a bearer token, a quote/tracking token or a
carrier key is masked wherever it appears (messages, exceptions, nested values).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"

_SENSITIVE_KEY = re.compile(
    r"(authorization|api[_-]?key|secret|password|token|credential|signature|hmac)", re.IGNORECASE
)
_SECRET_VALUE = re.compile(
    r"(bh_[A-Za-z0-9]+_[A-Za-z0-9_\-]{16,}"  # Backhaul API keys
    r"|(?i:bearer)\s+\S+"  # authorization header values
    r"|(?:EZ[AT]K|shippo_(?:live|test)_)[A-Za-z0-9_]{8,}"  # EasyPost and Shippo keys
    r"|\bbht_[A-Za-z0-9_\-.]{20,})"  # per-label tracking tokens
)


def redact_text(text: str) -> str:
    return _SECRET_VALUE.sub(REDACTED, text)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: REDACTED if isinstance(k, str) and _SENSITIVE_KEY.search(k) else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redact(v) for v in value)
    return value


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if _SENSITIVE_KEY.search(key) and key != "event":
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact(value)
    return event_dict


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Route structlog and stdlib logging through one redacting chain to stderr."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Access logs of the HTTP side would print webhook URL tokens; our own middleware logs requests instead.
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
