"""Erasures: the record that a candidate's personal data was removed, holding none of it."""

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models.base import Base, utcnow


class Erasure(Base):
    """One `triage records forget`: when, by whom, and how much was erased. `reference` is a
    random token that replaces the candidate's key on their tickets, so an auditor can tell
    which anonymised tickets belonged together without learning who it was."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    actor: Mapped[str] = mapped_column(String(128))
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)

    def __repr__(self) -> str:
        return f"Erasure(id={self.id}, reference={self.reference!r}, at={self.erased_at})"
