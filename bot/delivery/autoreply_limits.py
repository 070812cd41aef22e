"""The per-address limit on automatic replies: a loop with an auto-responder that does not say
it is one still stops after `limit` replies an hour."""

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.models.base import utcnow
from bot.store.models.mail import AutoReply

WINDOW = timedelta(hours=1)


def replies_in_window(session: Session, *, address: str, now: datetime | None = None) -> int:
    since = (now or utcnow()) - WINDOW
    return (
        session.scalar(
            select(func.count(AutoReply.id)).where(
                AutoReply.address == address.strip().lower(), AutoReply.at > since
            )
        )
        or 0
    )


def reply_allowed(
    session: Session, *, address: str, limit: int, now: datetime | None = None
) -> bool:
    """True while `address` has had fewer than `limit` automatic replies in the last hour."""
    return replies_in_window(session, address=address, now=now) < limit


def record_reply(
    session: Session, *, address: str, message_id: int | None = None, now: datetime | None = None
) -> None:
    session.add(
        AutoReply(address=address.strip().lower(), message_id=message_id, at=now or utcnow())
    )
