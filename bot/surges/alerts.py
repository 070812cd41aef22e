"""Telling the triage lead about a surge: a `SurgeAlert` on the outbox, once per surge; when the
surge grows, the alert on their chat channel is edited in place (`Outgoing.replaces`, from where
the adapter recorded it went), and their mail gets only the first alert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.delivery.messages import POSTED, SurgeAlert, SurgeSample, dump
from bot.delivery.notifications import contacts
from bot.delivery.outbox import enqueue
from bot.store.models.outbox import OutboxItem
from bot.store.models.surges import Surge

MAIL = "email"


def surge_ref(surge_id: int) -> str:
    return f"SURGE-{surge_id}"


def _hours(config: AppConfig) -> str:
    minutes = int(config.surges.window.total_seconds() // 60)
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def alert_message(
    config: AppConfig,
    surge: Surge,
    *,
    samples: list[SurgeSample],
    grew_by: int,
    catalogue: Sequence[str] = (),
) -> SurgeAlert:
    shared = surge.shared or {}
    ref = surge_ref(surge.id)
    what = f"`{surge.issue}` far above its usual rate" if surge.kind == "rate" else "a new problem"
    lines = [
        f"{ref}: {surge.count} tickets in {_hours(config)} look like {what}"
        + (f" (+{grew_by} since the first alert)" if grew_by else ""),
        *(f"{k}: {', '.join(shared.get(k) or [])}" for k in ("exams", "providers", "regions")
          if shared.get(k)),
        *(f"error: {e}" for e in shared.get("errors") or []),
        *(f"- {s.ref}: {s.text}" for s in samples),
        f"Decide: triage surges draft|merge|ignore {surge.id}",
    ]  # fmt: skip
    return SurgeAlert(
        text="\n".join(lines),
        subject=f"[{ref}] {surge.count} tickets: {surge.issue or surge.suggested or 'new problem'}",
        surge_id=surge.id, ref=ref, kind=surge.kind, status=surge.status, issue=surge.issue,
        suggested=surge.issue or surge.suggested, count=surge.count, grew_by=grew_by,
        window=_hours(config), expected=surge.expected,
        exams=list(shared.get("exams") or []), providers=list(shared.get("providers") or []),
        regions=list(shared.get("regions") or []), errors=list(shared.get("errors") or []),
        samples=samples, catalogue=sorted(catalogue), first_at=surge.first_at.isoformat(),
        last_at=surge.last_at.isoformat(),
        auto=True,
    )  # fmt: skip


def send_alert(
    session: Session,
    config: AppConfig,
    surge: Surge,
    *,
    samples: list[SurgeSample],
    now: datetime,
    catalogue: Sequence[str] = (),
    force: bool = False,
) -> bool:
    """Alert the triage lead, or update the alert when the surge has grown since (or, with
    `force`, was decided: its buttons go); False when there is nothing new to tell."""
    if surge.alert_version and surge.count <= surge.alerted_count and not force:
        return False
    grew_by = surge.count - surge.first_count if surge.alert_version else 0
    message = alert_message(config, surge, samples=samples, grew_by=grew_by, catalogue=catalogue)
    lead = config.owner(config.triage_lead)
    version = surge.alert_version + 1
    if not surge.alert_version:
        surge.first_count = surge.count
    for channel, address in contacts(lead):
        if channel == MAIL and surge.alert_version:
            continue  # mail cannot be edited: the lead's mail has the first alert only
        if channel != MAIL and surge.alert_item_id is not None:
            earlier = session.get(OutboxItem, surge.alert_item_id)
            if (
                earlier is not None
                and earlier.status == "pending"
                and POSTED not in earlier.payload
            ):
                # Not out yet: it goes out as the newest, editing what it was to edit.
                replaces = dict(earlier.payload.get("replaces") or {})
                earlier.payload = dump(message.model_copy(update={"replaces": replaces}))
                continue
            if earlier is not None and POSTED in earlier.payload:
                message = message.model_copy(update={"replaces": dict(earlier.payload[POSTED])})
        key = f"surge:{surge.id}:v{version}:{channel}"
        enqueue(
            session, channel=channel, kind="surge", recipient=address, payload=dump(message),
            dedupe_key=key, now=now,
        )  # fmt: skip
        if channel != MAIL:
            surge.alert_item_id = session.scalar(
                select(OutboxItem.id).where(OutboxItem.dedupe_key == key)
            )
    surge.alert_version = version
    surge.alerted_count = surge.count
    return True


def refresh(session: Session, surge: Surge, *, now: datetime) -> None:
    """After a decision, the lead's chat alert says it (and loses its buttons), edited in place."""
    earlier = session.get(OutboxItem, surge.alert_item_id) if surge.alert_item_id else None
    if earlier is None:
        return
    payload = {k: v for k, v in earlier.payload.items() if k != POSTED}
    payload["status"] = surge.status
    if POSTED not in earlier.payload:
        if earlier.status == "pending":  # not out yet: it goes out decided
            earlier.payload = payload
        return
    payload["replaces"] = dict(earlier.payload[POSTED])
    version = surge.alert_version + 1
    key = f"surge:{surge.id}:v{version}:{earlier.channel}"
    enqueue(
        session, channel=earlier.channel, kind="surge", recipient=earlier.recipient,
        payload=payload, dedupe_key=key, now=now,
    )  # fmt: skip
    surge.alert_version = version
    surge.alert_item_id = session.scalar(select(OutboxItem.id).where(OutboxItem.dedupe_key == key))
