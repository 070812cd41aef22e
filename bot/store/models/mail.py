"""Mail bookkeeping: unparseable messages kept raw, IMAP claims and UIDVALIDITY, automatic replies
counted per address, and addresses whose mail bounces."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models.base import Base, utcnow


class QuarantinedMessage(Base):
    """A message intake could not take in, kept byte for byte so nothing is dropped.
    `sha256` is unique: feeding the same bad message again keeps one row and counts it."""

    __tablename__ = "quarantined_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    origin: Mapped[str] = mapped_column(String(512))  # imap:user@host/INBOX#uid, maildir:..., stdin
    error: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int]
    seen_count: Mapped[int] = mapped_column(default=1)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"QuarantinedMessage(id={self.id}, origin={self.origin!r}, error={self.error!r})"


class ImapMailbox(Base):
    """The UIDVALIDITY last seen for one mailbox folder: UIDs are only meaningful under it."""

    __tablename__ = "imap_mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(512), unique=True)  # user@host:port/folder
    # 32-bit unsigned in IMAP: larger than a signed INTEGER holds.
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    changed_count: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"ImapMailbox(key={self.key!r}, uidvalidity={self.uidvalidity})"


class ImapClaim(Base):
    """One IMAP message taken in. The row is inserted in the same transaction that stores the
    message, and (mailbox, uidvalidity, uid) is unique, so two pollers never both take it."""

    __tablename__ = "imap_claims"
    __table_args__ = (UniqueConstraint("mailbox", "uidvalidity", "uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(512))
    # 32-bit unsigned in IMAP: larger than a signed INTEGER holds.
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(16))  # stored | duplicate | quarantined
    message_id: Mapped[int | None]
    claimed_by: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set once the message has left INBOX (moved or flagged); a crash before that is finished by
    # the next poll without taking the message in again.
    finished_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"ImapClaim({self.mailbox!r}, {self.uidvalidity}, uid={self.uid}, {self.outcome})"


class AutoReply(Base):
    """One automatic reply the desk committed to send to an address, for the per-hour limit."""

    __tablename__ = "auto_replies"
    __table_args__ = (Index("ix_auto_replies_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320))  # lower-cased
    message_id: Mapped[int | None]  # the inbound message answered
    at: Mapped[datetime] = mapped_column(default=utcnow)


class BouncingAddress(Base):
    """An address mail to which bounced: shown on the tickets it concerns."""

    __tablename__ = "bouncing_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    status: Mapped[str | None] = mapped_column(String(32))  # DSN status, e.g. 5.1.1
    diagnostic: Mapped[str | None] = mapped_column(Text)
    bounce_count: Mapped[int] = mapped_column(default=1)
    last_message_id: Mapped[int | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_bounced_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_bounced_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"BouncingAddress({self.address!r}, status={self.status!r})"
