"""The reply a message gets back on its own channel, queued in the outbox in the same
transaction as its tickets: an acknowledgement with the ticket reference, the answers the records
settle, and who has what was escalated.

Email replies go to the address the message came from (its parsed From, never a `Reply-To`: a
fact-bearing answer goes only where the disclosure rule proved the candidate to be). Slack replies
land in a thread others can read, so they say what was understood and decided, never record facts
or drafted answers (agents get those ephemerally, and send an answer with a button).

A writer not proven to be the candidate their message names (`bot.privacy.disclosure`) gets an
acknowledgement of their own ticket that says nothing of that candidate: no fact, no name, no
ticket of theirs, not even who on the desk has it."""

import re
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.delivery.outbox import enqueue
from bot.store.models import Message
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
    if message.suppress_reply or not filed or all(f.action == "none" for f in filed):
        return None
    if message.source == "email" and message.sender_email:
        text = email_reply_text(config, filed=filed, titles=titles, candidate_name=candidate_name)
        refs = [*message.in_reply_to, message.external_id]
        enqueue(
            session,
            channel="email",
            kind="reply",
            recipient=message.sender_email,
            dedupe_key=f"reply:{stored.id}",
            ticket_id=filed[0].ticket_id,
            now=now,
            payload={
                "to": message.sender_email,
                "subject": reply_subject(message.subject, display_id(config, filed[0].ticket_id)),
                "text": text,
                "html": None,
                "in_reply_to": message.external_id,
                "references": refs,
                "ticket_id": filed[0].ticket_id,
                "auto": True,
            },
        )
        return text
    if message.source == "slack" and message.slack_channel:
        text = slack_reply_text(config, filed=filed, titles=titles)
        enqueue(
            session,
            channel="slack",
            kind="reply",
            recipient=message.slack_channel,
            dedupe_key=f"reply:{stored.id}",
            ticket_id=filed[0].ticket_id,
            now=now,
            payload={
                "channel": message.slack_channel,
                "thread_ts": message.thread_key or message.external_id.split(":")[-1],
                "text": text,
                "view": "reply",
                "data": {
                    "tickets": [_public(config, f, titles) for f in filed],
                    "note": UNVERIFIED_NOTE_SLACK
                    if any(f.identity_unverified for f in filed)
                    else None,
                },
                "file": None,
            },
        )
        return text
    return None


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


def email_reply_text(
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
    return f"We have passed this to {who}, who will look into it and reply to you."


def slack_reply_text(
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


def _public(config: AppConfig, ticket: FiledTicket, titles: Mapping[str, str]) -> dict[str, object]:
    return {
        "ticket_id": ticket.ticket_id,
        "ref": display_id(config, ticket.ticket_id),
        "issue": ticket.issue,
        "title": titles.get(ticket.issue or "", "Unrecognised request"),
        "status": ticket.status,
        "priority": ticket.priority,
        "action": ticket.action,
        "owner": ticket.owner,
        "created": ticket.created,
        "identity": "unverified" if ticket.identity_unverified else None,
    }
