"""Messages in intake channels, DMs to the bot and @mentions: into triage, answered in the thread.

The message is taken in before the event is acknowledged: its event id is claimed and the message
stored, triaged and its reply queued in the outbox in one transaction, and only then does Slack get
its 200. A process killed mid-way, or a database connection lost, leaves nothing committed and no
acknowledgement, so Slack's retry takes the message in; a retried event after the commit finds
the claim and makes no second ticket. The reply goes out afterwards (a lazy listener), so a Web API
outage delays it instead of losing it or slowing the acknowledgement.
"""

import json
import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.delivery.messages import THREAD
from bot.errors import DatabaseUnavailable
from bot.intake.events import claim_event
from bot.store.models.outbox import OutboxItem
from bot.types import InboundMessage, IntakeOutcome
from handlers.slack import core
from handlers.slack.deps import Database, Deps
from handlers.slack.mrkdwn import to_plain

log = logging.getLogger("triage.slack")

_MENTION = re.compile(r"<@[UW][A-Z0-9]+>\s*")
# Message subtypes that are not someone writing: edits, deletions, joins, the bot's own posts.
_TAKEN_SUBTYPES = {None, "file_share", "thread_broadcast"}


def register(app: App, deps: Deps) -> None:
    intake_channels = set(deps.settings.app.slack.intake_channels)

    def message_taken(event: dict[str, Any]) -> bool:
        if event.get("subtype") not in _TAKEN_SUBTYPES or event.get("bot_id"):
            return False
        return event.get("channel_type") == "im" or event.get("channel") in intake_channels

    def mention_taken(event: dict[str, Any]) -> bool:
        # In an intake channel the channel's message event takes it in.
        return event.get("channel") not in intake_channels and not event.get("bot_id")

    def on_message(
        ack: Ack, body: dict[str, Any], event: dict[str, Any], context: BoltContext
    ) -> None:
        if message_taken(event):
            is_dm = event.get("channel_type") == "im"
            take(body, event, context["db"], deps, is_dm=is_dm)
        ack()

    def on_mention(
        ack: Ack, body: dict[str, Any], event: dict[str, Any], context: BoltContext
    ) -> None:
        if mention_taken(event):
            take(body, event, context["db"], deps, is_dm=False)
        ack()

    def reply_after_message(event: dict[str, Any]) -> None:
        if message_taken(event):
            deps.flush_outbox()

    def reply_after_mention(event: dict[str, Any]) -> None:
        if mention_taken(event):
            deps.flush_outbox()

    app.event("message")(ack=on_message, lazy=[reply_after_message])
    app.event("app_mention")(ack=on_mention, lazy=[reply_after_mention])


def inbound(
    event: dict[str, Any], *, name: str | None = None, email: str | None = None
) -> InboundMessage:
    """The core's view of a Slack message: its plain text, external id channel:ts, thread key
    the thread's ts, the event verbatim as its raw form, the poster's profile email to identify
    them by, and where a reply goes (the thread) as this adapter's own data."""
    channel, ts = event["channel"], event["ts"]
    thread_ts = event.get("thread_ts") or ts
    return InboundMessage(
        source="slack",
        external_id=f"{channel}:{ts}",
        # the core reads plain text: Slack's markup (`&lt;`, `<@U1>`, `<url|label>`) decoded
        text=to_plain(_MENTION.sub("", event.get("text") or "")).strip(),
        sender_email=email,
        sender_name=name,
        slack_user_id=event.get("user"),
        slack_channel=channel,
        thread_key=thread_ts,
        raw=json.dumps(event, ensure_ascii=False),
        meta={
            "ts": ts,
            "thread_ts": event.get("thread_ts"),
            "team": event.get("team"),
            THREAD: {"thread_ts": thread_ts},
        },
    )


def take(
    body: dict[str, Any],
    event: dict[str, Any],
    db: Database,
    deps: Deps,
    *,
    is_dm: bool,
) -> None:
    event_id = body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}"
    # Facts go only to an agent's DM; a channel, or a candidate's DM, sees no records.
    user = event.get("user")
    private = is_dm and bool(user) and deps.directory.is_agent(user)
    name, email = deps.directory.profile(user) if user else (None, None)
    try:
        with db.transaction() as session:
            if not claim_event(session, source="slack", event_id=event_id, kind=event["type"]):
                log.info("slack event %s already taken; ignoring the repeat", event_id)
                return
            message = inbound(event, name=name, email=email)
            if private:  # an agent's own DM: they may read the facts of whoever it names
                message = message.model_copy(update={"actor": deps.directory.actor(user).name})
            outcome = core.take_in(session, deps.runtime, message)
            if outcome.duplicate:
                return
            enrich_reply(session, outcome, deps=deps, private=private)
    except (SQLAlchemyError, DatabaseUnavailable):
        # Nothing was committed (the claim rolled back too) and Slack gets a 500: its retry
        # takes the message in once the database answers again.
        log.warning("slack event %s not taken in: database error; Slack will retry", event_id)
        raise
    except Exception as exc:
        log.exception("slack event %s could not be taken in", event_id)
        tell_poster(deps, event, f"Sorry, I could not take this message in ({type(exc).__name__}).")


def tell_poster(deps: Deps, event: dict[str, Any], text: str) -> None:
    """An ephemeral note to whoever wrote: best effort, the log has the details."""
    if not event.get("user"):
        return
    try:
        deps.client.chat_postEphemeral(
            channel=event["channel"],
            user=event["user"],
            text=text,
            thread_ts=event.get("thread_ts"),
        )
    except Exception:
        log.warning("could not tell %s about the failure", event.get("user"), exc_info=True)


def enrich_reply(session: Session, outcome: IntakeOutcome, *, deps: Deps, private: bool) -> bool:
    """Add what the Slack view shows to the reply the core queued (as its `extra`): entities,
    the catalogue for the Not-this-issue menu and, in an agent's DM only, the facts and drafted
    answers."""
    item = session.scalar(
        select(OutboxItem).where(
            OutboxItem.dedupe_key == f"reply:{outcome.message_id}", OutboxItem.channel == "slack"
        )
    )
    if item is None or item.status != "pending":
        return False
    extra = core.outcome_data(
        session, outcome, runtime=deps.runtime, prefix=deps.prefix, private=private
    )
    item.payload = {**item.payload, "extra": extra}
    return True
