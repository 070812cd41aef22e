"""The mail of one batch handed to the core: the external id each message is taken in under,
the automatic-reply limit per sender, the core's outcome turned into each message's result
(bounces marked on the bounced tickets)."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.config.settings import Settings
from bot.delivery.autoreply_limits import record_replies, replies_in_window_many
from bot.delivery.bounces import mark_bouncing, tickets_of_messages
from bot.delivery.messages import THREAD
from bot.intake.quarantine import MessageFailed
from bot.store.bounds import MAX_REFERENCES
from bot.store.models.messages import Message
from bot.types import InboundMessage, IntakeOutcome
from handlers.email.ingest_types import IngestResult, Intake, Mail
from handlers.email.noise import Noise
from handlers.email.parse import ParsedEmail, to_inbound


@dataclass
class Handover:
    """The mail of one batch handed to the core, in order, in as few core calls as the automatic
    reply limit allows (see `take`)."""

    session: Session
    settings: Settings
    intake: Intake
    now: datetime
    mails: list[Mail]
    results: list[IngestResult | None]
    replies: Counter[str] = field(default_factory=Counter)  # automatic replies in the hour
    replied: list[tuple[str, int | None]] = field(default_factory=list)  # to record

    def take(self, todo: list[int]) -> None:
        limit = self.settings.app.email.auto_reply_limit_per_hour
        parsed = {n: self.mails[n].parsed for n in todo}
        senders = {p.sender_email for p in parsed.values() if p and p.sender_email}
        self.replies.update(replies_in_window_many(self.session, senders, now=self.now))
        ids = IdentityOf(self.session, [p for p in parsed.values() if p])
        pending: list[tuple[int, InboundMessage, Noise | None]] = []
        maybe: Counter[str] = Counter()  # replies the pending messages may still get
        for n in todo:
            mail, message_parsed = self.mails[n], parsed[n]
            assert message_parsed is not None
            noise, address = mail.noise, (message_parsed.sender_email or "").strip().lower()
            if noise is None and address:
                used = self.replies[address]
                if used < limit <= used + maybe[address]:
                    # Whether this one is over the limit depends on the replies the pending
                    # messages get: take those in first.
                    self._core(pending)
                    pending, maybe = [], Counter()
                    used = self.replies[address]
                if used >= limit:
                    detail = f"{limit} automatic replies in the hour"
                    noise = Noise(reason="auto-reply-limit", detail=detail)
            message = inbound(
                message_parsed, noise=noise, origin=mail.incoming.origin, now=self.now,
                external_id=ids.external_id(message_parsed),
            )  # fmt: skip
            if not message.suppress_reply and address:
                maybe[address] += 1
            pending.append((n, message, noise))
        self._core(pending)

    def _core(self, pending: list[tuple[int, InboundMessage, Noise | None]]) -> None:
        if not pending:
            return
        try:
            outcomes = take_in(self.intake, self.session, [m for _, m, _ in pending], self.now)
        except MessageFailed as failed:  # the position in this batch, for the caller
            raise MessageFailed(pending[failed.index][0], failed.error) from failed.error
        for (n, message, noise), outcome in zip(pending, outcomes, strict=True):
            self.results[n] = self._result(self.mails[n], message, noise, outcome)
        record_replies(self.session, self.replied, now=self.now)
        self.replied = []

    def _result(
        self, mail: Mail, message: InboundMessage, noise: Noise | None, outcome: IntakeOutcome
    ) -> IngestResult:
        session, now, parsed = self.session, self.now, mail.parsed
        assert parsed is not None
        ticket_ids = [ticket.ticket_id for ticket in outcome.tickets]
        if noise is not None and noise.bounce is not None and not outcome.duplicate:
            # The tickets of the bounced message, whether or not the core threaded the bounce.
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
            self.replied.append((parsed.sender_email, outcome.message_id))
            self.replies[parsed.sender_email.strip().lower()] += 1
        return IngestResult(
            status="duplicate" if outcome.duplicate else "stored",
            origin=mail.incoming.origin,
            external_id=message.external_id,
            message_id=outcome.message_id,
            subject=parsed.subject,
            sender=parsed.sender_email,
            noise=noise.reason if noise else None,
            suppressed=message.suppress_reply,
            ticket_ids=ticket_ids,
            replied=replied,
        )


def take_in(
    intake: Intake, session: Session, messages: list[InboundMessage], now: datetime
) -> list[IntakeOutcome]:
    """The core's batch intake, or a one-message intake called for each (tests' stand-ins)."""
    batch = getattr(intake, "batch", None)
    if batch is not None:
        return batch(session, messages, now=now)  # type: ignore[no-any-return]
    outcomes = []
    for index, message in enumerate(messages):
        try:
            outcomes.append(intake(session, message, now=now))
        except SQLAlchemyError:
            raise
        except Exception as exc:
            raise MessageFailed(index, exc) from exc
    return outcomes


class IdentityOf:
    """The external id each message is taken in under (see the module docstring)."""

    def __init__(self, session: Session, parsed: list[ParsedEmail]) -> None:
        ids = {p.external_id for p in parsed}
        rows = session.execute(
            select(Message.external_id, Message.meta).where(
                Message.source == "email", Message.external_id.in_(ids)
            )
        )
        self.taken: dict[str, str | None] = {
            external_id: (meta or {}).get("fingerprint") for external_id, meta in rows
        }

    def external_id(self, parsed: ParsedEmail) -> str:
        if parsed.external_id not in self.taken:  # the first with this id (in the batch too)
            self.taken[parsed.external_id] = parsed.fingerprint
            return parsed.external_id
        if self.taken[parsed.external_id] in (None, parsed.fingerprint):
            return parsed.external_id
        return f"{parsed.external_id}#{parsed.fingerprint[:16]}"


def inbound(
    parsed: ParsedEmail, *, noise: Noise | None, origin: str, now: datetime, external_id: str
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
    # Where a reply belongs, in this adapter's own terms: the core hands it back untouched.
    references = parsed.in_reply_to[:MAX_REFERENCES]  # the reply names no more than intake reads
    meta[THREAD] = {"message_id": external_id, "references": references}
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
