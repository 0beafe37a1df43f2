"""How ``audit serve`` logs: plain lines for a person, or one JSON object a line for a log
shipper (``--log-format json``). A record's structured extras (``finding``: the rule, kind,
job, key and trace of a finding that opened or resolved; ``summary``: the minute's counts)
become fields of its JSON object. Secrets are never passed to a log record."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# HTTP client libraries log each request's full URL (httpx at info, httpcore and urllib3 at
# debug); an alert sink's URL often holds its secret (a Slack or PagerDuty hook). They log
# warnings only, at every level: the senders log their own outcome, redacted.
_URL_LOGGERS = ("httpx", "httpcore", "urllib3")
_EXTRAS = ("finding", "summary")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _EXTRAS:
            value = getattr(record, key, None)
            if value is not None:
                document[key] = value
        if record.exc_info:
            document["error"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def configure(level: str | int, fmt: str) -> None:
    """Log to stderr at ``level`` in ``fmt`` (``text`` or ``json``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in _URL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
