"""Forgetting a candidate: their personal data goes everywhere, anonymised tickets and one audit
record stay.

What goes:
- their records (candidate, addresses, attempts, registrations, invitations, vouchers, ...);
- every message they sent or were sent, or that belongs to their tickets: body, subject, raw
  text, headers, their address, and the message ids (`external_id` becomes a one-way hash, so a
  re-polled mail is still recognised and not taken in again; `thread_key` and `in_reply_to` go);
- messages by others that name them (MCP id, address, Slack id, full name, a code, one of their
  Message-IDs): every trace of them is replaced, and the raw text is dropped, since an encoded
  MIME part cannot be redacted reliably;
- outbox deliveries about them (to them, or on their tickets): payloads emptied, and any still
  waiting is cancelled, never sent;
- the issue corrections on their tickets, the Slack event rows of their messages, their
  automatic-reply counters, bounce marks and quarantined mail;
- finally any row of any table that still names them, found by a sweep of every text column.

What stays: their tickets with issue, status, priority, owner, routing and SLA times, the
candidate key replaced by `erased:<reference>`, entities reduced to exams and providers, facts
removed; the audit trail with every trace of them replaced, plus an `erased` event on each
ticket; and one `erasures` row saying who erased how much and when, holding no personal data.
"""

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.privacy import erase_steps as steps
from bot.privacy.sweep import rows_naming, sweep
from bot.privacy.traces import Traces
from bot.records.source import DatabaseRecords, RecordsSource
from bot.store.models import Message, Ticket, TicketMessage
from bot.store.models.base import utcnow
from bot.store.models.erasure import Erasure
from bot.store.models.outbox import OutboxItem
from bot.store.models.records import Candidate

MCP_ID = re.compile(r"^\d{4,10}$")
# Columns of `messages` that may name someone in a message written by somebody else.
MENTION_COLUMNS = ("body", "subject", "raw", "in_reply_to", "thread_key", "meta")


@dataclass
class Person:
    """Who is being forgotten: every identifier the desk may know them by."""

    mcp_id: str | None = None
    emails: set[str] = field(default_factory=set)
    slack_user_ids: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)  # voucher and promotion codes

    @property
    def keys(self) -> set[str]:
        """What tickets, messages and deliveries name them by (key, sender, recipient)."""
        keys = self.emails | self.slack_user_ids | ({self.mcp_id} if self.mcp_id else set())
        return {key.lower() for key in keys}

    def traces(self) -> Traces:
        return Traces(
            mcp_id=self.mcp_id,
            emails=set(self.emails),
            slack_user_ids=set(self.slack_user_ids),
            names=set(self.names),
            codes=set(self.codes),
        )


@dataclass
class Plan:
    """What an erasure touches; shown before asking for confirmation."""

    person: Person
    traces: Traces
    ticket_ids: list[int]
    message_ids: list[int]  # theirs: erased whole
    mention_ids: list[int]  # others' messages naming them: redacted
    outbox_ids: list[int]
    pending_outbox: int
    has_records: bool

    @property
    def empty(self) -> bool:
        return not (
            self.ticket_ids or self.message_ids or self.mention_ids or self.outbox_ids
            or self.has_records
        )  # fmt: skip


def find_person(session: Session, identifier: str, records: RecordsSource | None = None) -> Person:
    """The candidate named by an MCP id or an email address, with every identifier on record."""
    identifier = identifier.strip()
    if MCP_ID.match(identifier):
        person = Person(mcp_id=identifier)
    elif "@" in identifier and " " not in identifier:
        person = Person(emails={identifier.lower()})
    else:
        raise UserError(f"not an MCP id or an email address: {identifier!r}")
    found = (records or DatabaseRecords(session)).get(identifier)
    if found is not None:
        candidate = found.candidate
        person.mcp_id = candidate.mcp_id
        person.names.add(candidate.name)
        person.emails |= {e.lower() for e in candidate.emails}
        if candidate.slack_user_id:
            person.slack_user_ids.add(candidate.slack_user_id)
        person.codes |= {v.code for v in found.vouchers}
        person.codes |= {i.promo_code for i in found.invitations if i.promo_code}
    return person


def plan_erasure(session: Session, person: Person) -> Plan:
    """Find everything that is theirs or names them; reads only."""
    keys = sorted(person.keys)
    by_mcp = [person.mcp_id] if person.mcp_id else []
    ticket_ids = list(
        session.scalars(
            select(Ticket.id).where(
                or_(func.lower(Ticket.candidate_key).in_(keys), Ticket.candidate_mcp_id.in_(by_mcp))
            )
        )
    )
    linked = select(TicketMessage.message_id).where(TicketMessage.ticket_id.in_(ticket_ids))
    own = session.execute(
        select(Message.id, Message.external_id, Message.subject).where(
            or_(
                func.lower(Message.sender).in_(keys),
                func.lower(Message.recipient).in_(keys),
                Message.candidate_mcp_id.in_(by_mcp),
                Message.id.in_(linked),
            )
        )
    ).all()
    traces = person.traces()
    for row in own:
        traces.add_message(external_id=row.external_id, subject=row.subject)
    message_ids = [row.id for row in own]
    columns = [Message.__table__.c[name] for name in MENTION_COLUMNS]
    mention_ids = sorted(
        set(rows_naming(session, Message.__table__, columns, traces)) - set(message_ids)
    )
    about_them = or_(
        OutboxItem.ticket_id.in_(ticket_ids),
        func.lower(OutboxItem.recipient).in_(keys),
        OutboxItem.dedupe_key.in_([f"reply:{i}" for i in message_ids]),
    )
    outbox = session.execute(select(OutboxItem.id, OutboxItem.status).where(about_them)).all()
    return Plan(
        person=person,
        traces=traces,
        ticket_ids=ticket_ids,
        message_ids=message_ids,
        mention_ids=mention_ids,
        outbox_ids=[row.id for row in outbox],
        pending_outbox=sum(row.status == "pending" for row in outbox),
        has_records=bool(person.mcp_id and session.get(Candidate, person.mcp_id)),
    )


def forget(
    session: Session,
    *,
    identifier: str,
    actor: str,
    records: RecordsSource | None = None,
    now: datetime | None = None,
    drafts_dir: Path | None = None,
) -> Erasure:
    """Erase the candidate's personal data (and surge drafts under `drafts_dir` holding their
    words); returns the audit row. The caller commits."""
    now = now or utcnow()
    plan = plan_erasure(session, find_person(session, identifier, records))
    if plan.empty:
        raise UserError(f"nothing is stored about {identifier.strip()!r}")
    reference = secrets.token_hex(8)
    anonymous = f"erased:{reference}"
    person, traces = plan.person, plan.traces
    slack_ids = steps.slack_ids_of(session, plan.message_ids)  # before their ids are hashed
    counts: dict[str, int | bool] = {
        "tickets": len(plan.ticket_ids),
        "messages": steps.erase_messages(session, plan.message_ids, person.keys),
        "mentions": steps.redact_mentions(session, plan.mention_ids, traces, anonymous),
    }
    steps.anonymise_tickets(
        session, plan.ticket_ids, traces, anonymous=anonymous, actor=actor,
        reference=reference, now=now,
    )  # fmt: skip
    emptied, cancelled = steps.empty_deliveries(
        session, plan.outbox_ids, person.keys, anonymous=anonymous, reference=reference
    )
    counts |= {"deliveries": emptied, "deliveries_cancelled": cancelled}
    counts["corrections"] = steps.delete_corrections(session, plan.ticket_ids)
    counts["surges"] = steps.forget_surge_samples(
        session, plan.ticket_ids, drafts_dir=drafts_dir, now=now
    )
    counts["slack_events"] = steps.delete_slack_events(session, slack_ids)
    counts["mail_rows"] = steps.erase_mail_bookkeeping(session, person.emails, traces)
    counts["records"] = steps.delete_records(session, person.mcp_id) if plan.has_records else False
    session.flush()
    counts["other_rows"] = sum(sweep(session, traces, anonymous).values())

    erasure = Erasure(reference=reference, actor=actor, erased_at=now, counts=counts)
    session.add(erasure)
    session.flush()
    return erasure


def was_erased(session: Session, *, source: str, external_id: str) -> bool:
    """Whether a message with this id was taken in once and has since been erased: intake
    must not take it in again (a re-polled mailbox, a re-fed file)."""
    return (
        session.scalar(
            select(Message.id).where(
                Message.source == source, Message.external_id == steps.tombstone(external_id)
            )
        )
        is not None
    )


def erased_messages(
    session: Session, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """`was_erased` for many (source, external_id) keys in one query: the erased ones, each with
    the id of the row it left."""
    hashed: dict[tuple[str, str], tuple[str, str]] = {}
    by_source: dict[str, list[str]] = {}
    for source, external_id in keys:
        tomb = steps.tombstone(external_id)
        hashed[(source, tomb)] = (source, external_id)
        by_source.setdefault(source, []).append(tomb)
    if not hashed:
        return {}
    rows = session.execute(
        select(Message.id, Message.source, Message.external_id).where(
            or_(
                *(
                    and_(Message.source == source, Message.external_id.in_(tombs))
                    for source, tombs in by_source.items()
                )
            )
        )
    )
    return {hashed[(source, tomb)]: row_id for row_id, source, tomb in rows}
