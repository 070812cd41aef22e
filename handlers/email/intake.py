"""One path for every way mail arrives (IMAP, Maildir, mbox, .eml files, an MTA pipe): raw bytes
in, the core's intake called once per batch, each message's outcome reported.

`ingest_batch` takes a batch of messages in one transaction: each is parsed and screened for
noise, then the core takes the batch in with set-based statements (`bot.intake.batch`). A message
the core fails on, or unparseable bytes, are kept raw in quarantine; the rest of the batch is
taken in without it (the batch is rolled back and taken again). Data the database refuses (too
long, a constraint) cannot be pinned on one message: the batch is taken again one message at a
time, so only that message is quarantined. Any other database error propagates: the caller must
not consider the batch taken. `ingest_message` is a batch of one.

Duplicate Message-IDs: a message whose Message-ID is already stored (or earlier in the batch)
with the same content fingerprint (a re-delivery, a second poll) is the same message, and the
core reports it as a duplicate. Some broken mailers reuse one Message-ID for different messages;
one with a taken Message-ID but a different fingerprint is taken in as a new message under
`<id>#<fingerprint prefix>`, so it is neither lost nor confused with the first.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.delivery.autoreply_limits import record_replies, replies_in_window_many
from bot.delivery.bounces import mark_bouncing, tickets_of_messages
from bot.delivery.messages import THREAD
from bot.intake.quarantine import MessageFailed, quarantine
from bot.privacy.erasure import erased_messages
from bot.store.bounds import MAX_REFERENCES
from bot.store.models.base import utcnow
from bot.store.models.messages import Message
from bot.types import InboundMessage, IntakeOutcome
from handlers.email.noise import Noise, detect_noise

if TYPE_CHECKING:
    from bot.ops.runtime import Runtime
from handlers.email.parse import (
    ParsedEmail,
    UnparseableEmail,
    parse_message,
    read_message,
    to_inbound,
)


class Intake(Protocol):
    """The core's intake for one message: `bot.intake.flow.take_in` bound to its runtime."""

    def __call__(
        self, session: Session, message: InboundMessage, *, now: datetime | None = None
    ) -> IntakeOutcome: ...


class BatchIntake(Intake, Protocol):
    """An intake that also takes a batch at once (`bot.intake.flow.take_in_batch`); it raises
    `MessageFailed` naming the message it failed on."""

    def batch(
        self, session: Session, messages: Sequence[InboundMessage], *, now: datetime | None = None
    ) -> list[IntakeOutcome]: ...


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


@dataclass(frozen=True)
class Incoming:
    """A raw message to take in, where it came from, and the source's own handle (an IMAP
    UID) for claiming it."""

    origin: str
    raw: bytes
    handle: Any = None


@dataclass
class _Mail:
    """An incoming message read and screened (outside any transaction)."""

    incoming: Incoming
    parsed: ParsedEmail | None = None
    noise: Noise | None = None
    error: str | None = None  # set: it goes to quarantine with this reason


# Deadlock detected, serialization failure: the transaction was cancelled, not refused.
RETRYABLE = {"40P01", "40001"}
# Claim the batch's messages in its transaction (True: ours to take); report them before commit.
Claims = Callable[[Session, Sequence[Incoming]], Sequence[bool]]
Report = Callable[[Session, list[tuple[Incoming, "IngestResult"]]], None]


def read(incoming: Incoming, settings: Settings) -> _Mail:
    """Parse and screen one message; bytes that are not mail are marked for quarantine."""
    desk, config = settings.app.desk, settings.app.email
    mail = _Mail(incoming)
    try:
        email_message = read_message(incoming.raw)
        mail.noise = detect_noise(
            email_message,
            own_domain=desk.message_id_domain,
            bot_address=desk.bot_email,
            ticket_prefix=desk.ticket_prefix,
        )
        mail.parsed = parse_message(
            email_message,
            incoming.raw,
            ticket_prefix=desk.ticket_prefix,
            max_attachment_bytes=config.max_attachment_bytes,
            trusted_authserv_id=config.trusted_authserv_id,
        )
    except UnparseableEmail as exc:
        mail.error = str(exc)
    except Exception as exc:  # a parser bug on hostile bytes: kept, not fatal to the batch
        mail.error = f"cannot read: {type(exc).__name__}: {exc}"
    return mail


def ingest_batch(
    sessions: sessionmaker[Session],
    batch: Sequence[Incoming],
    *,
    settings: Settings,
    intake: Intake,
    now: datetime | None = None,
    claim: Claims | None = None,
    report: Report | None = None,
) -> list[IngestResult | None]:
    """Take `batch` in and commit; one result per message, None for a message `claim` refused
    (another worker has it). `report` runs before the commit."""
    now = now or utcnow()
    mails = [read(incoming, settings) for incoming in batch]
    return _commit(sessions, mails, settings=settings, intake=intake, now=now, claim=claim,
                   report=report)  # fmt: skip


def ingest_message(
    sessions: sessionmaker[Session],
    raw: bytes,
    *,
    settings: Settings,
    intake: Intake,
    origin: str = "",
    now: datetime | None = None,
) -> IngestResult | None:
    """Take one message in and commit (a batch of one)."""
    [result] = ingest_batch(
        sessions, [Incoming(origin, raw)], settings=settings, intake=intake, now=now
    )
    return result


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
    mails = [read(Incoming(origin, raw), settings)]
    try:
        [result] = _ingest(session, mails, settings, intake, now or utcnow(), None, None)
    except MessageFailed as failed:
        raise IntakeFailed(_failure(failed.error)) from failed.error
    assert result is not None
    return result


def _failure(error: Exception) -> str:
    return f"intake failed: {type(error).__name__}: {error}"


def _commit(
    sessions: sessionmaker[Session],
    mails: list[_Mail],
    *,
    settings: Settings,
    intake: Intake,
    now: datetime,
    claim: Claims | None,
    report: Report | None,
) -> list[IngestResult | None]:
    collisions = 0
    while True:
        try:
            with sessions() as session, session.begin():
                return _ingest(session, mails, settings, intake, now, claim, report)
        except MessageFailed as failed:  # taken again, that message to quarantine
            mails[failed.index].error = _failure(failed.error)
        except OperationalError as exc:
            # Two batches touching the same tickets in opposite orders: PostgreSQL cancels one
            # (deadlock detected), which is simply taken again.
            collisions += 1
            if getattr(exc.orig, "sqlstate", None) not in RETRYABLE or collisions > 3:
                raise
        except (DataError, IntegrityError) as exc:  # some message's data, not the database
            live = [mail for mail in mails if mail.error is None]
            if len(live) > 1:  # which one? each on its own finds out
                return [
                    result
                    for mail in mails
                    for result in _commit(
                        sessions,
                        [mail],
                        settings=settings,
                        intake=intake,
                        now=now,
                        claim=claim,
                        report=report,
                    )
                ]
            if not live:
                raise
            live[0].error = f"cannot store: {str(getattr(exc, 'orig', exc)).splitlines()[0]}"


def _ingest(
    session: Session,
    mails: list[_Mail],
    settings: Settings,
    intake: Intake,
    now: datetime,
    claim: Claims | None,
    report: Report | None,
) -> list[IngestResult | None]:
    results: list[IngestResult | None] = [None] * len(mails)
    claimed = claim(session, [m.incoming for m in mails]) if claim else [True] * len(mails)
    ours = [n for n, mine in enumerate(claimed) if mine]
    for n in ours:
        mail = mails[n]
        if mail.error is not None or mail.parsed is None:
            results[n] = quarantined(
                session, raw=mail.incoming.raw, origin=mail.incoming.origin,
                error=mail.error or "unreadable", now=now,
            )  # fmt: skip
    todo = [n for n in ours if results[n] is None]
    parsed = {n: mails[n].parsed for n in todo}
    # Taken in once and erased since (a re-polled mailbox): taking it again would undo that.
    erased = erased_messages(session, {("email", p.external_id) for p in parsed.values() if p})
    for n, p in parsed.items():
        if p is not None and ("email", p.external_id) in erased:
            results[n] = IngestResult(status="duplicate", origin=mails[n].incoming.origin)
    todo = [n for n in todo if results[n] is None]
    if todo:
        _Batch(session, settings, intake, now, mails, results).take(todo)
    if report is not None:
        report(session, [(mails[n].incoming, r) for n in ours if (r := results[n]) is not None])
    return results


@dataclass
class _Batch:
    """The mail of one batch handed to the core, in order, in as few core calls as the automatic
    reply limit allows (see `take`)."""

    session: Session
    settings: Settings
    intake: Intake
    now: datetime
    mails: list[_Mail]
    results: list[IngestResult | None]
    replies: Counter[str] = field(default_factory=Counter)  # automatic replies in the hour
    replied: list[tuple[str, int | None]] = field(default_factory=list)  # to record

    def take(self, todo: list[int]) -> None:
        limit = self.settings.app.email.auto_reply_limit_per_hour
        parsed = {n: self.mails[n].parsed for n in todo}
        senders = {p.sender_email for p in parsed.values() if p and p.sender_email}
        self.replies.update(replies_in_window_many(self.session, senders, now=self.now))
        ids = _IdentityOf(self.session, [p for p in parsed.values() if p])
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
            outcomes = _take_in(self.intake, self.session, [m for _, m, _ in pending], self.now)
        except MessageFailed as failed:  # the position in this batch, for the caller
            raise MessageFailed(pending[failed.index][0], failed.error) from failed.error
        for (n, message, noise), outcome in zip(pending, outcomes, strict=True):
            self.results[n] = self._result(self.mails[n], message, noise, outcome)
        record_replies(self.session, self.replied, now=self.now)
        self.replied = []

    def _result(
        self, mail: _Mail, message: InboundMessage, noise: Noise | None, outcome: IntakeOutcome
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


def _take_in(
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


class _IdentityOf:
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


def quarantined(
    session: Session, *, raw: bytes, origin: str, error: str, now: datetime | None = None
) -> IngestResult:
    row = quarantine(session, raw=raw, origin=origin, error=error, now=now)
    return IngestResult(status="quarantined", origin=origin, quarantine_id=row.id, error=error)


class CoreIntake:
    """The core's intake bound to a runtime built once (knowledge indexed once per process)."""

    def __init__(self, settings: Settings, runtime: "Runtime | None" = None) -> None:
        from bot.ops.runtime import Runtime

        self.runtime = runtime or Runtime(settings)

    def __call__(
        self, session: Session, message: InboundMessage, *, now: datetime | None = None
    ) -> IntakeOutcome:
        from bot.intake.flow import take_in

        return take_in(session, self.runtime, message, now=now)

    def batch(
        self, session: Session, messages: Sequence[InboundMessage], *, now: datetime | None = None
    ) -> list[IntakeOutcome]:
        from bot.intake.flow import take_in_batch

        return take_in_batch(session, self.runtime, messages, now=now)


def core_intake(settings: Settings, runtime: "Runtime | None" = None) -> BatchIntake:
    """The core's `take_in` and `take_in_batch`, bound to one runtime."""
    return CoreIntake(settings, runtime)
