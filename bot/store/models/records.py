"""Entitlement records: candidates and what the program owes them (attempts, vouchers, ...).

Child tables refer to the candidate by MCP id (the natural key every CSV file carries), and each
table has a unique natural key so a re-import upserts instead of duplicating. Each child table has
one lookup index leading with `mcp_id` (unique on the natural key where there is one) that holds
every other column the records lookup reads (PostgreSQL's INCLUDE; SQLite's indexes carry the
row id), so a lookup reads indexes only, and the import maintains no extra index for it.
"""

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models.base import Base

_MCP = String(10)
_EXAM = String(6)
_CANDIDATE_FK = "candidates.mcp_id"


def _lookup(table: str, *key: str, unique: bool = True, include: tuple[str, ...] = ()) -> Index:
    """The per-candidate lookup index: the natural key, then (PostgreSQL) the other columns."""
    return Index(f"ix_{table}_lookup", *key, unique=unique, postgresql_include=["id", *include])


class Candidate(Base):
    __tablename__ = "candidates"

    mcp_id: Mapped[str] = mapped_column(_MCP, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(80))
    region: Mapped[str] = mapped_column(String(40))
    slack_user_id: Mapped[str | None] = mapped_column(String(32), index=True)

    def __repr__(self) -> str:
        return f"Candidate({self.mcp_id!r}, {self.name!r}, {self.country!r})"


class CandidateEmail(Base):
    """One of a candidate's addresses, stored lower-cased (looked up lower-cased)."""

    __tablename__ = "candidate_emails"
    __table_args__ = (
        _lookup("candidate_emails", "mcp_id", "email"),
        Index("ix_candidate_emails_email", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mcp_id: Mapped[str] = mapped_column(_MCP, ForeignKey(_CANDIDATE_FK, ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))

    def __repr__(self) -> str:
        return f"CandidateEmail({self.mcp_id!r}, {self.email!r})"


class ExamAttempt(Base):
    __tablename__ = "exam_attempts"
    __table_args__ = (
        _lookup(
            "exam_attempts", "mcp_id", "exam", "provider", "taken_on", include=("beta", "result")
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mcp_id: Mapped[str] = mapped_column(_MCP, ForeignKey(_CANDIDATE_FK, ondelete="CASCADE"))
    exam: Mapped[str] = mapped_column(_EXAM)
    provider: Mapped[str] = mapped_column(String(16))  # prometric | vue
    taken_on: Mapped[date] = mapped_column(Date)
    beta: Mapped[bool]
    result: Mapped[str] = mapped_column(String(8))  # pass | fail | pending

    def __repr__(self) -> str:
        return f"ExamAttempt({self.mcp_id!r}, {self.exam!r}, {self.taken_on}, {self.result!r})"


class Registration(Base):
    __tablename__ = "registrations"
    __table_args__ = (
        _lookup(
            "registrations", "mcp_id", "exam", "provider", "created_at",
            include=("created_by", "scheduled_for"),
        ),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    mcp_id: Mapped[str] = mapped_column(_MCP, ForeignKey(_CANDIDATE_FK, ondelete="CASCADE"))
    exam: Mapped[str] = mapped_column(_EXAM)
    provider: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(12))  # candidate | agent | provider | unknown
    scheduled_for: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"Registration({self.mcp_id!r}, {self.exam!r}, by {self.created_by!r})"


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (
        _lookup(
            "invitations", "mcp_id", "campaign", "exam", include=("sent_at", "promo_code", "status")
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mcp_id: Mapped[str] = mapped_column(_MCP, ForeignKey(_CANDIDATE_FK, ondelete="CASCADE"))
    campaign: Mapped[str] = mapped_column(String(80))
    exam: Mapped[str] = mapped_column(_EXAM)
    sent_at: Mapped[datetime | None]
    promo_code: Mapped[str | None] = mapped_column(String(64))  # a secret: mask on output
    status: Mapped[str] = mapped_column(String(8))  # sent | bounced | pending

    def __repr__(self) -> str:  # never the promotion code
        return f"Invitation({self.mcp_id!r}, {self.campaign!r}, {self.exam!r}, {self.status!r})"


class Voucher(Base):
    __tablename__ = "vouchers"
    __table_args__ = (
        _lookup(
            "vouchers", "mcp_id", unique=False,
            include=("code", "issued_at", "for_exam", "scope", "redeemed_at"),
        ),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # a secret: mask on output
    mcp_id: Mapped[str] = mapped_column(_MCP, ForeignKey(_CANDIDATE_FK, ondelete="CASCADE"))
    issued_at: Mapped[date] = mapped_column(Date)
    for_exam: Mapped[str | None] = mapped_column(_EXAM)
    scope: Mapped[str] = mapped_column(String(200))  # "any" or `;`-separated exam codes
    redeemed_at: Mapped[date | None] = mapped_column(Date)

    def __repr__(self) -> str:  # never the code
        return f"Voucher({self.mcp_id!r}, issued {self.issued_at}, scope {self.scope!r})"


class Certification(Base):
    __tablename__ = "certifications"
    __table_args__ = (
        _lookup("certifications", "mcp_id", "certification", include=("granted_on",)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mcp_id: Mapped[str] = mapped_column(_MCP, ForeignKey(_CANDIDATE_FK, ondelete="CASCADE"))
    certification: Mapped[str] = mapped_column(String(120))
    granted_on: Mapped[date] = mapped_column(Date)

    def __repr__(self) -> str:
        return f"Certification({self.mcp_id!r}, {self.certification!r})"


class RegionRestriction(Base):
    """A country excluded from a beta exam since a date."""

    __tablename__ = "region_restrictions"
    __table_args__ = (
        UniqueConstraint("exam", "country"),
        Index("ix_restrictions_country", "country"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    exam: Mapped[str] = mapped_column(_EXAM)
    country: Mapped[str] = mapped_column(String(80))
    since: Mapped[date] = mapped_column(Date)

    def __repr__(self) -> str:
        return f"RegionRestriction({self.exam!r}, {self.country!r}, since {self.since})"


class CatalogueExam(Base):
    """The exam catalogue, copied from `knowledge/exams.yaml` on import (the YAML file rules)."""

    __tablename__ = "exam_catalogue"

    code: Mapped[str] = mapped_column(_EXAM, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    beta: Mapped[bool]
    live_counterpart: Mapped[str | None] = mapped_column(_EXAM)
    opens_on: Mapped[date | None] = mapped_column(Date)
    results_weeks_min: Mapped[int | None]
    results_weeks_max: Mapped[int | None]

    def __repr__(self) -> str:
        return f"CatalogueExam({self.code!r}, beta={self.beta})"
