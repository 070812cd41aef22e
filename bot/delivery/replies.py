"""The reply a message gets back on its own channel, queued in the outbox in the same
transaction as its tickets: an acknowledgement with the ticket reference, the answers the records
settle, and who has what was escalated.

A message from a private conversation (mail from the sender) gets a letter (`Answer`). A message
posted where others can read (a channel; the adapter stored which) gets a `TriageReply` saying
what was understood and decided, never record facts or drafted answers (agents get those
ephemerally, and send an answer with a button). The reply is delivered by the adapter the
message came through; it threads it with its own `reply_to` data. An answer an agent sends later
goes privately to a channel proven the candidate's (`private_address`)."""

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.delivery.messages import THREAD, Answer, Outgoing, PublicTicket, TriageReply, dump
from bot.delivery.outbox import enqueue
from bot.errors import UserError
from bot.records.source import RecordsSource
from bot.store.models import Message, Ticket
from bot.tickets.lifecycle import display_id
from bot.types import FiledTicket, InboundMessage


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
        )
    elif message.sender_email:
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
    enqueue(
        session,
        channel=message.source,
        kind="reply",
        recipient=recipient,
        dedupe_key=f"reply:{stored.id}",
        ticket_id=filed[0].ticket_id,
        now=now,
        payload=dump(reply),
    )
    return reply.text


def reply_subject(subject: str | None, ref: str) -> str:
    subject = (subject or "Your message").strip()
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
    first_name = (candidate_name or "").split(" ")[0]
    parts = [f"Hello {first_name}," if first_name else "Hello,", ""]
    parts.append(f"Thank you for contacting the {config.desk.name}.")
    for ticket in filed:
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
            "MCP ID so we can check your records."
        )
    who = f"{owner.name.split(' ')[0]} on our team" if owner else "a member of our team"
    return f"We have passed this to {who}, who will look into it and reply to you."


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
