"""The core's contract with its adapters: what a message looks like coming in, and what the core
decided about it. Slack and email handlers build an `InboundMessage`, act on the `IntakeOutcome`."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.store.models.base import utcnow

Source = Literal["email", "slack", "web", "phone", "cli"]
Action = Literal["answer", "escalate", "ask-id", "none"]


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
