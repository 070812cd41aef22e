"""The per-address limit on automatic replies: a loop with an auto-responder that does not say
it is one still stops after `limit` replies an hour."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select
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


def replies_in_window_many(
    session: Session, addresses: Iterable[str], *, now: datetime | None = None
) -> dict[str, int]:
    """`replies_in_window` for many addresses in one query, by lower-cased address."""
    keys = {address.strip().lower() for address in addresses if address}
    if not keys:
        return {}
    since = (now or utcnow()) - WINDOW
    query = (
        select(AutoReply.address, func.count(AutoReply.id))
        .where(AutoReply.address.in_(keys), AutoReply.at > since)
        .group_by(AutoReply.address)
    )
    return {address: count for address, count in session.execute(query).all()}


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


def record_replies(
    session: Session, replies: list[tuple[str, int | None]], *, now: datetime | None = None
) -> None:
    """`record_reply` for many (address, message id) pairs in one statement."""
    if replies:
        at = now or utcnow()
        rows = [
            {"address": address.strip().lower(), "message_id": message_id, "at": at}
            for address, message_id in replies
        ]
        session.execute(insert(AutoReply.__table__), rows)
