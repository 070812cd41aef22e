"""What the mail intake takes and gives back: raw messages with their source's handle, the
message read and screened, each message's result, and the core intake it calls."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel
from sqlalchemy.orm import Session

from bot.types import InboundMessage, IntakeOutcome
from handlers.email.noise import Noise
from handlers.email.parse import ParsedEmail


class Intake(Protocol):
    """The core's intake for one message: `bot.intake.flow.take_in` bound to its runtime."""

    def __call__(
        self, session: Session, message: InboundMessage, *, now: datetime | None = None
    ) -> IntakeOutcome: ...


class BatchIntake(Intake, Protocol):
    """An intake that also takes a batch at once (`bot.intake.flow.take_in_batch`); it raises
    `MessageFailed` naming the message it failed on."""

    def batch(
        self, session: Session, messages: Sequence[InboundMessage], *, now: datetime | None = None
    ) -> list[IntakeOutcome]: ...


class IntakeFailed(Exception):
    """The core raised on this message (not a database error): it goes to quarantine."""


class IngestResult(BaseModel):
    status: Literal["stored", "duplicate", "quarantined"]
    origin: str = ""
    external_id: str | None = None
    message_id: int | None = None
    quarantine_id: int | None = None
    subject: str | None = None
    sender: str | None = None
    noise: str | None = None
    suppressed: bool = False
    ticket_ids: list[int] = []
    replied: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Incoming:
    """A raw message to take in, where it came from, and the source's own handle (an IMAP
    UID) for claiming it."""

    origin: str
    raw: bytes
    handle: Any = None


@dataclass
class Mail:
    """An incoming message read and screened (outside any transaction)."""

    incoming: Incoming
    parsed: ParsedEmail | None = None
    noise: Noise | None = None
    error: str | None = None  # set: it goes to quarantine with this reason
