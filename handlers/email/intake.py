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

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.intake.quarantine import MessageFailed, quarantine
from bot.privacy.erasure import erased_messages
from bot.store.models.base import utcnow
from bot.types import InboundMessage, IntakeOutcome
from handlers.email.handover import Handover
from handlers.email.ingest_types import (
    BatchIntake,
    Incoming,
    IngestResult,
    Intake,
    IntakeFailed,
    Mail,
)
from handlers.email.noise import detect_noise
from handlers.email.parse import UnparseableEmail, parse_message, read_message

if TYPE_CHECKING:
    from bot.ops.runtime import Runtime

# The names the senders and pollers import from here.
__all__ = [
    "BatchIntake",
    "Incoming",
    "IngestResult",
    "Intake",
    "IntakeFailed",
    "core_intake",
    "ingest_batch",
    "ingest_bytes",
    "ingest_message",
]


# Deadlock detected, serialization failure: the transaction was cancelled, not refused.
RETRYABLE = {"40P01", "40001"}
# Claim the batch's messages in its transaction (True: ours to take); report them before commit.
Claims = Callable[[Session, Sequence[Incoming]], Sequence[bool]]
Report = Callable[[Session, list[tuple[Incoming, "IngestResult"]]], None]


def read(incoming: Incoming, settings: Settings) -> Mail:
    """Parse and screen one message; bytes that are not mail are marked for quarantine."""
    desk, config = settings.app.desk, settings.app.email
    mail = Mail(incoming)
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
    mails: list[Mail],
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
    mails: list[Mail],
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
        Handover(session, settings, intake, now, mails, results).take(todo)
    if report is not None:
        report(session, [(mails[n].incoming, r) for n in ours if (r := results[n]) is not None])
    return results


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
