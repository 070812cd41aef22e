"""Fitting hostile input into the database: a message is stored as it came, as far as columns
allow. PostgreSQL refuses NUL characters in text and JSON, and values longer than a VARCHAR
column (SQLite accepts both, so only production would fail). Long keys are shortened
deterministically (a prefix and a digest), so the same long Message-ID always maps to the same
stored id and idempotency and threading still hold; free text is never cut.
"""

import hashlib
from typing import Any

from bot.types import InboundMessage

KEY_CHARS = 998  # Message.external_id, thread_key, in_reply_to (RFC 5322 line length)
ADDRESS_CHARS = 320  # Message.sender, Ticket.candidate_key, OutboxItem.recipient
CHANNEL_CHARS = 64  # Message.channel
# Message-IDs a message may name as those it answers: each is a query parameter when threading,
# and a hostile mail naming 100,000 passes the database's limit (PostgreSQL's is 65,535) and
# fails its intake every time the mailbox is polled. Real threads name a few dozen at most;
# the ones kept are those it answers directly and the newest it references.
MAX_REFERENCES = 100
NUL_STANDIN = "\ufffd"


def bounded_key(value: str, limit: int = KEY_CHARS) -> str:
    """`value` if it fits, else a prefix and the SHA-256 of the whole (same input, same key)."""
    value = value.replace("\x00", NUL_STANDIN)
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return value[: limit - len(digest) - 8] + "#sha256:" + digest


def no_nul(value: Any) -> Any:
    """`value` with NUL characters replaced, in strings and inside lists and dicts."""
    if isinstance(value, str):
        return value.replace("\x00", NUL_STANDIN) if "\x00" in value else value
    if isinstance(value, list):
        return [no_nul(v) for v in value]
    if isinstance(value, dict):
        return {no_nul(k): no_nul(v) for k, v in value.items()}
    return value


def bounded_message(message: InboundMessage) -> InboundMessage:
    """The message with every field the database bounds made to fit; unchanged when it does."""
    update: dict[str, Any] = {
        "external_id": bounded_key(message.external_id),
        "thread_key": bounded_key(message.thread_key) if message.thread_key else None,
        "in_reply_to": [bounded_key(ref) for ref in message.in_reply_to[:MAX_REFERENCES]],
        "sender_email": _cut(message.sender_email, ADDRESS_CHARS),
        "slack_user_id": _cut(message.slack_user_id, ADDRESS_CHARS),
        "slack_channel": _cut(message.slack_channel, CHANNEL_CHARS),
        "on_behalf_of": _cut(message.on_behalf_of, ADDRESS_CHARS),
        "actor": _cut(message.actor, 128),
    }
    for name in ("text", "subject", "sender_name", "raw", "meta"):
        update[name] = no_nul(getattr(message, name))
    if all(update[name] == getattr(message, name) for name in update):
        return message
    return message.model_copy(update=update)


def _cut(value: str | None, limit: int) -> str | None:
    return None if value is None else no_nul(value)[:limit]
