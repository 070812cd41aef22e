"""One path for every way mail arrives (IMAP, Maildir, mbox, .eml files, an MTA pipe): raw bytes
in, the core's `take_in` called once, the outcome reported.

`ingest_bytes` works inside the caller's transaction; `ingest_message` gives each message its own
transaction and keeps a message the core fails on raw in quarantine instead of losing it. A
database error is never swallowed: the caller must not consider the message taken.

Duplicate Message-IDs: a message whose Message-ID is already stored with the same content
fingerprint (a re-delivery, a second poll) is the same message, and `take_in` reports it as a
duplicate. Some broken mailers reuse one Message-ID for different messages; one with a stored id
but a different fingerprint is taken in as a new message under `<id>#<fingerprint prefix>`, so
it is neither lost nor confused with the first.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.delivery.autoreply_limits import record_reply, reply_allowed
from bot.delivery.bounces import mark_bouncing, tickets_of_messages
from bot.delivery.messages import THREAD
from bot.intake.quarantine import quarantine
from bot.privacy.erasure import was_erased
from bot.store.models.base import utcnow
from bot.store.models.messages import Message
from bot.types import InboundMessage, IntakeOutcome
from handlers.email.noise import Noise, detect_noise
from handlers.email.parse import (
    ParsedEmail,
    UnparseableEmail,
    parse_message,
    read_message,
    to_inbound,
)


class Intake(Protocol):
    """The core's intake: `bot.intake.flow.take_in` bound to its runtime."""

    def __call__(
        self, session: Session, message: InboundMessage, *, now: datetime | None = None
    ) -> IntakeOutcome: ...


class IntakeFailed(Exception):
    """The core raised on this message (not a database error): it goes to quarantine."""


class IngestResult(BaseModel):
    status: Literal["stored", "duplicate", "quarantined"]
    origin: str = ""
    external_id: str | None = None
    message_id: int | None = None
    quarantine_id: int | None = None
    subject: str | None = None
    sender: str | None = None
    noise: str | None = None
    suppressed: bool = False
    ticket_ids: list[int] = []
    replied: bool = False
    error: str | None = None


def identity(session: Session, parsed: ParsedEmail) -> str:
    """The external id to take the message in under (see the module docstring)."""
    stored = session.scalar(
        select(Message.meta).where(
            Message.source == "email", Message.external_id == parsed.external_id
        )
    )
    if stored is None or stored.get("fingerprint") in (None, parsed.fingerprint):
        return parsed.external_id
    return f"{parsed.external_id}#{parsed.fingerprint[:16]}"


def ingest_bytes(
    raw: bytes,
    *,
    session: Session,
    settings: Settings,
    intake: Intake,
    origin: str = "",
    now: datetime | None = None,
) -> IngestResult:
    """Take one raw message in within `session` (the caller commits). Unparseable bytes are
    quarantined; raises `IntakeFailed` when the core fails on the message."""
    now = now or utcnow()
    desk, config = settings.app.desk, settings.app.email
    try:
        email_message = read_message(raw)
        noise = detect_noise(
            email_message,
            own_domain=desk.message_id_domain,
            bot_address=desk.bot_email,
            ticket_prefix=desk.ticket_prefix,
        )
        parsed = parse_message(
            email_message,
            raw,
            ticket_prefix=desk.ticket_prefix,
            max_attachment_bytes=config.max_attachment_bytes,
            trusted_authserv_id=config.trusted_authserv_id,
        )
    except UnparseableEmail as exc:
        return quarantined(session, raw=raw, origin=origin, error=str(exc), now=now)
    if was_erased(session, source="email", external_id=parsed.external_id):
        # Taken in once and erased since (a re-polled mailbox): taking it again would undo that.
        return IngestResult(status="duplicate", origin=origin)

    if (
        noise is None
        and parsed.sender_email
        and not reply_allowed(
            session, address=parsed.sender_email, limit=config.auto_reply_limit_per_hour, now=now
        )
    ):
        limit = config.auto_reply_limit_per_hour
        noise = Noise(reason="auto-reply-limit", detail=f"{limit} automatic replies in the hour")
    message = inbound(parsed, noise=noise, origin=origin, now=now, session=session)
    try:
        outcome = intake(session, message, now=now)
    except SQLAlchemyError:
        raise
    except Exception as exc:
        raise IntakeFailed(f"intake failed: {type(exc).__name__}: {exc}") from exc

    ticket_ids = [ticket.ticket_id for ticket in outcome.tickets]
    if noise is not None and noise.bounce is not None and not outcome.duplicate:
        # The tickets of the bounced message, whether or not the core threaded the bounce there.
        bounced_on = tickets_of_messages(session, [noise.bounce.original_message_id or ""])
        for recipient in noise.bounce.recipients:
            mark_bouncing(
                session,
                address=recipient.address,
                status=recipient.status,
                diagnostic=recipient.diagnostic,
                message_id=outcome.message_id,
                ticket_ids=[*bounced_on, *ticket_ids],
                now=now,
            )
    replied = bool(outcome.reply) and not message.suppress_reply and not outcome.duplicate
    if replied and parsed.sender_email:
        record_reply(session, address=parsed.sender_email, message_id=outcome.message_id, now=now)
    return IngestResult(
        status="duplicate" if outcome.duplicate else "stored",
        origin=origin,
        external_id=message.external_id,
        message_id=outcome.message_id,
        subject=parsed.subject,
        sender=parsed.sender_email,
        noise=noise.reason if noise else None,
        suppressed=message.suppress_reply,
        ticket_ids=ticket_ids,
        replied=replied,
    )


def inbound(
    parsed: ParsedEmail, *, noise: Noise | None, origin: str, now: datetime, session: Session
) -> InboundMessage:
    meta: dict[str, Any] = {"origin": origin} if origin else {}
    in_reply_to = list(parsed.in_reply_to)
    ticket_id = parsed.ticket_id
    if noise is not None:
        meta["noise"] = {"reason": noise.reason, "detail": noise.detail}
        if noise.bounce is not None:
            meta["bounce"] = noise.bounce.model_dump(exclude_none=True)
            if noise.bounce.original_message_id:  # thread the bounce onto the bounced message
                in_reply_to.insert(0, noise.bounce.original_message_id)
            ticket_id = ticket_id or noise.bounce.original_ticket_id
    external_id = identity(session, parsed)
    # Where a reply belongs, in this adapter's own terms: the core hands it back untouched.
    meta[THREAD] = {"message_id": external_id, "references": list(parsed.in_reply_to)}
    return to_inbound(
        parsed,
        external_id=external_id,
        suppress_reply=noise is not None,
        # Over the reply limit is still a person writing: triaged, just not answered.
        automated=noise is not None and noise.reason != "auto-reply-limit",
        extra_meta=meta,
        in_reply_to=list(dict.fromkeys(in_reply_to)),
        ticket_id=ticket_id,
        received_at=now,
    )


def quarantined(
    session: Session, *, raw: bytes, origin: str, error: str, now: datetime | None = None
) -> IngestResult:
    row = quarantine(session, raw=raw, origin=origin, error=error, now=now)
    return IngestResult(status="quarantined", origin=origin, quarantine_id=row.id, error=error)


Claim = Callable[[Session], bool]
After = Callable[[Session, IngestResult], None]


def ingest_message(
    sessions: sessionmaker[Session],
    raw: bytes,
    *,
    settings: Settings,
    intake: Intake,
    origin: str = "",
    now: datetime | None = None,
    claim: Claim | None = None,
    after: After | None = None,
) -> IngestResult | None:
    """Take one message in and commit. `claim` runs first in the same transaction (False: another
    worker has the message, nothing is done, None is returned); `after` runs before the commit.
    A core failure, or data the database refuses (too long, a constraint), is rolled back and
    the raw message quarantined in a fresh transaction; other database errors propagate."""
    try:
        with sessions() as session, session.begin():
            if claim is not None and not claim(session):
                return None
            result = ingest_bytes(
                raw, session=session, settings=settings, intake=intake, origin=origin, now=now
            )
            if after is not None:
                after(session, result)
            return result
    except IntakeFailed as exc:
        error = str(exc)
    except (DataError, IntegrityError) as exc:  # this message's data, not the database's health
        error = f"cannot store: {str(getattr(exc, 'orig', exc)).splitlines()[0]}"
    with sessions() as session, session.begin():
        if claim is not None and not claim(session):
            return None
        result = quarantined(session, raw=raw, origin=origin, error=error, now=now)
        if after is not None:
            after(session, result)
        return result


def core_intake(settings: Settings) -> Intake:
    """The core's `take_in`, bound to a runtime built once (knowledge indexed once per process)."""
    from bot.intake.flow import take_in
    from bot.ops.runtime import Runtime

    runtime = Runtime(settings)

    def intake(
        session: Session, message: InboundMessage, *, now: datetime | None = None
    ) -> IntakeOutcome:
        return take_in(session, runtime, message, now=now)

    return intake
