"""Sending: an outbox item (channel "email") becomes a MIME message sent by SMTP, and the sent
message is stored on its ticket. The outbox retries what fails for a reason worth retrying.

The payload is one of the core's channel-neutral messages (`bot.delivery.messages`) and the
recipient the outbox row's; threading comes from the `reply_to` data this adapter left on the
message being answered (`thread` in its meta: the Message-ID and the references before it).

The recipient is one plain address (as `handlers.email.addresses` parsed it); anything else is
refused, so no display name or header text ever becomes a recipient.

Exactly once, as far as SMTP allows: every wait on the server is cut to what is left of the
outbox attempt (`time_left`), so the attempt's claim outlives the sender. SMTP offers no way to
ask whether a message arrived, so an attempt that died between the server's OK and the outbox's
commit is sent again with the same Message-ID (mail clients and most mailboxes show one).
"""

import base64
import hashlib
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from bot.config.app import Desk
from bot.config.settings import EnvSettings, Settings
from bot.delivery.outbox import (
    PermanentDeliveryError,
    Sender,
    TransientDeliveryError,
    time_left,
)
from bot.store.db import make_engine, session_factory
from bot.store.models.base import utcnow
from bot.store.models.messages import Message, TicketMessage
from bot.store.models.outbox import OutboxItem
from bot.store.models.tickets import Ticket
from handlers.email.addresses import PLAIN_ADDRESS
from handlers.email.parse import message_ids

TIMEOUT = 30


def message_id_for(item: OutboxItem, domain: str) -> str:
    """The same item always gets the same Message-ID, so a retried send is recognisably one
    message, and mail that comes back is recognised as the desk's own. Its digest covers the
    moment the item was queued, to the microsecond: the other parts are small sequential
    numbers, and an outsider who could guess the id of a reply sent to someone could thread
    their own machine mail onto that person's ticket."""
    queued = item.created_at.replace(tzinfo=None).isoformat() if item.created_at else ""
    digest = hashlib.sha256(f"{item.dedupe_key}\0{queued}".encode()).hexdigest()[:16]
    kind = re.sub(r"[^a-z0-9-]", "", item.kind.lower()) or "mail"
    ticket = f".t{item.ticket_id}" if item.ticket_id else ""
    return f"<{kind}{ticket}.{item.id}.{digest}@{domain}>"


def tagged_subject(subject: str, ticket_id: int | None, prefix: str) -> str:
    if ticket_id is None:
        return subject
    tag = f"[{prefix}-{ticket_id}]"
    return subject if tag.lower() in subject.lower() else f"{subject} {tag}".strip()


def bracketed(ids: list[str]) -> list[str]:
    out: list[str] = []
    for value in ids:
        found = message_ids(value) or ([f"<{value.strip('<> ')}>"] if value.strip("<> ") else [])
        out += [found[0]] if found else []
    return list(dict.fromkeys(out))


def build_mime(payload: dict[str, Any], *, to: str, desk: Desk, message_id: str) -> EmailMessage:
    """The MIME message for one of the core's messages (`bot.delivery.messages`, as JSON): its
    text, an HTML alternative with the chart inline when it has them, threading from our own
    `reply_to` data (the Message-ID it answers, and the references before it), and the
    loop-protection headers when the bot wrote it on its own."""
    message = EmailMessage()
    message["From"] = formataddr((desk.name, desk.bot_email))
    message["To"] = to
    subject = payload.get("subject") or f"{desk.name}"
    message["Subject"] = tagged_subject(subject, payload.get("ticket_id"), desk.ticket_prefix)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id
    thread = payload.get("reply_to") or {}
    replied = bracketed([thread["message_id"]] if thread.get("message_id") else [])
    references = bracketed([*thread.get("references", []), *replied])
    if replied:
        message["In-Reply-To"] = replied[0]
    if references:
        message["References"] = " ".join(references)
    if payload.get("auto", False):
        message["Auto-Submitted"] = "auto-replied"
        message["X-Auto-Response-Suppress"] = "All"  # asks Exchange not to answer it
    message["X-Loop"] = desk.bot_email
    message.set_content(payload.get("text") or "", cte="quoted-printable")
    chart = payload.get("chart")
    if payload.get("html"):
        message.add_alternative(payload["html"], subtype="html", cte="quoted-printable")
        if chart:
            html_part = message.get_payload()[-1]  # type: ignore[index]
            html_part.add_related(
                base64.b64decode(chart["data_b64"]),
                maintype="image",
                subtype="png",
                cid=f"<{chart['content_id'].strip('<>')}>",
                filename=chart.get("filename"),
                disposition="inline",
            )
    elif chart:
        message.add_attachment(
            base64.b64decode(chart["data_b64"]),
            maintype="image",
            subtype="png",
            filename=chart.get("filename") or "chart.png",
        )
    return message


def _wait() -> float:
    """How long the next step may wait on the server: TIMEOUT, cut to the attempt's time."""
    left = time_left()
    if left < 1:
        raise TimeoutError("the outbox attempt's time is up")
    return min(TIMEOUT, left - 0.5)


class _Bounded(smtplib.SMTP):
    """smtplib's client with every connect, command and reply bounded by `_wait`."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return super()._get_socket(host, port, min(timeout, _wait()))  # type: ignore[misc]

    def send(self, s: str | bytes) -> None:
        if self.sock is not None:
            self.sock.settimeout(_wait())
        super().send(s)

    def getreply(self) -> tuple[int, bytes]:
        if self.sock is not None:
            self.sock.settimeout(_wait())
        return super().getreply()


class _BoundedSSL(_Bounded, smtplib.SMTP_SSL):
    pass


def smtp_send(message: EmailMessage, *, env: EnvSettings, envelope_from: str) -> None:
    """Send by SMTP per the settings; failures become the outbox's transient/permanent errors."""
    assert env.smtp_host is not None
    try:
        if env.smtp_security == "tls":
            context = ssl.create_default_context()
            client: smtplib.SMTP = _BoundedSSL(
                env.smtp_host, env.smtp_port, timeout=TIMEOUT, context=context
            )
        else:
            client = _Bounded(env.smtp_host, env.smtp_port, timeout=TIMEOUT)
        try:
            if env.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if env.smtp_username:
                password = env.smtp_password.get_secret_value() if env.smtp_password else ""
                client.login(env.smtp_username, password)
            client.send_message(message, from_addr=envelope_from)
        finally:
            _quit(client)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(
            f"{rcpt}: {code} {text!r}" for rcpt, (code, text) in exc.recipients.items()
        )
        if codes and all(500 <= code < 600 for code in codes):
            raise PermanentDeliveryError(f"recipient refused: {detail}") from None
        raise TransientDeliveryError(f"recipient deferred: {detail}") from None
    except smtplib.SMTPAuthenticationError as exc:  # a settings problem: keep the mail
        raise TransientDeliveryError(f"SMTP login failed: {exc.smtp_code}") from None
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else exc.smtp_error
        )
        if 500 <= exc.smtp_code < 600:
            raise PermanentDeliveryError(f"SMTP {exc.smtp_code}: {text}") from None
        raise TransientDeliveryError(f"SMTP {exc.smtp_code}: {text}") from None
    except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out, TLS failure
        raise TransientDeliveryError(f"SMTP unavailable: {type(exc).__name__}: {exc}") from None


def _quit(client: smtplib.SMTP) -> None:
    """Say goodbye, whatever the server answers: once the message is accepted, a failed QUIT
    (a server going down, a 421) must not make the outbox send it again."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def store_sent(
    session: Session, *, item: OutboxItem, message: EmailMessage, message_id: str
) -> Message:
    """The sent message as a `Message` (direction out) on its ticket; idempotent on Message-ID."""
    existing = session.scalar(
        select(Message).where(Message.source == "email", Message.external_id == message_id)
    )
    if existing is not None:
        return existing
    payload = item.payload
    references = message_ids(str(message.get("References", "")))
    row = Message(
        source="email",
        external_id=message_id,
        direction="out",
        sender=parseaddr(str(message["From"]))[1] or None,
        recipient=item.recipient,
        subject=str(message["Subject"]),
        body=payload.get("text") or "",
        raw=message.as_string(),
        thread_key=references[0] if references else message_id,
        in_reply_to=str(message.get("In-Reply-To") or "") or None,
        channel="email",
        meta={"outbox_id": item.id, "kind": item.kind, "auto": bool(payload.get("auto"))},
    )
    session.add(row)
    session.flush()
    ticket_id = payload.get("ticket_id") or item.ticket_id
    if ticket_id is not None and session.get(Ticket, ticket_id) is not None:
        session.add(TicketMessage(ticket_id=ticket_id, message_id=row.id))
    return row


def make_sender(
    settings: Settings, *, send: Callable[[EmailMessage], None] | None = None
) -> Sender:
    """A sender for the outbox: build, send, store. `send` replaces SMTP (tests, printing)."""
    desk = settings.app.desk
    fallback: list[Any] = []  # a session factory, made only if an item arrives detached

    def transmit(message: EmailMessage) -> None:
        smtp_send(message, env=settings.env, envelope_from=desk.bot_email)

    deliver = send or transmit

    def sender(item: OutboxItem) -> None:
        payload = item.payload
        if not item.recipient or not PLAIN_ADDRESS.fullmatch(item.recipient):
            raise PermanentDeliveryError("email recipient is not one plain address")
        message_id = message_id_for(item, desk.message_id_domain)
        message = build_mime(payload, to=item.recipient, desk=desk, message_id=message_id)
        deliver(message)
        session = object_session(item)
        if session is not None:  # the outbox's own transaction records the result
            store_sent(session, item=item, message=message, message_id=message_id)
            return
        if not fallback:
            fallback.append(session_factory(make_engine(settings.database_url)))
        with fallback[0]() as own, own.begin():
            store_sent(own, item=item, message=message, message_id=message_id)

    return sender


def sender(settings: Settings) -> tuple[str, Sender] | None:
    """The email channel's sender, or None when SMTP_HOST is not set."""
    if not settings.env.smtp_host:
        return None
    return "email", make_sender(settings)
