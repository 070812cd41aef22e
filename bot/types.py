"""The pipeline's data types, in the order a message meets them: in (`InboundMessage`), parsed
(`Entities`, `Signals`, `ParsedMessage`), judged (`IssueVerdict`, `TriagedMessage`), filed
(`FiledTicket`) and reported back (`TicketOutcome`, `IntakeOutcome`).

Every step imports its types from here, never from the step after it. Adapters build an
`InboundMessage` and act on the `IntakeOutcome`."""

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.store.models.base import utcnow

Source = Literal["email", "slack", "web", "phone", "cli"]
Action = Literal["answer", "escalate", "ask-id", "none"]
Priority = Literal["low", "normal", "high", "urgent"]
# The catalogue id of a message that asks nothing (thanks, "it worked").
NOT_A_REQUEST = "not-a-request"


class InboundMessage(BaseModel):
    """One message from a candidate or about one, as an adapter received it."""

    model_config = ConfigDict(frozen=True)

    source: Source
    # Unique per source: an email's Message-ID, a Slack event's channel+ts. Taking the same id in
    # twice is a no-op that returns the first outcome.
    external_id: str
    text: str
    subject: str | None = None
    sender_email: str | None = None
    sender_name: str | None = None
    slack_user_id: str | None = None
    # Whether the channel vouches for the sender: Slack signs every request, so its user id (and
    # the profile address Slack confirmed) is the poster's. An email's From is unproven when the
    # desk's own mail server reports DMARC (or SPF and DKIM) failed for it, or when the header
    # holds several or no readable address. Unproven: never proof of being a candidate.
    sender_verified: bool = True
    slack_channel: str | None = None
    # Threading: the Slack thread ts, or the email Message-IDs this one replies to.
    thread_key: str | None = None
    in_reply_to: list[str] = []
    # A ticket id the adapter already knows this message belongs to (e.g. `[TRI-12]` in a subject).
    ticket_id: int | None = None
    # An agent logging a message on a candidate's behalf names them (MCP id or email).
    on_behalf_of: str | None = None
    actor: str | None = None
    received_at: datetime = Field(default_factory=utcnow)
    raw: str | None = None
    # Adapter facts the core stores but does not interpret (headers, attachments, bounce flag).
    meta: dict[str, Any] = {}
    # No automatic reply to this message (an agent logged it, or it was sent by a machine).
    suppress_reply: bool = False
    # Sent by a machine (auto-reply, bounce, list or the bot's own mail): stored and threaded onto
    # the ticket it answers, never triaged into a new ticket, never answered.
    automated: bool = False


class Entities(BaseModel):
    """What a message names; the field set is the public `classify --json` contract."""

    exams: list[str] = Field(default_factory=list)
    providers: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    mcp_ids: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    voucher_codes: list[str] = Field(default_factory=list)  # masked: `****-7Q2K`
    error_messages: list[str] = Field(default_factory=list)


class Signals(BaseModel):
    """How the sender writes: anger markers, chasing count ("my 5th email" -> 5), days waited,
    follow-up, thanks."""

    angry: bool = False
    anger_markers: list[str] = Field(default_factory=list)
    chasing: int = 0
    waiting_days: int | None = None
    follow_up: bool = False
    # A "thank you" / "solved" note: with no issue, it may resolve the ticket it answers.
    thanks: bool = False


class ParsedMessage(BaseModel):
    """A message taken apart. `secret_codes` holds raw codes and is never serialised."""

    new_text: str
    entities: Entities
    signals: Signals
    dates: list[date] = Field(default_factory=list)
    secret_codes: list[str] = Field(default_factory=list, exclude=True, repr=False)


class IssueVerdict(BaseModel):
    """One issue the message carries and what the checks decided about it."""

    issue: str | None  # None: unknown, a person looks at it
    score: float = 0.0
    action: Action = "escalate"
    answer: str | None = None
    facts: dict[str, Any] = {}
    facts_summary: list[str] = []
    team: str | None = None  # the knowledge file's team, a fallback when no rule matches
    default_priority: Priority = "normal"


class TriagedMessage(BaseModel):
    """A stored message after parsing, matching and the records checks."""

    source: Source
    # The MCP id when known, else the sender's address or Slack user.
    candidate_key: str | None = None
    candidate_mcp_id: str | None = None
    candidate_name: str | None = None
    region: str | None = None
    country: str | None = None
    exams: list[str] = []
    signals: Signals = Signals()
    verdicts: list[IssueVerdict] = []
    # A ticket the adapter knows this message belongs to (e.g. `[TRI-12]` in a subject).
    ticket_id: int | None = None
    entities: dict[str, Any] = {}
    actor: str | None = None  # an agent logging the message on the candidate's behalf
    # The message names a candidate (MCP id, address) its writer is not proven to be: the ticket
    # is the writer's own, linked to the named candidate, and carries none of their facts.
    identity_unverified: bool = False
    named_mcp_id: str | None = None


class TicketOutcome(BaseModel):
    ticket_id: int
    issue: str | None
    status: str
    priority: str
    action: Action
    owner: str | None = None
    routing_rule: str | None = None
    answer: str | None = None
    facts_summary: list[str] = []
    created: bool = True
    identity_unverified: bool = False


class FiledTicket(BaseModel):
    """What happened to one ticket, for the adapters' replies."""

    model_config = ConfigDict(frozen=True)

    ticket_id: int
    ref: str  # TRI-12
    created: bool
    issue: str | None
    status: str
    priority: str
    action: Action
    owner: str | None = None
    rule: str | None = None
    answer: str | None = None
    facts_summary: list[str] = []
    group_id: int | None = None
    # The writer is not proven to be the candidate the ticket names: they are told nothing of them.
    identity_unverified: bool = False

    def to_outcome(self) -> TicketOutcome:
        return TicketOutcome(
            ticket_id=self.ticket_id,
            issue=self.issue,
            status=self.status,
            priority=self.priority,
            action=self.action,
            owner=self.owner,
            routing_rule=self.rule,
            answer=self.answer,
            facts_summary=self.facts_summary,
            created=self.created,
            identity_unverified=self.identity_unverified,
        )


class IntakeOutcome(BaseModel):
    """What the core did with one message."""

    message_id: int
    duplicate: bool = False
    issue: str | None = None
    issues: list[str] = []
    candidate_mcp_id: str | None = None
    tickets: list[TicketOutcome] = []
    # The text to send back to the sender (acknowledgement and/or drafted answers), or None.
    reply: str | None = None
