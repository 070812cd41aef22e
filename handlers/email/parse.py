"""Raw mail bytes → `ParsedEmail` → the core's `InboundMessage`. Pure functions, no database.

Identity: `external_id` is the Message-ID as written (`<id@host>`). A message without one gets
`<sha256-…@no-message-id.invalid>`, a hash of what the sender wrote (From, To, Cc, Date, Subject,
the body text and the attachments' names and sizes), not of the raw bytes: the same message
delivered twice differs in its trace headers (Received, Delivered-To) but not in these, so it is
recognised as the same. The same `fingerprint` tells a re-delivery from a different message that
reuses a Message-ID (see `intake.identity`).

Text: text/plain is preferred, else the HTML converted to text with BeautifulSoup. A declared
charset is tried first, then UTF-8, then windows-1252 and latin-1 with replacement, so a wrong
label never loses a message. Quoted history and signatures stay in `text`: the core strips them
before matching, and `raw` keeps the original.

Storage: `raw` is the message as text: UTF-8 when it is, else latin-1 (every byte maps to one
character), or base64 when it holds NUL bytes; `meta["raw_encoding"]` says which and `raw_bytes`
gives back the exact bytes. An attachment larger than `email.max_attachment_bytes` is cut from the
stored raw (a one-line note takes its place) and recorded with `oversized: true`; the original
stays in the mailbox (IMAP processed folder, Maildir, mbox).

Sender: From, Reply-To, To and Cc are read from the raw headers (`handlers.email.addresses`). The
sender is *unproven* (`sender_verified` false, the reason in `sender_problem`) when From is not
exactly one plain address, or when the desk's trusted mail server reports that it failed its
checks (`handlers.email.authresults`). Reply-To is kept for agents to see, never used as a
recipient.
"""

import base64
import hashlib
import re
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from typing import Any

from pydantic import BaseModel

from bot.store.models.base import utcnow
from bot.types import InboundMessage
from handlers.email.addresses import read_addresses, sender_of
from handlers.email.authresults import from_unproven
from handlers.email.text import header, html_to_text, part_text

MESSAGE_ID = re.compile(r"<[^<>\s]+>")
TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}
KEPT_HEADERS = (
    "from", "to", "cc", "reply-to", "date", "message-id", "in-reply-to", "references",
    "auto-submitted", "precedence", "list-id", "return-path", "x-loop", "x-mailer",
)  # fmt: skip


class UnparseableEmail(ValueError):
    """The bytes are not a mail message intake can take in (it goes to quarantine)."""


class Attachment(BaseModel):
    filename: str | None
    content_type: str
    size: int
    inline: bool = False
    tnef: bool = False
    # Over `max_attachment_bytes`: its content is cut from the stored raw message.
    oversized: bool = False


class ParsedEmail(BaseModel):
    """What intake needs from one message; `raw` is the message as stored."""

    message_id: str | None
    external_id: str
    fingerprint: str
    subject: str | None
    sender_email: str | None
    sender_name: str | None
    # False when the From proves nothing (see the module docstring); `sender_problem` says why.
    sender_verified: bool = True
    sender_problem: str | None = None
    reply_to: str | None = None
    to: list[str] = []
    text: str
    html_only: bool = False
    ticket_id: int | None = None
    in_reply_to: list[str] = []
    thread_key: str | None = None
    attachments: list[Attachment] = []
    forwarded: list[dict[str, str]] = []
    charset_fallback: str | None = None
    defects: list[str] = []
    headers: dict[str, str] = {}
    raw: str
    raw_encoding: str = "utf-8"  # utf-8 | latin-1 | base64: how to get the bytes back
    raw_trimmed: bool = False
    raw_size: int = 0


def read_message(raw: bytes) -> EmailMessage:
    """The standard library's parse with the modern policy; refuses what is not mail at all."""
    if not raw or not raw.strip():
        raise UnparseableEmail("empty message")
    try:
        message = message_from_bytes(raw, policy=policy.default)
    except Exception as exc:  # the parser is lenient; anything it raises means garbage
        raise UnparseableEmail(f"the mail parser failed: {type(exc).__name__}: {exc}") from None
    if not message.keys():
        raise UnparseableEmail("no header fields: not a mail message")
    if not any(header(message, name) for name in ("from", "sender", "return-path", "message-id")):
        raise UnparseableEmail("no From, Sender, Return-Path or Message-ID header")
    assert isinstance(message, EmailMessage)
    return message


def body_text(message: EmailMessage) -> tuple[str, bool, str | None]:
    """(text, html_only, charset fallback used) of the message's main body."""
    if not message.is_multipart():  # most mail: one text part, no MIME tree to search
        content_type = message.get_content_type()
        if content_type in ("text/plain", "text/html"):
            text, fallback = part_text(message)
            if content_type == "text/html":
                return html_to_text(text), True, fallback
            return text.replace("\r\n", "\n").strip(), False, fallback
    try:
        body = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        body = None
    if body is None and not message.is_multipart():
        body = message if message.get_content_maintype() == "text" else None
    if body is None:
        for part in message.walk():
            if part.get_content_type() in ("text/plain", "text/html") and not part.get_filename():
                body = part
                break
    if body is None:
        return "", False, None
    text, fallback = part_text(body)
    if body.get_content_type() == "text/html":
        return html_to_text(text), True, fallback
    return text.replace("\r\n", "\n").strip(), False, fallback


def attachments_of(message: EmailMessage, *, max_bytes: int) -> list[tuple[Message, Attachment]]:
    found: list[tuple[Message, Attachment]] = []
    if not message.is_multipart():
        return found
    try:
        body = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        body = None
    for part in message.walk():
        if part.is_multipart() or part is body or part.get_content_maintype() == "message":
            continue
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if disposition != "attachment" and not filename:
            continue
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else len(str(part.get_payload()))
        content_type = part.get_content_type()
        is_tnef = content_type in TNEF_TYPES or (filename or "").lower() == "winmail.dat"
        found.append(
            (
                part,
                Attachment(
                    filename=filename,
                    content_type=content_type,
                    size=size,
                    inline=disposition == "inline",
                    tnef=is_tnef,
                    oversized=size > max_bytes,
                ),
            )
        )
    return found


def forwarded_of(message: EmailMessage) -> list[dict[str, str]]:
    """Messages forwarded as attachments (message/rfc822): who wrote them, about what."""
    found: list[dict[str, str]] = []
    if not message.is_multipart():
        return found
    for part in message.walk():
        if part.get_content_type() != "message/rfc822":
            continue
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if isinstance(inner, Message):
            found.append({"from": header(inner, "from"), "subject": header(inner, "subject")})
    return found


def message_ids(value: str) -> list[str]:
    return MESSAGE_ID.findall(value or "")


def ticket_tag(subject: str | None, prefix: str) -> int | None:
    """The ticket number from a `[TRI-1234]` tag in a subject, or None."""
    match = re.search(rf"\[\s*{re.escape(prefix)}\s*-\s*(\d{{1,12}})\s*\]", subject or "", re.I)
    return int(match.group(1)) if match else None


def raw_as_text(raw: bytes) -> tuple[str, str]:
    """The raw bytes as storable text and how to get them back exactly."""
    if b"\x00" in raw:  # PostgreSQL text cannot hold NUL
        return base64.b64encode(raw).decode("ascii"), "base64"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def raw_bytes(raw: str, encoding: str) -> bytes:
    """The inverse of `raw_as_text`."""
    return base64.b64decode(raw) if encoding == "base64" else raw.encode(encoding)


def trimmed_raw(message: EmailMessage, oversized: list[Message]) -> bytes:
    for part in oversized:
        note = (
            f"[attachment {part.get_filename() or '(unnamed)'} ({part.get_content_type()}) "
            "not stored: larger than email.max_attachment_bytes]\n"
        )
        for name in ("content-transfer-encoding", "content-type"):
            del part[name]
        part.set_payload(note.encode("ascii", "replace").decode("ascii"), charset="us-ascii")
    return message.as_bytes(policy=policy.SMTP)


def fingerprint(message: EmailMessage, text: str, attachments: list[Attachment]) -> str:
    digest = hashlib.sha256()
    for name in ("from", "to", "cc", "date", "subject"):
        digest.update(header(message, name).encode("utf-8", "replace") + b"\0")
    digest.update(" ".join(text.split()).encode("utf-8", "replace") + b"\0")
    for attachment in attachments:
        digest.update(f"{attachment.filename}:{attachment.size}\0".encode("utf-8", "replace"))
    return digest.hexdigest()


def parse_email(
    raw: bytes,
    *,
    ticket_prefix: str = "TRI",
    max_attachment_bytes: int = 5_000_000,
    trusted_authserv_id: str | None = None,
) -> ParsedEmail:
    """Parse one message; raises `UnparseableEmail` for bytes that are not mail."""
    return parse_message(
        read_message(raw),
        raw,
        ticket_prefix=ticket_prefix,
        max_attachment_bytes=max_attachment_bytes,
        trusted_authserv_id=trusted_authserv_id,
    )


def parse_message(
    message: EmailMessage,
    raw: bytes,
    *,
    ticket_prefix: str,
    max_attachment_bytes: int,
    trusted_authserv_id: str | None = None,
) -> ParsedEmail:
    """`ParsedEmail` from a message `read_message` returned (it may trim oversized parts)."""
    try:
        return _parse(
            message, raw, ticket_prefix=ticket_prefix, max_bytes=max_attachment_bytes,
            trusted_authserv_id=trusted_authserv_id,
        )  # fmt: skip
    except UnparseableEmail:
        raise
    except Exception as exc:  # a construct the library trips on: keep the message, raw
        raise UnparseableEmail(f"cannot read the message: {type(exc).__name__}: {exc}") from None


def _parse(
    message: EmailMessage,
    raw: bytes,
    *,
    ticket_prefix: str,
    max_bytes: int,
    trusted_authserv_id: str | None,
) -> ParsedEmail:
    text, html_only, fallback = body_text(message)
    found = attachments_of(message, max_bytes=max_bytes)
    attachments = [attachment for _, attachment in found]
    if not text and message.is_multipart():  # only a forwarded message: triage reads that
        for part in message.walk():
            if part is not message and part.get_content_type() == "message/rfc822":
                inner = part.get_payload()
                inner = inner[0] if isinstance(inner, list) and inner else inner
                if isinstance(inner, EmailMessage):
                    text = body_text(inner)[0]
                    break
    subject = header(message, "subject") or None
    sender = sender_of(message)
    problem = sender.problem
    if sender.address and trusted_authserv_id:
        domain = sender.address.rpartition("@")[2]
        problem = from_unproven(
            message, from_domain=domain, trusted_authserv_id=trusted_authserv_id
        )
    reply_to = next(iter(read_addresses(message, "reply-to").addresses), None)
    recipients = read_addresses(message, "to").addresses + read_addresses(message, "cc").addresses
    own_id = next(iter(message_ids(header(message, "message-id"))), None)
    references = message_ids(header(message, "references"))
    replied = message_ids(header(message, "in-reply-to"))
    in_reply_to = list(dict.fromkeys([*replied, *reversed(references)]))
    print_ = fingerprint(message, text, attachments)
    oversized = [part for part, attachment in found if attachment.oversized]
    stored = trimmed_raw(message, oversized) if oversized else raw
    stored_text, encoding = raw_as_text(stored)
    return ParsedEmail(
        message_id=own_id,
        external_id=own_id or f"<sha256-{print_[:40]}@no-message-id.invalid>",
        fingerprint=print_,
        subject=subject,
        sender_email=sender.address,
        sender_name=sender.name,
        sender_verified=problem is None,
        sender_problem=problem,
        reply_to=reply_to,
        to=recipients,
        text=text,
        html_only=html_only,
        ticket_id=ticket_tag(subject, ticket_prefix),
        in_reply_to=in_reply_to,
        thread_key=(references[0] if references else None) or (replied[0] if replied else own_id),
        attachments=attachments,
        forwarded=forwarded_of(message),
        charset_fallback=fallback,
        defects=sorted({type(d).__name__ for part in message.walk() for d in part.defects}),
        headers={k: v for k in KEPT_HEADERS if (v := header(message, k))},
        raw=stored_text,
        raw_encoding=encoding,
        raw_trimmed=bool(oversized),
        raw_size=len(raw),
    )


def to_inbound(
    parsed: ParsedEmail,
    *,
    external_id: str | None = None,
    suppress_reply: bool = False,
    automated: bool = False,
    extra_meta: dict[str, Any] | None = None,
    in_reply_to: list[str] | None = None,
    ticket_id: int | None = None,
    received_at: datetime | None = None,
) -> InboundMessage:
    """The core's message for a parsed email; adapter facts go in `meta`."""
    meta: dict[str, Any] = {
        "headers": parsed.headers,
        "fingerprint": parsed.fingerprint,
        "raw_encoding": parsed.raw_encoding,
        "raw_size": parsed.raw_size,
    }
    if parsed.attachments:
        meta["attachments"] = [a.model_dump(exclude_defaults=True) for a in parsed.attachments]
    if any(a.tnef for a in parsed.attachments):
        meta["tnef"] = True
    optional = {
        "reply_to": parsed.reply_to,
        "html_only": parsed.html_only,
        "forwarded": parsed.forwarded,
        "charset_fallback": parsed.charset_fallback,
        "defects": parsed.defects,
        "raw_trimmed": parsed.raw_trimmed,
        "message_id_missing": parsed.message_id is None,
        "sender_unproven": parsed.sender_problem,
    }
    meta.update({key: value for key, value in optional.items() if value})
    meta.update(extra_meta or {})
    return InboundMessage(
        source="email",
        external_id=external_id or parsed.external_id,
        text=parsed.text,
        subject=parsed.subject,
        sender_email=parsed.sender_email,
        sender_name=parsed.sender_name,
        sender_verified=parsed.sender_verified,
        thread_key=parsed.thread_key,
        in_reply_to=in_reply_to if in_reply_to is not None else parsed.in_reply_to,
        ticket_id=ticket_id if ticket_id is not None else parsed.ticket_id,
        received_at=received_at or utcnow(),
        raw=parsed.raw,
        meta=meta,
        suppress_reply=suppress_reply,
        automated=automated,
    )
