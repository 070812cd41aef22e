"""Structured logs: text or JSON lines, with voucher/promo codes masked and no message bodies.

Code logs ids, sources, issue ids and counts, never what a candidate wrote; the filter here is
the safety net for what slips through anyway: codes are masked wherever they appear (message,
arguments, exception text), fields that carry message content are dropped, SQL parameters
(which hold bodies) are cut out of database errors, query strings are cut out of request lines,
and a line cannot grow long enough to hold a whole message.

Libraries that log what they send or store below WARNING (slack_sdk's request and response
bodies, bolt's responses, SQLAlchemy's statement parameters) are held at WARNING whatever
`LOG_LEVEL` says: a DEBUG log carries no name, address or fact either.
"""

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.config.settings import Settings
from bot.privacy.masking import mask_codes

MAX_MESSAGE_CHARS = 400
# `extra=` fields that would carry what someone wrote: dropped, whatever the caller meant.
CONTENT_FIELDS = frozenset(
    {"body", "text", "raw", "subject", "html", "payload", "content", "new_text", "answer"}
)
_STANDARD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# SQLAlchemy appends the statement's parameters (message bodies, addresses) to its errors.
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s*(?:\n|\(Background|$))", re.DOTALL)
# A request line's query string may hold an address or an id (`/healthz?email=...`).
_QUERY = re.compile(r"(\b(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /[^\s?\"]*)\?[^\s\"]*")
_HANDLER_NAME = "triage"
# Loggers that write message bodies, API payloads or SQL parameters below WARNING.
QUIET_LIBRARIES = (
    "slack_sdk",
    "slack_bolt",
    "sqlalchemy",
    "urllib3",
    "websocket",
    "websockets",
    "httpx",
    "httpcore",
    "python_multipart",
    "multipart",
)


def scrub(text: str, *, limit: int | None = MAX_MESSAGE_CHARS) -> str:
    """What a log line may hold of `text`: codes masked, SQL parameters cut, length capped."""
    text = mask_codes(_SQL_PARAMETERS.sub("[parameters hidden]", text))
    text = _QUERY.sub(r"\1?[query hidden]", text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"... [{len(text) - limit} chars cut]"
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record in place so no handler can print a code or a message's content."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = scrub(message), None
        for name in list(record.__dict__):
            if name in CONTENT_FIELDS:
                delattr(record, name)
            elif name not in _STANDARD_FIELDS and isinstance(record.__dict__[name], str):
                record.__dict__[name] = scrub(record.__dict__[name], limit=200)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(
                logging.Formatter().formatException(record.exc_info), limit=4000
            )
            record.exc_info = None
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, limit=4000)
        return True


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The `extra=` fields of a record (ids, sources, counts), JSON-safe."""
    fields = {}
    for name, value in record.__dict__.items():
        if name in _STANDARD_FIELDS or name in CONTENT_FIELDS or name.startswith("_"):
            continue
        fields[name] = value if isinstance(value, (int, float, bool, type(None))) else str(value)
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, process, extra fields, error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
            **extra_fields(record),
        }
        if record.exc_text:
            line["error"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger message key=value ...`, one line per record plus any traceback."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = extra_fields(record)
        if fields:
            head, _, tail = line.partition("\n")
            pairs = " ".join(f"{k}={v}" for k, v in fields.items())
            line = f"{head} {pairs}" + (f"\n{tail}" if tail else "")
        return line


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def make_handler(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    return handler


def configure_logging(
    settings: Settings, *, stream: TextIO | None = None, level: int | str | None = None
) -> logging.Handler:
    """Send every logger's records (ours, uvicorn's, libraries') through one redacting handler
    on stderr, as text or JSON lines per `LOG_FORMAT`, at `LOG_LEVEL` unless `level` is given.
    Calling it again replaces the handler."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = make_handler(settings.env.log_format, stream)
    root.addHandler(handler)
    root.setLevel(level if level is not None else settings.env.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", *QUIET_LIBRARIES):
        logger = logging.getLogger(name)
        logger.handlers.clear()  # uvicorn installs its own, which would skip the redaction
        logger.propagate = True
    for name in QUIET_LIBRARIES:  # their DEBUG and INFO lines carry bodies and parameters
        logging.getLogger(name).setLevel(max(logging.WARNING, root.getEffectiveLevel()))
    return handler
