"""What surge detection reads: one reading per ticket (when, its text, the matcher's issue and
confidence, the entities it names), and which readings are unsure.

Pure data: the worker job loads readings from the database (`bot.surges.job`), the replay
benchmark builds them from labelled days (`bench/replay_surges.py`); detection sees no difference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.matching.model import Thresholds
from bot.types import NOT_A_REQUEST

# The entities a group may share, as their `Ticket.entities` keys.
PLACES = ("exams", "providers", "regions")
UNSURE = "?"  # the issue of an unsure reading, when unsure readings are counted like an issue
ANY_MAIL = "*"  # the issue of any reading, when all mail is counted like one issue


@dataclass(frozen=True)
class Reading:
    key: int  # the ticket id (in a replay: the message's number)
    at: datetime
    text: str
    issue: str | None
    confidence: float
    exams: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    codes: tuple[str, ...] = field(default=(), repr=False)  # raw codes, masked wherever shown
    names: tuple[str, ...] = field(default=(), repr=False)  # the candidate's, scrubbed from text
    # Who wrote it (the ticket's candidate key): one writer is one voice however many tickets
    # she opens (a ticket per issue the matcher leans to). Personal data: never shown.
    writer: str | None = field(default=None, repr=False)

    @classmethod
    def of(
        cls,
        key: int,
        at: datetime,
        text: str,
        issue: str | None,
        confidence: float,
        entities: Mapping[str, Any] | None,
        codes: Sequence[str] = (),
        names: Sequence[str] = (),
        writer: str | None = None,
    ) -> Reading:
        found = entities or {}

        def values(kind: str) -> tuple[str, ...]:
            return tuple(str(v) for v in found.get(kind) or [])

        return cls(
            key=key, at=at, text=text, issue=issue, confidence=float(confidence),
            exams=values("exams"), providers=values("providers"), regions=values("regions"),
            errors=values("error_messages"), codes=tuple(codes), names=tuple(names),
            writer=writer,
        )  # fmt: skip

    def places(self, kind: str) -> tuple[str, ...]:
        return tuple(getattr(self, kind))


def voices(readings: Iterable[Reading]) -> int:
    """How many writers the readings hold: many candidates hitting one problem is a wave, one
    writer's many tickets is not (a reading with no writer is its own)."""
    return len({r.key if r.writer is None else r.writer for r in readings})


def unsure(reading: Reading, thresholds: Thresholds) -> bool:
    """Unknown, or a reading below the auto-answer threshold (the bot would not answer alone):
    what a new kind of complaint looks like to a matcher that has not learned it."""
    if reading.issue is None:
        return True
    if reading.issue == NOT_A_REQUEST:
        return reading.confidence < thresholds.not_a_request
    return reading.confidence < thresholds.auto_answer
