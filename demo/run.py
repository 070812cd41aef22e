"""The demo's story, step by step, on whatever database DATABASE_URL names.

Every step is idempotent: running the demo again takes nothing in twice and shows the same
tickets. The clock is fixed (the sample data is written for 2026-11-25) so the output is stable.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.delivery.outbox import deliver_due
from bot.intake.flow import take_in
from bot.ops.runtime import Runtime
from bot.records.importer import ImportReport, import_records
from bot.store.models import Message, Ticket, TicketMessage
from bot.store.models.outbox import OutboxItem
from bot.tickets.digests import Digest, build_digest, chart_png
from bot.tickets.escalation import Notice, sweep
from bot.types import InboundMessage
from handlers.email.intake import IngestResult, ingest_bytes
from handlers.email.outbound import make_sender
from handlers.email.sink import local_smtp_sink


@dataclass
class DemoResult:
    records: ImportReport
    mail: list[IngestResult]
    slack_new: int
    slack_total: int
    message_ids: list[int]
    sent_emails: list[dict[str, str]] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    digest: Digest | None = None
    chart_path: Path | None = None


def run_demo(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    samples: Path,
    now: datetime,
    digest_owner: str,
    out_dir: Path,
) -> DemoResult:
    runtime = Runtime(settings)
    records = import_records(sessions, [samples / "records"])
    mail = _take_in_mail(settings, sessions, runtime, samples / "mail", now)
    slack_new, slack_ids = _take_in_slack(sessions, runtime, samples / "slack", now)
    result = DemoResult(
        records=records,
        mail=mail,
        slack_new=slack_new,
        slack_total=len(slack_ids),
        message_ids=[m.message_id for m in mail if m.message_id] + slack_ids,
    )
    result.sent_emails = _deliver_mail(settings, sessions, now)
    # A day later nobody has acted: the SLA sweep escalates along the chains.
    result.notices = sweep(sessions, settings.app, now=now + timedelta(days=1)).steps
    with sessions() as session:
        result.digest = build_digest(
            session, settings.app, owner_id=digest_owner, now=now + timedelta(days=1)
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    result.chart_path = out_dir / f"digest-{digest_owner}.png"
    result.chart_path.write_bytes(chart_png(result.digest))
    return result


def _take_in_mail(
    settings: Settings,
    sessions: sessionmaker[Session],
    runtime: Runtime,
    folder: Path,
    now: datetime,
) -> list[IngestResult]:
    def intake(session: Session, message: InboundMessage, *, now: datetime | None = None) -> Any:
        return take_in(session, runtime, message, now=now)

    results = []
    for path in sorted(folder.glob("*.eml")):
        with sessions() as session, session.begin():
            results.append(
                ingest_bytes(
                    path.read_bytes(),
                    session=session,
                    settings=settings,
                    intake=intake,
                    origin=path.name,
                    now=now,
                )
            )
    return results


def _take_in_slack(
    sessions: sessionmaker[Session], runtime: Runtime, folder: Path, now: datetime
) -> tuple[int, list[int]]:
    """Sample Slack messages as the intake channel listener hands them to the core."""
    new, ids = 0, []
    lines = (folder / "messages.jsonl").read_text(encoding="utf-8").splitlines()
    for line in filter(None, (raw.strip() for raw in lines)):
        event = json.loads(line)
        message = InboundMessage(
            source="slack",
            external_id=f"{event['channel']}:{event['ts']}",
            text=event["text"],
            slack_user_id=event["user"],
            slack_channel=event["channel"],
            thread_key=event.get("thread_ts") or event["ts"],
            on_behalf_of=event.get("candidate"),
            actor=event["user"] if event.get("candidate") else None,
            received_at=now,
        )
        with sessions() as session, session.begin():
            outcome = take_in(session, runtime, message, now=now)
        new += not outcome.duplicate
        ids.append(outcome.message_id)
    return new, ids


def _deliver_mail(
    settings: Settings, sessions: sessionmaker[Session], now: datetime
) -> list[dict[str, str]]:
    """Deliver the queued email to a local SMTP sink and return what it received."""
    with local_smtp_sink() as sink:
        env = settings.env.model_copy(update={"smtp_host": sink.host, "smtp_port": sink.port})
        send = make_sender(Settings(env, settings.app))
        while deliver_due(sessions, {"email": send}, now=now + timedelta(minutes=1))[0]:
            pass
        return [
            {
                "to": str(message["To"]),
                "subject": str(message["Subject"]).strip(),
                "auto_submitted": str(message.get("Auto-Submitted", "")),
                "body": _plain(message),
            }
            for message in sink.messages
        ]


def _plain(message: Any) -> str:
    part = message.get_body(("plain",))
    return part.get_content() if part is not None else ""


def demo_tickets(session: Session, message_ids: list[int]) -> list[Ticket]:
    """The tickets the sample messages made, oldest first."""
    return list(
        session.scalars(
            select(Ticket)
            .join(TicketMessage, TicketMessage.ticket_id == Ticket.id)
            .where(TicketMessage.message_id.in_(message_ids))
            .distinct()
            .order_by(Ticket.id)
        )
    )


def slack_replies(session: Session, message_ids: list[int]) -> list[OutboxItem]:
    keys = [f"reply:{message_id}" for message_id in message_ids]
    return list(
        session.scalars(
            select(OutboxItem)
            .where(OutboxItem.channel == "slack", OutboxItem.dedupe_key.in_(keys))
            .order_by(OutboxItem.id)
        )
    )


def message_sources(session: Session, ticket_ids: list[int]) -> dict[int, str]:
    rows = session.execute(
        select(TicketMessage.ticket_id, Message.source, Message.sender)
        .join(Message, Message.id == TicketMessage.message_id)
        .where(TicketMessage.ticket_id.in_(ticket_ids))
        .order_by(Message.id)
    )
    sources: dict[int, str] = {}
    for ticket_id, source, _sender in rows:
        sources.setdefault(ticket_id, source)
    return sources
