"""Taking a platform event id once: the first delivery claims it, retries and repeats find it."""

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.store.models.base import utcnow
from bot.store.models.slack import InboundEvent


def claim_event(
    session: Session, *, source: str, event_id: str, kind: str, now: datetime | None = None
) -> bool:
    """Record the event id in the caller's transaction; False when it was taken before.

    Claim inside the transaction that processes the event: if processing fails the claim rolls
    back with it, so the platform's retry is processed instead of being dropped.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(InboundEvent)
        .values(source=source, event_id=event_id, kind=kind, received_at=now or utcnow())
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(InboundEvent.id)
    )
    return session.execute(statement).scalar() is not None
