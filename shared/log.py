"""Structured JSON logs on stdout, in the shape Cloud Logging reads.

`severity` and `message` are Cloud Logging's own keys; the trace id from
X-Cloud-Trace-Context joins a request's lines in the console. Extra context
(incident_id, source, ...) is passed with `extra={...}` and lands as JSON fields.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
from datetime import UTC, datetime

_trace: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace", default=None)
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class CloudLoggingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "severity": record.levelname if record.levelname != "WARN" else "WARNING",
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        trace = _trace.get()
        if trace:
            entry["logging.googleapis.com/trace"] = trace
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(level: str | None = None) -> None:
    """Idempotent: the root logger gets one JSON handler on stdout."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, CloudLoggingFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    root.handlers = [handler]
    root.setLevel(level or os.environ.get("LOG_LEVEL", "INFO"))
    for noisy in ("urllib3", "google", "grpc", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def bind_trace(header: str | None, project: str) -> None:
    """Take the trace id from X-Cloud-Trace-Context ('TRACE/SPAN;o=1')."""
    if header:
        _trace.set(f"projects/{project}/traces/{header.split('/')[0]}")
    else:
        _trace.set(None)


def get_logger(name: str) -> logging.Logger:
    setup_logging()
    return logging.getLogger(name)
