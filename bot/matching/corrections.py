"""Agents' corrections of a message's issue: stored with personal data masked, exported as
labelled examples, and read back by `triage model train`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.matching.evaluation import LabelledMessage
from bot.store.models.base import utcnow
from bot.store.models.messages import Message, TicketMessage
from bot.store.models.records import Candidate
from bot.store.models.slack import IssueCorrection
from bot.store.models.tickets import Ticket
from bot.text.parse import parse_message

UNKNOWN = "unknown"  # the agent's choice when no catalogue issue fits
ENTITY_KINDS = ("exams", "providers", "regions", "mcp_ids")

# A local part starts where a run of its characters starts: with `\b` every dot or dash in a long
# run ("a.a.a.…", "1-1-1-…") was a new start scanned to the end (seconds for 100 kB).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"\+?\d[\d ()./-]{7,}\d")
_LONG_NUMBER = re.compile(r"(?<![\d-])\d{4,10}(?![\d-])")
_SIGNED = re.compile(
    r"^(?P<lead>[ \t]*(?:(?:best|kind|warm)\s+)?(?:regards|thanks|cheers|gruß|saludos|merci|"
    r"obrigad[ao]|gracias|danke)[ \t,.!-]*(?:\n[ \t]*)?)"
    r"(?P<name>[A-ZÀ-Ý][\w.'-]+(?:[ \t]+[A-ZÀ-Ý][\w.'-]+){0,2})[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)


def scrub(text: str, *, names: Iterable[str] = ()) -> str:
    """The text with addresses, MCP IDs and other long numbers, phone numbers, codes and the
    given names (and a name signed after a closing, on its line or the next) masked; exam codes
    are kept, they are what the message is about."""
    parsed = parse_message(text)
    for code in sorted(parsed.secret_codes, key=len, reverse=True):
        text = re.sub(re.escape(code), "[code]", text, flags=re.IGNORECASE)
    text = _EMAIL.sub("[email]", text)
    text = _PHONE.sub(lambda m: m.group(0) if _is_exam(m.group(0)) else "[phone]", text)
    text = _LONG_NUMBER.sub("[number]", text)
    for name in sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True):
        parts = [re.escape(p) for p in name.split()]
        for piece in ["\\s+".join(parts), *(p for p in parts if len(p) > 2)]:
            text = re.sub(rf"\b{piece}\b", "[name]", text, flags=re.IGNORECASE)
    return _SIGNED.sub(lambda m: f"{m.group('lead')}[name]", text)


def _is_exam(value: str) -> bool:
    return bool(re.fullmatch(r"0?7[01][ -]?\d{3}", value.strip()))


def record_correction(
    session: Session,
    *,
    text: str,
    issues: Sequence[str],
    ticket_id: int | None,
    actor: str,
    names: Iterable[str] = (),
    predicted: str | None = None,
    source: str = "slack",
    now: datetime | None = None,
) -> IssueCorrection:
    """Store "this message is about `issues`" (main first; empty: out of the catalogue) with the
    text scrubbed of personal data (`names`: the candidate's, when known)."""
    labels = [i for i in dict.fromkeys(issues) if i and i != UNKNOWN]
    correction = IssueCorrection(
        ticket_id=ticket_id,
        text=scrub(text, names=names),
        predicted=predicted,
        corrected=labels[0] if labels else UNKNOWN,
        issues=labels,
        actor=actor,
        source=source,
        created_at=now or utcnow(),
    )
    session.add(correction)
    session.flush()
    return correction


def correct_ticket(
    session: Session,
    *,
    ticket_id: int,
    corrected: str,
    actor: str,
    names: Iterable[str] = (),
    source: str = "slack",
    now: datetime | None = None,
) -> IssueCorrection:
    """Record that a ticket is really about `corrected`, with its first message's text (the
    names on record of every candidate the ticket is about or names are scrubbed too: a
    candidate writes their name anywhere, not only under a closing)."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise LookupError(f"no ticket {ticket_id}")
    names = [*names, *_names_on_record(session, ticket)]
    text = session.scalar(
        select(Message.body)
        .join(TicketMessage, TicketMessage.message_id == Message.id)
        .where(TicketMessage.ticket_id == ticket_id)
        .order_by(Message.id)
        .limit(1)
    )
    return record_correction(
        session, text=text or ticket.subject or "", issues=[corrected], ticket_id=ticket_id,
        actor=actor, names=names, predicted=ticket.issue, source=source, now=now,
    )  # fmt: skip


def _names_on_record(session: Session, ticket: Ticket) -> list[str]:
    mcp_ids = {ticket.candidate_mcp_id, ticket.named_mcp_id} - {None}
    mcp_ids |= set(
        session.scalars(
            select(Message.candidate_mcp_id)
            .join(TicketMessage, TicketMessage.message_id == Message.id)
            .where(TicketMessage.ticket_id == ticket.id, Message.candidate_mcp_id.is_not(None))
        )
    )
    if not mcp_ids:
        return []
    return list(session.scalars(select(Candidate.name).where(Candidate.mcp_id.in_(mcp_ids))))


def _labels(row: IssueCorrection) -> list[str]:
    if row.issues is not None:
        return list(row.issues)
    return [] if row.corrected == UNKNOWN else [row.corrected]


def training_examples(session: Session) -> list[LabelledMessage]:
    """Every correction as a labelled example (split `corrections`), oldest first; a message
    corrected twice counts with its latest labels."""
    latest: dict[str, LabelledMessage] = {}
    for row in session.scalars(select(IssueCorrection).order_by(IssueCorrection.id)):
        latest.pop(row.text, None)
        latest[row.text] = LabelledMessage(
            text=row.text, channel="slack" if row.source == "slack" else "email",
            issues=_labels(row), split="corrections",
        )  # fmt: skip
    return list(latest.values())


def export_jsonl(session: Session) -> Iterator[str]:
    """One JSON line per correction in the shape of `tests/data/*.jsonl` (`text`, `channel`,
    `issues`, `entities`, `split`); `unknown` becomes an empty issue list, as in the corpus.
    MCP IDs stay out: the text has them masked, and the export leaves the desk."""
    rows = session.execute(
        select(IssueCorrection, Ticket.entities)
        .outerjoin(Ticket, Ticket.id == IssueCorrection.ticket_id)
        .order_by(IssueCorrection.id)
    )
    for row, entities in rows:
        found = entities or {}
        yield json.dumps(
            {
                "text": row.text,
                "channel": row.source,
                "issues": _labels(row),
                "entities": {kind: list(found.get(kind, [])) for kind in ENTITY_KINDS}
                | {"mcp_ids": []},
                "split": "corrections",
                "predicted": row.predicted,
                "ticket_id": row.ticket_id,
            },
            ensure_ascii=False,
        )
