"""Tables of the scheduled work: the worker's jobs, the owners' digest runs, and the escalation
steps fired by the SLA sweep that are not yet told to their person."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models.base import Base, utcnow


class JobRun(Base):
    """One scheduled job and when it is next due. Workers claim a due row with
    `SELECT ... FOR UPDATE SKIP LOCKED`, run the job in that transaction and move `next_run_at`
    on, so two workers never run the same due job twice."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    next_run_at: Mapped[datetime]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"JobRun(name={self.name!r}, next_run_at={self.next_run_at!r})"


class DigestRun(Base):
    """A digest that was sent, with its counts: the next digest reports the change since."""

    __tablename__ = "digest_runs"
    __table_args__ = (Index("ix_digest_runs_owner_at", "owner", "run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    channels: Mapped[dict[str, Any]] = mapped_column(default=dict)

    def __repr__(self) -> str:
        return f"DigestRun(owner={self.owner!r}, run_at={self.run_at!r})"


class PendingEscalation(Base):
    """An escalation step the sweep fired (its audit event is written in the same transaction)
    whose person has not been told yet. The sweep's notify step deletes the rows it tells, in the
    transaction that enqueues the notice or summary, so a crash in between loses nothing and
    tells nothing twice. The ticket's issue and priority are copied as they were when it fired."""

    __tablename__ = "escalation_pending"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(64), index=True)  # an owner id
    level: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(String(16))  # "first response" | "resolution"
    due_at: Mapped[datetime]  # the deadline the step was fired for
    issue: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(8))

    def __repr__(self) -> str:
        return (
            f"PendingEscalation(ticket={self.ticket_id}, level={self.level}, to={self.recipient!r})"
        )
