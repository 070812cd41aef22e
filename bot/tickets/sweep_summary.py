"""Telling people about the escalation steps the SLA sweep fired: a notice per ticket when a
person has few, one summary per channel when they have many.

The sweep leaves each fired step in `escalation_pending` (in the transaction that writes its
audit event). `notify_pending` takes a person's pending steps with one `DELETE ... RETURNING`, in
the transaction that enqueues what tells them, so each step is told exactly once: a crash before
the commit leaves the steps pending for the next sweep, and a second worker's `DELETE` waits for
the first and finds the rows gone (PostgreSQL row locks; SQLite has one writer).

More than `escalation.summary_threshold` steps for one person make one summary: the counts, the
worst cases (most overdue first) and a pointer to their queue. Its dedupe key names the person
and the sweep's minute, so a person gets at most one summary per channel per sweep: should a
second sweep in the same minute find more steps for them, they wait for the next sweep.

The summary is channel-neutral data (`view` "sla-summary") with its plain text; the Slack adapter
renders Block Kit from the data (handlers/slack/blocks.py), email sends the text.
"""

import heapq
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, select
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.delivery.messages import SlaSummary, WorstCase
from bot.delivery.notifications import enqueue_many, escalation_deliveries, sla_summary_deliveries
from bot.delivery.outbox import enqueue
from bot.store.models import Ticket
from bot.store.models.outbox import OutboxItem
from bot.store.models.sla import PendingEscalation
from bot.tickets import sla

log = logging.getLogger(__name__)
WORST = 10  # worst cases a summary lists
PRIORITY_ORDER = ("urgent", "high", "normal", "low")
CHANNELS = ("slack", "email")  # where a desk person can be told (`notifications.contacts`)


@dataclass(frozen=True)
class Told:
    """One person told about `steps` pending escalation steps: in one summary per channel, or
    in a notice per step."""

    recipient: str
    steps: int
    summary: bool
    deliveries: int  # outbox items enqueued


class _Deferred(Exception):
    """This person was summarised in this sweep's minute already: their steps wait."""


_PENDING_COLUMNS = (
    PendingEscalation.ticket_id, PendingEscalation.level, PendingEscalation.reason,
    PendingEscalation.target, PendingEscalation.due_at, PendingEscalation.issue,
    PendingEscalation.priority,
)  # fmt: skip


def notify_pending(
    session_factory: Callable[[], Session], config: AppConfig, *, now: datetime
) -> list[Told]:
    """Tell each person about their pending steps, one transaction per person."""
    with session_factory() as session:
        people = sorted(session.scalars(select(PendingEscalation.recipient).distinct()))
    told: list[Told] = []
    for person in people:
        try:
            with session_factory() as session, session.begin():
                result = tell(session, config, person, now=now)
        except _Deferred:
            continue
        if result is not None:
            told.append(result)
    return told


def summary_key(recipient: str, now: datetime) -> str:
    """The dedupe key's stem for `recipient`'s summary in the sweep at `now` (per minute)."""
    return f"sla-summary:{recipient}:{now:%Y%m%dT%H%M}"


def tell(session: Session, config: AppConfig, recipient: str, *, now: datetime) -> Told | None:
    """Take `recipient`'s pending steps and enqueue what tells them (in the caller's
    transaction); None when nothing was pending."""
    stem = summary_key(recipient, now)
    keys = [f"{stem}:{channel}" for channel in CHANNELS]
    already = select(OutboxItem.id).where(OutboxItem.dedupe_key.in_(keys)).limit(1)
    if session.scalar(already) is not None:
        return None  # summarised in this sweep: what came since waits for the next one
    table = PendingEscalation.__table__
    taken = session.execute(
        delete(table).where(table.c.recipient == recipient).returning(*_PENDING_COLUMNS)
    ).all()
    if not taken:
        return None
    owner = config.find_owner(recipient)
    if owner is None:  # dropped from app.yaml since: nobody to tell, the audit trail keeps it
        log.warning("%d escalation steps for a person no longer in app.yaml dropped", len(taken))
        return None
    if len(taken) <= config.escalation.summary_threshold:
        return _notices(session, config, recipient, taken, now=now)
    summary = build_summary(config, recipient, taken, now=now)
    rows = sla_summary_deliveries(config, summary=summary, key=stem)
    added = sum(enqueue(session, **row, now=now) for row in rows)
    if not added:
        raise _Deferred  # a concurrent sweep summarised them this minute: roll back, keep pending
    return Told(recipient, steps=len(taken), summary=True, deliveries=added)


def _notices(
    session: Session, config: AppConfig, recipient: str, taken: Sequence[Row[Any]], *,
    now: datetime,
) -> Told:  # fmt: skip
    """A notice per step, as for a single escalation (dedupe keys per ticket and level)."""
    ids = {row.ticket_id for row in taken}
    tickets = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(ids)))}
    deliveries: list[dict[str, Any]] = []
    for row in sorted(taken, key=lambda r: (r.ticket_id, r.level)):
        deliveries += escalation_deliveries(
            config, ticket=tickets[row.ticket_id], recipient=recipient, level=str(row.level),
            reason=row.reason,
        )  # fmt: skip
    enqueue_many(session, deliveries, now=now)
    return Told(recipient, steps=len(taken), summary=False, deliveries=len(deliveries))


def build_summary(
    config: AppConfig, recipient: str, taken: Sequence[Row[Any]], *, now: datetime
) -> SlaSummary:
    """Counts and the worst cases of `recipient`'s pending steps, as of `now`."""
    prefix = config.desk.ticket_prefix
    overdue = sum(1 for row in taken if row.due_at <= now)
    priorities = Counter(row.priority for row in taken)
    order = [p for p in PRIORITY_ORDER if p in priorities] + sorted(
        p for p in priorities if p not in PRIORITY_ORDER
    )
    worst = heapq.nsmallest(WORST, taken, key=lambda row: (row.due_at, row.ticket_id))
    cases = [
        WorstCase(
            ticket_id=row.ticket_id,
            ref=f"{prefix}-{row.ticket_id}",
            issue=row.issue,
            priority=row.priority,
            level=row.level,
            target=row.target,
            late=_late(row.due_at, now),
            overdue_seconds=int((now - row.due_at).total_seconds()),
        )
        for row in worst
    ]
    by_priority = {p: priorities[p] for p in order}
    queue_command = f"triage tickets list --owner {recipient}"
    return SlaSummary(
        text=summary_text(
            at=now,
            total=len(taken),
            overdue=overdue,
            by_priority=by_priority,
            worst=cases,
            queue_command=queue_command,
        ),
        subject=f"SLA: {len(taken)} tickets need you ({overdue} overdue)",
        recipient=recipient,
        at=now.isoformat(),
        total=len(taken),
        overdue=overdue,
        due_soon=len(taken) - overdue,
        by_priority=by_priority,
        worst=cases,
        more=len(taken) - len(cases),
        queue_command=queue_command,
    )


def _late(due: datetime, now: datetime) -> str:
    if due <= now:
        return f"overdue by {sla.format_span(now - due)}"
    return f"due in {sla.format_span(due - now)}"


def summary_text(
    *, at: datetime, total: int, overdue: int, by_priority: dict[str, int],
    worst: list[WorstCase], queue_command: str,
) -> str:  # fmt: skip
    """The summary as plain text (email, and any channel without a richer view)."""
    priorities = ", ".join(f"{n} {p}" for p, n in by_priority.items())
    lines = [
        f"The SLA sweep at {at:%Y-%m-%d %H:%M} UTC escalated {total} tickets to you: "
        f"{overdue} overdue, {total - overdue} due soon.",
        f"By priority: {priorities}.",
        "",
        "Most overdue first:",
        *(
            f"- {case.ref} {case.issue or 'unknown issue'} ({case.priority}): "
            f"{case.target} {case.late}"
            for case in worst
        ),
    ]
    if total > len(worst):
        lines.append(f"... and {total - len(worst)} more.")
    lines += ["", f"Your queue: {queue_command}"]
    return "\n".join(lines)
