"""What the core sends, channel-neutral: typed messages that each adapter renders its own way
(Block Kit in `handlers/slack`, MIME in `handlers/email`).

The outbox stores a message as its JSON (`OutboxItem.payload`, tagged by `view`) beside the
channel and the recipient's address on that channel. Nothing here knows Slack threads or email
headers: where a reply belongs in a conversation is the adapter's own `reply_to` data, which it
left on the message it took in (`meta["thread"]`) and gets back untouched.
"""

from typing import Any, Literal

from pydantic import BaseModel, Field

THREAD = "thread"  # the key adapters use in an inbound message's `meta` for their reply_to data
# The key under which an adapter records, on a delivered outbox item's payload, where the message
# went (Slack: its channel and ts); the core hands it back as `replaces` to edit that message.
POSTED = "posted"


class Outgoing(BaseModel):
    """Common to every message: its plain text (every channel can show that), a subject for
    channels that have one, the ticket it is about, and the adapter's threading data."""

    view: str
    text: str
    subject: str | None = None
    ticket_id: int | None = None
    reply_to: dict[str, Any] = Field(default_factory=dict)
    # Written by the bot on its own, not sent by a person (mail says so, to stop reply loops).
    auto: bool = False
    # Presentation data an adapter added for itself after the core queued the message.
    extra: dict[str, Any] = Field(default_factory=dict)
    # Where an earlier version of this message went (its adapter's `POSTED` data): the adapter
    # edits that message in place instead of sending a new one (a channel that cannot, sends).
    replaces: dict[str, Any] = Field(default_factory=dict)


class Notice(Outgoing):
    """To a desk person about a ticket: escalated, assigned or reopened to them, or an SLA step."""

    view: Literal["notice"] = "notice"
    ref: str
    issue: str | None
    priority: str
    status: str
    owner: str | None
    recipient: str  # an owner id
    routing_rule: str | None
    level: str
    reason: str
    candidate: str
    identity: str | None = None  # the ticket's identity status ("unverified", "verified")
    about: str | None = None  # the ticket's subject
    facts: list[str] = []  # codes masked
    first_response_due_at: str | None = None
    sla_due_at: str | None = None


class Answer(Outgoing):
    """Words to a candidate: an acknowledgement or a drafted answer, privately."""

    view: Literal["answer"] = "answer"
    ref: str | None = None


class PublicTicket(BaseModel):
    """One ticket as a shared conversation may see it: no facts, no drafted answer."""

    ticket_id: int
    ref: str
    issue: str | None
    title: str
    status: str
    priority: str
    action: str
    owner: str | None
    created: bool
    identity: str | None = None  # "unverified": the writer is not proven to be the candidate


class TriageReply(Outgoing):
    """The reply in a conversation others can read: what was understood and decided."""

    view: Literal["reply"] = "reply"
    tickets: list[PublicTicket] = []
    note: str | None = None  # a line for everyone in the conversation (no facts)


class Note(Outgoing):
    """A line in a conversation, e.g. "answer sent" in the thread a question came from."""

    view: Literal["note"] = "note"


class Chart(BaseModel):
    filename: str
    title: str
    data_b64: str
    content_id: str


class DigestMessage(Outgoing):
    """An owner's digest: text, HTML, the digest's data and its chart."""

    view: Literal["digest"] = "digest"
    html: str | None = None
    digest: dict[str, Any] = {}
    chart: Chart | None = None


class WorstCase(BaseModel):
    """One of the most overdue tickets a summary lists."""

    ticket_id: int
    ref: str
    issue: str | None
    priority: str
    level: int  # the escalation step that fired
    target: str  # "first response" | "resolution"
    late: str  # "overdue by 2d 4h" | "due in 45m"
    overdue_seconds: int  # negative while not yet due


class SlaSummary(Outgoing):
    """To a desk person for whom one SLA sweep found many tickets due: the counts, the worst
    cases and where their queue is, instead of a notice per ticket."""

    view: Literal["sla-summary"] = "sla-summary"
    recipient: str  # an owner id
    at: str  # the sweep's moment (ISO 8601, UTC)
    total: int
    overdue: int
    due_soon: int
    by_priority: dict[str, int]
    worst: list[WorstCase]  # most overdue first
    more: int  # steps not listed in `worst`
    queue_command: str  # the CLI line that lists their queue


class SurgeSample(BaseModel):
    ref: str
    text: str  # scrubbed of personal data, codes masked


class SurgeAlert(Outgoing):
    """To the triage lead: many candidates hitting one problem. Updated in place as it grows."""

    view: Literal["surge"] = "surge"
    surge_id: int
    ref: str  # SURGE-3
    kind: str  # new | rate
    status: str
    issue: str | None  # rate: the known issue
    suggested: str | None  # the issue to offer for "Merge into"
    count: int
    grew_by: int  # tickets since the first alert (0 on the first)
    window: str  # "2h"
    expected: float | None = None
    exams: list[str] = []
    providers: list[str] = []
    regions: list[str] = []
    errors: list[str] = []  # quoted error text, codes masked
    samples: list[SurgeSample] = []
    catalogue: list[str] = []  # the known issues, to merge into
    first_at: str
    last_at: str


def dump(message: Outgoing) -> dict[str, Any]:
    """The JSON an outbox item stores for `message`."""
    return message.model_dump(mode="json")
