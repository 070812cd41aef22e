"""The reply a message gets back on its own channel, queued in the outbox in the same
transaction as its tickets: an acknowledgement with the ticket reference, the answers the records
settle, and who has what was escalated.

A message from a private conversation (mail, answered at the address it came from: its parsed
From, never a `Reply-To`, and only when the channel vouches for that address) gets a letter
(`Answer`). A message posted where others can read (a
channel; the adapter stored which) gets a `TriageReply` saying what was understood and decided,
never record facts or drafted answers (agents get those ephemerally, and send an answer with a
button). The adapter the message came through delivers the reply and threads it with its own
`reply_to` data. An answer an agent sends later goes privately to a channel proven the
candidate's (`private_address`).

A writer not proven to be the candidate their message names (`bot.privacy.disclosure`) gets an
acknowledgement of their own ticket that says nothing of that candidate: no fact, no name, no
ticket of theirs, not even who on the desk has it."""

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.delivery.messages import THREAD, Answer, Outgoing, PublicTicket, TriageReply, dump
from bot.delivery.outbox import enqueue
from bot.errors import UserError
from bot.records.source import RecordsSource
from bot.store.models import Message, Ticket
from bot.tickets.lifecycle import display_id
from bot.types import FiledTicket, InboundMessage

UNVERIFIED_NOTE = (
    "Your message asks about a candidate's records. We answer questions about a candidate's "
    "records only to the email address on that candidate's record, or after one of our agents "
    "has verified who you are. If you are the candidate, please write to us from the email "
    "address on your candidate record; otherwise an agent will be in touch to verify your "
    "identity."
)
UNVERIFIED_SLACK = "identity to be verified by an agent before any record is discussed"
UNVERIFIED_NOTE_SLACK = (
    "Record details go only to the candidate's own email address or Slack account on their "
    "record, or after an agent has verified who wrote: an agent will be in touch."
)


def queue_reply(
    session: Session,
    config: AppConfig,
    *,
    message: InboundMessage,
    stored: Message,
    filed: list[FiledTicket],
    titles: Mapping[str, str],
    candidate_name: str | None,
    now: datetime,
) -> str | None:
    """Queue the reply to `message` and return its text, or None when it gets none."""
    reply = reply_delivery(
        config, message=message, stored=stored, filed=filed, titles=titles,
        candidate_name=candidate_name,
    )  # fmt: skip
    if reply is None:
        return None
    text, row = reply
    enqueue(session, **row, now=now)
    return text


def reply_delivery(
    config: AppConfig,
    *,
    message: InboundMessage,
    stored: Message,
    filed: list[FiledTicket],
    titles: Mapping[str, str],
    candidate_name: str | None,
) -> tuple[str, dict[str, Any]] | None:
    """The reply's text and its outbox row (deduplicated on the stored message's id), or None
    when the message gets none. Writes nothing: a batch enqueues its replies together."""
    if message.suppress_reply or not filed or all(f.action == "none" for f in filed):
        return None
    reply_to = dict(message.meta.get(THREAD) or {})
    reply: Outgoing
    if stored.channel:  # a conversation others can read
        recipient = stored.channel
        reply = TriageReply(
            text=shared_reply_text(config, filed=filed, titles=titles),
            ticket_id=filed[0].ticket_id,
            reply_to=reply_to,
            auto=True,
            tickets=[_public(config, f, titles) for f in filed],
            note=UNVERIFIED_NOTE_SLACK if any(f.identity_unverified for f in filed) else None,
        )
    elif message.sender_email and message.sender_verified:
        # Only to an address the channel vouches for: a From the desk's mail server says was
        # forged is somebody else's address, who must not get mail they never asked for.
        recipient = message.sender_email
        reply = Answer(
            text=letter_text(config, filed=filed, titles=titles, candidate_name=candidate_name),
            subject=reply_subject(message.subject, display_id(config, filed[0].ticket_id)),
            ticket_id=filed[0].ticket_id,
            ref=display_id(config, filed[0].ticket_id),
            reply_to=reply_to,
            auto=True,
        )
    else:
        return None
    return reply.text, {
        "channel": message.source,
        "kind": "reply",
        "recipient": recipient,
        "dedupe_key": f"reply:{stored.id}",
        "ticket_id": filed[0].ticket_id,
        "payload": dump(reply),
    }


def reply_subject(subject: str | None, ref: str) -> str:
    """`Re: <subject> [TRI-12]`, without any other ticket's tag (the writer may have copied
    someone else's into their subject: the reply names only their own ticket)."""
    prefix = re.escape(ref.rpartition("-")[0])
    tags = re.compile(rf"\[\s*{prefix}\s*-\s*(\d+)\s*\]", re.IGNORECASE)
    own = ref.rpartition("-")[2]
    subject = tags.sub(lambda tag: f"[{ref}]" if tag.group(1) == own else "", subject or "")
    subject = " ".join(subject.split()) or "Your message"
    if f"[{ref}]" not in subject:
        subject = f"{subject} [{ref}]"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def letter_text(
    config: AppConfig,
    *,
    filed: list[FiledTicket],
    titles: Mapping[str, str],
    candidate_name: str | None,
) -> str:
    unverified = any(f.identity_unverified for f in filed)
    if unverified:
        candidate_name = None  # a name the writer gave, or the candidate's: neither is echoed
    first_name = (candidate_name or "").split(" ")[0]
    parts = [f"Hello {first_name}," if first_name else "Hello,", ""]
    parts.append(f"Thank you for contacting the {config.desk.name}.")
    if unverified:
        refs = ", ".join(display_id(config, f.ticket_id) for f in filed)
        parts += ["", f"Your reference: {refs}.", "", UNVERIFIED_NOTE]
    for ticket in [] if unverified else filed:
        ref = display_id(config, ticket.ticket_id)
        title = titles.get(ticket.issue or "", "your message")
        parts += ["", f"{title} ({ref}):" if len(filed) > 1 else f"Your reference: {ref}.", ""]
        parts.append(_body(config, ticket))
    refs = ", ".join(f"[{display_id(config, f.ticket_id)}]" for f in filed)
    parts += ["", f"Please keep {refs} in the subject when you reply.", "", "Kind regards,",
              config.desk.name]  # fmt: skip
    return "\n".join(parts)


def _body(config: AppConfig, ticket: FiledTicket) -> str:
    if ticket.action in ("answer", "ask-id") and ticket.answer:
        return ticket.answer
    owner = config.find_owner(ticket.owner)
    if ticket.action == "ask-id":
        return (
            "We could not match your message to a candidate record. Please reply with your "
            "MCP ID; we share record details only with the candidate, at the address on their "
            "record or after an agent has verified who you are."
        )
    who = f"{owner.name.split(' ')[0]} on our team" if owner else "a member of our team"
    return f"We have handed this to {who}, who will look into it and reply to you."


def shared_reply_text(
    config: AppConfig, *, filed: list[FiledTicket], titles: Mapping[str, str]
) -> str:
    lines = []
    for ticket in filed:
        ref = display_id(config, ticket.ticket_id)
        title = titles.get(ticket.issue or "", "Unrecognised request")
        owner = config.find_owner(ticket.owner)
        decision = {
            "answer": "answer drafted",
            "escalate": f"escalated to {owner.name}" if owner else "escalated",
            "ask-id": "asked for the MCP ID",
            "none": "no action",
        }[ticket.action]
        if ticket.identity_unverified:
            decision = UNVERIFIED_SLACK
        lines.append(f"{ref} · {title} · {decision}")
    return "\n".join(lines)


def _public(config: AppConfig, ticket: FiledTicket, titles: Mapping[str, str]) -> PublicTicket:
    return PublicTicket(
        ticket_id=ticket.ticket_id,
        ref=display_id(config, ticket.ticket_id),
        issue=ticket.issue,
        title=titles.get(ticket.issue or "", "Unrecognised request"),
        status=ticket.status,
        priority=ticket.priority,
        action=ticket.action,
        owner=ticket.owner,
        created=ticket.created,
        identity="unverified" if ticket.identity_unverified else None,
    )


def private_address(
    ticket: Ticket, first: Message | None, records: RecordsSource | None
) -> tuple[str, str, dict[str, object]]:
    """(channel, address, reply_to) reaching the candidate privately, on a channel proven theirs.

    With a record: the mail address they wrote from when the record lists it (as a reply in that
    conversation), else their Slack user on record (a DM), else the first address on record. With
    no record: the address the ticket is keyed on, which is the writer's own (their mail's sender,
    or their Slack profile's address)."""
    person = records.get(ticket.candidate_mcp_id) if records and ticket.candidate_mcp_id else None
    # A reply goes into the conversation the question came from only when that was private mail.
    private = first is not None and not first.channel and bool(first.sender)
    thread = dict(first.meta.get(THREAD) or {}) if first is not None and private else {}
    sender = (first.sender or "") if first is not None and private else ""
    if person is not None:
        on_record = {address.lower() for address in person.candidate.emails}
        if sender and sender.lower() in on_record:
            return "email", sender, thread
        if person.candidate.slack_user_id:
            return "slack", person.candidate.slack_user_id, {}
        if person.candidate.emails:
            return "email", person.candidate.emails[0], {}
    elif ticket.candidate_key and "@" in ticket.candidate_key:
        same = sender == ticket.candidate_key
        return "email", ticket.candidate_key, thread if same else {}
    raise UserError("No private address for the candidate on record: answer them by hand.")
