"""Delivering the outbox's Slack items: the core's channel-neutral messages rendered as Block
Kit, posted in the thread their `reply_to` names or as DMs, with charts uploaded.

Errors are sorted for the outbox: rate limits (after the SDK's own retries, with Retry-After),
server errors and broken connections are transient; a channel or token Slack refuses is permanent.
"""

import base64
import logging
import re
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config.settings import Settings
from bot.delivery.messages import POSTED
from bot.delivery.outbox import PermanentDeliveryError, Sender, TransientDeliveryError
from bot.store.models.outbox import OutboxItem
from handlers.slack import blocks, notices, surge_blocks
from handlers.slack.deps import web_client
from handlers.slack.mrkdwn import escape as esc

log = logging.getLogger("triage.slack")

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "is_archived",
    "user_not_found",
    "cannot_dm_bot",
    "invalid_blocks",
    "msg_too_long",
    "no_text",
    "missing_scope",
}


def sender(settings: Settings) -> tuple[str, Sender] | None:
    """The Slack sender, or None when SLACK_BOT_TOKEN is not set."""
    if settings.env.slack_bot_token is None:
        return None
    return "slack", make_sender(settings)


def make_sender(settings: Settings, *, client: WebClient | None = None) -> Sender:
    client = client or web_client(settings)

    def send(item: OutboxItem) -> None:
        try:
            deliver(client, item)
        except SlackApiError as exc:
            raise classify(exc) from exc
        except (SlackClientError, URLError, OSError) as exc:
            raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc

    return send


def classify(exc: SlackApiError) -> Exception:
    """A Web API error as the outbox's transient or permanent failure."""
    response = exc.response
    error = str(response.get("error") or "")
    status = response.status_code
    if status == 429 or error == "ratelimited":
        retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
        return TransientDeliveryError(
            f"rate limited by Slack ({error or status})",
            retry_after=float(retry_after) if retry_after else 30.0,
        )
    if status >= 500:
        return TransientDeliveryError(f"Slack answered {status} ({error})")
    if error in PERMANENT:
        return PermanentDeliveryError(f"Slack refused: {error}")
    return TransientDeliveryError(f"Slack error: {error or status}")


def render(payload: dict[str, Any]) -> tuple[str, blocks.Blocks]:
    """Block Kit for one of the core's messages (`bot.delivery.messages`, as JSON); a view this
    adapter does not know, or cannot read, is sent as its plain text."""
    view, text = payload.get("view"), str(payload.get("text") or "")
    try:
        if view == "reply":  # the notification line is the core's plain text: escaped too
            return esc(text) or "Triage reply", _reply_blocks(payload)[1]
        if view == "notice":
            ref = str(payload["ref"])
            data = {**payload, "subject": payload.get("about"), "prefix": ref.rpartition("-")[0]}
            return notices.escalation(data)
        if view == "digest":
            return esc(text), notices.digest(payload.get("digest") or {})[1]
        if view == "answer":
            return notices.answer({"text": text})
        if view == "sla-summary":
            return notices.sla_summary(payload)
        if view == "surge":
            return surge_blocks.alert(payload)
    except (KeyError, TypeError, ValueError):
        log.warning("unreadable %s message; sent as plain text", view)
    return blocks.message(text)


def _reply_blocks(payload: dict[str, Any]) -> tuple[str, blocks.Blocks]:
    """The triage reply: the core's public ticket lines, with what intake added for Slack (the
    facts and drafted answers only when the place is an agent's DM)."""
    extra = payload.get("extra") or {}
    private = bool(extra.get("private"))
    added = {t["id"]: t for t in extra.get("tickets", [])}
    tickets = [
        {**t, **added.get(t["ticket_id"], {})}
        if private
        else {**added.get(t["ticket_id"], {}), **t}
        for t in payload.get("tickets", [])
    ]
    data = {**extra, "tickets": tickets, "note": payload.get("note")}
    return blocks.triage_result(data, private=private)


def deliver(client: WebClient, item: OutboxItem) -> None:
    """Post one outbox item: to a user id as a DM, else to the channel, in the thread the
    message's `reply_to` names; then upload its chart, if it has one. A retry after the post
    went out but the upload failed only uploads."""
    payload: dict[str, Any] = dict(item.payload)
    thread_ts = (payload.get("reply_to") or {}).get("thread_ts")
    posted = payload.get(POSTED)
    replaces = payload.get("replaces") or {}
    if posted is None and replaces.get("channel") and replaces.get("ts"):
        # A newer version of a message already posted (a surge that grew): edit it in place.
        text, body = render(payload)
        client.chat_update(channel=replaces["channel"], ts=replaces["ts"], text=text, blocks=body)
        posted = {"channel": replaces["channel"], "ts": replaces["ts"]}
        item.payload = {**payload, POSTED: posted}
    if posted is None:
        channel = item.recipient
        if _USER_ID.match(channel):
            channel = client.conversations_open(users=channel)["channel"]["id"]
        text, body = render(payload)
        response = client.chat_postMessage(
            channel=channel,
            text=text,
            blocks=body,
            thread_ts=thread_ts,
            unfurl_links=False,
            # Which delivery this is: lets a check (or an operator) tell a repeat from two
            # messages that happen to read the same.
            metadata={"event_type": "triage_delivery", "event_payload": {"outbox_id": item.id}},
        )
        posted = {"channel": response.get("channel", channel), "ts": response.get("ts")}
        item.payload = {**payload, POSTED: posted}
    chart = payload.get("chart")
    if chart:
        client.files_upload_v2(
            channel=posted["channel"],
            content=base64.b64decode(chart["data_b64"]),
            filename=chart.get("filename", "chart.png"),
            title=chart.get("title"),
            thread_ts=thread_ts or posted.get("ts"),
        )
