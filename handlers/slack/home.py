"""The App Home tab: the user's queue (breached, then escalated, then due), counts, last digest;
the triage lead also sees the open surges."""

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models.outbox import OutboxItem
from bot.store.models.surges import Surge
from bot.surges.readings import PLACES
from bot.tickets.queue import counts_by_issue, queue
from handlers.slack import blocks, core, notices, surge_blocks
from handlers.slack.deps import Deps

log = logging.getLogger("triage.slack")


def register(app: App, deps: Deps) -> None:
    directory = deps.directory

    def ack_event(ack: Ack) -> None:
        ack()

    def publish(event: dict[str, Any], context: BoltContext) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event["user"]
        actor = directory.actor(user)
        if not actor.agent:
            view = {"type": "home", "blocks": [blocks.section("This tab is for help-desk agents.")]}
        else:
            with context["db"].transaction() as session:
                view = blocks.home(home_data(session, owner=actor.owner_id, deps=deps))
                if actor.triage_lead:  # the surges the lead has to decide, above the queue
                    view["blocks"][1:1] = surge_blocks.home_section(open_surges(session))
        try:
            deps.client.views_publish(user_id=user, view=view)
        except Exception:
            log.exception("could not publish the App Home for %s", user)

    app.event("app_home_opened")(ack=ack_event, lazy=[publish])


def home_data(session: Session, *, owner: str | None, deps: Deps) -> dict[str, Any]:
    entries = queue(session, view="mine", owner=owner) if owner else []
    return {
        "prefix": deps.prefix,
        "queue": [
            {**core.ticket_data(session, e.ticket, prefix=deps.prefix), "breached": e.breached}
            for e in entries
        ],
        "counts": counts_by_issue(session, owner=owner),
        "digest": latest_digest(session, owner=owner, deps=deps),
    }


def open_surges(session: Session) -> list[dict[str, Any]]:
    """The open surges, newest first, as the App Home section reads them."""
    return [
        {
            "ref": f"SURGE-{s.id}", "kind": s.kind, "count": s.count, "issue": s.issue,
            "suggested": s.suggested, **{k: (s.shared or {}).get(k) or [] for k in PLACES},
        }
        for s in session.scalars(
            select(Surge).where(Surge.status == "open").order_by(Surge.id.desc()).limit(20)
        )
    ]  # fmt: skip


def latest_digest(session: Session, *, owner: str | None, deps: Deps) -> str | None:
    """The text of the newest Slack digest queued for this owner, if any."""
    if owner is None:
        return None
    owner_cfg = deps.settings.app.find_owner(owner)
    recipients = {
        owner,
        *((owner_cfg.slack_user_id,) if owner_cfg and owner_cfg.slack_user_id else ()),
    }
    item = session.scalar(
        select(OutboxItem)
        .where(
            OutboxItem.channel == "slack",
            OutboxItem.kind == "digest",
            OutboxItem.recipient.in_(recipients),
        )
        .order_by(OutboxItem.created_at.desc(), OutboxItem.id.desc())
        .limit(1)
    )
    if item is None:
        return None
    text, body = notices.digest(item.payload.get("digest") or {})
    lines = [b["text"]["text"] for b in body if b.get("type") == "section"]
    title = blocks.esc(item.payload["text"]) if item.payload.get("text") else text
    return "\n".join([title, *lines])[: blocks.MAX_SECTION - 100]
